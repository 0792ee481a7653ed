"""`manage.py rps_sync`: register every active phone with Yealink RPS, push only what changed.

A call per new or changed phone (each has its own password, and a device call carries one):
the first run after per-phone credentials came edits every phone once, which takes the round
trip to RPS times the phones; the cron line's `flock` keeps runs from overlapping meanwhile.

Cron example (every 15 minutes, a summary line in the log, non-zero exit on any failure; the
README's line adds `flock`):
    */15 * * * *  cd /srv/voipconfig && .venv/bin/python manage.py rps_sync --json
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.models import Organisation
from rps.client import RpsConfigError, client_from_settings
from rps.summary import SyncSummary
from rps.sync import Progress, RpsSync

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Keep Yealink RPS true to the database: one server per organisation, every active "
        "phone registered to its organisation's server with its own URL and credentials, "
        "deleted or deactivated phones removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organisation",
            action="append",
            metavar="SLUG",
            dest="organisations",
            help="only this organisation (repeat for more); default: all",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would change; write nothing"
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="compare with what RPS lists instead of trusting what we recorded",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print a machine-readable summary only (for cron and monitoring)",
        )

    def handle(
        self,
        *args: Any,
        verbosity: int,
        organisations: list[str] | None,
        dry_run: bool,
        full: bool,
        as_json: bool,
        **options: Any,
    ) -> None:
        self.verbosity = verbosity
        selected = _organisations(organisations)
        try:
            client = client_from_settings()
        except RpsConfigError as exc:
            raise CommandError(str(exc)) from exc
        progress = None if as_json else self._progress_printer()
        sync = RpsSync(client, dry_run=dry_run, full=full, progress=progress)
        summary = sync.run(selected)
        self._report(summary, as_json=as_json)
        if not summary.ok:
            raise CommandError(
                f"RPS sync failed: {len(summary.errors)} problem(s), listed above; what did "
                "succeed is recorded and will not be pushed again."
            )

    def _progress_printer(self) -> Progress:
        if self.stdout.isatty():
            return self._bar
        self._current = ("", 0)
        return self._line

    def _bar(self, done: int, total: int, what: str) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\n" if what == "removals" else ""
        self.stdout.write(f"\r[{bar}] {done}/{total} phones  {what[:30]:<30}", ending=end)
        self.stdout.flush()

    def _line(self, done: int, total: int, what: str) -> None:
        # One line per organisation, written when the next one starts, keeps a log short.
        previous, previous_done = self._current
        if previous and what != previous:
            self.stdout.write(f"{previous}: done, {previous_done}/{total} phones")
        if what == "removals":
            self.stdout.write("removals: done")
        self._current = (what, done)

    def _report(self, summary: SyncSummary, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(summary.as_dict(), indent=2))
            return
        if summary.dry_run or self.verbosity >= 2:
            for action in summary.actions:
                self.stdout.write(action)
        for line in summary.problem_lines(summary.notices):
            self.stdout.write(self.style.WARNING(line))
        for line in summary.problem_lines(summary.errors):
            self.stderr.write(line)
        style = self.style.SUCCESS if summary.ok else self.style.ERROR
        self.stdout.write(style(summary.headline()))


def _organisations(slugs: list[str] | None) -> list[Organisation] | None:
    if not slugs:
        return None
    found = {org.slug: org for org in Organisation.objects.filter(slug__in=slugs)}
    unknown = sorted(set(slugs) - set(found))
    if unknown:
        raise CommandError(f"No organisation with slug {', '.join(unknown)}; nothing was sent.")
    return [found[slug] for slug in dict.fromkeys(slugs)]
