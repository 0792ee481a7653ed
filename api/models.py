from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organisations.models import Organisation


class ApiToken(models.Model):
    """A Bearer token of the REST API. Only its SHA-256 is kept: the token itself is shown
    once, when it is made (`manage.py createapitoken`, or the admin's add page).

    A token without an organisation is the provider's and sees every organisation; one with
    an organisation sees what that organisation's staff see (organisations.scoping)."""

    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("What uses it: “billing”, “PBX”."),
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("organisation"),
        help_text=_("Empty: a provider token, which sees every organisation."),
    )
    read_only = models.BooleanField(
        _("read-only"), default=False, help_text=_("It may read, never create, change or delete.")
    )
    # sha256 of the token, hex: 256 random bits need no slow hash (nothing to guess).
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("prefix"),
        max_length=12,
        editable=False,
        help_text=_("The token's first characters, to tell it by."),
    )
    # Whom the admin's history names for what the token changed: a user that cannot log in.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_token",
        editable=False,
        verbose_name=_("user"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("Empty: it does not expire.")
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return self.organisation.slug if self.organisation_id and self.organisation else "provider"
