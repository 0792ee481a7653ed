"""Create a staff login for one organisation: it sees and edits that organisation only."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.models import Organisation
from organisations.staff import create_organisation_staff

PASSWORD_VARIABLE = "DJANGO_ORGADMIN_PASSWORD"
WAYS_IN_A_SCRIPT = (
    "pass --password-file FILE (- reads it from standard input), or --noinput with the "
    f"password in ${PASSWORD_VARIABLE}"
)


class Command(BaseCommand):
    help = (
        "Create an organisation staff account. The password comes from --password, from "
        f"--password-file, from ${PASSWORD_VARIABLE} with --noinput, or is asked for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="the organisation's slug")
        parser.add_argument("username", help="the new account's user name")
        parser.add_argument("--email", default="", help="the account's e-mail address (optional)")
        parser.add_argument("--password", help="visible in the shell history; prefer the prompt")
        parser.add_argument(
            "--password-file",
            metavar="FILE",
            help="read the password from the first line of FILE; - reads standard input",
        )
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
        password = self._password(options)
        if "\x00" in password:  # every login form refuses it: the user could never log in
            raise CommandError("The password holds a NUL character, which no login form takes.")
        try:
            create_organisation_staff(org, username, password, options["email"])
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created {username!r}, staff of {org.name} ({org.slug}).")

    def _password(self, options: dict[str, Any]) -> str:
        if options["password"]:
            return str(options["password"])
        if options["password_file"]:
            return _read_password_file(options["password_file"])
        if not options["interactive"]:
            password = os.environ.get(PASSWORD_VARIABLE, "")
            if not password:
                raise CommandError(f"--noinput needs the password in ${PASSWORD_VARIABLE}.")
            return password
        return _prompt()


def _read_password_file(name: str) -> str:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read the password from {name}: {exc}.") from exc
    password = text.splitlines()[0] if text else ""
    if not password:
        where = "standard input" if name == "-" else name
        raise CommandError(f"No password in {where}: its first line is empty.")
    return password


def _prompt() -> str:
    # Without a terminal, getpass would read the password from standard input with echo and
    # end in an EOFError traceback when the input runs out (a script, cron, a pipe).
    if not sys.stdin.isatty():
        raise CommandError(
            f"No terminal to ask for the password (standard input is not one): {WAYS_IN_A_SCRIPT}."
        )
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Password (again): ")
    except EOFError as exc:  # Ctrl-D at the prompt
        raise CommandError("No password given.") from exc
    if password != again:
        raise CommandError("The two passwords differ.")
    return password
