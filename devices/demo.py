"""Demo organisations, phones and SIP accounts (used by `manage.py loaddemo`)."""

from __future__ import annotations

import copy
from typing import Any

from devices.models import (
    Device,
    Handset,
    KeyProfile,
    KeyType,
    LineKey,
    ProfileKey,
    SipAccount,
    UnassignedPhone,
)
from organisations.models import Organisation, SettingsProfile, SipTransport
from organisations.phone_settings import Srtp

# A provider profile, given to Acme: TLS with compulsory SRTP and a voice VLAN.
DEMO_PROFILE = {
    "name": "Secure TLS",
    "description": "SIP over TLS with compulsory SRTP, voice VLAN 20.",
    "srtp": Srtp.COMPULSORY,
    "codecs": "g722,pcma,opus",
    "vlan_enabled": True,
    "vlan_id": 20,
    "vlan_priority": 5,
}
# The reception phone's keys: its lines, a BLF and a speed dial from the organisation's
# "Reception" key profile; a park key and a BLF on its expansion module of its own.
DEMO_KEY_PROFILE = (
    "Reception",
    [
        {"position": 1, "type": KeyType.LINE, "line": 1, "label": "Reception"},
        {"position": 2, "type": KeyType.LINE, "line": 2, "label": "Sales"},
        {
            "position": 3,
            "type": KeyType.BLF,
            "value": "1003",
            "label": "Warehouse",
            "extension": "*8",
        },
        {"position": 4, "type": KeyType.SPEED_DIAL, "value": "+31201234567", "label": "Office"},
    ],
)
ACME_KEYS = (
    "Front desk",
    [
        {"position": 2, "type": KeyType.BLF, "value": "2010", "label": "Warehouse"},
        {"position": 3, "type": KeyType.INTERCOM, "value": "2011", "label": "Loading bay"},
    ],
)
DEMO_PHONE_KEYS = [
    {"position": 5, "type": KeyType.CALL_PARK, "value": "700", "label": "Park"},
    {"module": 1, "position": 1, "type": KeyType.BLF, "value": "1010", "label": "Manager"},
]

DEMO_ORGANISATIONS = [
    {
        "slug": "demo",
        "name": "Demo BV",
        "provisioning_username": "demo",
        "provisioning_password": "demo-provisioning",
        "sip_server_host": "sip.demo.example",
        "sip_server_2_host": "sip2.demo.example",
        "outbound_proxy": True,
        "outbound_proxy_host": "proxy.demo.example",
        "outbound_proxy_port": 5060,
        "phone_admin_password": "demo-web-admin",
        "phone_user_password": "demo-web-user",
        "voicemail_number": "*97",
        "phones": [
            {
                "mac": "805ec0000001",
                "model": "T54W",
                "label": "Reception",
                "expansion_module": "EXP50",
                "expansion_module_count": 1,
                "accounts": [
                    {
                        "index": 1,
                        "user_name": "1001",
                        "display_name": "Reception",
                        "password": "demo-sip-1001",
                    },
                    {
                        "index": 2,
                        "user_name": "1002",
                        "display_name": "Sales",
                        "password": "demo-sip-1002",
                    },
                ],
            }
        ],
    },
    {
        "slug": "acme",
        "name": "Acme NV",
        "provisioning_username": "acme",
        "provisioning_password": "acme-provisioning",
        "sip_server_host": "sip.acme.example",
        "sip_server_port": 5061,
        "sip_transport": SipTransport.TLS,
        "profile": "Secure TLS",
        "phones": [
            {
                "mac": "001565000002",
                "model": "T46U",
                "label": "Front desk",
                "accounts": [
                    {
                        "index": 1,
                        "user_name": "2001",
                        "display_name": "Front desk",
                        "password": "acme-sip-2001",
                    },
                ],
            },
            {
                "mac": "805ec0000003",
                "model": "W70B",
                "label": "Warehouse DECT base",
                "accounts": [
                    {"index": 1, "user_name": "2010", "password": "acme-sip-2010"},
                    {"index": 2, "user_name": "2011", "password": "acme-sip-2011"},
                ],
            },
        ],
    },
]


def create_demo_data() -> int:
    """Create what is missing; return how many objects were created."""
    spec = dict(DEMO_PROFILE)
    profile, created = SettingsProfile.objects.get_or_create(name=spec.pop("name"), defaults=spec)
    count = int(created)
    for organisation in copy.deepcopy(DEMO_ORGANISATIONS):
        count += _create_organisation(organisation, profile)
    return count + _create_keys() + _create_handsets() + _create_unassigned()


# Phones that sent their organisation's credentials before staff entered them: one each.
DEMO_UNASSIGNED = [
    ("demo", "805ec0000099", "T46U", "108.86.0.45", "192.0.2.99"),
    ("acme", "001565000099", "T54W", "96.86.0.100", "198.51.100.99"),
]


def _create_unassigned() -> int:
    count = 0
    for slug, mac, model, firmware, ip in DEMO_UNASSIGNED:
        if Device.objects.filter(mac=mac).exists():
            continue  # someone added it from the list
        _, created = UnassignedPhone.objects.get_or_create(
            organisation=Organisation.objects.get(slug=slug),
            mac=mac,
            defaults={
                "model": model,
                "firmware": firmware,
                "user_agent": f"Yealink SIP-{model} {firmware} {mac}",
                "ip": ip,
                "requests": 3,
            },
        )
        count += int(created)
    return count


def _create_organisation(spec: dict[str, Any], profile: SettingsProfile) -> int:
    phones = spec.pop("phones")
    if spec.pop("profile", None) == profile.name:
        spec["profile"] = profile
    organisation, created = Organisation.objects.get_or_create(slug=spec.pop("slug"), defaults=spec)
    return int(created) + sum(_create_phone(organisation, phone) for phone in phones)


def _create_phone(organisation: Organisation, phone: dict[str, Any]) -> int:
    accounts = phone.pop("accounts")
    device, created = Device.objects.get_or_create(
        mac=phone.pop("mac"), defaults={**phone, "organisation": organisation}
    )
    count = int(created)
    for account in accounts:
        _, made = SipAccount.objects.get_or_create(
            device=device, index=account.pop("index"), defaults=account
        )
        count += int(made)
    return count


def _create_keys() -> int:
    count = 0
    for mac, (name, keys) in (("805ec0000001", DEMO_KEY_PROFILE), ("001565000002", ACME_KEYS)):
        device = Device.objects.get(mac=mac)
        profile, created = KeyProfile.objects.get_or_create(
            organisation=device.organisation, name=name
        )
        count += int(created)
        for key in keys:
            spec = dict(key)
            _, made = ProfileKey.objects.get_or_create(
                profile=profile, module=0, position=spec.pop("position"), defaults=spec
            )
            count += int(made)
        if device.key_profile_id is None:
            device.key_profile = profile
            device.save(update_fields=["key_profile"])
    device = Device.objects.get(mac="805ec0000001")
    for key in DEMO_PHONE_KEYS:
        spec = dict(key)
        _, made = LineKey.objects.get_or_create(
            device=device,
            module=spec.pop("module", 0),
            position=spec.pop("position"),
            defaults=spec,
        )
        count += int(made)
    return count


# The warehouse base's handsets: each rings for its own line, the first may call on both.
DEMO_HANDSETS = [
    {
        "index": 1,
        "name": "Forklift",
        "incoming_lines": "1",
        "outgoing_lines": "1,2",
        "default_line": 1,
    },
    {
        "index": 2,
        "name": "Loading bay",
        "incoming_lines": "2",
        "outgoing_lines": "2",
        "default_line": 2,
    },
]


def _create_handsets() -> int:
    base = Device.objects.get(mac="805ec0000003")
    count = 0
    for handset in DEMO_HANDSETS:
        spec = dict(handset)
        _, made = Handset.objects.get_or_create(device=base, index=spec.pop("index"), defaults=spec)
        count += int(made)
    return count
