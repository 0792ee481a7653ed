from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from devices import credentials
from devices.mac import InvalidMac, format_mac, normalise_mac
from devices.phone_models import (
    EXPANSION_MODULES,
    MODEL_CHOICES,
    MODELS,
    PhoneModel,
    get_model,
)
from organisations.config_syntax import (
    is_number,
    retire_overrides,
    validate_overrides,
    validate_single_line,
    validate_yealink_name,
)
from organisations.models import (
    Organisation,
    ProvisioningPasswords,
    SettingsProfile,
    SipTransport,
    web_password_field,
)
from organisations.phone_settings import PhoneSettings, SipSettings, managed
from organisations.secrets import EncryptedTextField

# Sent after a device was saved under another organisation than it had (provider staff, or
# a provider token, moved it): device, former_organisation_id. The apps that link a device
# to their organisation's rows (phonebooks, media choices) drop those links.
device_moved = Signal()


def max_lines() -> int:
    """The most SIP accounts any model holds (a DECT manager holds more than a desk phone)."""
    return max(model.lines for model in MODELS)


def validate_line(value: int) -> None:
    if not 1 <= value <= max_lines():
        raise ValidationError(
            _("A line is a number from 1 to %(max)s (fewer on most models)."),
            code="line_range",
            params={"max": max_lines()},
        )


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


class Device(ProvisioningPasswords, PhoneSettings):
    """A phone, known by its MAC; it belongs to exactly one organisation."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="devices",
        verbose_name=_("organisation"),
    )
    mac = MacAddressField(
        _("MAC address"),
        unique=True,
        error_messages={"unique": _("This MAC address is already registered to a device.")},
        help_text=_("Any notation: 80:5E:C0:00:00:01, 80-5e-c0-00-00-01, 805e.c000.0001."),
    )
    model = models.CharField(_("model"), max_length=32, choices=MODEL_CHOICES)
    label = models.CharField(
        _("label"), max_length=100, blank=True, help_text=_("Where it stands, who uses it.")
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive phone is refused its files.")
    )
    # Encrypted: overrides hold web and 802.1x passwords.
    raw_overrides = EncryptedTextField(
        _("raw overrides"),
        blank=True,
        validators=[validate_overrides],
        help_text=_("Yealink 'key = value' lines applied last, to this phone only."),
    )
    profile = models.ForeignKey(
        SettingsProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="devices",
        verbose_name=_("settings profile"),
        help_text=_("The provider's settings profile for this phone, over its organisation's."),
    )
    key_profile = models.ForeignKey(
        "KeyProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="devices",
        verbose_name=_("key profile"),
        help_text=_("Line keys shared with other phones; the phone's own keys come on top."),
    )
    expansion_module = models.CharField(
        _("expansion module"),
        max_length=16,
        blank=True,
        choices=[(name, name) for name in EXPANSION_MODULES],
        help_text=_("The key modules beside the phone (all of one type)."),
    )
    expansion_module_count = models.PositiveSmallIntegerField(
        _("expansion modules"), default=0, validators=[MaxValueValidator(6)]
    )
    # The most modules the phone ever had here: the keys of a module taken away are blanked.
    expansion_modules_seen = models.PositiveSmallIntegerField(
        _("expansion modules seen"), default=0, editable=False
    )
    # web_password_field takes a str: a lazy text is one once read (in the admin's language).
    phone_admin_password = web_password_field(
        cast(str, _("phone web password (admin)")),
        blank=True,
        help_text=_("Empty: the organisation's."),
    )
    phone_user_password = web_password_field(
        cast(str, _("phone web password (user)")),
        blank=True,
        help_text=_("Empty: the organisation's."),
    )
    phone_var_password = web_password_field(
        cast(str, _("phone web password (var)")),
        blank=True,
        help_text=_("Empty: the organisation's."),
    )
    # Keys of raw overrides taken out: the phone gets them blanked (see devices.config).
    retired_override_keys = models.TextField(_("retired override keys"), blank=True, editable=False)
    # Settings it or its profile ever chose of those written only once chosen.
    managed_settings = models.TextField(_("managed settings"), blank=True, editable=False)
    # The highest DECT handset it ever had here: a handset taken away is blanked.
    handsets_seen = models.PositiveSmallIntegerField(_("handsets seen"), default=0, editable=False)
    # Its own provisioning credentials: the MAC is the user name (devices.credentials).
    provisioning_password = EncryptedTextField(
        _("provisioning password"),
        max_length=64,
        default=credentials.new_password,
        editable=False,
    )
    previous_provisioning_password = EncryptedTextField(
        _("previous provisioning password"), blank=True, editable=False
    )
    previous_password_valid_until = models.DateTimeField(
        _("previous password valid until"), null=True, blank=True, editable=False
    )
    # When the phone first authenticated with its own credentials: from then on it is refused
    # with its organisation's (unless the organisation's policy says always).
    own_credentials_used_at = models.DateTimeField(
        _("first used its own credentials"), null=True, blank=True, editable=False
    )
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True, editable=False)
    last_seen_ip = models.GenericIPAddressField(
        _("last seen IP"), null=True, blank=True, editable=False
    )
    last_user_agent = models.CharField(
        _("last user agent"), max_length=255, blank=True, editable=False
    )
    last_firmware = models.CharField(_("last firmware"), max_length=32, blank=True, editable=False)
    # What it reported when last given its MAC file: how a rollout sees it come back.
    provisioned_firmware = models.CharField(
        _("provisioned firmware"), max_length=32, blank=True, editable=False
    )
    # Its last Wrong credentials (at LAST_SEEN_PRECISION_SECONDS): the status "failing".
    last_failure_at = models.DateTimeField(
        _("last failure at"), null=True, blank=True, editable=False
    )
    # The MAC file as last served, to show an admin what changed since (keyed HMAC-SHA256).
    last_config_sha256 = models.CharField(
        _("last config SHA-256"), max_length=64, blank=True, editable=False
    )
    # It holds SIP passwords; compressed first, being a few KB of config lines.
    last_config = EncryptedTextField(_("last config"), blank=True, editable=False, compress=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["organisation", "mac"]
        verbose_name = _("device")
        verbose_name_plural = _("devices")

    def __str__(self) -> str:
        return f"{format_mac(self.mac)} ({self.label})" if self.label else format_mac(self.mac)

    _stored_overrides: str | None = None  # as read from the database (None: a new row)
    _stored_organisation_id: int | None = None

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any]
    ) -> Device:
        instance = super().from_db(db, field_names, values)
        instance._stored_overrides = instance.__dict__.get("raw_overrides")
        instance._stored_organisation_id = instance.__dict__.get("organisation_id")
        return instance

    @property
    def provisioning_username(self) -> str:
        """Its own provisioning user name: its MAC."""
        return self.mac

    def resource_url(self, name: str) -> str:
        """Where the phone fetches one of its files (phonebook, wallpaper, ringtone): the URL
        carries its resource token."""
        path = credentials.resource_path(self.mac, self.provisioning_password, name)
        return settings.PROVISIONING_URL + path

    def rotate_provisioning_password(self, grace_days: int | None = None) -> None:
        """A new password (and so a new resource token). The old one stays good until the
        phone has used the new one, or for the organisation's grace period at most."""
        days = self.organisation.password_grace_days if grace_days is None else grace_days
        if days:
            self.previous_provisioning_password = self.provisioning_password
            self.previous_password_valid_until = timezone.now() + timedelta(days=days)
        else:
            self.previous_provisioning_password = ""
            self.previous_password_valid_until = None
        self.provisioning_password = credentials.new_password()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Code that skips full_clean() still cannot store a MAC in another notation.
        self.mac = normalise_mac(self.mac)
        changed = set()
        modules = self.expansion_module_count if self.expansion_module else 0
        if modules > self.expansion_modules_seen:
            self.expansion_modules_seen = modules
            changed.add("expansion_modules_seen")
        if self._stored_overrides is not None and self._stored_overrides != self.raw_overrides:
            self.retired_override_keys = retire_overrides(
                self._stored_overrides, self.raw_overrides, self.retired_override_keys
            )
            changed.add("retired_override_keys")
        now_managed = managed(self.managed_settings, self, self.profile)
        if now_managed != self.managed_settings:
            self.managed_settings = now_managed
            changed.add("managed_settings")
        if changed and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], *changed}
        adding = self._state.adding
        former = FormerDevice.objects.filter(mac=self.mac).first() if adding else None
        if former is not None and former.organisation_id == self.organisation_id:
            # Deleted once, added back: the phone still has these. Never to another
            # organisation: the phone the old credentials are in would read its files.
            self.provisioning_password = former.provisioning_password
        super().save(*args, **kwargs)
        if adding:  # it is assigned now (another organisation's list keeps it: see there)
            UnassignedPhone.objects.filter(mac=self.mac, organisation=self.organisation).delete()
            if former is not None:
                former.delete()
        moved_from = self._stored_organisation_id
        if moved_from is not None and moved_from != self.organisation_id:
            # What the other apps hold of it for its former organisation (its phonebooks,
            # its wallpaper) is none of the new one's, nor the new one of the former's.
            device_moved.send(sender=Device, device=self, former_organisation_id=moved_from)
        self._stored_overrides = self.raw_overrides
        self._stored_organisation_id = self.organisation_id

    @property
    def phone_model(self) -> PhoneModel | None:
        return get_model(self.model)

    def clean(self) -> None:
        super().clean()
        model = self.phone_model
        if model is None:
            return
        errors: dict[str, str] = {}
        if self.expansion_module_count and not self.expansion_module:
            errors["expansion_module"] = gettext("Choose the type of the expansion modules.")
        elif self.expansion_module and self.expansion_module not in model.expansion_modules:
            takes = ", ".join(model.expansion_modules) or gettext("none")
            errors["expansion_module"] = gettext(
                "A %(model)s does not take an %(module)s (it takes: %(takes)s)."
            ) % {"model": model.name, "module": self.expansion_module, "takes": takes}
        elif self.expansion_module_count > model.max_expansion_modules:
            errors["expansion_module_count"] = ngettext(
                "A %(model)s takes at most %(count)d expansion module.",
                "A %(model)s takes at most %(count)d expansion modules.",
                model.max_expansion_modules,
            ) % {"model": model.name, "count": model.max_expansion_modules}
        if not errors and self.key_profile is not None:
            if self.key_profile.organisation_id != self.organisation_id:
                errors["key_profile"] = gettext(
                    "The key profile %(name)s is another organisation's."
                ) % {"name": self.key_profile.name}
            else:
                problem = self.key_profile.misfit(self)
                if problem:
                    errors["key_profile"] = problem
        if errors:
            raise ValidationError(errors)

    def key_capacity(self) -> tuple[int, int, int]:
        """(line keys, expansion modules, keys per module) this phone has."""
        model = self.phone_model
        if model is None:
            return (0, 0, 0)
        module = EXPANSION_MODULES.get(self.expansion_module)
        count = self.expansion_module_count if module else 0
        return (model.line_keys, count, module.keys if module else 0)


class SipAccount(SipSettings):
    """A line on the phone (account.N.* in its MAC file); its SIP settings, where set, beat
    the phone's and its organisation's."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="sip_accounts", verbose_name=_("device")
    )
    index = models.PositiveSmallIntegerField(
        _("line"),
        validators=[validate_line],
        help_text=_("The line on the phone: up to 16 on desk phones, more on a DECT manager."),
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    label = models.CharField(
        _("label"),
        max_length=32,
        blank=True,
        validators=[validate_yealink_name],
        help_text=_("On the screen."),
    )
    display_name = models.CharField(
        _("display name"),
        max_length=64,
        blank=True,
        validators=[validate_yealink_name],
        help_text=_("Caller name."),
    )
    auth_name = models.CharField(
        _("auth name"),
        max_length=64,
        blank=True,
        validators=[validate_yealink_name],
        help_text=_("Leave empty to use the user name."),
    )
    user_name = models.CharField(_("user name"), max_length=32, validators=[validate_single_line])
    password = EncryptedTextField(_("password"), max_length=99, validators=[validate_single_line])
    server_host = models.CharField(
        _("server override"),
        max_length=253,
        blank=True,
        validators=[validate_single_line],
        help_text=_("Leave empty to use the organisation's SIP server."),
    )
    server_port = models.PositiveIntegerField(
        _("port override"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(65535)],
    )
    server_transport = models.PositiveSmallIntegerField(
        _("transport override"), choices=SipTransport.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["device", "index"]
        verbose_name = _("SIP account")
        verbose_name_plural = _("SIP accounts")
        constraints = [
            models.UniqueConstraint(fields=["device", "index"], name="unique_line_per_device"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.label or self.user_name}"

    def clean(self) -> None:
        super().clean()
        try:
            device = self.device  # on the add page, the device is not saved yet
        except Device.DoesNotExist:
            return
        model = device.phone_model
        if model and self.index and self.index > model.lines:
            message = ngettext(
                "A %(model)s has %(count)d line; line %(line)d is out.",
                "A %(model)s has %(count)d lines; line %(line)d is out.",
                model.lines,
            ) % {"model": model.name, "count": model.lines, "line": self.index}
            raise ValidationError({"index": message})


class KeyType(models.IntegerChoices):
    """`linekey.N.type` codes: in FusionPBX's list (app/devices/resources/classes/yealink.php),
    and 0/10/13/15/16 also in Wazo's key generator (yealink.md §7)."""

    NONE = 0, _("none")
    LINE = 15, _("line")
    BLF = 16, _("BLF")
    SPEED_DIAL = 13, _("speed dial")
    CALL_PARK = 10, _("call park")
    PICKUP = 9, _("directed pickup")
    GROUP_PICKUP = 23, _("group pickup")
    INTERCOM = 14, _("intercom")
    TRANSFER = 3, _("transfer")
    DTMF = 11, _("DTMF")
    XML_PHONEBOOK = 47, _("XML phonebook")


# An XML phonebook key's value: which remote phonebook (0 the first; empty writes -1, all).
XML_BOOKS = frozenset({"0", "1", "2", "3", "4"})
# Types whose key does nothing without a value (the number, extension or digits).
NEEDS_VALUE = frozenset({KeyType.BLF, KeyType.SPEED_DIAL, KeyType.INTERCOM, KeyType.DTMF})


def key_place(module: int, position: int) -> str:
    if module == 0:
        return gettext("key %(key)d") % {"key": position}
    return gettext("expansion module %(module)d key %(key)d") % {"module": module, "key": position}


class DssKey(models.Model):
    """A programmable key: on the phone itself (module 0, `linekey.N`) or on an expansion
    module (`expansion_module.X.key.Y`)."""

    module = models.PositiveSmallIntegerField(
        _("module"),
        default=0,
        validators=[MaxValueValidator(6)],
        help_text=_("0: the phone; 1...: a module."),
    )
    position = models.PositiveSmallIntegerField(
        _("key"),
        validators=[MinValueValidator(1), MaxValueValidator(200)],
        help_text=_("Counted over all pages: 1 is the first key of the first page."),
    )
    type = models.PositiveSmallIntegerField(_("type"), choices=KeyType.choices, default=KeyType.BLF)
    value = models.CharField(
        _("value"),
        max_length=99,
        blank=True,
        validators=[validate_single_line],
        help_text=_("The number, extension or digits (for an XML phonebook: which book, 0-4)."),
    )
    label = models.CharField(
        _("label"), max_length=32, blank=True, validators=[validate_yealink_name]
    )
    line = models.PositiveSmallIntegerField(
        _("account"),
        null=True,
        blank=True,
        validators=[validate_line],
        help_text=_("The SIP account (line) the key uses; empty: line 1."),
    )
    extension = models.CharField(
        _("extension"),
        max_length=32,
        blank=True,
        validators=[validate_single_line],
        help_text=_("BLF: the code dialled to pick up a call ringing there."),
    )

    class Meta:
        abstract = True
        ordering = ["module", "position"]

    def __str__(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"{key_place(self.module, self.position)}: {self.get_type_display()}{label}"

    def clean(self) -> None:
        super().clean()
        if self.type in NEEDS_VALUE and not self.value:
            message = gettext("A %(type)s key needs a value (a number).") % {
                "type": self.get_type_display()
            }
            raise ValidationError({"value": message})
        if self.type == KeyType.XML_PHONEBOOK and self.value and self.value not in XML_BOOKS:
            raise ValidationError(
                {"value": gettext("Which remote phonebook: 0 to 4, or empty for all.")}
            )

    def misfit(self, device: Device) -> str | None:
        """Why this key cannot be on `device`, or None when it fits."""
        model = device.phone_model
        if model is None:
            return None
        keys, modules, module_keys = device.key_capacity()
        where = key_place(self.module, self.position)
        if self.module == 0 and self.position > keys:
            return ngettext(
                "A %(model)s has %(count)d line key; there is no %(where)s.",
                "A %(model)s has %(count)d line keys; there is no %(where)s.",
                keys,
            ) % {"model": model.name, "count": keys, "where": where}
        if self.module > modules:
            if modules:
                return ngettext(
                    "This %(model)s has %(count)d %(module)s module; there is no %(where)s.",
                    "This %(model)s has %(count)d %(module)s modules; there is no %(where)s.",
                    modules,
                ) % {
                    "model": model.name,
                    "count": modules,
                    "module": device.expansion_module,
                    "where": where,
                }
            return gettext("This %(model)s has no expansion module; there is no %(where)s.") % {
                "model": model.name,
                "where": where,
            }
        if self.module and self.position > module_keys:
            return ngettext(
                "An %(module)s has %(count)d key; there is no %(where)s.",
                "An %(module)s has %(count)d keys; there is no %(where)s.",
                module_keys,
            ) % {"module": device.expansion_module, "count": module_keys, "where": where}
        if self.line and self.line > model.lines:
            return ngettext(
                "A %(model)s has %(count)d line; %(where)s uses line %(line)d.",
                "A %(model)s has %(count)d lines; %(where)s uses line %(line)d.",
                model.lines,
            ) % {"model": model.name, "count": model.lines, "where": where, "line": self.line}
        return None


class KeyProfile(models.Model):
    """A named set of line keys of an organisation ("Reception"), shared by many phones."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="key_profiles",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["organisation", "name"]
        verbose_name = _("key profile")
        verbose_name_plural = _("key profiles")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="unique_key_profile"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.pk is not None and self.organisation_id is not None:
            others = self.devices.exclude(organisation_id=self.organisation_id).count()
            if others:
                message = ngettext(
                    "%(count)d phone of another organisation uses this key profile: give it "
                    "another one first.",
                    "%(count)d phones of another organisation use this key profile: give them "
                    "another one first.",
                    others,
                ) % {"count": others}
                raise ValidationError({"organisation": message})

    def misfit(self, device: Device) -> str | None:
        for key in self.keys.all() if self.pk else []:
            problem = key.misfit(device)
            if problem:
                return gettext("The key profile %(name)s does not fit this phone: %(problem)s") % {
                    "name": self.name,
                    "problem": problem,
                }
        return None


class ProfileKey(DssKey):
    profile = models.ForeignKey(
        KeyProfile, on_delete=models.CASCADE, related_name="keys", verbose_name=_("key profile")
    )

    class Meta(DssKey.Meta):
        verbose_name = _("key")
        verbose_name_plural = _("keys")
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "module", "position"], name="unique_profile_key"
            ),
        ]

    def clean(self) -> None:
        super().clean()
        try:
            profile = self.profile
        except KeyProfile.DoesNotExist:
            return
        for device in profile.devices.all() if profile.pk else []:
            problem = self.misfit(device)
            if problem:
                raise ValidationError(
                    gettext("%(phone)s uses this profile. %(problem)s")
                    % {"phone": device, "problem": problem}
                )


class LineKey(DssKey):
    """A key of one phone: beside its key profile's, or in place of one of them."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="line_keys", verbose_name=_("device")
    )

    class Meta(DssKey.Meta):
        verbose_name = _("line key")
        verbose_name_plural = _("line keys")
        constraints = [
            models.UniqueConstraint(
                fields=["device", "module", "position"], name="unique_line_key"
            ),
        ]

    def clean(self) -> None:
        super().clean()
        try:
            device = self.device
        except Device.DoesNotExist:
            return
        problem = self.misfit(device)
        if problem:
            raise ValidationError(problem)


def validate_line_list(value: str) -> None:
    if not all(is_number(part.strip()) for part in value.split(",")):
        raise ValidationError(_("Line numbers separated by commas, e.g. 1,2."), code="line_list")


def line_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if is_number(part.strip())]


class Handset(models.Model):
    """A DECT handset of a W-series base or manager (`handset.N.*`)."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="handsets", verbose_name=_("device")
    )
    index = models.PositiveSmallIntegerField(
        _("handset"), validators=[MinValueValidator(1), MaxValueValidator(250)]
    )
    name = models.CharField(
        _("name"), max_length=24, blank=True, validators=[validate_yealink_name]
    )
    incoming_lines = models.CharField(
        _("incoming lines"),
        max_length=200,
        validators=[validate_line_list],
        help_text=_("Lines it rings for: 1,2."),
    )
    outgoing_lines = models.CharField(
        _("outgoing lines"),
        max_length=200,
        validators=[validate_line_list],
        help_text=_("Lines it may call out on."),
    )
    default_line = models.PositiveSmallIntegerField(
        _("default outgoing line"), validators=[validate_line]
    )

    class Meta:
        ordering = ["device", "index"]
        verbose_name = _("handset")
        verbose_name_plural = _("handsets")
        constraints = [
            models.UniqueConstraint(fields=["device", "index"], name="unique_handset"),
        ]

    def __str__(self) -> str:
        if self.name:
            return gettext("handset %(index)d: %(name)s") % {"index": self.index, "name": self.name}
        return gettext("handset %(index)d") % {"index": self.index}

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Its base blanks it once it is taken away (config.put_handsets).
        Device.objects.filter(pk=self.device_id, handsets_seen__lt=self.index).update(
            handsets_seen=self.index
        )

    def clean(self) -> None:
        super().clean()
        try:
            device = self.device
        except Device.DoesNotExist:
            return
        model = device.phone_model
        if model is None:
            return
        if not model.handsets:
            raise ValidationError(
                gettext("A %(model)s takes no DECT handsets.") % {"model": model.name}
            )
        if self.index and self.index > model.handsets:
            message = ngettext(
                "A %(model)s takes %(count)d handset; %(index)d is out.",
                "A %(model)s takes %(count)d handsets; %(index)d is out.",
                model.handsets,
            ) % {"model": model.name, "count": model.handsets, "index": self.index}
            raise ValidationError({"index": message})
        errors = {}
        for field in ("incoming_lines", "outgoing_lines"):
            beyond = [n for n in line_list(getattr(self, field)) if not 1 <= n <= model.lines]
            if beyond:
                errors[field] = gettext("A %(model)s has lines 1 to %(count)d; not %(beyond)s.") % {
                    "model": model.name,
                    "count": model.lines,
                    "beyond": beyond,
                }
        if self.default_line and self.default_line not in line_list(self.outgoing_lines):
            errors["default_line"] = gettext("The default line must be one of its outgoing lines.")
        if errors:
            raise ValidationError(errors)


class FormerDevice(models.Model):
    """The credentials of a deleted phone, by MAC. The phone still has them, and a 401 to
    them would make it prompt for a password on its screen: with them it gets 404 and goes on
    its former organisation's list of unassigned phones; added again, it gets them back."""

    mac = MacAddressField(_("MAC address"), unique=True)
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("organisation"),
    )
    provisioning_password = EncryptedTextField(_("provisioning password"), max_length=64)
    deleted_at = models.DateTimeField(_("deleted at"), default=timezone.now)

    class Meta:
        verbose_name = _("former device")
        verbose_name_plural = _("former devices")

    def __str__(self) -> str:
        return format_mac(self.mac)


def remember_deleted_device(instance: Device, **_: object) -> None:
    """post_delete of a Device (connected in DevicesConfig.ready)."""
    FormerDevice.objects.update_or_create(
        mac=instance.mac,
        defaults={
            "organisation_id": instance.organisation_id,
            "provisioning_password": instance.provisioning_password,
            "deleted_at": timezone.now(),
        },
    )


class UnassignedPhone(models.Model):
    """A MAC that asked with an organisation's valid credentials but is not one of its phones
    (issue 14): most often a phone plugged in before staff entered it. It got 404, not 401, so
    it shows no password prompt; staff add it from this list in one click."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="unassigned_phones",
        verbose_name=_("organisation"),
    )
    mac = MacAddressField(_("MAC address"))
    model = models.CharField(
        _("model"), max_length=32, blank=True, help_text=_("As its User-Agent says.")
    )
    firmware = models.CharField(_("firmware"), max_length=32, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    requests = models.PositiveIntegerField(_("requests"), default=1)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("unassigned phone")
        verbose_name_plural = _("unassigned phones")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "mac"], name="unique_unassigned_phone"),
        ]

    def __str__(self) -> str:
        return format_mac(self.mac)


class ForeignMacAttempt(models.Model):
    """Organisation staff tried to add MACs that another organisation has (issue 15). They
    were told only that the MACs cannot be added; the provider sees here who tried which, and
    enough of them in a day pause adding phones for that organisation (devices.foreign_macs).
    """

    class Source(models.TextChoices):
        IMPORT = "import", _("CSV import")
        FORM = "form", _("phone form")
        API = "api", _("REST API")

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="foreign_mac_attempts",
        verbose_name=_("organisation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    username = models.CharField(_("user name"), max_length=150)  # kept if the user goes
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    macs = models.TextField(
        _("MACs"), help_text=_("The MACs another organisation has, one a line.")
    )
    mac_count = models.PositiveIntegerField(_("MACs tried"))
    refused_whole = models.BooleanField(
        _("file refused whole"),
        default=False,
        help_text=_("Too many such MACs, or adding paused."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("attempt to add another organisation's MACs")
        verbose_name_plural = _("attempts to add another organisation's MACs")
        indexes = [
            models.Index(fields=["organisation", "-created_at"], name="foreignmac_org_time"),
        ]

    def __str__(self) -> str:
        return ngettext(
            "%(user)s, %(time)s: %(count)d MAC",
            "%(user)s, %(time)s: %(count)d MACs",
            self.mac_count,
        ) % {
            "user": self.username,
            "time": f"{self.created_at:%Y-%m-%d %H:%M}",
            "count": self.mac_count,
        }


class AccessLog(models.Model):
    """One row per phone request that carried credentials or asked for a resource."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        SUCCESS_PREVIOUS_PASSWORD = "success_previous", _("Success (previous password)")
        MAC_UNKNOWN = "mac_unknown", _("MAC unknown")
        WRONG_CREDENTIALS = "wrong_credentials", _("Wrong credentials")
        STALE_NONCE = "stale_nonce", _("Nonce expired")
        REPLAYED = "replayed", _("Digest replay")
        BAD_REQUEST = "bad_request", _("Bad request")
        MAC_MISMATCH = "mac_mismatch", _("MAC mismatch")
        NOT_FOUND = "not_found", _("Not found")
        THROTTLED = "throttled", _("Throttled")
        # Valid organisation credentials for a MAC the organisation does not have: 404, and
        # the MAC is listed among its unassigned phones.
        UNASSIGNED = "unassigned", _("Unassigned phone")
        # Valid credentials of a phone or organisation that is deactivated: 404.
        INACTIVE = "inactive", _("Deactivated")
        # Valid organisation credentials from a phone that may no longer use them (it used
        # its own, or the organisation's policy says never): 401.
        ORGANISATION_REFUSED = "organisation_refused", _("Organisation credentials refused")
        WRONG_TOKEN = "wrong_token", _("Wrong resource token")
        # Answered 503: the database, or the access log's writer, could not keep up.
        UNAVAILABLE = "unavailable", _("Service unavailable")
        # Answered 503: this server already sends FIRMWARE_MAX_DOWNLOADS firmware images.
        BUSY = "busy", _("Busy: too many downloads")

    # When the request came, not when its row was written (rows are written in batches).
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False, db_index=True
    )
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    path = models.CharField(_("path"), max_length=255)
    mac = models.CharField(_("MAC"), max_length=12, blank=True, db_index=True)
    username = models.CharField(
        _("username"), max_length=64, blank=True, help_text=_("As the phone sent it.")
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("organisation"),
    )
    device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("device"),
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(_("status code"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        indexes = [
            models.Index(fields=["outcome", "-created_at"], name="accesslog_outcome_time"),
            models.Index(fields=["organisation", "-created_at"], name="accesslog_org_time"),
            models.Index(fields=["ip", "-created_at"], name="accesslog_ip_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.path} {self.get_outcome_display()}"


class AccessLogHour(models.Model):
    """Phone requests per hour, organisation and outcome, counted as their access-log rows
    are written (in the same transaction, so each row once): what the dashboard draws,
    without reading the access log, whatever its size."""

    hour = models.DateTimeField(_("hour"))
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("organisation"),
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=AccessLog.Outcome.choices)
    requests = models.PositiveBigIntegerField(_("requests"), default=0)

    class Meta:
        verbose_name = _("access-log hour")
        verbose_name_plural = _("access-log hours")
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "organisation", "outcome"],
                condition=Q(organisation__isnull=False),
                name="accesslog_hour_organisation",
            ),
            models.UniqueConstraint(
                fields=["hour", "outcome"],
                condition=Q(organisation__isnull=True),
                name="accesslog_hour_no_organisation",
            ),
        ]
        indexes = [models.Index(fields=["hour"], name="accesslog_hour_time")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.outcome}: {self.requests}"


class AccessLogWriter(models.Model):
    """The last batch of access-log rows each writing process had committed.

    A process writes its batches in the order of their numbers and records the number in
    the same transaction, so a batch found in the spool of a process that died
    (devices/serving/spool.py) is written only if its number is above this: not twice when
    the process died between its commit and removing the batch's file. One row per process
    that ever wrote, updated in place; prune_access_log removes those of the retention
    period's past."""

    owner = models.CharField(_("owner"), max_length=100, unique=True)
    last_batch = models.BigIntegerField(_("last batch"))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("access-log writer")
        verbose_name_plural = _("access-log writers")

    def __str__(self) -> str:
        return f"{self.owner} #{self.last_batch}"
