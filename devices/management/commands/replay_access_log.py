"""Write what the access-log spool holds: for an operator, when no server runs to do it.

App-server processes take over the batches that stopped processes leave in the spool by
themselves (devices/serving/access_log.py). This command does the same at once, for a host
whose server will not start again, and writes the rows the database refused on their own
(rejected/) once what made them fail is mended.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, transaction

from devices.models import AccessLog
from devices.serving.access_log import Writer
from devices.serving.spool import read


class Command(BaseCommand):
    help = (
        "Write the access-log rows that stopped server processes left in the spool "
        "(ACCESS_LOG_SPOOL_DIR); --rejected: the rows the database refused. Exits 1 if "
        "rows are left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rejected", action="store_true", help="the refused rows instead")
        parser.add_argument("--dry-run", action="store_true", help="only count")

    def handle(self, *args: Any, rejected: bool, dry_run: bool, **options: Any) -> None:
        directory = Path(settings.ACCESS_LOG_SPOOL_DIR)
        if not directory.is_dir():
            self.stdout.write(f"No spool at {directory}: nothing to write.")
            return
        if rejected:
            self._rejected(directory, dry_run)
        else:
            self._left(directory, dry_run)

    def _left(self, directory: Path, dry_run: bool) -> None:
        if dry_run:
            rows = sum(len(read(path)[1]) for path in directory.glob("*.rows"))
            overflow = sum(len(read(path)[1]) for path in directory.glob("*.overflow"))
            self.stdout.write(
                f"{rows + overflow} row(s) in {directory} (of running processes too)."
            )
            return
        writer = Writer(background=False)
        adopted = writer.take_over()
        writer.flush()
        left = writer.pending()
        writer.close(timeout=0)
        self.stdout.write(f"Wrote {adopted - left} of {adopted} row(s) left by stopped processes.")
        if left:
            raise CommandError(
                f"{left} row(s) could not be written (is the database reachable?); they stay "
                f"in {directory}."
            )

    def _rejected(self, directory: Path, dry_run: bool) -> None:
        spool = Writer(background=False).spool
        files = spool.rejected()
        written = refused = 0
        for path in files:
            _key, rows = read(path)
            still = rows if dry_run else [row for row in rows if not _write(row)]
            written += len(rows) - len(still)
            refused += len(still)
            if dry_run:
                continue
            if still:  # what is refused again stays, in a file of its own
                spool.reject(f"{path.stem}-{uuid.uuid4().hex[:8]}", still)
            path.unlink()
        if dry_run:
            self.stdout.write(f"{refused} refused row(s) in {len(files)} file(s).")
            return
        self.stdout.write(f"Wrote {written} refused row(s); {refused} refused again.")
        if refused:
            raise CommandError(f"{refused} row(s) were refused again; they stay in {directory}.")


def _write(row: dict[str, Any]) -> bool:
    for attempt in (row, {**row, "device_id": None, "organisation_id": None}):
        try:
            with transaction.atomic():
                AccessLog(**attempt).save(force_insert=True)
        except DatabaseError:
            continue
        return True
    return False
