"""Writing what phone requests leave behind: one access-log row each, and the device's visit.

With ACCESS_LOG_FLUSH_SECONDS = 0 (SQLite, the tests) both are written in the request, as
before. Above 0 (PostgreSQL in production) each app-server process collects them and a
background thread writes them every ACCESS_LOG_FLUSH_SECONDS, or as soon as
ACCESS_LOG_BATCH_SIZE rows wait: one COPY (a multi-row INSERT elsewhere) and one UPDATE per
batch instead of a committed round trip per request, which was most of what a boot storm
cost.

No row is given up for it:
- a batch that loses a deadlock is written again at once (batches lock their devices in one
  order, so they cannot deadlock each other; another transaction, an admin's edit say, can);
- a batch the database refuses for being unreachable stays queued and is retried; while it
  is, the phone endpoints answer 503 (as they do with the database down anyway), and so they
  do when more than ACCESS_LOG_MAX_PENDING rows wait (an overloaded database);
- a row the database refuses on its own (say its device was deleted meanwhile) is written
  without the link, else to the application log;
- a process that stops writes what it holds first (gunicorn's worker_exit hook, and atexit).
  Only a process killed outright (SIGKILL, the machine losing power) loses what it held:
  at most ACCESS_LOG_FLUSH_SECONDS of its requests.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper

from devices.models import AccessLog, Device
from devices.serving.lookup import column_of, field_of

# A row to write: AccessLog's fields by attname (`device_id`, not `device`), with the values
# its columns take as they are (str, int, an aware datetime, None): building a model instance
# per request, and preparing each field again for the database, cost more than the COPY.
Row = dict[str, Any]
Fields = Mapping[str, Any]  # device fields to update (a request.Visit)

logger = logging.getLogger(__name__)
# SQLSTATEs of a transaction the database gave up on by itself (a deadlock, a serialization
# failure): the database is fine and the same batch goes through when written again.
TRY_AGAIN = {"40P01", "40001"}
ATTEMPTS = 3


class Unavailable(OperationalError):
    """Rows cannot be written now (the database is unreachable or overloaded)."""


class Writer:
    """One per process: collects rows and visits, and writes them (see the module doc)."""

    def __init__(self, background: bool = True) -> None:
        # False: no thread; what is added waits for `flush` (or `close`).
        self.background = background
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._rows: list[Row] = []
        self._visits: dict[int, dict[str, Any]] = {}  # device pk -> fields; the last wins
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._failing_since: float | None = None
        self._closed = False

    @staticmethod
    def batched() -> bool:
        return settings.ACCESS_LOG_FLUSH_SECONDS > 0

    def check(self) -> None:
        """Raise Unavailable while rows cannot be written: the request gets a 503."""
        if not self.batched():
            return
        if self._failing_since is not None:
            raise Unavailable("the access log cannot be written: the database is unreachable")
        if len(self._rows) >= settings.ACCESS_LOG_MAX_PENDING:
            raise Unavailable("the access log cannot be written: too many rows wait")

    def add(self, row: Row, visit: tuple[int, Fields] | None = None) -> None:
        """Write `row` (and `visit`, a device pk with the fields to update), now or soon."""
        if not self.batched():
            if visit is not None:
                Device.objects.filter(pk=visit[0]).update(**visit[1])
            AccessLog(**row).save(force_insert=True)
            return
        self.check()
        with self._lock:
            self._start()
            self._rows.append(row)
            if visit is not None:
                self._visits.setdefault(visit[0], {}).update(visit[1])
            if len(self._rows) >= settings.ACCESS_LOG_BATCH_SIZE:
                self._wake.notify()

    def flush(self) -> None:
        """Write everything collected so far (in the caller's thread)."""
        rows, visits = self._take_all()
        if rows or visits:
            self._write(rows, visits)

    def close(self, timeout: float = 10.0) -> None:
        """The process stops: write what is held, retrying for up to `timeout` seconds."""
        self._closed = True
        if self._thread is None and not self.pending():  # nothing was ever held here
            return
        deadline = time.monotonic() + timeout
        with self._lock:
            self._wake.notify()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(max(timeout, 5.0))  # let it finish (or put back) what it writes
        while True:
            self.flush()
            if not self.pending() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        rows, visits = self._take_all()
        for row in rows:  # the database never came back: keep them in the application log
            _to_application_log(row)
        if visits:
            logger.error("access log: %d device visits not written", len(visits))
        connections.close_all()

    def pending(self) -> int:
        return len(self._rows) + len(self._visits)

    def state(self) -> dict[str, Any]:
        """What /healthz reports: "ok"; "degraded" while rows wait longer than usual or
        more than half of ACCESS_LOG_MAX_PENDING wait; "failing" while phones get 503s
        because rows cannot be written. `pending`: rows this process holds."""
        waiting = len(self._rows)
        if not self.batched():
            status = "ok"
        elif self._failing_since is not None or waiting >= settings.ACCESS_LOG_MAX_PENDING:
            status = "failing"
        elif waiting >= settings.ACCESS_LOG_MAX_PENDING // 2:
            status = "degraded"
        else:
            status = "ok"
        return {"status": status, "pending": waiting}

    # --- the background thread ---------------------------------------------------------------

    def _start(self) -> None:
        """Start the thread in this process (after a fork the parent's thread is not here)."""
        if not self.background or (self._pid == os.getpid() and self._thread is not None):
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="access-log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._closed:
                with self._lock:
                    if len(self._rows) < settings.ACCESS_LOG_BATCH_SIZE:
                        self._wake.wait(timeout=settings.ACCESS_LOG_FLUSH_SECONDS)
                try:
                    self.flush()
                except Exception:  # never let the thread die: the next round retries
                    logger.exception("access log writer failed")
                if self._failing_since is not None and not self._closed:
                    time.sleep(min(5.0, settings.ACCESS_LOG_FLUSH_SECONDS * 10))
        finally:
            connections.close_all()  # this thread's own connections

    def _take_all(self) -> tuple[list[Row], dict[int, dict[str, Any]]]:
        with self._lock:
            rows, self._rows = self._rows, []
            visits, self._visits = self._visits, {}
        return rows, visits

    def _write(self, rows: list[Row], visits: dict[int, dict[str, Any]]) -> None:
        alias = router.db_for_write(AccessLog)
        try:
            _write_batch(rows, visits, alias)
        except (OperationalError, InterfaceError) as error:
            self._requeue(rows, visits)
            if _try_again(error):  # still losing to another transaction: the next round
                logger.warning("access log: %d rows wait after %s", len(rows), error)
                return
            if self._failing_since is None:
                logger.warning(
                    "access log: database unreachable; %d rows wait: %s", len(rows), error
                )
                self._failing_since = time.monotonic()
            connections[alias].close()  # reconnect on the next try
            return
        except DatabaseError:
            logger.warning("access log: a batch was refused; writing its rows one by one")
            _write_one_by_one(rows, visits, alias)
        if self._failing_since is not None:
            logger.warning("access log: database reachable again")
            self._failing_since = None

    def _requeue(self, rows: list[Row], visits: dict[int, dict[str, Any]]) -> None:
        with self._lock:
            self._rows[:0] = rows
            for pk, fields in visits.items():
                self._visits[pk] = {**fields, **self._visits.get(pk, {})}


def _write_batch(rows: list[Row], visits: dict[int, dict[str, Any]], alias: str) -> None:
    """One transaction; again, a moment later, when the database chose it as the victim of a
    deadlock or a serialization failure."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(using=alias):
                _insert(rows, alias)
                _update_visits(visits, alias)
            return
        except OperationalError as error:
            if attempt == ATTEMPTS or not _try_again(error):
                raise
            logger.info("access log: a batch lost to another transaction (%s); again", error)
            time.sleep(0.02 * attempt)  # let the other transaction finish first


def _try_again(error: Exception) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in TRY_AGAIN


def _insert(rows: list[Row], alias: str) -> None:
    """All rows in one statement: COPY on PostgreSQL (half the cost of an INSERT of many
    rows), a multi-row INSERT elsewhere."""
    if not rows:
        return
    db = connections[alias]
    if db.vendor != "postgresql":
        AccessLog.objects.using(alias).bulk_create(AccessLog(**row) for row in rows)
        return
    names = [field.attname for field in _FIELDS]
    quote = db.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)
    with db.cursor() as cursor:
        copy_sql = f"COPY {quote(AccessLog._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([row.get(name) for name in names])


_FIELDS = [field for field in AccessLog._meta.concrete_fields if not field.primary_key]


def _update_visits(visits: dict[int, dict[str, Any]], alias: str) -> None:
    """One UPDATE per set of fields (a visit, a visit with a new config), not one per device."""
    groups: dict[tuple[str, ...], dict[int, dict[str, Any]]] = defaultdict(dict)
    for pk, fields in visits.items():
        groups[tuple(sorted(fields))][pk] = fields
    db = connections[alias]
    if visits and db.vendor == "postgresql":
        _lock_in_order(sorted(visits), db)
    for names, items in groups.items():
        if db.vendor == "postgresql":
            _update_from_values(names, items, db)
        else:
            for pk, fields in items.items():
                Device.objects.using(alias).filter(pk=pk).update(**fields)


def _lock_in_order(pks: list[int], db: BaseDatabaseWrapper) -> None:
    """Lock the batch's devices in primary-key order before updating them. Every process
    updates devices that others update too (a phone's round spreads over processes), and an
    UPDATE locks rows in whatever order its plan meets them: two batches could each hold a
    device the other waits for. In one order, one of them simply waits."""
    quote = db.ops.quote_name
    pk = quote(Device._meta.pk.column)
    sql = (
        f"SELECT 1 FROM {quote(Device._meta.db_table)} "  # noqa: S608 (names from the model)
        f"WHERE {pk} = ANY(%s) ORDER BY {pk} FOR NO KEY UPDATE"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [pks])


def _update_from_values(
    names: tuple[str, ...], items: dict[int, dict[str, Any]], db: BaseDatabaseWrapper
) -> None:
    """UPDATE ... FROM (VALUES ...): every device of the batch in one statement."""
    quote = db.ops.quote_name
    fields = [field_of(Device, name) for name in names]
    pk = field_of(Device, Device._meta.pk.name)
    casts = [f"%s::{pk.db_type(db)}"] + [f"%s::{field.db_type(db)}" for field in fields]
    row = "(" + ", ".join(casts) + ")"
    params = []
    for key, values in items.items():
        params.append(key)
        params += [field.get_db_prep_save(values[field.name], db) for field in fields]
    columns = ", ".join(["pk_", *(f"v{n}" for n in range(len(fields)))])
    assignments = ", ".join(
        f"{quote(column_of(Device, field.name))} = v.v{n}" for n, field in enumerate(fields)
    )
    # Only names from the model's metadata go into the text; every value is a parameter.
    sql = (
        f"UPDATE {quote(Device._meta.db_table)} AS d SET {assignments} "  # noqa: S608
        f"FROM (VALUES {', '.join([row] * len(items))}) AS v({columns}) "
        f"WHERE d.{quote(column_of(Device, pk.name))} = v.pk_"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, params)


def _write_one_by_one(rows: list[Row], visits: dict[int, dict[str, Any]], alias: str) -> None:
    for row in rows:
        try:
            with transaction.atomic(using=alias):
                AccessLog(**row).save(using=alias, force_insert=True)
        except IntegrityError:
            # Its device or organisation was deleted meanwhile: keep the row, not the link.
            unlinked = {**row, "device_id": None, "organisation_id": None}
            try:
                with transaction.atomic(using=alias):
                    AccessLog(**unlinked).save(using=alias, force_insert=True)
            except DatabaseError:
                _to_application_log(row)
        except DatabaseError:
            _to_application_log(row)
    for pk, fields in visits.items():
        try:
            with transaction.atomic(using=alias):
                Device.objects.using(alias).filter(pk=pk).update(**fields)
        except DatabaseError:
            logger.exception("access log: the visit of device %s was not written", pk)


def _to_application_log(row: Row) -> None:
    created = row.get("created_at")
    logger.error(
        "access log row not written: %s %s %s mac=%s user=%s ip=%s status=%s agent=%s",
        created.isoformat() if created else "",
        row.get("outcome"),
        row.get("path"),
        row.get("mac"),
        row.get("username"),
        row.get("ip"),
        row.get("status_code"),
        row.get("user_agent"),
    )


writer = Writer()
atexit.register(writer.close)
