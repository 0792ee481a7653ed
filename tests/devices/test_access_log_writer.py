"""The batched access-log writer: every row reaches the table, in few statements; the phone
gets a 503 while rows cannot be written. What a stopping process leaves in the spool, and
who writes it: tests/devices/test_access_log_spool.py."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import AccessLog, Device
from devices.serving import access_log

pytestmark = pytest.mark.django_db(transaction=True)  # the writer has its own connection


@pytest.fixture
def writer(spool_dir):
    writer = access_log.Writer()
    yield writer
    writer.close(timeout=5)


def row(device: Device | None = None, path: str = "/x.cfg") -> dict:
    return {
        "created_at": timezone.now(),
        "ip": "192.0.2.1",
        "user_agent": "Yealink SIP-T54W 96.86.0.100",
        "path": path,
        "mac": device.mac if device else "",
        "username": "",
        "device_id": device.pk if device else None,
        "organisation_id": device.organisation_id if device else None,
        "outcome": AccessLog.Outcome.SUCCESS.value,
        "status_code": 200,
    }


def test_rows_from_many_threads_all_arrive(writer, tenant_a):
    def requests(n: int) -> None:
        for i in range(200):
            writer.add(row(tenant_a.device, f"/{n}-{i}.cfg"))

    threads = [threading.Thread(target=requests, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close(timeout=5)

    assert AccessLog.objects.count() == 800
    assert AccessLog.objects.values("path").distinct().count() == 800


def test_a_batch_is_one_statement_and_the_visits_one_update(writer, tenant_a, tenant_b):
    seen = timezone.now()
    for tenant in (tenant_a, tenant_b):
        visit = {"last_seen_at": seen, "last_seen_ip": "192.0.2.7", "last_firmware": "96.1"}
        writer.add(row(tenant.device), (tenant.device.pk, visit))
        writer.add(row(tenant.device))

    with CaptureQueriesContext(connection) as queries:
        writer.flush()

    # Besides: one statement records the batch as written (AccessLogWriter), and on
    # PostgreSQL one sets the batch's statement timeout.
    marks = [q["sql"] for q in queries if "accesslogwriter" in q["sql"]]
    assert len(marks) == 1 and marks[0].startswith("INSERT")
    statements = [
        q["sql"].split()[0]
        for q in queries
        if q["sql"].split()[0] not in ("SAVEPOINT", "RELEASE") and q["sql"] not in marks
    ]
    if connection.vendor == "postgresql":
        # One COPY, which Django does not list among its queries, and one UPDATE.
        assert (statements.count("INSERT"), statements.count("UPDATE")) == (0, 1)
    else:
        assert (statements.count("INSERT"), statements.count("UPDATE")) == (1, 2)
    assert AccessLog.objects.count() == 4
    for tenant in (tenant_a, tenant_b):
        device = Device.objects.get(pk=tenant.device.pk)
        assert (device.last_seen_at, device.last_seen_ip, device.last_firmware) == (
            seen,
            "192.0.2.7",
            "96.1",
        )


def test_the_time_of_a_row_is_its_requests_not_its_write(writer, tenant_a):
    made = row(tenant_a.device)
    writer.add(made)
    writer.close(timeout=5)

    written = AccessLog.objects.values(*made).get()
    assert written == made  # the request's time, not the write's; every field as it was


def test_a_row_whose_device_was_deleted_meanwhile_is_kept_without_the_link(writer, tenant_a):
    device = tenant_a.device
    writer.add(row(device))
    writer.add(row(None, "/unknown.cfg"))
    Device.objects.filter(pk=device.pk).delete()

    writer.flush()

    kept = AccessLog.objects.get(mac=device.mac)
    # Only the link that died goes: the organisation is still there.
    assert (kept.device_id, kept.organisation_id) == (None, tenant_a.organisation.pk)
    assert AccessLog.objects.count() == 2


def test_while_the_database_refuses_rows_wait_and_phones_get_a_503(writer, tenant_a, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    writer.add(row(tenant_a.device))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", unreachable)
        writer.flush()
        with pytest.raises(access_log.Unavailable):
            writer.add(row(tenant_a.device))
    assert writer.pending() == 1

    writer.flush()  # the database is back

    assert AccessLog.objects.count() == 1
    writer.add(row(tenant_a.device))  # and phones are served again


def test_too_many_waiting_rows_mean_an_overloaded_database(writer, tenant_a, settings):
    settings.ACCESS_LOG_MAX_PENDING = 3
    settings.ACCESS_LOG_BATCH_SIZE = 1000
    writer.background = False  # no thread: the rows only wait
    for _ in range(3):
        writer.add(row(tenant_a.device))

    with pytest.raises(access_log.Unavailable):
        writer.add(row(tenant_a.device))
    writer.flush()
    assert AccessLog.objects.count() == 3


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks: SQLite locks the whole database"
)


@postgresql_only
def test_processes_updating_the_same_devices_do_not_deadlock(settings, tenant_a, caplog):
    """Each app-server process writes the visits of phones whose rounds the others serve
    too, in whatever order their requests came."""
    settings.ACCESS_LOG_FLUSH_SECONDS = 0.05
    devices = Device.objects.bulk_create(
        Device(organisation=tenant_a.organisation, mac=f"805ec0{n:06x}") for n in range(300)
    )
    writers = [access_log.Writer(background=False), access_log.Writer(background=False)]
    go = threading.Barrier(len(writers))

    def flush_rounds(writer: access_log.Writer, order: list[Device]) -> None:
        try:
            for attempt in range(15):
                for device in order:
                    seen = {"last_seen_at": timezone.now(), "last_firmware": f"96.{attempt}"}
                    writer.add(row(device), (device.pk, seen))
                go.wait()
                writer.flush()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=flush_rounds, args=(writers[0], devices)),
        threading.Thread(target=flush_rounds, args=(writers[1], devices[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert "deadlock" not in caplog.text
    assert [writer.pending() for writer in writers] == [0, 0]
    assert set(
        Device.objects.filter(pk__in=[d.pk for d in devices]).values_list(
            "last_firmware", flat=True
        )
    ) == {"96.14"}


def _until_someone_waits_for_a_lock(seconds: float = 10) -> None:
    """A fixed pause raced the writer's statements before its lock (flaky on a busy CI)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)


@postgresql_only
def test_a_batch_that_loses_a_deadlock_is_written_again(writer, tenant_a, tenant_b, caplog):
    """Another transaction (an admin's bulk edit, say) locks the devices in another order:
    the database gives up one of the two. When that is the writer's batch, it is written
    again, and phones never see a 503 for it."""
    first, second = sorted([tenant_a.device, tenant_b.device], key=lambda device: device.pk)
    holding, writing = threading.Event(), threading.Event()

    def admin_edit() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '10s'")  # the writer notices first
            with transaction.atomic():
                Device.objects.filter(pk=second.pk).update(label="edited")
                holding.set()
                assert writing.wait(30)
                _until_someone_waits_for_a_lock()  # the writer holds `first`, waits for `second`
                Device.objects.filter(pk=first.pk).update(label="edited")
        finally:
            connection.close()

    edit = threading.Thread(target=admin_edit)
    edit.start()
    assert holding.wait(30), "the admin's edit never took its lock"
    with connection.cursor() as cursor:
        cursor.execute("SET deadlock_timeout = '600ms'")
    writer.background = False  # no thread: the flush below is the one that meets the edit
    for device in (first, second):
        writer.add(row(device), (device.pk, {"last_firmware": "96.99"}))
    with caplog.at_level(logging.INFO, logger="devices.serving.access_log"):
        writing.set()
        writer.flush()
    edit.join()

    assert "deadlock" in caplog.text  # it did lose one
    writer.check()  # no 503 for phones
    assert writer.pending() == 0
    assert AccessLog.objects.count() == 2
    assert (
        list(
            Device.objects.filter(pk__in=[first.pk, second.pk]).values_list(
                "label", "last_firmware"
            )
        )
        == [("edited", "96.99")] * 2
    )


def test_each_row_is_counted_once_in_its_hour(writer, tenant_a, tenant_b):
    from django.db.models import Sum

    from devices.models import AccessLogHour

    for n in range(150):
        writer.add(row(tenant_a.device if n % 3 else tenant_b.device, f"/{n}.cfg"))
    writer.add({**row(None, "/unknown.cfg"), "outcome": AccessLog.Outcome.MAC_UNKNOWN.value})
    writer.close(timeout=5)

    counted = {  # summed over hours: the test may run across the turn of one
        (row["organisation_id"], row["outcome"]): row["n"]
        for row in AccessLogHour.objects.values("organisation_id", "outcome").annotate(
            n=Sum("requests")
        )
    }
    assert counted == {
        (tenant_a.organisation.pk, "success"): 100,
        (tenant_b.organisation.pk, "success"): 50,
        (None, "mac_unknown"): 1,
    }
    assert AccessLogHour.objects.aggregate(n=Sum("requests"))["n"] == AccessLog.objects.count()
