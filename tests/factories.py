"""Small factories for test data: build in code, no JSON fixtures."""

from __future__ import annotations

import itertools

from devices.mac import format_mac
from devices.models import Device, SipAccount
from organisations.models import Organisation

_serial = itertools.count(1)


def make_organisation(slug: str | None = None, **fields) -> Organisation:
    number = next(_serial)
    slug = slug or f"org-{number}"
    defaults = {
        "name": slug.title(),
        "provisioning_username": slug,
        "provisioning_password": f"{slug}-secret-pw",
        "sip_server_host": f"sip.{slug}.example",
    }
    defaults.update(fields)
    return Organisation.objects.create(slug=slug, **defaults)


def make_device(organisation: Organisation, mac: str | None = None, **fields) -> Device:
    mac = mac or f"805ec0{next(_serial):06x}"
    fields.setdefault("model", "T54W")
    return Device.objects.create(organisation=organisation, mac=mac, **fields)


def make_account(device: Device, index: int = 1, **fields) -> SipAccount:
    fields.setdefault("user_name", f"{device.mac[-4:]}{index:02d}")
    fields.setdefault("password", f"sip-secret-{device.mac}-{index}")
    return SipAccount.objects.create(device=device, index=index, **fields)


def user_agent(device_or_mac: Device | str | None, model: str = "T54W", fw: str = "96.86.0.100"):
    """The User-Agent a Yealink phone sends: `Yealink SIP-T54W 96.86.0.100 80:5e:c0:…`."""
    if device_or_mac is None:
        return f"Yealink SIP-{model} {fw}"
    mac = device_or_mac.mac if isinstance(device_or_mac, Device) else device_or_mac
    return f"Yealink SIP-{model} {fw} {format_mac(mac)}"


def resource_path(device, name: str) -> str:
    """Where the phone's MAC file sends it for one of its files: under its resource token."""
    from devices.credentials import resource_path as path

    return "/" + path(device.mac, device.provisioning_password, name.lstrip("/"))


def own_basic(device, password: str | None = None) -> str:
    """The phone's own credentials (user name its MAC), as Basic."""
    from tests.conftest import basic

    return basic(device.mac, password or device.provisioning_password)
