"""The media keys of a phone's MAC file, contributed to `devices.config` (see apps.py).

A constant four queries, whatever the organisation holds: the device's and its
organisation's choices (names only, never bytes), the softkey files when softkeys are on,
and whether a CA certificate is current.

Ringtones: Yealink repeats `ringtone.url` once per file, but a config here is a mapping with
one value per key, and no indexed form of the key exists. So a phone gets one ringtone, the
one it rings with (`phone_setting.ring_type`); that is also all a phone needs, as every other
ringtone it would download would never be played unless chosen on the phone itself.
"""

from __future__ import annotations

from django.conf import settings

from devices.models import Device
from media_assets.ca import certificate_url
from media_assets.models import (
    CaCertificate,
    DeviceMedia,
    OrganisationMedia,
    SoftkeyFile,
)
from media_assets.validation import SOFTKEY_CALL_STATES

Config = dict[str, str]


def softkey_url(name: str) -> str:
    return f"{settings.PROVISIONING_URL}xml/_global/{name}.xml"


def media_config(device: Device) -> Config:
    if device.pk is None:
        return {}
    row = _choices(device)
    config: Config = {}
    wallpaper = _pick(row, "wallpaper", device.organisation_id)
    if wallpaper:
        config["wallpaper_upload.url"] = settings.PROVISIONING_URL + wallpaper
        config["phone_setting.backgrounds"] = f"Config:{wallpaper}"
    ringtone = _pick(row, "ringtone", device.organisation_id)
    if ringtone:
        config["ringtone.url"] = settings.PROVISIONING_URL + ringtone
        config["phone_setting.ring_type"] = f"Config:{ringtone}"
    config.update(_softkeys(row))
    if row["ca"]:
        config["static.trusted_certificates.url"] = certificate_url()
        config["static.security.trust_certificates"] = "1"
    return config


def _pick(row: dict, field: str, organisation_id: int) -> str | None:
    """The device's choice, else the organisation's; a file that is not (or no longer) the
    organisation's or global is skipped, as the phone would get a 404 for it."""
    for level in ("device", "org"):
        name = row[f"{level}_{field}"]
        owner = row[f"{level}_{field}_owner"]
        if name and owner in (None, organisation_id):
            return name
    return None


def _softkeys(row: dict) -> Config:
    if not row["softkeys"]:
        # Said explicitly, so switching them off in the admin switches them off on the phone.
        return {"phone_setting.custom_softkey_enable": "0"}
    config = {"phone_setting.custom_softkey_enable": "1"}
    for state, key in SOFTKEY_CALL_STATES.items():
        if row[f"softkey_{state}"]:
            config[f"custom_softkey_{key}.url"] = softkey_url(row[f"softkey_{state}"])
    return config


def _choices(device: Device) -> dict:
    """Names and owners of what the device and its organisation chose, whether softkeys are
    on, the softkey file of each call state, and whether a CA is current: four small
    indexed queries (cheaper to build and run than one query of scalar subqueries)."""
    row: dict = {"softkeys": False}
    for level, queryset in (
        ("device", DeviceMedia.objects.filter(device=device.pk)),
        ("org", OrganisationMedia.objects.filter(organisation=device.organisation_id)),
    ):
        extra = ("custom_softkeys_enabled",) if level == "org" else ()
        values = queryset.values(*_CHOICE_FIELDS, *extra).first() or {}
        for field in ("wallpaper", "ringtone"):
            row[f"{level}_{field}"] = values.get(f"{field}__name")
            row[f"{level}_{field}_owner"] = values.get(f"{field}__organisation_id")
        row["softkeys"] = row["softkeys"] or values.get("custom_softkeys_enabled", False)
    files = dict(SoftkeyFile.objects.values_list("call_state", "name")) if row["softkeys"] else {}
    for state in SOFTKEY_CALL_STATES:
        row[f"softkey_{state}"] = files.get(state)
    row["ca"] = CaCertificate.objects.filter(is_active=True).exists()
    return row


_CHOICE_FIELDS = (
    "wallpaper__name",
    "wallpaper__organisation_id",
    "ringtone__name",
    "ringtone__organisation_id",
)
