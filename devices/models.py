from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from devices.mac import InvalidMac, format_mac, normalise_mac
from devices.phone_models import MODEL_CHOICES, PhoneModel, get_model
from organisations.config_syntax import (
    validate_overrides,
    validate_single_line,
    validate_yealink_name,
)
from organisations.models import Organisation, SipTransport
from organisations.secrets import EncryptedTextField

MAX_SIP_ACCOUNTS = 16


class MacAddressField(models.CharField[str, str]):
    """A MAC stored as 12 lower-case hex digits, accepted in any usual notation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = 12
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            return normalise_mac(value)
        except InvalidMac as exc:
            raise ValidationError(str(exc), code="invalid_mac") from exc

    def get_prep_value(self, value: Any) -> Any:
        # Lookups and saves in any notation find the normalised value. A lookup with text that
        # is no valid MAC (a phone asking for 000000000000.cfg) simply finds nothing: skip
        # CharField's to_python, which would raise.
        value = models.Field.get_prep_value(self, value)
        if not value:
            return value
        try:
            return normalise_mac(str(value))
        except InvalidMac:
            return str(value).strip().lower()

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        # The form field takes the notations, which are longer than the 12 stored digits.
        kwargs.setdefault("max_length", 20)
        return super().formfield(
            form_class=form_class, choices_form_class=choices_form_class, **kwargs
        )


class Device(models.Model):
    """A phone, known by its MAC; it belongs to exactly one organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="devices")
    mac = MacAddressField(
        "MAC address",
        unique=True,
        error_messages={"unique": "This MAC address is already registered to a device."},
        help_text="Any notation: 80:5E:C0:00:00:01, 80-5e-c0-00-00-01, 805e.c000.0001.",
    )
    model = models.CharField(max_length=32, choices=MODEL_CHOICES)
    label = models.CharField(max_length=100, blank=True, help_text="Where it stands, who uses it.")
    is_active = models.BooleanField(
        "active", default=True, help_text="An inactive phone is refused its files."
    )
    raw_overrides = models.TextField(
        blank=True,
        validators=[validate_overrides],
        help_text="Yealink 'key = value' lines applied last, to this phone only.",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    last_user_agent = models.CharField(max_length=255, blank=True, editable=False)
    last_firmware = models.CharField(max_length=32, blank=True, editable=False)
    # The MAC file as last served, to show an admin what changed since (keyed HMAC-SHA256).
    last_config_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    last_config = EncryptedTextField(blank=True, editable=False)  # it holds SIP passwords
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "mac"]

    def __str__(self) -> str:
        return f"{format_mac(self.mac)} ({self.label})" if self.label else format_mac(self.mac)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Code that skips full_clean() still cannot store a MAC in another notation.
        self.mac = normalise_mac(self.mac)
        super().save(*args, **kwargs)

    @property
    def phone_model(self) -> PhoneModel | None:
        return get_model(self.model)


class SipAccount(models.Model):
    """A line on the phone (account.N.* in its MAC file)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="sip_accounts")
    index = models.PositiveSmallIntegerField(
        "line",
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SIP_ACCOUNTS)],
        help_text="The line on the phone, 1 to 16 (fewer on some models).",
    )
    is_enabled = models.BooleanField("enabled", default=True)
    label = models.CharField(
        max_length=32, blank=True, validators=[validate_yealink_name], help_text="On the screen."
    )
    display_name = models.CharField(
        max_length=64, blank=True, validators=[validate_yealink_name], help_text="Caller name."
    )
    auth_name = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_yealink_name],
        help_text="Leave empty to use the user name.",
    )
    user_name = models.CharField(max_length=32, validators=[validate_single_line])
    password = EncryptedTextField(max_length=99, validators=[validate_single_line])
    server_host = models.CharField(
        "server override",
        max_length=253,
        blank=True,
        validators=[validate_single_line],
        help_text="Leave empty to use the organisation's SIP server.",
    )
    server_port = models.PositiveIntegerField(
        "port override",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
    )
    server_transport = models.PositiveSmallIntegerField(
        "transport override", choices=SipTransport.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["device", "index"]
        verbose_name = "SIP account"
        constraints = [
            models.UniqueConstraint(fields=["device", "index"], name="unique_line_per_device"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.label or self.user_name}"

    def clean(self) -> None:
        try:
            device = self.device  # on the add page, the device is not saved yet
        except Device.DoesNotExist:
            return
        model = device.phone_model
        if model and self.index and self.index > model.lines:
            raise ValidationError(
                {"index": f"A {model.name} has {model.lines} line(s); line {self.index} is out."}
            )


class AccessLog(models.Model):
    """One row per phone request that carried credentials or asked for a resource."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        SUCCESS_PREVIOUS_PASSWORD = "success_previous", "Success (previous password)"
        MAC_UNKNOWN = "mac_unknown", "MAC unknown"
        WRONG_CREDENTIALS = "wrong_credentials", "Wrong credentials"
        STALE_NONCE = "stale_nonce", "Nonce expired"
        BAD_REQUEST = "bad_request", "Bad request"
        MAC_MISMATCH = "mac_mismatch", "MAC mismatch"
        NOT_FOUND = "not_found", "Not found"
        THROTTLED = "throttled", "Throttled"

    # When the request came, not when its row was written (rows are written in batches).
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=255)
    mac = models.CharField(max_length=12, blank=True, db_index=True)
    username = models.CharField(max_length=64, blank=True, help_text="As the phone sent it.")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        indexes = [
            models.Index(fields=["outcome", "-created_at"], name="accesslog_outcome_time"),
            models.Index(fields=["organisation", "-created_at"], name="accesslog_org_time"),
            models.Index(fields=["ip", "-created_at"], name="accesslog_ip_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.path} {self.get_outcome_display()}"
