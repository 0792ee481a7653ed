"""Make an API token. Its text is the last line printed, once: only its hash is kept."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from api import tokens
from organisations.models import Organisation


class Command(BaseCommand):
    help = (
        "Create a REST API token: --provider NAME (sees every organisation) or "
        "--organisation SLUG NAME (sees that organisation only). The token is the last "
        "line printed; it is shown this once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument(
            "--provider", action="store_true", help="a provider token: every organisation"
        )
        scope.add_argument("--organisation", metavar="SLUG", help="that organisation only")
        parser.add_argument("name", help="what will use it: billing, PBX")
        parser.add_argument("--read-only", action="store_true", help="it may only read")
        parser.add_argument(
            "--expires", metavar="DURATION", help="it stops working after 90d, 12h, 2w"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = None
        if options["organisation"] is not None:
            organisation = Organisation.objects.filter(slug=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"No organisation has the slug {options['organisation']!r}.")
        expires_at = None
        if options["expires"]:
            try:
                expires_at = timezone.now() + tokens.parse_duration(options["expires"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        try:
            token, text = tokens.issue(
                options["name"],
                organisation,
                read_only=options["read_only"],
                expires_at=expires_at,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        scope = f"organisation {organisation.slug}" if organisation else "provider"
        until = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
        access = "read-only" if token.read_only else "read and write"
        self.stderr.write(
            f"Created API token {token.name!r} ({scope}, {access}{until}). It is shown once:"
        )
        self.stdout.write(text)
