"""Create the demo data (idempotent: what exists already is left as it is)."""

from __future__ import annotations

import copy

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

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


class Command(BaseCommand):
    help = "Create the demo organisations, phones and admin login; a second run changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--admin-password", default="admin", help="for the 'admin' superuser")

    @transaction.atomic
    def handle(self, *args, admin_password: str, **options) -> None:
        created = 0
        for spec in DEMO_ORGANISATIONS:
            created += self.create_organisation(copy.deepcopy(spec))
        created += self.create_admin(admin_password)
        self.stdout.write(f"Demo data: {created} object(s) created, the rest already there.")

    def create_organisation(self, spec: dict) -> int:
        phones = spec.pop("phones")
        organisation, created = Organisation.objects.get_or_create(
            slug=spec.pop("slug"), defaults=spec
        )
        count = int(created)
        for phone in phones:
            accounts = phone.pop("accounts")
            device, made = Device.objects.get_or_create(
                mac=phone.pop("mac"), defaults={**phone, "organisation": organisation}
            )
            count += int(made)
            for account in accounts:
                _, made = SipAccount.objects.get_or_create(
                    device=device, index=account.pop("index"), defaults=account
                )
                count += int(made)
        return count

    def create_admin(self, password: str) -> int:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return 0
        User.objects.create_superuser("admin", "admin@example.com", password)
        return 1
