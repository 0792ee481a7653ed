"""The access log's spool: rows a process could not write wait on disk for the next one,
once each, and the rows of 503s are kept too. Processes stopping and being killed under a
real gunicorn: tests/test_access_log_faults.py."""

from __future__ import annotations

import json
import logging
import time

import psycopg
import pytest
from django.db import OperationalError, ProgrammingError, connection

from devices.models import AccessLog, AccessLogWriter
from devices.serving import access_log
from devices.serving.spool import Spool, read
from tests.devices.test_access_log_writer import row
from tests.devices.test_trust import Phone

pytestmark = pytest.mark.django_db(transaction=True)  # the writer has its own connection


def writer() -> access_log.Writer:
    return access_log.Writer(background=False)


def refused(*args, **kwargs):
    raise OperationalError("connection refused")


def spooled_rows(directory) -> int:
    return sum(len(read(path)[1]) for path in directory.glob("*.rows"))


def test_a_batch_is_on_disk_until_the_database_has_it(spool_dir, tenant_a, monkeypatch):
    first = writer()
    first.add(row(tenant_a.device, "/a.cfg"))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        first.flush()
    assert spooled_rows(spool_dir) == 1
    assert AccessLog.objects.count() == 0

    first.flush()

    assert AccessLog.objects.get().path == "/a.cfg"
    assert spooled_rows(spool_dir) == 0
    first.close(timeout=0)


def test_rows_a_stopped_process_could_not_write_are_written_by_the_next(
    spool_dir, tenant_a, monkeypatch, caplog
):
    stopping = writer()
    for n in range(3):
        stopping.add(row(tenant_a.device, f"/{n}.cfg"))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        stopping.close(timeout=0)
    assert "3 row(s) left in the spool" in caplog.text
    assert "access log row not written" not in caplog.text  # nothing had to go to the log

    following = writer()
    assert following.take_over() == 3
    following.flush()

    assert sorted(AccessLog.objects.values_list("path", flat=True)) == [
        "/0.cfg",
        "/1.cfg",
        "/2.cfg",
    ]
    assert list(spool_dir.glob("*.rows")) == []
    following.close(timeout=0)


def test_a_living_process_keeps_its_batches(spool_dir, tenant_a, monkeypatch):
    living = writer()
    living.add(row(tenant_a.device))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        living.flush()

    other = writer()
    assert other.take_over() == 0
    living.flush()
    assert AccessLog.objects.count() == 1
    living.close(timeout=0)
    other.close(timeout=0)


def test_a_batch_committed_just_before_its_process_died_is_not_written_twice(
    spool_dir, tenant_a, monkeypatch
):
    dying = writer()
    dying.add(row(tenant_a.device, "/once.cfg"))
    with monkeypatch.context() as patched:
        # It dies between the commit and removing the batch's file.
        patched.setattr(Spool, "discard", lambda self, batch: None)
        dying.flush()
    dying._spooler().release()
    assert spooled_rows(spool_dir) == 1

    following = writer()
    assert following.take_over() == 1
    following.flush()

    assert AccessLog.objects.filter(path="/once.cfg").count() == 1
    assert spooled_rows(spool_dir) == 0
    assert AccessLogWriter.objects.count() == 1
    following.close(timeout=0)


def test_an_adopted_batch_whose_process_never_wrote_it_is_written(spool_dir, tenant_a):
    """The mark of a process is per batch number: its later batch written does not make an
    earlier one look written."""
    dying = writer()
    dying.add(row(tenant_a.device, "/first.cfg"))
    dying._batch_up()
    dying._spooler().release()

    following = writer()
    following.add(row(tenant_a.device, "/own.cfg"))
    following.flush()
    following.take_over()
    following.flush()

    assert sorted(AccessLog.objects.values_list("path", flat=True)) == ["/first.cfg", "/own.cfg"]


def test_a_damaged_line_is_skipped_and_said(spool_dir, tenant_a, caplog):
    spool_dir.mkdir(parents=True)
    good = json.dumps(
        {**row(tenant_a.device, "/good.cfg"), "created_at": "2026-12-01T10:00:00+00:00"}
    )
    header = json.dumps({"batch": "gone-1-1.00000001", "format": 1})
    (spool_dir / "gone-1-1.lock").write_text("")
    (spool_dir / "gone-1-1.00000001.rows").write_text(f'{header}\n{good}\n{{"path": "/cut')

    following = writer()
    assert following.take_over() == 1
    following.flush()

    assert AccessLog.objects.get().path == "/good.cfg"
    assert "1 damaged line(s)" in caplog.text


def test_rows_the_database_refuses_on_their_own_are_kept_apart(spool_dir, tenant_a, monkeypatch):
    bad = {**row(tenant_a.device), "status_code": -5}  # a PositiveSmallIntegerField's CHECK
    kept = writer()
    kept.add(row(tenant_a.device, "/fine.cfg"))
    kept.add(bad)
    kept.flush()

    assert list(AccessLog.objects.values_list("path", flat=True)) == ["/fine.cfg"]
    [rejected] = kept._spooler().rejected()
    assert [r["status_code"] for r in read(rejected)[1]] == [-5]
    assert kept.state()["rejected"] == 1
    kept.close(timeout=0)


def test_a_disk_that_refuses_the_spool_costs_no_row(spool_dir, tenant_a, caplog, settings):
    settings.ACCESS_LOG_SPOOL_DIR = spool_dir.parent / "a-file"
    settings.ACCESS_LOG_SPOOL_DIR.write_text("not a directory")
    unspooled = writer()
    unspooled.add(row(tenant_a.device, "/a.cfg"))
    unspooled.add(row(tenant_a.device, "/b.cfg"))
    unspooled.flush()

    assert AccessLog.objects.count() == 2
    assert caplog.text.count("the spool cannot be written") == 1  # said once, then counted
    unspooled.close(timeout=0)


def test_the_rows_of_503s_are_kept_and_written_once_rows_go_through(
    spool_dir, tenant_a, monkeypatch
):
    kept = writer()
    kept.add(row(tenant_a.device, "/before.cfg"))
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        kept.flush()
        assert not kept.available()
        kept.keep({**row(tenant_a.device, "/refused.cfg"), "status_code": 503})
        assert kept.state()["status"] == "failing"

    kept.flush()  # the database is back
    kept._queue_overflow()
    kept.flush()

    assert sorted(AccessLog.objects.values_list("path", "status_code")) == [
        ("/before.cfg", 200),
        ("/refused.cfg", 503),
    ]
    assert list(spool_dir.glob("*.overflow")) == []
    kept.close(timeout=0)


@pytest.fixture
def server_writer(spool_dir, monkeypatch):
    """The phone endpoints' writer, without its threads: the test says when it writes."""
    quiet = writer()
    monkeypatch.setattr("devices.serving.endpoint.access_log", quiet)
    yield quiet
    quiet.close(timeout=0)


def own(client, tenant) -> Phone:
    device = tenant.device
    return Phone(client, device.mac, device.mac, device.provisioning_password)


def test_a_phone_gets_a_503_with_retry_after_and_the_row_says_so(
    server_writer, client, tenant_a, monkeypatch
):
    phone = own(client, tenant_a)
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        assert phone.get(f"/{tenant_a.device.mac}.cfg").status_code == 200
        server_writer.flush()
        answer = phone.get(f"/{tenant_a.device.mac}.cfg")
        assert answer.status_code == 503
        assert answer["Retry-After"]
    server_writer.flush()
    server_writer._queue_overflow()
    server_writer.flush()

    outcomes = AccessLog.objects.filter(mac=tenant_a.device.mac).values_list(
        "outcome", "status_code"
    )
    assert sorted(outcomes) == [("success", 200), ("unavailable", 503)]


def test_a_repeating_fault_is_logged_once_then_counted(
    server_writer, client, tenant_a, monkeypatch, caplog, settings
):
    settings.LOG_FAULTS_INTERVAL_SECONDS = 0.3
    phone = own(client, tenant_a)

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with caplog.at_level(logging.WARNING), monkeypatch.context() as patched:
        patched.setattr("devices.serving.cache.device", down)
        answers = [phone.get(f"/{tenant_a.device.mac}.cfg").status_code for _ in range(20)]
        for _ in range(2):
            time.sleep(0.2)
            answers.append(phone.get(f"/{tenant_a.device.mac}.cfg").status_code)

    assert set(answers) == {503}
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1
    assert "database unavailable: 21 more in the last 0.3 s (22 in 0 s)" in caplog.text
    assert "Service Unavailable" not in caplog.text  # Django's own line per response


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a table lock held from another connection"
)


def _admin_connection(**options) -> psycopg.Connection:
    """A connection of the test's own to the test database, beside Django's."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        dbname=settings["NAME"],
        **options,
    )


def _lock_access_log() -> psycopg.Connection:
    locker = _admin_connection()
    locker.execute("LOCK TABLE devices_accesslog IN ACCESS EXCLUSIVE MODE")
    return locker


@postgresql_only
def test_a_stalled_database_gets_phones_a_503_after_the_setting_and_loses_nothing(
    spool_dir, tenant_a, settings
):
    settings.ACCESS_LOG_MAX_STALL_SECONDS = 1
    settings.ACCESS_LOG_WRITE_TIMEOUT_SECONDS = 0.5
    stalled = access_log.Writer()  # with its threads, as in a server
    locker = _lock_access_log()
    try:
        stalled.add(row(tenant_a.device, "/during.cfg"))
        time.sleep(0.3)
        assert stalled.available()  # a short stall is ridden out
        time.sleep(1.2)
        assert not stalled.available()
        assert stalled.state()["status"] == "failing"
        stalled.keep({**row(tenant_a.device, "/refused.cfg"), "status_code": 503})
    finally:
        locker.rollback()
        locker.close()
    deadline = time.monotonic() + 10
    while AccessLog.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stalled.close(timeout=5)

    assert sorted(AccessLog.objects.values_list("path", flat=True)) == [
        "/during.cfg",
        "/refused.cfg",
    ]


@postgresql_only
def test_closing_during_a_stall_takes_no_longer_than_its_timeout(spool_dir, tenant_a, settings):
    stalled = access_log.Writer()
    locker = _lock_access_log()
    try:
        stalled.add(row(tenant_a.device, "/held.cfg"))
        time.sleep(0.2)
        started = time.monotonic()
        stalled.close(timeout=1)
        took = time.monotonic() - started
        assert spooled_rows(spool_dir) == 1  # left for the next process
    finally:
        locker.rollback()
        locker.close()
    assert took < 2


# --- found by the review of issue 15 -------------------------------------------------------


def test_rows_of_503s_turned_into_a_batch_are_not_taken_for_an_older_one(
    spool_dir, tenant_a, monkeypatch
):
    """An overflow file is numbered when it is opened; once its rows became a batch (after
    later batches were written), whoever adopted that batch took the old number for written."""
    dying = writer()
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        dying.add(row(tenant_a.device, "/first.cfg"))
        dying.flush()  # refused: the database is away
        dying.keep({**row(tenant_a.device, "/refused.cfg"), "status_code": 503})  # overflow #2
    dying.flush()  # back: batch #1 written; later batches have higher numbers
    dying.add(row(tenant_a.device, "/later.cfg"))
    dying.flush()
    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_insert", refused)
        dying._queue_overflow()  # the 503s' rows become a batch; the process dies before writing
        dying.flush()
    dying._spooler().release()

    following = writer()
    assert following.take_over() == 1
    following.flush()

    assert sorted(AccessLog.objects.values_list("path", flat=True)) == [
        "/first.cfg",
        "/later.cfg",
        "/refused.cfg",
    ]


def test_a_table_that_cannot_be_written_keeps_the_rows_once_and_refuses_phones(
    spool_dir, tenant_a, monkeypatch
):
    """A server started before `migrate`, or without the privilege: not a reason to write the
    rows one by one (and again, and again)."""
    kept = writer()
    kept.add(row(tenant_a.device, "/a.cfg"))

    def not_migrated(*args, **kwargs):
        raise ProgrammingError('relation "devices_accesslogwriter" does not exist')

    with monkeypatch.context() as patched:
        patched.setattr(access_log, "_claim", not_migrated)
        kept.flush()
        kept.flush()
        assert not kept.available()
    kept.flush()

    assert list(AccessLog.objects.values_list("path", flat=True)) == ["/a.cfg"]
    assert kept.available()


def test_adopting_never_fills_the_queue_past_half_its_limit(spool_dir, tenant_a, settings):
    for _ in range(3):
        dying = writer()
        for n in range(40):
            dying.add(row(tenant_a.device, f"/{n}.cfg"))
        dying._batch_up()
        dying._spooler().release()
    settings.ACCESS_LOG_MAX_PENDING = 100  # room for 50 adopted rows at a time

    following = writer()
    assert following.take_over() == 80  # two batches of 40, then no room
    assert following.available()  # phones are served meanwhile
    following.flush()
    assert following.take_over() == 40
    following.flush()

    assert AccessLog.objects.count() == 120


@postgresql_only
def test_a_connection_that_died_while_idle_costs_phones_nothing(spool_dir, tenant_a):
    """After a database restart (or a firewall's idle timeout) the writer's kept connection
    is dead; one 503 per worker for it was one too many."""
    kept = writer()
    kept.add(row(tenant_a.device, "/before.cfg"))
    kept.flush()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with _admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    kept.add(row(tenant_a.device, "/after.cfg"))
    kept.flush()

    assert kept.available()
    assert sorted(AccessLog.objects.values_list("path", flat=True)) == ["/after.cfg", "/before.cfg"]


def test_a_process_that_stops_with_nothing_left_leaves_no_file(spool_dir, tenant_a):
    done = writer()
    done.add(row(tenant_a.device))
    done.close(timeout=5)

    assert AccessLog.objects.count() == 1
    assert list(spool_dir.iterdir()) == []


def test_the_overflow_is_bounded_and_says_so(spool_dir, tenant_a, monkeypatch, settings, caplog):
    """Found by the attack on issue 15: a long outage grew it without end."""
    settings.ACCESS_LOG_OVERFLOW_MAX_ROWS = 2
    kept = writer()
    kept.add(row(tenant_a.device))
    monkeypatch.setattr(access_log, "_insert", refused)
    kept.flush()
    for n in range(3):
        kept.keep({**row(tenant_a.device, f"/{n}.cfg"), "status_code": 503})

    assert kept.state()["overflowed"] == 2
    assert "access log row not written" in caplog.text and "/2.cfg" in caplog.text
    assert "the overflow holds ACCESS_LOG_OVERFLOW_MAX_ROWS rows" in caplog.text
