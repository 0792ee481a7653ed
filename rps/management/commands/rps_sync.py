"""`manage.py rps_sync`: register every active phone with Yealink RPS, push only what changed.

A call per new or changed phone (each has its own password, and a device call carries one):
the first run after per-phone credentials came edits every phone once, which takes the round
trip to RPS times the phones; meanwhile its timer starts no second run.

The exit status (EXIT_STATUS below, in the help and docs/architecture.md) follows from the
state after the run, so monitoring can tell "someone has to act" from "RPS is away".

Run every 15 minutes by deploy/systemd/voipconfig-rps-sync.timer (`rps_sync --json`, the
summary in the journal); from cron, put `flock -n` before it so that runs never overlap.
"""

from __future__ import annotations

import json
import sys
from argparse import RawDescriptionHelpFormatter
from typing import Any, NoReturn

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
    no_translations,
)

from organisations.models import Organisation
from rps import wording
from rps.client import RpsConfigError, client_from_settings
from rps.summary import NEEDS_SOMEONE, REMOVALS, Kind, Outcome, Problem, SyncSummary
from rps.sync import RpsSync

BAR_WIDTH = 30

EXIT_STATUS = """\
exit status:
  0  everything the run covers is in sync.
  1  something needs someone, listed on stderr (and under "errors" with --json): a phone
     RPS refused or another RPS customer owns, an organisation's server or a removal RPS
     refused, the RPS settings missing, a mistyped option. Said again on every run while
     it persists, whatever that run did.
  2  RPS unavailable: no connection (refused, name not found), no answer in time, a 5xx
     or rate limit after the retries, or our access key or signature refused. The run
     stops at the first such call: the organisation it was in is "stopped", the ones after
     it "not tried"; the next run goes on from there.
  2 wins over 1. --json says the same: "exit_status", "state" and "ok" (exit status 0).
"""


class _HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Keeps the line breaks of the description and of the exit status list."""


class _Parser(CommandParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits 2 on a usage error, which monitoring would take for "RPS
        # unavailable"; a mistyped cron line needs someone.
        if not self.called_from_command_line:
            raise CommandError(f"Error: {message}")
        self.print_usage(sys.stderr)
        self.exit(NEEDS_SOMEONE, f"{self.prog}: error: {message}\n")


class Command(BaseCommand):
    help = (
        "Keep Yealink RPS true to the database: one server per organisation, every active\n"
        "phone registered to its organisation's server with its own URL and credentials,\n"
        "deleted or deactivated phones removed."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, epilog=EXIT_STATUS, **kwargs)
        parser.__class__ = _Parser  # BaseCommand builds a CommandParser; only error() differs
        return parser

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

    @no_translations  # for operators and cron, in English like the log
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
        self.bar_open = False
        selected = _organisations(organisations)
        try:
            client = client_from_settings()
        except RpsConfigError as exc:
            summary = SyncSummary(dry_run=dry_run, full=full)
            summary.errors.append(Problem("", "", wording.NOT_SET_UP, str(exc), Kind.NOT_SET_UP))
        else:
            sync = RpsSync(client, dry_run=dry_run, full=full, **self._printers(as_json))
            summary = sync.run(selected)
        self._report(summary, as_json=as_json)
        if summary.exit_status:
            where = "in the JSON" if as_json else "listed above"
            raise CommandError(summary.verdict(where), returncode=summary.exit_status)

    def _printers(self, as_json: bool) -> dict[str, Any]:
        if as_json:
            return {}
        if self.stdout.isatty():
            return {"progress": self._bar}
        return {"finished": self._line}

    def _bar(self, done: int, total: int, what: str) -> None:
        filled = BAR_WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.bar_open = what != REMOVALS
        end = "" if self.bar_open else "\n"
        self.stdout.write(f"\r[{bar}] {done}/{total} phones  {what[:30]:<30}", ending=end)
        self.stdout.flush()

    def _line(self, outcome: Outcome) -> None:
        # A line per organisation as it is settled, saying how it stands: a log stays short.
        self.stdout.write(outcome.line())

    def _report(self, summary: SyncSummary, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(summary.as_dict(), indent=2))
            return
        if self.bar_open:  # the run stopped before the bar was full
            self.stdout.write("")
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
