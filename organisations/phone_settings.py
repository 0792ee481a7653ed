"""The settings a provider sets on every deployment, as validated fields instead of raw keys.

The same fields sit on several layers of a phone's configuration: a provider's settings
profile, an organisation, a phone (and the SIP fields on each of its accounts too). Every
field is empty by default, meaning "as the layer above says"; `devices.layers` resolves them
from the most specific layer down to our defaults (`DEFAULTS`) and renders the keys.
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from organisations.config_syntax import FACTORY_PASSWORDS, validate_single_line

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Srtp(models.IntegerChoices):
    """`account.N.srtp_encryption`."""

    OFF = 0, _("off")
    OPTIONAL = 1, _("optional")
    COMPULSORY = 2, _("compulsory")


class DtmfType(models.IntegerChoices):
    """`account.N.dtmf.type`."""

    INBAND = 0, _("in band")
    RFC2833 = 1, _("RFC 2833")
    SIP_INFO = 2, _("SIP INFO")
    RFC2833_AND_SIP_INFO = 3, _("RFC 2833 and SIP INFO")


class Failover(models.IntegerChoices):
    """`account.N.fallback.redundancy_type`: how the phone uses its second SIP server."""

    CONCURRENT = 0, _("register with both (concurrent)")
    SUCCESSIVE = 1, _("second only when the first fails (successive)")


# The codecs a Yealink phone takes, as its keys name them (`account.N.codec.<name>.*`; the
# "kpbs" spelling is Yealink's). Each is in the public templates (yealink-keys.tsv).
CODECS: dict[str, str] = {
    "opus": "Opus",
    "g722": "G.722",
    "pcma": "G.711 A-law (PCMA)",
    "pcmu": "G.711 µ-law (PCMU)",
    "g729": "G.729",
    "g726_16": "G.726-16",
    "g726_24": "G.726-24",
    "g726_32": "G.726-32",
    "g726_40": "G.726-40",
    "g723_53": "G.723.1 5.3k",
    "g723_63": "G.723.1 6.3k",
    "ilbc": "iLBC",
    "g722_1_24kpbs": "G.722.1 24k",
    "g722_1c_24kpbs": "G.722.1C 24k",
    "g722_1c_32kpbs": "G.722.1C 32k",
    "g722_1c_48kpbs": "G.722.1C 48k",
}

# What a phone gets where no layer sets a value: the SIP settings are always written, so a
# value removed in the admin goes back to this on the phone instead of staying there. The
# codecs and the network settings (None here) are written only once a layer chooses them:
# until then the phone keeps its own (its VLAN may come from LLDP, DHCP or its keypad).
DEFAULTS: dict[str, object] = {
    "sip_server_2_host": "",
    "sip_server_2_port": None,  # as the first server's
    "sip_server_2_transport": None,  # as the first server's
    "failover": Failover.CONCURRENT,
    "outbound_proxy": False,
    "outbound_proxy_host": "",
    "outbound_proxy_2_host": "",
    "outbound_proxy_port": 5060,
    "registration_expires": 3600,
    "srtp": None,  # compulsory with TLS, else off
    "codecs": "",
    "dtmf_type": DtmfType.RFC2833,
    "nat_keepalive_seconds": 30,
    "voicemail_number": "",
    "mwi_subscribe": False,
    "vlan_enabled": None,
    "vlan_id": None,
    "vlan_priority": 0,
    "pc_vlan_enabled": None,
    "pc_vlan_id": None,
    "pc_vlan_priority": 0,
    "lldp_enabled": None,
    "cdp_enabled": None,
    "ntp_server_2": "",
}


def parse_codecs(text: str) -> list[str]:
    return [name.strip().lower() for name in text.replace(" ", ",").split(",") if name.strip()]


def validate_codecs(text: str) -> None:
    names = parse_codecs(text)
    unknown = [name for name in names if name not in CODECS]
    if unknown:
        raise ValidationError(
            _("Unknown codec %(unknown)s; use names from: %(known)s."),
            code="unknown_codec",
            params={"unknown": ", ".join(unknown), "known": ", ".join(CODECS)},
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationError(
            _("Each codec once: %(names)s appears more than once."),
            code="repeated_codec",
            params={"names": ", ".join(repeated)},
        )


ON_OFF = [(True, _("on")), (False, _("off"))]
INHERIT = _("Empty: as the layer above (profile, organisation, defaults) says.")
KEEP = _(
    "Empty at every layer: the phone keeps its own (it may learn its VLAN from LLDP or "
    "DHCP); to take back a VLAN you gave, choose off."
)
PORT = [MinValueValidator(1), MaxValueValidator(65535)]
VLAN_ID = [MinValueValidator(1), MaxValueValidator(4094)]
VLAN_PRIORITY = [MinValueValidator(0), MaxValueValidator(7)]


def host_field(
    verbose_name: StrOrPromise, help_text: StrOrPromise = INHERIT
) -> models.CharField[str, str]:
    return models.CharField(
        verbose_name,
        max_length=253,
        blank=True,
        validators=[validate_single_line],
        help_text=help_text,
    )


class SipSettings(models.Model):
    """What a SIP account can be set up with beyond its server: on every layer, and on each
    account (`account.N.*`)."""

    sip_server_2_host = host_field(
        _("second SIP server"),
        _("Failover server; Empty: as the layer above (profile, organisation, defaults) says."),
    )
    sip_server_2_port = models.PositiveIntegerField(
        _("second server port"), null=True, blank=True, validators=PORT
    )
    sip_server_2_transport = models.PositiveSmallIntegerField(
        _("second server transport"),
        null=True,
        blank=True,
        choices=[(0, "UDP"), (1, "TCP"), (2, "TLS"), (3, "DNS SRV")],  # as SipTransport
        help_text=_("Empty: as the first server's."),
    )
    failover = models.PositiveSmallIntegerField(
        _("use of the second server"), null=True, blank=True, choices=Failover.choices
    )
    outbound_proxy = models.BooleanField(
        _("outbound proxy"), null=True, blank=True, choices=ON_OFF, help_text=INHERIT
    )
    outbound_proxy_host = host_field(_("outbound proxy address"))
    outbound_proxy_2_host = host_field(_("second outbound proxy address"))
    outbound_proxy_port = models.PositiveIntegerField(
        _("outbound proxy port"), null=True, blank=True, validators=PORT
    )
    registration_expires = models.PositiveIntegerField(
        _("registration expiry (s)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(30), MaxValueValidator(86400)],
    )
    srtp = models.PositiveSmallIntegerField(
        _("SRTP"),
        null=True,
        blank=True,
        choices=Srtp.choices,
        help_text=_("Empty: compulsory on TLS, off otherwise (unless a layer above says)."),
    )
    codecs = models.CharField(
        _("codecs"),
        max_length=200,
        blank=True,
        validators=[validate_codecs],
        help_text=_(
            "In order of preference, comma separated, e.g. g722,pcma,pcmu; the others "
            "are switched off. Empty at every layer: the phone keeps its own codecs."
        ),
    )
    dtmf_type = models.PositiveSmallIntegerField(
        _("DTMF"), null=True, blank=True, choices=DtmfType.choices
    )
    nat_keepalive_seconds = models.PositiveIntegerField(
        _("NAT keep-alive (s)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(3600)],
        help_text=_(
            "0 switches keep-alive packets off. Empty: as the layer above (profile, "
            "organisation, defaults) says."
        ),
    )
    voicemail_number = models.CharField(
        _("voicemail number"),
        max_length=32,
        blank=True,
        validators=[validate_single_line],
        help_text=INHERIT,
    )
    mwi_subscribe = models.BooleanField(
        _("subscribe to voicemail (MWI)"), null=True, blank=True, choices=ON_OFF
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if self.outbound_proxy and not self.outbound_proxy_host:
            raise ValidationError(
                {"outbound_proxy_host": _("An outbound proxy switched on needs its address.")}
            )
        if self.outbound_proxy_2_host and not self.outbound_proxy_host:
            raise ValidationError(
                {"outbound_proxy_host": _("Set the first outbound proxy before the second.")}
            )


class PhoneSettings(SipSettings):
    """The SIP fields plus the phone's network and time: on profiles, organisations, phones."""

    vlan_enabled = models.BooleanField(
        _("VLAN (phone port)"), null=True, blank=True, choices=ON_OFF, help_text=KEEP
    )
    vlan_id = models.PositiveSmallIntegerField(
        _("VLAN id"), null=True, blank=True, validators=VLAN_ID, help_text=_("1 to 4094.")
    )
    vlan_priority = models.PositiveSmallIntegerField(
        _("VLAN priority"), null=True, blank=True, validators=VLAN_PRIORITY, help_text=_("0 to 7.")
    )
    pc_vlan_enabled = models.BooleanField(
        _("VLAN (PC port)"), null=True, blank=True, choices=ON_OFF, help_text=KEEP
    )
    pc_vlan_id = models.PositiveSmallIntegerField(
        _("PC port VLAN id"), null=True, blank=True, validators=VLAN_ID, help_text=_("1 to 4094.")
    )
    pc_vlan_priority = models.PositiveSmallIntegerField(
        _("PC port VLAN priority"),
        null=True,
        blank=True,
        validators=VLAN_PRIORITY,
        help_text=_("0 to 7."),
    )
    lldp_enabled = models.BooleanField(_("LLDP"), null=True, blank=True, choices=ON_OFF)
    cdp_enabled = models.BooleanField(_("CDP"), null=True, blank=True, choices=ON_OFF)
    ntp_server_2 = host_field(_("second NTP server"))

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        for port in ("vlan", "pc_vlan"):
            if getattr(self, f"{port}_enabled") and getattr(self, f"{port}_id") is None:
                raise ValidationError(
                    {f"{port}_id": _("A VLAN switched on needs its id (1-4094).")}
                )


class SettingsProfile(PhoneSettings):
    """Settings the provider gives many organisations or phones at once ("Secure TLS")."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("settings profile")
        verbose_name_plural = _("settings profiles")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        if chosen_settings(self):  # what it now chooses is managed on its phones from now on
            for owner in [*self.organisations.all(), *self.devices.all()]:
                owner.save(update_fields=["managed_settings"])


# Settings written only once a layer chooses them (see DEFAULTS); once chosen anywhere above a
# phone, they are written from then on (`managed_settings`), so that taking them back (a
# profile taken away, a field emptied) takes them back on the phone too.
WRITTEN_ONCE_CHOSEN = (
    "vlan_enabled",
    "pc_vlan_enabled",
    "lldp_enabled",
    "cdp_enabled",
    "ntp_server_2",
)


def chosen_settings(*sources: object) -> set[str]:
    """Which of WRITTEN_ONCE_CHOSEN these rows (profiles, an organisation, a phone) set."""
    return {
        name
        for source in sources
        if source is not None
        for name in WRITTEN_ONCE_CHOSEN
        if getattr(source, name) not in (None, "")
    }


def managed(before: str, *sources: object) -> str:
    """`managed_settings` after a save: what was managed, and what these rows choose now."""
    return " ".join(sorted(set(before.split()) | chosen_settings(*sources)))


# The fields of each kind, in the order they are shown and rendered.
SIP_SETTINGS = tuple(field.name for field in SipSettings._meta.local_fields)
PHONE_SETTINGS = tuple(field.name for field in PhoneSettings._meta.local_fields)
NETWORK_SETTINGS = tuple(name for name in PHONE_SETTINGS if name not in SIP_SETTINGS)

# Phone web passwords: Yealink's own rules allow printable ASCII; we generate letters and
# digits only, so the password can be read out over the phone.
WEB_PASSWORD_ALPHABET = string.ascii_letters + string.digits


def new_web_password(length: int = 16) -> str:
    """A random password for the phones' web UI `admin` account (95 bits at 16 characters)."""
    return "".join(secrets.choice(WEB_PASSWORD_ALPHABET) for _ in range(length))


def validate_web_password(value: str) -> None:
    if not value.isascii() or not value.isprintable() or " " in value or ":" in value:
        raise ValidationError(
            _(
                "Use printable ASCII without spaces or ':' (the phone's config line is "
                "'user:password')."
            ),
            code="web_password_charset",
        )
    if value.lower() in FACTORY_PASSWORDS:
        raise ValidationError(
            _("That is a factory default password; choose another."), code="factory_password"
        )
