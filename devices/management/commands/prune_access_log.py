"""Delete old access-log rows in small batches, from a timer (deploy/systemd) or cron.

Each batch is its own short transaction over at most --batch-size rows found through the
created_at index, so phones writing new rows never wait long behind it.

On a terminal a progress line is rewritten in place (rows deleted, rows per second, time
left, from a count taken at the start); a timer's log gets only the summary at the end, and
no count is taken for it (on 100 million rows the count alone would take a while).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from devices.models import AccessLog, AccessLogHour, AccessLogWriter

AGE = re.compile(r"^(\d+)([dhm])$")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# The progress line is rewritten at most this often (a batch of a few rows takes far less).
PROGRESS_EVERY_SECONDS = 0.2


def parse_age(text: str) -> timedelta:
    match = AGE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--older-than takes an age such as 30d, 12h or 90m, not {text!r}.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class Run:
    """What a pruning run did so far, and its progress line on a terminal."""

    total: int | None  # rows to delete, counted at the start; None: no progress line
    out: OutputWrapper
    started: float = field(default_factory=time.monotonic)
    deleted: int = 0
    batches: int = 0
    shown_at: float = 0.0

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.deleted / self.seconds if self.seconds > 0 else 0.0

    def batch_done(self, rows: int) -> None:
        self.deleted += rows
        self.batches += 1
        if self.total is not None and time.monotonic() - self.shown_at >= PROGRESS_EVERY_SECONDS:
            self.show()

    def show(self) -> None:
        assert self.total is not None
        left = max(self.total - self.deleted, 0)
        eta = "done" if not left else f"~{left / self.rate:.0f} s left" if self.rate else "..."
        line = f"{self.deleted} of {self.total} rows deleted, {self.rate:.0f} rows/s, {eta}"
        self.out.write(f"\r{line}\x1b[K", ending="")  # \x1b[K: clear what a longer line left
        self.out.flush()
        self.shown_at = time.monotonic()

    def end_progress(self) -> None:
        if self.total is not None:
            self.show()
            self.out.write("")  # the summary starts on a line of its own


class Command(BaseCommand):
    help = (
        "Delete access-log rows older than --older-than (default: ACCESS_LOG_RETENTION_DAYS), "
        "in batches, then the records of writing processes of that past. On a terminal it "
        "shows its progress; it ends with a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", metavar="AGE", help="an age: 30d, 12h, 90m (default: the setting)"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="rows deleted per transaction (default 5000): smaller holds locks shorter",
        )
        parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
        parser.add_argument("--dry-run", action="store_true", help="only count")
        parser.add_argument(
            "--quiet", action="store_true", help="print nothing but errors (for timers)"
        )

    def handle(self, *args: Any, older_than: str | None, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        age = (
            parse_age(older_than)
            if older_than
            else timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)
        )
        cutoff = timezone.now() - age
        old = AccessLog.objects.filter(created_at__lt=cutoff)
        if options["dry_run"]:
            if not options["quiet"]:
                self.stdout.write(f"{old.count()} row(s) older than {when(cutoff)} would go.")
            return
        progress = self.stdout.isatty() and not options["quiet"]
        run = Run(total=old.count() if progress else None, out=self.stdout)
        delete_in_batches(old, batch_size, options["pause"], run)
        # What writing processes of that past recorded (devices/serving/spool.py): none of
        # their batches can be waiting any more.
        writers = AccessLogWriter.objects.filter(updated_at__lt=cutoff).delete()[0]
        # The dashboard's hourly counts keep to the same retention (a few rows an hour).
        hours = AccessLogHour.objects.filter(hour__lt=cutoff).delete()[0]
        run.end_progress()
        if not options["quiet"]:
            self.stdout.write(summary(run, writers, cutoff, hours))


def delete_in_batches(old: QuerySet[AccessLog], size: int, pause: float, run: Run) -> None:
    while batch := list(old.order_by("created_at").values_list("pk", flat=True)[:size]):
        with transaction.atomic():
            run.batch_done(AccessLog.objects.filter(pk__in=batch).delete()[0])
        if pause:
            time.sleep(pause)


def when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def summary(run: Run, writers: int, cutoff: datetime, hours: int = 0) -> str:
    return (
        f"Deleted {run.deleted} row(s) older than {when(cutoff)} in {run.batches} batch(es), "
        f"{run.seconds:.1f} s, {run.rate:.0f} rows/s; {writers} writer record(s) removed; "
        f"{hours} hourly count(s) removed."
    )
