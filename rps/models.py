"""What we last pushed to Yealink RPS, so a sync pushes only what changed.

The fields `rps_id`, `fingerprint`, `pushed_at` (and a device's `server_rps_id`) always say
what RPS has: they change only after RPS confirmed a write. `status` and `last_error` say how
the last attempt went: `last_error` in plain words (rps.wording) that organisation staff may
read, `last_error_detail` what RPS or the network said, for the provider only.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from devices.mac import format_mac
from devices.models import Device, MacAddressField
from organisations.models import Organisation


class RpsServerState(models.Model):
    """The RPS server of one organisation. Kept when the organisation is deleted (the link is
    cleared) so that the sync can still delete the server from RPS."""

    organisation = models.OneToOneField(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rps_server",
        verbose_name=_("organisation"),
    )
    server_name = models.CharField(
        _("server name"), max_length=20, help_text=_("The name RPS knows it by.")
    )
    rps_id = models.CharField(_("RPS id"), max_length=64, blank=True)
    fingerprint = models.CharField(
        _("fingerprint"),
        max_length=64,
        blank=True,
        help_text=_("Keyed hash of name, URL, user name, password and certificate URL as pushed."),
    )
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_error = models.TextField(
        _("last error"), blank=True, help_text=_("How the last attempt went, in words.")
    )
    last_error_detail = models.TextField(
        _("last error detail"), blank=True, help_text=_("What RPS said (provider only).")
    )

    class Meta:
        ordering = ["server_name"]
        verbose_name = _("RPS server")
        verbose_name_plural = _("RPS servers")
        constraints = [
            models.UniqueConstraint(
                fields=["rps_id"], condition=~models.Q(rps_id=""), name="unique_rps_server_id"
            ),
        ]

    def __str__(self) -> str:
        return self.server_name


class RpsDeviceState(models.Model):
    """One MAC as RPS knows it from us. Keyed by MAC, not by device: when the device is
    deleted the row stays (the link is cleared) so the sync can still remove it from RPS."""

    class Status(models.TextChoices):
        REGISTERED = "registered", _("Registered")
        PENDING = "pending", _("Pending")  # a temporary failure (timeout, 5xx, 429): retried
        FAILED = "failed", _("Failed")  # RPS refused it: retried, but someone should look
        OWNED_BY_OTHER = "owned_by_other", _("Owned by another RPS customer")
        REMOVED = "removed", _("Removed")

    mac = MacAddressField(_("MAC address"), unique=True)
    device = models.OneToOneField(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rps_state",
        verbose_name=_("phone"),
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("organisation"),
        help_text=_("The organisation whose server it was last pushed to."),
    )
    server_rps_id = models.CharField(
        _("RPS server id"), max_length=64, blank=True, help_text=_("The server RPS has it on.")
    )
    rps_id = models.CharField(_("RPS id"), max_length=64, blank=True)
    fingerprint = models.CharField(
        _("fingerprint"),
        max_length=64,
        blank=True,
        help_text=_("Keyed hash of MAC, server id, URL, user name and password as pushed."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_error = models.TextField(
        _("last error"), blank=True, help_text=_("How the last attempt went, in words.")
    )
    last_error_detail = models.TextField(
        _("last error detail"), blank=True, help_text=_("What RPS said (provider only).")
    )

    class Meta:
        ordering = ["mac"]
        verbose_name = _("RPS device")
        verbose_name_plural = _("RPS devices")
        indexes = [models.Index(fields=["status", "mac"], name="rps_device_status")]

    def __str__(self) -> str:
        return format_mac(self.mac)
