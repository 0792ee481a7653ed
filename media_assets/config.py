"""The media keys of a phone's MAC file, contributed to `devices.config` (see apps.py).

What the organisation and its phones chose (names only, never bytes) is kept per config
version and organisation, and the softkey files and whether a CA certificate is current are
kept per version for everyone: a MAC file costs no query for them while nothing changed.

Ringtones: Yealink repeats `ringtone.url` once per file (a repeatable key, see
`config_syntax.slot`), but a phone gets one ringtone, the one it rings with
(`phone_setting.ring_type`): every other ringtone it would download would never be played
unless chosen on the phone itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db.models import F

from devices.models import Device
from devices.serving import keys, memo
from media_assets.ca import certificate_url
from media_assets.models import (
    CaCertificate,
    DeviceMedia,
    OrganisationMedia,
    SoftkeyFile,
)
from media_assets.validation import SOFTKEY_CALL_STATES

Config = dict[str, str]
# Column -> value: file names are str, owners int, switches bool; any of them may be None.
Row = dict[str, object]


def softkey_url(name: str) -> str:
    return f"{settings.PROVISIONING_URL}xml/_global/{name}.xml"


def media_config(device: Device) -> Config:
    if device._state.adding:
        return {}
    row = _choices(device)
    config: Config = {}
    wallpaper = _pick(row, "wallpaper", device.organisation_id)
    if wallpaper:
        config["wallpaper_upload.url"] = device.resource_url(wallpaper)
        config["phone_setting.backgrounds"] = f"Config:{wallpaper}"
    ringtone = _pick(row, "ringtone", device.organisation_id)
    if ringtone:
        config["ringtone.url"] = device.resource_url(ringtone)
        config["phone_setting.ring_type"] = f"Config:{ringtone}"
    config.update(_softkeys(row))
    if row["ca"]:
        config["static.trusted_certificates.url"] = certificate_url()
        config["static.security.trust_certificates"] = "1"
    return config


def _pick(row: Row, field: str, organisation_id: int) -> str | None:
    """The device's choice, else the organisation's; a file that is not (or no longer) the
    organisation's or global is skipped, as the phone would get a 404 for it."""
    for level in ("device", "org"):
        name = row[f"{level}_{field}"]
        owner = row[f"{level}_{field}_owner"]
        if isinstance(name, str) and name and owner in (None, organisation_id):
            return name
    return None


def _softkeys(row: Row) -> Config:
    if not row["softkeys"]:
        # Said explicitly, so switching them off in the admin switches them off on the phone.
        return {"phone_setting.custom_softkey_enable": "0"}
    config = {"phone_setting.custom_softkey_enable": "1"}
    for state, key in SOFTKEY_CALL_STATES.items():
        name = row[f"softkey_{state}"]
        if isinstance(name, str) and name:
            config[f"custom_softkey_{key}.url"] = softkey_url(name)
    return config


def _choices(device: Device) -> Row:
    """Names and owners of what the device and its organisation chose, whether softkeys are
    on, the softkey files and whether a CA is current: all kept per config version, per
    organisation (two queries) and for everyone (two more), so a MAC file costs none."""
    chosen = memo(
        keys.MEDIA_CHOICES(device.organisation_id),
        partial(_organisation_choices, device.organisation_id),
    )
    row: Row = {**chosen.organisation, **chosen.devices.get(device.pk, _NOTHING_CHOSEN)}
    files, row["ca"] = memo(keys.SHARED_MEDIA, _shared_media)
    for state in SOFTKEY_CALL_STATES:
        row[f"softkey_{state}"] = files.get(state) if row["softkeys"] else None
    return row


@dataclass(frozen=True)
class _Chosen:
    organisation: Row
    devices: dict[int, Row]  # only the devices with choices of their own


def _organisation_choices(organisation_id: int) -> _Chosen:
    found = (
        OrganisationMedia.objects.filter(organisation_id=organisation_id)
        .values(softkeys=F("custom_softkeys_enabled"), **_columns("org"))
        .first()
    )
    # dict(): the plugin's type of these rows knows only the named columns, not the ** ones.
    values: Row = dict(found) if found else {"softkeys": False, **dict.fromkeys(_columns("org"))}
    values["softkeys"] = bool(values["softkeys"])
    rows = DeviceMedia.objects.filter(device__organisation_id=organisation_id).values(
        "device_id", **_columns("device")
    )
    devices = {row["device_id"]: _without(row, "device_id") for row in rows}
    return _Chosen(values, devices)


def _without(row: Mapping[str, object], column: str) -> Row:
    return {name: value for name, value in row.items() if name != column}


def _columns(level: str) -> dict[str, F]:
    return {
        f"{level}_{field}{suffix}": F(f"{field}__{column}")
        for field in ("wallpaper", "ringtone")
        for suffix, column in (("", "name"), ("_owner", "organisation_id"))
    }


_NOTHING_CHOSEN: Row = dict.fromkeys(_columns("device"))


def _shared_media() -> tuple[dict[str, str], bool]:
    files = dict(SoftkeyFile.objects.values_list("call_state", "name"))
    return files, CaCertificate.objects.filter(is_active=True).exists()
