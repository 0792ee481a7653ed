"""Create the demo data (idempotent: what exists already is left as it is).

Each app that has demo data provides `<app>/demo.py` with `create_demo_data() -> int`
(the number of objects it created); they run in INSTALLED_APPS order.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from organisations.models import Organisation
from organisations.staff import create_organisation_staff

DEMO_ORG_ADMIN = "demo-admin"
DEMO_ORG_ADMIN_PASSWORD = "demo-admin-password"


class Command(BaseCommand):
    help = "Create the demo organisations, phones and admin login; a second run changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-password", default="admin", help="for the 'admin' superuser")

    @transaction.atomic
    def handle(self, *args: Any, admin_password: str, **options: Any) -> None:
        created = self.create_admin(admin_password)
        for app in apps.get_app_configs():
            if find_spec(f"{app.name}.demo") is not None:
                created += import_module(f"{app.name}.demo").create_demo_data()
        created += self.create_organisation_admin()
        self.stdout.write(f"Demo data: {created} object(s) created, the rest already there.")

    def create_organisation_admin(self) -> int:
        if get_user_model().objects.filter(username=DEMO_ORG_ADMIN).exists():
            return 0
        demo = Organisation.objects.get(slug="demo")
        create_organisation_staff(demo, DEMO_ORG_ADMIN, DEMO_ORG_ADMIN_PASSWORD, validate=False)
        return 1

    def create_admin(self, password: str) -> int:
        User = get_user_model()
        if User.objects.filter(username="admin").exists():
            return 0
        User.objects.create_superuser("admin", "admin@example.com", password)
        return 1
