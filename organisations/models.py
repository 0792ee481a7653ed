from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from organisations.config_syntax import (
    retire_overrides,
    validate_credential,
    validate_overrides,
    validate_single_line,
    validate_username,
)
from organisations.phone_settings import (
    PhoneSettings,
    SettingsProfile,
    managed,
    new_web_password,
    validate_web_password,
)
from organisations.secrets import EncryptedTextField
from organisations.time_zones import (
    offset_of,
    validate_time_zone_name,
    validate_time_zone_offset,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "Organisation",
    "OrganisationCredentials",
    "OrganisationStaff",
    "ProvisioningPasswords",
    "SettingsProfile",
    "SipTransport",
]


class SipTransport(models.IntegerChoices):
    """Yealink's `account.N.sip_server.1.transport_type` values."""

    # Protocol names, the same in every language.
    UDP = 0, "UDP"
    TCP = 1, "TCP"
    TLS = 2, "TLS"
    DNS_SRV = 3, "DNS SRV"


def web_password_field(verbose_name: StrOrPromise, **kwargs: Any) -> EncryptedTextField:
    return EncryptedTextField(
        verbose_name,
        max_length=32,
        validators=[validate_web_password, MinLengthValidator(8)],
        **kwargs,
    )


def validate_not_mac_shaped(value: str) -> None:
    """A phone's own user name is its MAC: an organisation's must not look like one."""
    if len(value) == 12 and all(c in "0123456789abcdefABCDEF" for c in value):
        raise ValidationError(
            _(
                "Twelve hexadecimal digits are the form of a phone's own user name (its MAC); "
                "choose another user name for the organisation."
            ),
            code="mac_shaped_username",
        )


class OrganisationCredentials(models.TextChoices):
    """When a phone may still authenticate with its organisation's credentials."""

    BOOTSTRAP = "bootstrap", _("Until the phone has used its own (recommended)")
    ALWAYS = "always", _("Always (legacy: any phone's credentials open every phone's files)")
    NEVER = "never", _("Never (only each phone's own credentials)")


class ProvisioningPasswords:
    """What opens now, for a model with `provisioning_password`, `previous_provisioning_password`
    and `previous_password_valid_until` (an organisation, a phone): a new password leaves the
    old one good for a grace period."""

    provisioning_password: str
    previous_provisioning_password: str
    previous_password_valid_until: datetime | None

    def previous_password(self, now: datetime | None = None) -> str | None:
        """The old provisioning password while its grace period lasts, else None."""
        until = self.previous_password_valid_until
        if not self.previous_provisioning_password or until is None:
            return None
        return self.previous_provisioning_password if (now or timezone.now()) < until else None

    def passwords(self) -> list[str]:
        """The provisioning passwords that open now: the current one, and the previous one in
        its grace period."""
        previous = self.previous_password()
        return [self.provisioning_password, previous] if previous else [self.provisioning_password]


class Organisation(ProvisioningPasswords, PhoneSettings):
    """A customer of the provider: its phones share these provisioning settings."""

    class Language(models.TextChoices):
        ENGLISH = "English", _("English")
        DUTCH = "Dutch", _("Dutch")
        FRENCH = "French", _("French")
        GERMAN = "German", _("German")
        ITALIAN = "Italian", _("Italian")
        POLISH = "Polish", _("Polish")
        PORTUGUESE = "Portuguese", _("Portuguese")
        SPANISH = "Spanish", _("Spanish")
        TURKISH = "Turkish", _("Turkish")
        RUSSIAN = "Russian", _("Russian")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Phones of an inactive organisation are refused.")
    )
    provisioning_username = models.CharField(
        _("provisioning username"),
        max_length=32,
        unique=True,
        validators=[validate_username, validate_not_mac_shaped],
        help_text=_(
            "HTTP authentication user name shared by this organisation's phones "
            "(max 32): what a phone set up by hand uses until it has its own."
        ),
    )
    provisioning_password = EncryptedTextField(
        _("provisioning password"),
        max_length=32,
        validators=[validate_credential, MinLengthValidator(8)],
        help_text=_("HTTP authentication password shared by this organisation's phones (8 to 32)."),
    )
    organisation_credentials = models.CharField(
        _("phones may use the organisation's credentials"),
        max_length=10,
        choices=OrganisationCredentials.choices,
        default=OrganisationCredentials.BOOTSTRAP,
        help_text=_(
            "Every phone has its own credentials (its MAC and a random password), which "
            "RPS hands it and its MAC file sets. The organisation's credentials only get a phone "
            "set up by hand to its first MAC file."
        ),
    )
    enrol_unknown_phones = models.BooleanField(
        _("enrol unknown phones"),
        default=False,
        help_text=_(
            "A phone not in the admin that sends this organisation's valid credentials "
            "is added as a phone of this organisation at once (its model from its User-Agent). "
            "Off: it is listed among the unassigned phones, for staff to add."
        ),
    )
    firmware_hold_back_allowed = models.BooleanField(
        _("may hold back firmware"),
        default=False,
        help_text=_("Whether the organisation's staff may stop firmware updates of its phones."),
    )
    firmware_hold_back = models.BooleanField(
        _("hold back firmware updates"),
        default=False,
        help_text=_(
            "The phones keep the firmware they run: no rollout and no general target "
            "moves them (a target the provider set for the organisation or one phone still "
            "does). Only when the provider allows it."
        ),
    )
    sip_server_host = models.CharField(
        _("SIP server"), max_length=253, validators=[validate_single_line]
    )
    sip_server_port = models.PositiveIntegerField(
        _("SIP port"), default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    sip_transport = models.PositiveSmallIntegerField(
        _("SIP transport"), choices=SipTransport.choices, default=SipTransport.UDP
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=6,
        default="+1",
        validators=[
            RegexValidator(
                r"^[+-]?\d{1,2}(:[0-5]\d)?$", _("Use an offset such as +1, -5 or +5:30.")
            ),
            validate_time_zone_offset,
        ],
        help_text=_("Yealink offset notation, e.g. +1, -5 or +5:30."),
    )
    time_zone_name = models.CharField(
        _("time zone name"),
        max_length=64,
        default="Netherlands(Amsterdam)",
        blank=True,
        validators=[validate_time_zone_name],
        help_text=_(
            "Yealink's zone name, which also selects daylight saving rules and sets the offset."
        ),
    )
    language = models.CharField(
        _("language"), max_length=20, choices=Language.choices, default=Language.ENGLISH
    )
    ntp_server = models.CharField(
        _("NTP server"), max_length=253, default="pool.ntp.org", validators=[validate_single_line]
    )
    provisioning_interval_minutes = models.PositiveIntegerField(
        _("provisioning interval minutes"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(43200)],
        help_text=_("How often phones fetch their configuration again (1 to 43200 minutes)."),
    )
    # Encrypted: overrides hold web and 802.1x passwords.
    raw_overrides = EncryptedTextField(
        _("raw overrides"),
        blank=True,
        validators=[validate_overrides],
        help_text=_(
            "Yealink 'key = value' lines applied last, to every phone of the organisation."
        ),
    )
    profile = models.ForeignKey(
        SettingsProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="organisations",
        verbose_name=_("profile"),
        help_text=_("The provider's settings profile under this organisation's own settings."),
    )
    phone_admin_password = web_password_field(
        _("phone web password (admin)"),
        default=new_web_password,
        help_text=_(
            "The phones' web UI 'admin' password; generated at random when the "
            "organisation is created (8 to 32 characters)."
        ),
    )
    phone_user_password = web_password_field(
        _("phone web password (user)"),
        blank=True,
        help_text=_("The phones' web UI 'user' password; empty: the phone keeps its own."),
    )
    phone_var_password = web_password_field(
        _("phone web password (var)"),
        blank=True,
        help_text=_(
            "The 'var' account of the models that have one; empty: the phone keeps its own."
        ),
    )
    # Keys of raw overrides taken out: the phones get them blanked (see devices.config).
    retired_override_keys = models.TextField(_("retired override keys"), blank=True, editable=False)
    # Settings it or its profile ever chose of those written only once chosen.
    managed_settings = models.TextField(_("managed settings"), blank=True, editable=False)
    password_grace_days = models.PositiveSmallIntegerField(
        _("password grace period (days)"),
        default=7,
        validators=[MaxValueValidator(90)],
        help_text=_(
            "After a new provisioning password is set, phones may still use the old one "
            "this many days, so they fetch the config that carries the new one."
        ),
    )
    previous_provisioning_password = EncryptedTextField(
        _("previous provisioning password"), max_length=32, blank=True, editable=False
    )
    previous_password_valid_until = models.DateTimeField(
        _("previous password valid until"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    @property
    def holds_back_firmware(self) -> bool:
        return self.firmware_hold_back and self.firmware_hold_back_allowed

    def __str__(self) -> str:
        return self.name

    # The password and overrides as read from the database, to tell when they change
    # (None: a new row).
    _stored_password: str | None = None
    _stored_overrides: str | None = None

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._keep_previous_password()
        if self._stored_overrides is not None:
            self.retired_override_keys = retire_overrides(
                self._stored_overrides, self.raw_overrides, self.retired_override_keys
            )
            fields = kwargs.get("update_fields")
            if fields is not None and "raw_overrides" in fields:
                kwargs["update_fields"] = {*fields, "retired_override_keys"}
        self.managed_settings = managed(self.managed_settings, self, self.profile)
        super().save(*args, **kwargs)
        self._stored_overrides = self.raw_overrides

    def clean(self) -> None:
        super().clean()
        offset = offset_of(self.time_zone_name) if self.time_zone_name else None
        if offset is not None:
            self.time_zone = offset  # the zone decides its offset: they cannot disagree

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any]
    ) -> Organisation:
        instance = super().from_db(db, field_names, values)
        instance._stored_password = instance.__dict__.get("provisioning_password")
        instance._stored_overrides = instance.__dict__.get("raw_overrides")
        return instance

    def _keep_previous_password(self) -> None:
        stored = self._stored_password
        if stored is None or stored == self.provisioning_password:
            return
        if self.password_grace_days:
            self.previous_provisioning_password = stored
            self.previous_password_valid_until = timezone.now() + timedelta(
                days=self.password_grace_days
            )
        else:
            self.previous_provisioning_password = ""
            self.previous_password_valid_until = None
        self._stored_password = self.provisioning_password


class OrganisationStaff(models.Model):
    """Links a staff user to the one organisation they work for (provider staff have none)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="organisation_staff",
        verbose_name=_("user"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("organisation"),
    )

    class Meta:
        verbose_name = _("organisation staff member")
        verbose_name_plural = _("organisation staff")

    def __str__(self) -> str:
        return f"{self.user} ({self.organisation})"
