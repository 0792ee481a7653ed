"""Demo organisations, phones and SIP accounts (used by `manage.py loaddemo`)."""

from __future__ import annotations

import copy
from typing import Any

from devices.models import Device, SipAccount
from organisations.models import Organisation

DEMO_ORGANISATIONS = [
    {
        "slug": "demo",
        "name": "Demo BV",
        "provisioning_username": "demo",
        "provisioning_password": "demo-provisioning",
        "sip_server_host": "sip.demo.example",
        "phones": [
            {
                "mac": "805ec0000001",
                "model": "T54W",
                "label": "Reception",
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
            }
        ],
    },
]


def create_demo_data() -> int:
    """Create what is missing; return how many objects were created."""
    return sum(_create_organisation(copy.deepcopy(spec)) for spec in DEMO_ORGANISATIONS)


def _create_organisation(spec: dict[str, Any]) -> int:
    phones = spec.pop("phones")
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
