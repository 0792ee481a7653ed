"""Rendering a phone's files from the database: one function per file, used by the views,
the admin and the tests.

A config is an ordered mapping of Yealink keys to values (`Layered`), built in layers, each
replacing a key of the layers before it in place:

    defaults -> provider profile -> organisation -> model -> phone's profile -> phone
    (-> account, for a SIP account's settings) -> raw overrides (organisation's, phone's)

and it remembers which layer set each key, which the admin's preview shows beside each line.
Every SIP setting is written whatever its layer, and whatever a phone can hold but was not
given is written blank (`%NULL%`) or as "none": a line, key, module, handset or value removed
in the admin is removed from the phone too, not left behind. The network settings and the
codecs are written only once some layer chose them (`put_settings`): our default written over
a VLAN the phone has from LLDP or DHCP would take it off its network.

Other apps add keys without this module importing them: they register a contributor
(`register_device_contributor`) in their AppConfig.ready(), and the MAC file calls each one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from devices.credentials import mask_token
from devices.mac import parse_user_agent
from devices.models import Device, Handset, KeyType, SipAccount, line_list
from devices.phone_models import PhoneModel, common_file_name, models_for_code
from devices.serving import (
    handsets,
    key_profiles,
    line_keys,
    settings_profiles,
    sip_accounts,
)
from organisations.config_syntax import (
    MASK,
    NULL,
    fold,
    is_number,
    is_provider_only,
    key_of,
    legacy_of,
    masked_value,
    parse_overrides,
    render_lines,
    slot,
)
from organisations.models import Organisation, SipTransport
from organisations.phone_settings import (
    CODECS,
    NETWORK_SETTINGS,
    SIP_SETTINGS,
    Srtp,
    parse_codecs,
)
from organisations.phone_settings import (
    DEFAULTS as SETTING_DEFAULTS,
)

DeviceContributor = Callable[[Device], Iterable[tuple[str, str]] | Mapping[str, str]]

_device_contributors: list[DeviceContributor] = []
_contributor_layers: dict[DeviceContributor, str] = {}
# (device, the firmware version it reports) -> keys: where to fetch the firmware it should run.
FirmwareContributor = Callable[[Device, str], Mapping[str, str]]
_firmware_contributors: list[FirmwareContributor] = []


class Layered(dict[str, str]):
    """Slot -> value (see `config_syntax.slot`), and which layer set each (`origin`).

    A key is one key in any spelling (`config_syntax.fold`): a raw override's `LANG.GUI` or
    `firmware.url` replaces our `lang.gui` or `static.firmware.url` and keeps our spelling,
    and a layer of ours after the overrides (the phone's own credentials) replaces an
    override's spelling with ours. Our own layers write each key in its folded spelling (a
    test holds them to it), so they need no folding until an override has been put.
    """

    def __init__(self) -> None:
        super().__init__()
        self.origin: dict[str, str] = {}
        # Folded slot -> slot as written; made when the first override is put.
        self._spelling: dict[str, str] | None = None

    def put(self, layer: str, pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        pairs = pairs if isinstance(pairs, dict) else dict(pairs)
        if self._spelling is not None:
            for place, value in pairs.items():
                self.set(place, value, layer)
            return
        self.update(pairs)
        self.origin.update(dict.fromkeys(pairs, layer))

    def set(self, place: str, value: str, layer: str) -> None:
        """One key (the rendering's hot path: a MAC file is a few hundred of these)."""
        if self._spelling is not None:
            written = self._spelling.get(fold(place))
            if written is not None and written != place:  # an override's spelling: ours now
                del self[written], self.origin[written]
            self._spelling[fold(place)] = place
        self[place] = value
        self.origin[place] = layer

    def put_override(self, layer: str, pairs: Mapping[str, str]) -> None:
        """Keys as someone typed them: each replaces the value of the key it folds to, in
        the spelling that key has here, or is added as typed."""
        if not pairs:
            return
        if self._spelling is None:
            self._spelling = {fold(place): place for place in self}
        for place, value in pairs.items():
            folded = fold(place)
            written = self._spelling.setdefault(folded, _as_written(place, folded))
            self[written] = value
            self.origin[written] = layer


def _as_written(place: str, folded: str) -> str:
    """A key by an older generation's name is written by its V81 name (`legacy_names` gives
    older firmware the old one); a key in another case as it was typed."""
    return place if key_of(folded) == key_of(place).lower() else folded


# How the layers stack, for the preview's legend (a profile's, model's and key profile's
# layer carries its name).
LAYER_ORDER = (
    ("default", _("what voipconfig sets where nobody chose (blanks included)")),
    ("profile …", _("the provider's settings profile of the organisation")),
    ("organisation", _("the organisation's own settings")),
    ("model …", _("what this model needs")),
    ("phone's profile …", _("the provider's settings profile of this phone")),
    ("phone", _("this phone's own settings and keys")),
    ("key profile …", _("the organisation's key profile this phone has")),
    ("account", _("a SIP account's own settings")),
    ("phonebooks, media_assets", _("the books and media chosen for it")),
    ("removed … override", _("a raw override taken out, cleared on the phone")),
    ("organisation override, phone override", _("raw key = value lines: they beat everything")),
)

DEFAULTS: dict[str, str] = {
    "static.auto_provision.pnp_enable": "0",
    "static.auto_provision.repeat.enable": "1",
    "static.auto_provision.repeat.minutes": "30",
    "local_time.ntp_server1": "pool.ntp.org",
    "lang.gui": "English",
    "lang.wui": "English",
}


def register_device_contributor(contributor: DeviceContributor) -> DeviceContributor:
    """Add keys to every MAC file: `contributor(device)` returns (key, value) pairs. The
    preview names them after the contributor's app ("phonebooks", "media_assets").

    It runs once per MAC file request, so it must cost a constant number of queries.
    """
    if contributor not in _device_contributors:
        _device_contributors.append(contributor)
        _contributor_layers[contributor] = contributor.__module__.split(".", 1)[0]
    return contributor


def register_firmware_contributor(contributor: FirmwareContributor) -> FirmwareContributor:
    """Add firmware keys to the MAC file: `contributor(device, running)` gets the version
    the phone reports (empty when unknown), and its keys go below the raw overrides."""
    if contributor not in _firmware_contributors:
        _firmware_contributors.append(contributor)
    return contributor


def firmware_keys(device: Device, running: str) -> dict[str, str]:
    """The firmware keys a phone reporting `running` gets (none on its target version)."""
    keys: dict[str, str] = {}
    for firmware in _firmware_contributors:
        keys.update(firmware(device, running))
    return keys


# --- the two files -------------------------------------------------------------------------


def common_config(organisation: Organisation, model_code: int | None = None) -> Layered:
    """What every phone of the organisation shares: `y0000000000XX.cfg`."""
    config = Layered()
    put_retired(config, "organisation", organisation.retired_override_keys)
    config.put("default", DEFAULTS)
    config.put("organisation", organisation_layer(organisation))
    put_settings(config, _phone_layers(organisation, None), _managed(organisation))
    put_web_passwords(config, organisation, None)
    for model in models_for_code(model_code) if model_code is not None else []:
        config.put(f"model {model.name}", model.keys)
    overrides = parse_overrides(organisation.raw_overrides, lenient=True)
    config.put_override("organisation override", overrides)
    return config


def device_config(device: Device, *, firmware: Mapping[str, str] | None = None) -> Layered:
    """What only this phone gets: `<mac>.cfg`. Its SIP passwords appear nowhere else.

    `firmware`: the keys naming the firmware it should run (`firmware_keys`, for the
    version it reports), under the raw overrides.

    It repeats every setting its common file has (resolved for this phone), so that a
    setting changed only for this phone, and later taken back, is taken back on the phone.
    """
    organisation = device.organisation
    model = device.phone_model
    config = Layered()
    # A key only the common file sets (where to provision from, time, language) goes back to
    # the common file's value, not to a blank: the phone applies this file after that one.
    common_only = {**DEFAULTS, **organisation_layer(organisation)}
    put_retired(config, "organisation", organisation.retired_override_keys, common_only)
    put_retired(config, "phone", device.retired_override_keys, common_only)
    if model:
        config.put(f"model {model.name}", model.keys)
    layers = _phone_layers(organisation, device)
    put_settings(config, layers, _managed(organisation, device))
    put_web_passwords(config, organisation, device)
    accounts = sip_accounts(device)
    put_accounts(config, device, accounts, model, layers)
    if model:
        put_line_keys(config, device, model, accounts)
        if model.is_dect:
            put_handsets(config, device, handsets(device))
    for contributor in _device_contributors:
        config.put(_contributor_layers.get(contributor, "phone"), contributor(device))
    config.put("firmware target", firmware or {})
    # Raw overrides come last in the MAC file too, so an organisation's override still beats
    # a key the MAC file sets (the phone applies the MAC file after the common file).
    overrides = parse_overrides(organisation.raw_overrides, lenient=True)
    config.put_override("organisation override", overrides)
    config.put_override("phone override", parse_overrides(device.raw_overrides, lenient=True))
    # Last, so that nothing sets other credentials than the ones we check: from its next
    # round the phone authenticates as itself (the common file carries none).
    config.put("phone's own credentials", own_credentials(device))
    return config


def own_credentials(device: Device) -> dict[str, str]:
    return {
        "static.auto_provision.server.username": device.provisioning_username,
        "static.auto_provision.server.password": device.provisioning_password,
    }


def organisation_layer(organisation: Organisation) -> dict[str, str]:
    return {
        "static.auto_provision.server.url": settings.PROVISIONING_URL,
        "static.auto_provision.repeat.minutes": str(organisation.provisioning_interval_minutes),
        "local_time.time_zone": organisation.time_zone,
        "local_time.time_zone_name": organisation.time_zone_name,
        "local_time.ntp_server1": organisation.ntp_server,
        "lang.gui": organisation.language,
        "lang.wui": organisation.language,
    }


# --- settings, resolved over the layers ----------------------------------------------------

Layers = list[tuple[str, Any]]  # (layer name, object with settings fields), general first


def _phone_layers(organisation: Organisation, device: Device | None) -> Layers:
    # Read once, whatever is assigned: the MAC file costs the same queries for every phone.
    profiles = settings_profiles()
    layers: Layers = []
    profile = profiles.get(organisation.profile_id) if organisation.profile_id else None
    if profile is not None:
        layers.append((f"profile {profile.name}", profile))
    layers.append(("organisation", organisation))
    if device is not None:
        device_profile = profiles.get(device.profile_id) if device.profile_id else None
        if device_profile is not None:
            layers.append((f"phone's profile {device_profile.name}", device_profile))
        layers.append(("phone", device))
    return layers


Resolved = dict[str, tuple[Any, str]]  # setting -> (value, the layer it came from)


def _managed(*owners: Organisation | Device) -> set[str]:
    return {name for owner in owners for name in owner.managed_settings.split()}


def resolve(names: Iterable[str], layers: Layers, base: Resolved | None = None) -> Resolved:
    """Each setting's value and the layer it came from: the most specific layer that sets it
    (not None, not empty), else what `base` resolved from the layers under these (or our
    default)."""
    resolved: Resolved = dict(base) if base else {}
    unset = list(names)
    for layer, source in reversed(layers):  # the most specific first
        values = vars(source)  # the row's values (a deferred field is read as usual)
        still = []
        for name in unset:
            value = values[name] if name in values else getattr(source, name)
            if value is None or value == "":
                still.append(name)
            else:
                resolved[name] = (value, layer)
        unset = still
    for name in unset:
        if name not in resolved:
            resolved[name] = (SETTING_DEFAULTS[name], "default")
    return resolved


def put_settings(config: Layered, layers: Layers, managed: set[str]) -> None:
    """The phone's network and time keys: only those some layer chooses or ever chose
    (`managed`, from the organisation's and the phone's `managed_settings`). A phone may
    have its VLAN from LLDP, DHCP or its own keypad; writing our "off" over one we never
    gave would take it off its network, while one we gave and took back goes off."""
    value = resolve(NETWORK_SETTINGS, layers)

    def skip(name: str) -> bool:
        return value[name][1] == "default" and name not in managed

    for port, prefix in (("vlan", "internet_port"), ("pc_vlan", "pc_port")):
        enabled, layer = value[f"{port}_enabled"]
        if skip(f"{port}_enabled"):
            continue
        key = f"static.network.vlan.{prefix}"
        config.set(f"{key}_enable", _flag(enabled), layer)
        vid, vid_layer = value[f"{port}_id"]
        if enabled and vid is not None:
            config.set(f"{key}_vid", str(vid), vid_layer)
            priority, priority_layer = value[f"{port}_priority"]
            config.set(f"{key}_priority", str(priority), priority_layer)
    for name, key in (("lldp_enabled", "lldp"), ("cdp_enabled", "cdp")):
        enabled, layer = value[name]
        if not skip(name):  # taken back: on, as a phone out of its box has them
            config.set(f"static.network.{key}.enable", _flag(enabled is not False), layer)
    ntp, layer = value["ntp_server_2"]
    if not skip("ntp_server_2"):
        config.set("local_time.ntp_server2", ntp or NULL, layer)


def put_web_passwords(config: Layered, organisation: Organisation, device: Device | None) -> None:
    """`static.security.user_password = <user>:<password>`, one slot per user: the phone's
    own password, else its organisation's (which always has an admin password)."""
    for user in ("admin", "user", "var"):
        own = getattr(device, f"phone_{user}_password", "") if device is not None else ""
        password = own or getattr(organisation, f"phone_{user}_password")
        if password:
            value = f"{user}:{password}"
            place = slot("static.security.user_password", value)
            config.set(place, value, "phone" if own else "organisation")


# --- SIP accounts ----------------------------------------------------------------------------


def put_accounts(
    config: Layered,
    device: Device,
    accounts: list[SipAccount],
    model: PhoneModel | None,
    layers: Layers,
) -> None:
    """Every line of the model: configured ones with all their keys, the others switched
    off with their credentials blanked, so an account removed in the admin leaves nothing
    behind on the phone."""
    by_index = {account.index: account for account in accounts}
    last = max(by_index, default=0)
    lines = max(model.lines if model else 1, last)
    phone = resolve(SIP_SETTINGS, layers) if accounts else {}  # each account adds its own
    for index in range(1, last + 1):
        account = by_index.get(index)
        if account is None:
            config.put("default", _unused_accounts(index, index))
        else:
            value = resolve(SIP_SETTINGS, [("account", account)], phone)
            put_account(config, device.organisation, account, value)
    config.put("default", _unused_accounts(last + 1, lines))


@lru_cache(maxsize=512)
def _unused_accounts(first: int, last: int) -> dict[str, str]:
    """Lines `first` to `last` switched off, their credentials blanked: the same lines for
    thousands of phones, so made once per process (a MAC file's rendering is mostly these
    few hundred lines)."""
    pairs = {}
    for index in range(first, last + 1):
        pairs[f"account.{index}.enable"] = "0"
        for key in ("user_name", "auth_name", "password"):
            pairs[f"account.{index}.{key}"] = NULL
    return pairs


def put_account(
    config: Layered, organisation: Organisation, account: SipAccount, value: Resolved
) -> None:
    prefix = f"account.{account.index}"
    own, set_ = "account", config.set
    user = account.user_name
    transport = account.server_transport
    first_transport = organisation.sip_transport if transport is None else transport
    set_(f"{prefix}.enable", "1" if account.is_enabled else "0", own)
    set_(f"{prefix}.label", account.label or user, own)
    set_(f"{prefix}.display_name", account.display_name or user, own)
    set_(f"{prefix}.auth_name", account.auth_name or user, own)
    set_(f"{prefix}.user_name", user, own)
    set_(f"{prefix}.password", account.password, own)
    server = f"{prefix}.sip_server"
    org = "organisation"
    set_(
        f"{server}.1.address",
        account.server_host or organisation.sip_server_host,
        own if account.server_host else org,
    )
    set_(
        f"{server}.1.port",
        str(account.server_port or organisation.sip_server_port),
        own if account.server_port else org,
    )
    set_(f"{server}.1.transport_type", str(first_transport), own if transport is not None else org)

    def put(key: str, name: str, text: str) -> None:
        set_(key, text, value[name][1])

    expires = str(value["registration_expires"][0])
    put(f"{server}.1.expires", "registration_expires", expires)
    host = value["sip_server_2_host"][0]
    put(f"{server}.2.address", "sip_server_2_host", host or NULL)
    if host:
        port2, port2_layer = value["sip_server_2_port"]
        if port2 is None:  # as the first server's (a TLS server is not on 5060)
            port2 = account.server_port or organisation.sip_server_port
        set_(f"{server}.2.port", str(port2), port2_layer)
        second = value["sip_server_2_transport"][0]
        put(
            f"{server}.2.transport_type",
            "sip_server_2_transport" if second is not None else "sip_server_2_host",
            str(first_transport if second is None else second),
        )
        put(f"{server}.2.expires", "registration_expires", expires)
    put(f"{prefix}.fallback.redundancy_type", "failover", str(value["failover"][0]))

    proxy = bool(value["outbound_proxy"][0])
    put(f"{prefix}.outbound_proxy_enable", "outbound_proxy", _flag(proxy))
    port = str(value["outbound_proxy_port"][0])
    for number, name in ((1, "outbound_proxy_host"), (2, "outbound_proxy_2_host")):
        address = value[name][0] if proxy else ""
        put(f"{prefix}.outbound_proxy.{number}.address", name, address or NULL)
        if address:
            put(f"{prefix}.outbound_proxy.{number}.port", "outbound_proxy_port", port)

    srtp, srtp_layer = value["srtp"]
    if srtp is None:  # compulsory on TLS: a TLS account without SRTP sends its media in clear
        srtp = Srtp.COMPULSORY if first_transport == SipTransport.TLS else Srtp.OFF
        srtp_layer = "default"
    set_(f"{prefix}.srtp_encryption", str(int(srtp)), srtp_layer)

    codecs, codec_layer = value["codecs"]
    if codec_layer != "default":  # nobody chose: the phone keeps its own (Opus included)
        config.put(codec_layer, _codec_lines(prefix, codecs))

    put(f"{prefix}.dtmf.type", "dtmf_type", str(value["dtmf_type"][0]))
    keepalive = int(value["nat_keepalive_seconds"][0])
    put(f"{prefix}.nat.udp_update_enable", "nat_keepalive_seconds", _flag(keepalive > 0))
    if keepalive:
        put(f"{prefix}.nat.udp_update_time", "nat_keepalive_seconds", str(keepalive))
    put(f"{prefix}.subscribe_mwi", "mwi_subscribe", _flag(value["mwi_subscribe"][0]))
    number = value["voicemail_number"][0]
    put(f"voice_mail.number.{account.index}", "voicemail_number", number or NULL)


@lru_cache(maxsize=4096)
def _codec_lines(prefix: str, codecs: str) -> dict[str, str]:
    """Every codec of an account: the chosen ones on, in their order; the rest off."""
    chosen = parse_codecs(codecs)
    pairs = {}
    for codec in CODECS:
        on = codec in chosen
        pairs[f"{prefix}.codec.{codec}.enable"] = "1" if on else "0"
        if on:
            pairs[f"{prefix}.codec.{codec}.priority"] = str(chosen.index(codec) + 1)
    return pairs


# --- line keys, expansion modules, handsets --------------------------------------------------


def effective_keys(device: Device) -> dict[tuple[int, int], tuple[Any, str]]:
    """(module, position) -> (key, layer): the key profile's keys, the phone's own on top."""
    keys: dict[tuple[int, int], tuple[Any, str]] = {}
    profiles = key_profiles(device.organisation_id)  # read whether it has one or not
    if device.key_profile_id in profiles:
        name, profile_keys = profiles[device.key_profile_id]
        for shared in profile_keys:
            keys[(shared.module, shared.position)] = (shared, f"key profile {name}")
    for own in line_keys(device):
        keys[(own.module, own.position)] = (own, "phone")
    return keys


def put_line_keys(
    config: Layered, device: Device, model: PhoneModel, accounts: list[SipAccount]
) -> None:
    """Every key the phone and its modules have: a key not set shows the line of its number
    where that account exists (as a phone out of the box does), and is blank otherwise."""
    keys = effective_keys(device)
    lines = {account.index for account in accounts}
    blank_from = 1  # the first of a run of blank keys not yet written
    for position in range(1, model.line_keys + 1):
        found = keys.get((0, position))
        if found is None and position not in lines:
            continue
        config.put("default", _blank_keys("linekey", blank_from, position - 1))
        blank_from = position + 1
        prefix = f"linekey.{position}"
        if found is not None:
            _put_key(config, prefix, *found)
        else:
            for key, value in (("type", "15"), ("line", str(position)), ("value", NULL)):
                config.set(f"{prefix}.{key}", value, "default")
            config.set(f"{prefix}.label", NULL, "default")
    config.put("default", _blank_keys("linekey", blank_from, model.line_keys))
    _, modules, module_keys = device.key_capacity()
    # Modules taken away are blanked too, up to the most the phone ever had.
    blanked = min(max(modules, device.expansion_modules_seen), model.max_expansion_modules)
    for module in range(1, blanked + 1):
        kind = f"expansion_module.{module}.key"
        if module > modules:
            config.put("default", _blank_keys(kind, 1, model.module_keys))
            continue
        blank_from = 1
        for position in range(1, module_keys + 1):
            found = keys.get((module, position))
            if found is not None:
                config.put("default", _blank_keys(kind, blank_from, position - 1))
                blank_from = position + 1
                _put_key(config, f"{kind}.{position}", *found)
        config.put("default", _blank_keys(kind, blank_from, module_keys))


def _put_key(config: Layered, prefix: str, key: Any, layer: str) -> None:
    set_ = config.set
    set_(f"{prefix}.type", str(key.type), layer)
    if key.type == KeyType.XML_PHONEBOOK:
        set_(f"{prefix}.value", NULL, layer)
        set_(f"{prefix}.xml_phonebook", key.value or "-1", layer)
    else:
        set_(f"{prefix}.value", key.value or NULL, layer)
    set_(f"{prefix}.label", key.label or NULL, layer)
    set_(f"{prefix}.line", str(key.line or 1), layer)
    if key.type == KeyType.BLF:
        set_(f"{prefix}.extension", key.extension or NULL, layer)


@lru_cache(maxsize=4096)
def _blank_keys(kind: str, first: int, last: int) -> dict[str, str]:
    """Keys `first` to `last` the phone has but was not given: no function, and no value
    left on them (a DTMF key's digits may be a PIN); a label shows nowhere on a key of type
    none. The same runs for thousands of phones: made once per process."""
    pairs = {}
    for position in range(first, last + 1):
        pairs[f"{kind}.{position}.type"] = "0"
        pairs[f"{kind}.{position}.value"] = NULL
    return pairs


def put_handsets(config: Layered, base: Device, phones: list[Handset]) -> None:
    """Each handset's name and lines; one taken away (up to the highest the base ever had)
    is blanked, so it keeps neither its name nor lines it should no longer ring for."""
    by_index = {handset.index: handset for handset in phones}
    for index in range(1, max(base.handsets_seen, *by_index, 0) + 1):
        prefix = f"handset.{index}"
        handset = by_index.get(index)
        if handset is None:
            for key in ("name", "incoming_lines", "dial_out_lines"):
                config.set(f"{prefix}.{key}", NULL, "default")
            continue
        config.set(f"{prefix}.name", handset.name or NULL, "phone")
        incoming = ",".join(map(str, line_list(handset.incoming_lines)))
        config.set(f"{prefix}.incoming_lines", incoming, "phone")
        outgoing = ",".join(map(str, line_list(handset.outgoing_lines)))
        config.set(f"{prefix}.dial_out_lines", outgoing, "phone")
        config.set(f"{prefix}.dial_out_default_line", str(handset.default_line), "phone")


# --- removed raw overrides ---------------------------------------------------------------


def put_retired(
    config: Layered, owner: str, retired: str, fallback: Mapping[str, str] | None = None
) -> None:
    """A raw override taken out is cleared on the phone (`%NULL%`): the phone would otherwise
    keep the value for ever. Put first, so any layer that sets the key still wins; a key in
    `fallback` (what the common file sets, for the MAC file) gets that value instead."""
    if not retired:
        return
    ours = {fold(key): value for key, value in (fallback or {}).items()}
    for key in map(fold, retired.split()):  # by the name our own layers write it with
        value = ours.get(key)
        if value is None:
            config.set(key, NULL, f"removed {owner} override")
        else:
            config.set(key, value, "organisation")


# --- output --------------------------------------------------------------------------------


def _flag(value: object) -> str:
    return "1" if value else "0"


# Keys whose value is a line number: 1 is the first line on V81 and later, 0 before
# (yealink.md §7; Yealink's admin guides for V80 firmware number linekey.X.line from 0).
_LINE_VALUE = re.compile(r"^(linekey\.\d+|expansion_module\.\d+\.key\.\d+)\.line$")


def legacy_names(config: Layered) -> Layered:
    """The same config as firmware before V81 reads it: the older key names, and line keys'
    lines counted from 0."""
    renamed = Layered()
    for place, value in config.items():
        key = key_of(place)
        if _LINE_VALUE.match(key) and is_number(value) and int(value) > 0:
            value = str(int(value) - 1)
        renamed.set(legacy_name(key) + place[len(key) :], value, config.origin[place])
    return renamed


def legacy_name(key: str) -> str:
    """The name firmware before V81 reads a key by (an override's key in any spelling)."""
    old = legacy_of(fold(key))
    return key if old is None else old


def boot_file(model_code: int | None, mac: str | None) -> str:
    """A V81+ boot file naming the phone's common file and, when known, its MAC file.

    Without a model code the catch-all common file name is listed; we serve every
    `y` + 12 digits name, so that still reaches the organisation's common file.
    No `overwrite_mode = 1`: it would reset settings made on the phone itself; what the
    admin removes is blanked explicitly instead (see the module's docstring).
    """
    lines = ["#!version:1.0.0.1"]
    lines.append(f'include:config "{common_file_name(model_code or 0)}"')
    if mac:
        lines.append(f'include:config "{mac}.cfg"')
    return "\n".join(lines) + "\n"


def render_common_config(
    organisation: Organisation, model_code: int | None = None, *, legacy: bool = False
) -> str:
    config = common_config(organisation, model_code)
    return render_lines(legacy_names(config) if legacy else config)


def render_device_config(
    device: Device, *, legacy: bool = False, firmware: Mapping[str, str] | None = None
) -> str:
    config = device_config(device, firmware=firmware)
    return render_lines(legacy_names(config) if legacy else config)


# --- what whoever looks may see -------------------------------------------------------------

SIP_PASSWORD = re.compile(r"^account\.\d+\.password$")
# The provider's layers: the organisation's raw overrides are the provider's alone (its page
# hides them from staff), and so is a phone's override line of a provider-only key.
PROVIDERS_OVERRIDE, PHONE_OVERRIDE = "organisation override", "phone override"


@dataclass(frozen=True)
class Audience:
    """Who is shown a phone's files (the admin's preview, and any later API answer), and so
    what of them: provider staff see every value once they reveal (recorded); organisation
    staff never see a secret but the SIP passwords of their own accounts (when they reveal),
    nor any value of the provider's overrides. Everyone else sees secrets masked."""

    provider: bool
    reveal: bool = False
    # Folded keys the provider's overrides set now or set before (retired): in a file served
    # earlier, whose value a line had is known only by its key.
    providers_keys: frozenset[str] = frozenset()


def audience_for(device: Device, *, provider: bool, reveal: bool) -> Audience:
    """What the admin's preview of `device` shows to provider or organisation staff."""
    organisation = device.organisation
    keys = {*parse_overrides(organisation.raw_overrides, lenient=True)}
    keys |= set(organisation.retired_override_keys.split())
    phone_keys = {*parse_overrides(device.raw_overrides, lenient=True)}
    keys |= {
        key
        for key in phone_keys | set(device.retired_override_keys.split())
        if is_provider_only(key)
    }
    return Audience(provider, reveal, frozenset(fold(key_of(key)) for key in keys))


@dataclass(frozen=True)
class Preview:
    """A phone's two files as an audience may see them (the admin's preview, the API's
    config): masked, each line beside the layer it came from, by the names its firmware
    reads. `mac_config` is unmasked, to compare with the file last served."""

    audience: Audience
    legacy_key_names: bool
    common_name: str
    common: Layered
    common_file: str
    mac_config: Layered
    mac_shown: Layered
    mac_file: str

    @staticmethod
    def lines(shown: Layered, text: str) -> list[tuple[str, str | None]]:
        """Each line of the file beside its layer (the header line has none)."""
        return list(zip(text.splitlines()[1:], shown.origin.values(), strict=True))


def preview(device: Device, *, provider: bool, reveal: bool) -> Preview:
    """What the phone gets now, for provider or organisation staff (or tokens). As the
    phone's firmware reads it (older firmware, older key names), so that the difference from
    its last download shows what changed, not the naming."""
    model = device.phone_model
    common = common_config(device.organisation, model.code if model else None)
    agent = parse_user_agent(device.last_user_agent)
    # As the phone would get it on its next request, running what it ran last.
    mac_config = device_config(device, firmware=firmware_keys(device, agent.firmware))
    legacy = agent.legacy_key_names
    if legacy:
        common, mac_config = legacy_names(common), legacy_names(mac_config)
    who = audience_for(device, provider=provider, reveal=reveal)
    common_shown, mac_shown = mask_config(common, who), mask_config(mac_config, who)
    return Preview(
        audience=who,
        legacy_key_names=legacy,
        common_name=model.common_file if model else "y000000000000.cfg",
        common=common_shown,
        common_file=render_lines(common_shown),
        mac_config=mac_config,
        mac_shown=mac_shown,
        mac_file=render_lines(mac_shown),
    )


def mask_config(config: Layered, audience: Audience) -> Layered:
    """`config` as `audience` may see it: the same lines from the same layers, values masked
    where they may not see them."""
    shown = Layered()
    for place, value in config.items():
        layer = config.origin[place]
        shown.set(place, shown_value(audience, key_of(place), value, layer), layer)
    return shown


def mask_secrets(
    text: str, audience: Audience = Audience(provider=True), now: Layered | None = None
) -> str:
    """A rendered file as `audience` may see it: one served before, where a line the phone
    still gets (the same in `now`, the file as it is now) shows as it does now, and any
    other line by its key alone."""
    now = now if now is not None else Layered()
    layers = {(fold(key_of(place)), value): now.origin[place] for place, value in now.items()}
    lines = []
    for line in text.splitlines():
        key, sep, value = line.partition(" = ")
        if sep:
            layer = layers.get((fold(key), value))
            line = f"{key} = {shown_value(audience, key, value, layer)}"
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def shown_value(audience: Audience, key: str, value: str, layer: str | None) -> str:
    """What `audience` sees of `key = value`, which `layer` set (None: not known). A resource
    URL's token is left out unless provider staff reveal (it opens the phone's files)."""
    if (audience.provider and audience.reveal) or not value:
        return value
    value = mask_token(value)
    if not audience.provider and _providers(audience, key, layer):
        return value if value == NULL else MASK  # that it is set, not to what
    if _own_sip_password(audience, key, layer):
        return value
    return masked_value(key, value)


def _providers(audience: Audience, key: str, layer: str | None) -> bool:
    if layer is None:
        return fold(key) in audience.providers_keys
    return layer == PROVIDERS_OVERRIDE or (layer == PHONE_OVERRIDE and is_provider_only(key))


def _own_sip_password(audience: Audience, key: str, layer: str | None) -> bool:
    """Organisation staff who reveal see their accounts' SIP passwords: those of the
    accounts (in a file served earlier, any the provider's overrides did not set)."""
    if audience.provider or not audience.reveal or not SIP_PASSWORD.match(key.lower()):
        return False
    return layer == "account" if layer is not None else fold(key) not in audience.providers_keys
