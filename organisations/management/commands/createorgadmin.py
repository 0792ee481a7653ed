"""Create a staff login for one organisation: it sees and edits that organisation only."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.models import Organisation
from organisations.staff import create_organisation_staff

PASSWORD_VARIABLE = "DJANGO_ORGADMIN_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an organisation staff account. The password comes from --password, from "
        f"${PASSWORD_VARIABLE} with --noinput, or is asked for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="the organisation's slug")
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", help="visible in the shell history; prefer the prompt")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"never prompt; take the password from ${PASSWORD_VARIABLE}",
        )

    def handle(self, *args: Any, organisation: str, username: str, **options: Any) -> None:
        org = Organisation.objects.filter(slug=organisation).first()
        if org is None:
            raise CommandError(f"No organisation with the slug {organisation!r}.")
        password = options["password"] or self._password(options["interactive"])
        try:
            create_organisation_staff(org, username, password, options["email"])
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created {username!r}, staff of {org.name} ({org.slug}).")

    def _password(self, interactive: bool) -> str:
        if not interactive:
            password = os.environ.get(PASSWORD_VARIABLE, "")
            if not password:
                raise CommandError(f"--noinput needs the password in ${PASSWORD_VARIABLE}.")
            return password
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
