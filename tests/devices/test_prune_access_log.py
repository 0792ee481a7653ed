from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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
