"""Delete old access-log rows in small batches, for cron.

Each batch is its own short transaction over at most --batch-size rows found through the
created_at index, so phones writing new rows never wait long behind it.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from devices.models import AccessLog, AccessLogWriter

AGE = re.compile(r"^(\d+)([dhm])$")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    match = AGE.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--older-than takes an age such as 30d, 12h or 90m, not {text!r}.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Delete access-log rows older than --older-than (default: ACCESS_LOG_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", help="an age: 30d, 12h, 90m")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
        parser.add_argument("--dry-run", action="store_true", help="only count")

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
            self.stdout.write(f"{old.count()} row(s) older than {cutoff:%Y-%m-%d %H:%M} would go.")
            return
        deleted = 0
        while batch := list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size]):
            with transaction.atomic():
                deleted += AccessLog.objects.filter(pk__in=batch).delete()[0]
            if options["pause"]:
                time.sleep(options["pause"])
        # What writing processes of that past recorded (devices/serving/spool.py): none of
        # their batches can be waiting any more.
        AccessLogWriter.objects.filter(updated_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} row(s) older than {cutoff:%Y-%m-%d %H:%M}.")
