from __future__ import annotations

from django.core.validators import (
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models

from organisations.config_syntax import (
    validate_credential,
    validate_overrides,
    validate_single_line,
    validate_username,
)


class SipTransport(models.IntegerChoices):
    """Yealink's `account.N.sip_server.1.transport_type` values."""

    UDP = 0, "UDP"
    TCP = 1, "TCP"
    TLS = 2, "TLS"
    DNS_SRV = 3, "DNS SRV"


class Organisation(models.Model):
    """A customer of the provider: its phones share these provisioning settings."""

    class Language(models.TextChoices):
        ENGLISH = "English"
        DUTCH = "Dutch"
        FRENCH = "French"
        GERMAN = "German"
        ITALIAN = "Italian"
        POLISH = "Polish"
        PORTUGUESE = "Portuguese"
        SPANISH = "Spanish"
        TURKISH = "Turkish"
        RUSSIAN = "Russian"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    is_active = models.BooleanField(
        "active", default=True, help_text="Phones of an inactive organisation are refused."
    )
    provisioning_username = models.CharField(
        max_length=32,
        unique=True,
        validators=[validate_username],
        help_text="HTTP authentication user name of this organisation's phones (max 32).",
    )
    provisioning_password = models.CharField(
        max_length=32,
        validators=[validate_credential, MinLengthValidator(8)],
        help_text="HTTP authentication password of this organisation's phones (8 to 32).",
    )
    sip_server_host = models.CharField(
        "SIP server", max_length=253, validators=[validate_single_line]
    )
    sip_server_port = models.PositiveIntegerField(
        "SIP port", default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    sip_transport = models.PositiveSmallIntegerField(
        "SIP transport", choices=SipTransport.choices, default=SipTransport.UDP
    )
    time_zone = models.CharField(
        max_length=6,
        default="+1",
        validators=[
            RegexValidator(r"^[+-]?\d{1,2}(:[0-5]\d)?$", "Use an offset such as +1, -5 or +5:30.")
        ],
        help_text="Yealink offset notation, e.g. +1, -5 or +5:30.",
    )
    time_zone_name = models.CharField(
        max_length=64,
        default="Netherlands(Amsterdam)",
        blank=True,
        validators=[validate_single_line],
        help_text="Yealink zone name, which also selects daylight saving rules.",
    )
    language = models.CharField(max_length=20, choices=Language.choices, default=Language.ENGLISH)
    ntp_server = models.CharField(
        "NTP server", max_length=253, default="pool.ntp.org", validators=[validate_single_line]
    )
    provisioning_interval_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(43200)],
        help_text="How often phones fetch their configuration again (1 to 43200 minutes).",
    )
    raw_overrides = models.TextField(
        blank=True,
        validators=[validate_overrides],
        help_text="Yealink 'key = value' lines applied last, to every phone of the organisation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
