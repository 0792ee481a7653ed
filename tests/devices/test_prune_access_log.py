import os
import re
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from typing import TextIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.management.commands import prune_access_log
from devices.models import AccessLog, AccessLogWriter


def rows_aged(*days: float) -> None:
    now = timezone.now()
    for age in days:
        row = AccessLog.objects.create(path="/x.cfg", outcome="success", status_code=200)
        AccessLog.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=age))


@pytest.mark.django_db
def test_it_deletes_rows_older_than_the_age_in_batches():
    rows_aged(40, 35, 31, 29, 1, 0)
    out = StringIO()

    with CaptureQueriesContext(connection) as queries:
        call_command("prune_access_log", "--older-than", "30d", "--batch-size", "2", stdout=out)

    assert sorted(AccessLog.objects.values_list("created_at", flat=True))[
        0
    ] > timezone.now() - timedelta(days=30)
    assert AccessLog.objects.count() == 3
    assert "Deleted 3 row(s)" in out.getvalue()
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "devices_accesslog"')]
    assert len(deletes) == 2  # batches of at most 2


@pytest.mark.django_db
def test_it_forgets_the_writers_of_that_past_too():
    old = AccessLogWriter.objects.create(owner="gone-1-1", last_batch=7)
    AccessLogWriter.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=31))
    recent = AccessLogWriter.objects.create(owner="here-2-2", last_batch=3)

    call_command("prune_access_log", "--older-than", "30d", stdout=StringIO())

    assert list(AccessLogWriter.objects.all()) == [recent]


@pytest.mark.django_db
def test_without_an_age_it_keeps_the_retention_setting(settings):
    settings.ACCESS_LOG_RETENTION_DAYS = 7
    rows_aged(8, 6)

    call_command("prune_access_log", stdout=StringIO())

    assert AccessLog.objects.count() == 1


@pytest.mark.django_db
def test_a_dry_run_only_counts():
    rows_aged(40, 1)
    out = StringIO()

    call_command("prune_access_log", "--older-than", "12h", "--dry-run", stdout=out)

    assert "2 row(s)" in out.getvalue()
    assert AccessLog.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("age", ["30", "thirty days", "0d", "-5d", "3w"])
def test_a_bad_age_is_refused_clearly(age):
    with pytest.raises(CommandError, match="--older-than takes an age"):
        call_command("prune_access_log", f"--older-than={age}")


@contextmanager
def terminal() -> Iterator[tuple[TextIO, list[bytes]]]:
    """A pseudo-terminal: the stream to give the command as stdout (a real tty), and what
    arrives at the other end (raw: no newline translation), complete once the block ends."""
    controller, tty_end = os.openpty()
    tty.setraw(tty_end)
    received: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's end was closed
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stream = os.fdopen(tty_end, "w")
    try:
        yield stream, received
    finally:
        stream.close()
        reader.join(timeout=10)
        os.close(controller)


@pytest.mark.django_db
def test_on_a_terminal_it_rewrites_a_progress_line_then_prints_the_summary(monkeypatch):
    monkeypatch.setattr(prune_access_log, "PROGRESS_EVERY_SECONDS", 0)
    rows_aged(40, 39, 38, 37, 36, 1)

    with terminal() as (stream, received):
        assert stream.isatty()
        call_command("prune_access_log", "--older-than", "30d", "--batch-size", "2", stdout=stream)
    output = b"".join(received).decode()

    frames = re.findall(r"\r([^\r\n]*)", output)
    assert [frame.split(" rows deleted")[0] for frame in frames] == [
        "2 of 5",
        "4 of 5",
        "5 of 5",
        "5 of 5",  # once more as it ends: the line is left complete
    ]
    assert re.fullmatch(r"2 of 5 rows deleted, \d+ rows/s, ~\d+ s left\x1b\[K", frames[0])
    assert frames[-1].endswith(", done\x1b[K")
    progress, summary = output.rsplit("\n", 2)[-3:-1]
    assert progress.startswith("\r")
    assert re.fullmatch(
        r"Deleted 5 row\(s\) older than \d{4}-\d\d-\d\d \d\d:\d\d UTC in 3 batch\(es\), "
        r"[\d.]+ s, \d+ rows/s; 0 writer record\(s\) removed; \d+ hourly count\(s\) removed\.",
        summary,
    )
    assert AccessLog.objects.count() == 1


@pytest.mark.django_db
def test_off_a_terminal_it_prints_only_the_summary_and_counts_nothing():
    rows_aged(40, 35, 31, 1)
    writer = AccessLogWriter.objects.create(owner="gone-1-1", last_batch=7)
    AccessLogWriter.objects.filter(pk=writer.pk).update(
        updated_at=timezone.now() - timedelta(days=31)
    )
    out = StringIO()

    with CaptureQueriesContext(connection) as queries:
        call_command("prune_access_log", "--older-than", "30d", "--batch-size", "2", stdout=out)

    assert "\r" not in out.getvalue()
    assert out.getvalue().count("\n") == 1
    assert "Deleted 3 row(s)" in out.getvalue()
    assert "in 2 batch(es)" in out.getvalue()
    assert "1 writer record(s) removed" in out.getvalue()
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.django_db
def test_quiet_prints_nothing_even_on_a_terminal():
    rows_aged(40, 1)

    with terminal() as (stream, received):
        call_command("prune_access_log", "--older-than", "30d", "--quiet", stdout=stream)

    assert b"".join(received) == b""
    assert AccessLog.objects.count() == 1


@pytest.mark.django_db
def test_quiet_still_fails_loudly():
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("prune_access_log", "--quiet", "--batch-size", "0", stdout=StringIO())


def test_the_hourly_counts_keep_to_the_same_retention(db):
    from django.utils import timezone

    from devices.models import AccessLogHour

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    AccessLogHour.objects.create(hour=now - timedelta(days=40), outcome="success", requests=5)
    kept = AccessLogHour.objects.create(hour=now, outcome="success", requests=7)
    out = StringIO()

    call_command("prune_access_log", "--older-than", "30d", stdout=out)

    assert list(AccessLogHour.objects.all()) == [kept]
    assert "1 hourly count(s) removed" in out.getvalue()
