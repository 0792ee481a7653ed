"""Writing what phone requests leave behind: one access-log row each, and the device's visit.

With ACCESS_LOG_FLUSH_SECONDS = 0 (SQLite, the tests) both are written in the request, as
before. Above 0 (PostgreSQL in production) each app-server process collects them and writes
them in batches: one COPY (a multi-row INSERT elsewhere) and one UPDATE per batch instead of
a committed round trip per request, which was most of what a boot storm cost.

Two threads per process do it, so that a database that stalls never holds up the spool:
- the spooler, every ACCESS_LOG_FLUSH_SECONDS (or as soon as ACCESS_LOG_BATCH_SIZE rows
  wait), takes the rows from memory and writes them to the spool on local disk as a batch
  (devices/serving/spool.py: one file, fsynced);
- the writer writes the batches to the database in order and removes each file once its
  transaction committed.

No row a phone got an answer for is given up:
- a process that stops (gunicorn's worker_exit, atexit) spools what it holds and gives the
  writer ACCESS_LOG_CLOSE_SECONDS to finish; what is left stays in the spool, and the next
  process to look (every ACCESS_LOG_ADOPT_SECONDS) adopts and writes it. A process killed
  outright (SIGKILL, a graceful-timeout kill, a power loss) loses at most the rows it took
  in its last flush interval;
- a batch that loses a deadlock is written again at once (batches lock their devices in one
  order, so they cannot deadlock each other; another transaction, an admin's edit say, can);
- phones get a 503 with Retry-After while the database is unreachable, while the oldest
  batch has waited more than ACCESS_LOG_MAX_STALL_SECONDS (a locked table, a database too
  slow), and while more than ACCESS_LOG_MAX_PENDING rows wait: the backlog stays what a
  process can keep. The rows of those 503s are kept too, in the spool's overflow, and
  written once rows go through again;
- a row the database refuses on its own (say its device was deleted meanwhile) is written
  without the link, else kept in the spool's rejected/ directory (replay_access_log).
Only where the disk refuses too does a row go to the application log, one line each.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    connections,
    router,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from devices.models import AccessLog, AccessLogHour, AccessLogWriter, Device
from devices.serving.faults import Fault
from devices.serving.lookup import column_of, field_of
from devices.serving.spool import Batch, Spool, key_parts
from organisations.models import Organisation
from voipconfig import metrics

# A row to write: AccessLog's fields by attname (`device_id`, not `device`), with the values
# its columns take as they are (str, int, an aware datetime, None): building a model instance
# per request, and preparing each field again for the database, cost more than the COPY.
Row = dict[str, Any]
Fields = Mapping[str, Any]  # device fields to update (a request.Visit)
Visits = dict[int, dict[str, Any]]  # device pk -> fields; the last wins

logger = logging.getLogger(__name__)
# SQLSTATEs of a transaction the database gave up on by itself (a deadlock, a serialization
# failure): the database is fine and the same batch goes through when written again.
TRY_AGAIN = {"40P01", "40001"}
# A lock or statement timeout: the database is there but stalls (a locked table). The batch
# waits and is tried again; phones are refused only once it waited ACCESS_LOG_MAX_STALL_SECONDS.
STALLED = {"55P03", "57014"}
ATTEMPTS = 3


# The database is there but cannot take rows at all (a table not migrated yet, no privilege
# on it): rows wait, and phones get 503s, as while it is unreachable.
NOT_WRITABLE = (ProgrammingError, InternalError, NotSupportedError)


class Unavailable(OperationalError):
    """Rows cannot be written now (the database is unreachable, stalled or overloaded)."""


class Writer:
    """One per process: collects rows and visits, and writes them (see the module doc)."""

    def __init__(self, background: bool = True) -> None:
        # False: no threads; what is added waits for `flush` (or `close`).
        self.background = background
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._rows: list[Row] = []  # not yet in a batch
        self._visits: Visits = {}
        self._queue: deque[Batch] = deque()  # batches for the database, oldest first
        self._queued_rows = 0
        self._writing = threading.Lock()  # one thread writes batches at a time
        # Batches are numbered and queued in one order (the database's record of a writer
        # is the last number it committed): whoever makes batches holds this.
        self._ordering = threading.Lock()
        self._stop_waiting = threading.Event()  # wakes the writer's pause when closing
        self._spool: Spool | None = None
        self._threads: list[threading.Thread] = []
        self._pid: int | None = None
        self._failing_since: float | None = None
        self._adopted_at = 0.0
        self._overflowed = 0  # rows in this process's overflow not yet in a batch
        self._closing = False
        self._stopped = False
        self.counts: dict[str, int] = defaultdict(int)  # since the process started
        self._unwritable = Fault(logger, "access log: the database does not take rows")
        self._disk = Fault(logger, "access log: the spool cannot be written")

    @staticmethod
    def batched() -> bool:
        return settings.ACCESS_LOG_FLUSH_SECONDS > 0

    # --- for the phone endpoints -------------------------------------------------------------

    def check(self) -> None:
        """Raise Unavailable while rows cannot be written: the request gets a 503."""
        if not self.batched():
            return
        if self._failing_since is not None:
            raise Unavailable("the access log cannot be written: the database is unreachable")
        waited = self._waited()
        if waited > settings.ACCESS_LOG_MAX_STALL_SECONDS:
            raise Unavailable(
                "the access log cannot be written: the database has not taken a batch "
                f"for {waited:.0f} s"
            )
        if len(self._rows) + self._queued_rows >= settings.ACCESS_LOG_MAX_PENDING:
            raise Unavailable("the access log cannot be written: too many rows wait")

    def _waited(self) -> float:
        """Seconds the oldest batch has waited for the database (0 with none waiting)."""
        try:
            oldest = self._queue[0]  # no lock: the writer may take it meanwhile
        except IndexError:
            return 0.0
        return time.monotonic() - oldest.created

    def available(self) -> bool:
        try:
            self.check()
        except Unavailable:
            return False
        return True

    def add(self, row: Row, visit: tuple[int, Fields] | None = None) -> None:
        """Write `row` (and `visit`, a device pk with the fields to update), now or soon."""
        if not self.batched():  # development and tests: a statement each, no transaction
            if visit is not None:
                Device.objects.filter(pk=visit[0]).update(**visit[1])
            AccessLog(**row).save(force_insert=True)
            count_hours([row], router.db_for_write(AccessLog))
            return
        self.check()
        with self._lock:
            self._start()
            self._rows.append(row)
            if visit is not None:
                self._visits.setdefault(visit[0], {}).update(visit[1])
            if len(self._rows) >= settings.ACCESS_LOG_BATCH_SIZE:
                self._wake.notify_all()

    def keep(self, row: Row) -> None:
        """The row of a request answered 503: kept whatever the database does; never raises."""
        if not self.batched():
            try:
                AccessLog(**row).save(force_insert=True)
                count_hours([row], router.db_for_write(AccessLog))
            except DatabaseError:
                self._to_application_log([row])
            return
        try:
            self.add(row)
            return
        except Unavailable:
            pass  # to the overflow
        with self._lock:
            self._start()
            if self._overflowed >= settings.ACCESS_LOG_OVERFLOW_MAX_ROWS:  # a long outage
                self._disk.happened("the overflow holds ACCESS_LOG_OVERFLOW_MAX_ROWS rows")
                self._to_application_log([row])
                return
            try:
                self._spooler().overflow(row, max_rows=10 * settings.ACCESS_LOG_BATCH_SIZE)
            except OSError as error:
                self._disk.happened(str(error))
                self._to_application_log([row])
                return
            self._overflowed += 1
            self.counts["overflowed"] += 1

    # --- writing -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything collected so far (in the caller's thread)."""
        self._batch_up()
        self._write_queued()

    def close(self, timeout: float | None = None) -> None:
        """The process stops: spool what is held, let the database have it for up to
        `timeout` seconds (ACCESS_LOG_CLOSE_SECONDS), leave the rest for the next process."""
        timeout = settings.ACCESS_LOG_CLOSE_SECONDS if timeout is None else timeout
        if self._stopped:  # worker_exit closed it; atexit comes too
            return
        self._closing = True
        if self._pid != os.getpid() and not self.pending():  # nothing was ever held here
            return
        deadline = time.monotonic() + timeout
        try:
            self._batch_up()
            self._queue_overflow()
        except OSError as error:  # what is held stays in memory: to the log below
            self._disk.happened(str(error))
        if any(thread.is_alive() for thread in self._threads) and self._pid == os.getpid():
            with self._lock:
                self._wake.notify_all()
            while self._queue and time.monotonic() < deadline:
                time.sleep(0.02)
        else:
            self._write_queued(deadline)
        self._stopped = True
        self._stop_waiting.set()
        self._leave_the_rest()
        if self._spool is not None and self._writing.acquire(blocking=False):
            self._spool.release()  # not while a write is under way: it may still commit
            self._writing.release()
        connections.close_all()

    def forget(self) -> None:
        """Start afresh, as a new process (after a fork: the parent's locks may be held)."""
        self.__init__(self.background)  # type: ignore[misc]

    def take_over(self) -> int:
        """Adopt the batches stopped processes left in the spool (`flush` writes them): the
        rows adopted."""
        before = self.counts["adopted"]
        self._adopt()
        return self.counts["adopted"] - before

    def pending(self) -> int:
        """Rows not yet in the database (visits not counted)."""
        return len(self._rows) + self._queued_rows + self._overflowed

    def state(self) -> dict[str, Any]:
        """What /healthz reports: "ok"; "degraded" while rows wait longer than usual or more
        than half of ACCESS_LOG_MAX_PENDING wait; "failing" while phones get 503s because
        rows cannot be written. `pending`: rows this process holds (in memory and spooled),
        `oldest_seconds`: how long the oldest batch waits, `overflowed`: rows of 503s
        kept, `adopted`: rows taken over from stopped processes, `rejected`: rows the
        database refused, since the process started."""
        waiting = self.pending()
        oldest = self._waited()
        if not self.batched():
            status = "ok"
        elif not self.available():
            status = "failing"
        elif (
            waiting >= settings.ACCESS_LOG_MAX_PENDING // 2
            or oldest > settings.ACCESS_LOG_MAX_STALL_SECONDS / 2
        ):
            status = "degraded"
        else:
            status = "ok"
        return {
            "status": status,
            "pending": waiting,
            "oldest_seconds": round(oldest, 1),
            **{name: self.counts[name] for name in ("overflowed", "adopted", "rejected")},
        }

    # --- the threads -------------------------------------------------------------------------

    def _start(self) -> None:
        """Start the threads in this process (after a fork the parent's are not here)."""
        if not self.background or (self._pid == os.getpid() and self._threads):
            return
        self._pid = os.getpid()
        self._threads = [
            threading.Thread(target=self._run_spooler, name="access-log-spooler", daemon=True),
            threading.Thread(target=self._run_writer, name="access-log-writer", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _run_spooler(self) -> None:
        self._adopt()
        while not self._closing:
            with self._lock:
                if len(self._rows) < settings.ACCESS_LOG_BATCH_SIZE:
                    self._wake.wait(timeout=settings.ACCESS_LOG_FLUSH_SECONDS)
            try:
                self._batch_up()
                metrics.access_log_backlog(self.pending())
                self._sync_overflow()
                if self._overflowed and self.available():
                    self._queue_overflow()
                if time.monotonic() - self._adopted_at > settings.ACCESS_LOG_ADOPT_SECONDS:
                    self._adopt()
                self._unwritable.tick()
                self._disk.tick()
            except Exception:  # never let the thread die: the next round tries again
                logger.exception("access log spooler failed")

    def _run_writer(self) -> None:
        try:
            while not self._stopped:
                with self._lock:
                    if not self._queue:
                        self._wake.wait(timeout=1.0)
                try:
                    written = self._write_queued()
                except Exception:  # never let the thread die: the next round retries
                    logger.exception("access log writer failed")
                    written = False
                if not written and not self._stopped:
                    failing = self._failing_since is not None
                    pause = min(5.0, settings.ACCESS_LOG_FLUSH_SECONDS * (20 if failing else 2))
                    self._stop_waiting.wait(pause)
        finally:
            connections.close_all()  # this thread's own connections

    # --- memory to spool ---------------------------------------------------------------------

    def _batch_up(self) -> None:
        """Take what waits in memory as a batch, onto the disk, into the queue."""
        with self._ordering:
            with self._lock:
                rows, self._rows = self._rows, []
                visits, self._visits = self._visits, {}
            if not rows and not visits:
                return
            batch = self._spooled(rows)
            batch.visits = visits
            self._enqueue(batch)

    def _spooled(self, rows: list[Row]) -> Batch:
        spool = self._spooler()
        try:
            batch = spool.write(rows)
        except OSError as error:  # a full or read-only disk: the batch is in memory only
            self._disk.happened(str(error))
            return Batch(spool.new_key(), rows)
        self._disk.ended()
        return batch

    def _enqueue(self, batch: Batch) -> None:
        with self._lock:
            self._queue.append(batch)
            self._queued_rows += len(batch.rows)
            self._wake.notify_all()

    def _queue_overflow(self) -> None:
        """Rows of 503s, kept in the overflow, go to the database like any batch: a file at
        a time, while the queue has room (the files wait on disk meanwhile)."""
        if self._spool is None or not self._overflowed:
            return
        with self._ordering:
            with self._lock:
                self._spool.close_overflow()  # the next 503's row starts a new file
            try:
                for batch in self._spool.overflowed():
                    self._enqueue(batch)
                    with self._lock:
                        self._overflowed = max(0, self._overflowed - len(batch.rows))
                    if self._room() <= 0:
                        break
            except OSError as error:
                self._disk.happened(str(error))

    def _room(self) -> int:
        """Rows the queue may still take from disk: adopting and replaying never fill it
        past half of ACCESS_LOG_MAX_PENDING, so they never make phones get 503s."""
        return settings.ACCESS_LOG_MAX_PENDING // 2 - len(self._rows) - self._queued_rows

    def _sync_overflow(self) -> None:
        if self._spool is not None and self._overflowed:
            with self._lock:
                try:
                    self._spool.sync_overflow()
                except OSError as error:
                    self._disk.happened(str(error))

    def _adopt(self) -> None:
        """Take over the batches of processes that stopped before writing them, while the
        queue has room (what does not fit is taken in a later round)."""
        self._adopted_at = time.monotonic()
        batches: list[Batch] = []
        with self._ordering:
            adopting = self._spooler().adopt()
            try:
                for batch in adopting if self._room() > 0 else ():
                    self._enqueue(batch)
                    batches.append(batch)
                    if self._room() <= 0:
                        break
            except OSError as error:
                self._disk.happened(str(error))
            finally:
                adopting.close()  # files of an owner not reached stay its own, for later
        if batches:
            rows = sum(len(batch.rows) for batch in batches)
            self.counts["adopted"] += rows
            logger.warning(
                "access log: took over %d row(s) in %d batch(es) that stopped processes left "
                "in the spool",
                rows,
                len(batches),
            )

    @property
    def spool(self) -> Spool:
        return self._spooler()

    def _spooler(self) -> Spool:
        directory = Path(settings.ACCESS_LOG_SPOOL_DIR)
        if self._spool is None or self._spool.directory != directory:
            self._spool = Spool(directory, fsync=settings.ACCESS_LOG_SPOOL_FSYNC)
        return self._spool

    # --- spool to database -------------------------------------------------------------------

    def _write_queued(self, deadline: float | None = None) -> bool:
        """Write the queue's batches in order; False when one could not be (it stays first)."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._writing.acquire(timeout=-1 if timeout is None else timeout):
            return False
        try:
            while self._queue:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                batch = self._queue[0]
                if not self._write(batch, deadline):
                    return False
                with self._lock:
                    self._queue.popleft()
                    self._queued_rows -= len(batch.rows)
                if self._spool is not None:
                    self._spool.discard(batch)
            return True
        finally:
            self._writing.release()

    def _write(self, batch: Batch, deadline: float | None) -> bool:
        alias = router.db_for_write(AccessLog)
        timeout = settings.ACCESS_LOG_WRITE_TIMEOUT_SECONDS
        if deadline is not None:
            timeout = min(timeout, max(0.1, deadline - time.monotonic()))
        # This thread's connection sees no request's end: Django's own checks do not run.
        connections[alias].close_if_unusable_or_obsolete()
        for attempt in (1, 2):
            try:
                refused = _write_batch(batch, alias, timeout)
                break
            except (OperationalError, InterfaceError, *NOT_WRITABLE) as error:
                connections[alias].close()  # reconnect on the next try
                if _sqlstate(error) in TRY_AGAIN | STALLED:
                    self._unwritable.happened(f"{len(batch.rows)} rows wait: {error}")
                    return False
                if attempt == 1 and not isinstance(error, NOT_WRITABLE):
                    continue  # a connection that died while idle: once more, on a new one
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                self._unwritable.happened(
                    f"database unreachable; {self.pending()} rows wait: {error}"
                )
                return False
        self.counts["written"] += len(batch.rows)
        if refused:
            self._reject(batch, refused)
        self._failing_since = None
        self._unwritable.ended()
        return True

    def _reject(self, batch: Batch, rows: list[Row]) -> None:
        self.counts["rejected"] += len(rows)
        metrics.access_log_not_written(len(rows), "rejected")
        try:
            path = self._spooler().reject(batch.key, rows)
        except OSError as error:
            self._disk.happened(str(error))
            self._to_application_log(rows)
            return
        logger.error("access log: the database refused %d row(s); kept in %s", len(rows), path)

    def _leave_the_rest(self) -> None:
        """Closing with batches unwritten: those on disk wait for the next process (the
        writer's thread may still finish the one it writes)."""
        with self._lock:
            left = list(self._queue)
            unspooled, self._rows = self._rows, []
        in_memory = [row for batch in left if batch.path is None for row in batch.rows]
        on_disk = sum(len(batch.rows) for batch in left if batch.path is not None)
        if on_disk or self._overflowed:
            logger.warning(
                "access log: %d row(s) left in the spool (%s) for the next process",
                on_disk + self._overflowed,
                settings.ACCESS_LOG_SPOOL_DIR,
            )
        self._to_application_log(in_memory + unspooled)
        visits = sum(len(batch.visits) for batch in left)
        if visits:
            logger.warning("access log: %d device visit(s) not written", visits)

    def _to_application_log(self, rows: list[Row]) -> None:
        """The last resort, where the disk refuses too: one line each, to load back by hand."""
        self.counts["application_log"] += len(rows)
        if rows:
            metrics.access_log_not_written(len(rows), "application_log")
        for row in rows:
            _to_application_log(row)


def _write_batch(batch: Batch, alias: str, timeout: float) -> list[Row]:
    """One transaction (again, a moment later, when the database chose it as the victim of a
    deadlock); the rows the database refused on their own, if any (the others written)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(using=alias):
                _limit(timeout, alias)
                if _claim(batch.key, alias):
                    _insert(batch.rows, alias)
                    count_hours(batch.rows, alias)
                    _update_visits(batch.visits, alias)
            return []
        except OperationalError as error:
            if attempt == ATTEMPTS or _sqlstate(error) not in TRY_AGAIN:
                raise
            logger.info("access log: a batch lost to another transaction (%s); again", error)
            time.sleep(0.02 * attempt)  # let the other transaction finish first
        except (IntegrityError, DataError):
            logger.warning("access log: a batch was refused; writing its rows one by one")
            return _write_one_by_one(batch, alias, timeout)
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlstate(error: Exception) -> str | None:
    return getattr(error.__cause__, "sqlstate", None)


def _limit(timeout: float, alias: str) -> None:
    """A statement of this transaction waits at most `timeout` (a locked table): the writer
    comes back to say so, and a stopping process to leave in time."""
    db = connections[alias]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            milliseconds = str(max(100, int(timeout * 1000)))
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [milliseconds])


def _claim(key: str, alias: str) -> bool:
    """Record the batch as its writer's last, first in its transaction: False if a batch of
    this number or later was committed already (this one, by a process that died before it
    removed the file). The row stays locked until the commit, so a second writer of the
    same batch waits for the first and then finds it done."""
    owner, seq = key_parts(key)
    db = connections[alias]
    table = db.ops.quote_name(AccessLogWriter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (owner, last_batch, updated_at) VALUES (%s, %s, %s) "  # noqa: S608
        "ON CONFLICT (owner) DO UPDATE SET last_batch = excluded.last_batch, "
        f"updated_at = excluded.updated_at WHERE {table}.last_batch < excluded.last_batch "
        "RETURNING 1"
    )
    now = db.ops.adapt_datetimefield_value(timezone.now())
    with db.cursor() as cursor:
        cursor.execute(sql, [owner, seq, now])
        return cursor.fetchone() is not None


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
        # psycopg's own cursor: its errors are Django's only through the wrapper.
        with db.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([row.get(name) for name in names])


_FIELDS = [field for field in AccessLog._meta.concrete_fields if not field.primary_key]


def count_hours(rows: list[Row], alias: str) -> None:
    """Add `rows` to the requests per hour, organisation and outcome (AccessLogHour), in the
    transaction that writes them: one upsert per key, in a fixed order (two writers never
    wait on each other in a circle)."""
    counts: Counter[tuple[datetime, int | None, str]] = Counter()
    for row in rows:
        hour = row["created_at"].astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        counts[hour, row.get("organisation_id"), row["outcome"]] += 1
    if not counts:
        return
    db = connections[alias]
    table = db.ops.quote_name(AccessLogHour._meta.db_table)
    add = f"DO UPDATE SET requests = {table}.requests + excluded.requests"
    insert = (
        f"INSERT INTO {table} (hour, organisation_id, outcome, requests) VALUES (%s, %s, %s, %s) "  # noqa: S608
    )
    with_organisation = (
        insert
        + f"ON CONFLICT (hour, organisation_id, outcome) WHERE organisation_id IS NOT NULL {add}"
    )
    without = insert + f"ON CONFLICT (hour, outcome) WHERE organisation_id IS NULL {add}"
    keys = sorted(counts, key=lambda key: (key[0], key[1] or 0, key[2]))
    values = [
        [db.ops.adapt_datetimefield_value(hour), org, outcome, counts[hour, org, outcome]]
        for hour, org, outcome in keys
    ]
    with db.cursor() as cursor:
        rows_with = [value for value in values if value[1] is not None]
        rows_without = [value for value in values if value[1] is None]
        for sql, params in ((with_organisation, rows_with), (without, rows_without)):
            if len(params) == 1:  # a request's row, when rows are not batched
                cursor.execute(sql, params[0])
            elif params:
                cursor.executemany(sql, params)


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


def _write_one_by_one(batch: Batch, alias: str, timeout: float) -> list[Row]:
    """The batch in one transaction still, a savepoint per row: the rows the database
    refuses on their own are left out (and returned), the rest written once with the
    batch's record. Links to devices and organisations deleted meanwhile are dropped first
    (those checks come only at the commit)."""
    refused = []
    with transaction.atomic(using=alias):
        _limit(timeout, alias)
        if not _claim(batch.key, alias):
            return []
        for row in _without_dead_links(batch.rows, alias):
            try:
                with transaction.atomic(using=alias):
                    AccessLog(**row).save(using=alias, force_insert=True)
            except (IntegrityError, DataError):
                refused.append(row)
        count_hours([row for row in batch.rows if row not in refused], alias)
        for pk, fields in batch.visits.items():
            try:
                with transaction.atomic(using=alias):
                    Device.objects.using(alias).filter(pk=pk).update(**fields)
            except (IntegrityError, DataError):
                logger.exception("access log: the visit of device %s was not written", pk)
    return refused


def _without_dead_links(rows: list[Row], alias: str) -> list[Row]:
    devices = {row["device_id"] for row in rows if row.get("device_id")}
    organisations = {row["organisation_id"] for row in rows if row.get("organisation_id")}
    live_devices = set(
        Device.objects.using(alias).filter(pk__in=devices).values_list("pk", flat=True)
    )
    live_organisations = set(
        Organisation.objects.using(alias).filter(pk__in=organisations).values_list("pk", flat=True)
    )
    return [
        {
            **row,
            "device_id": row.get("device_id") if row.get("device_id") in live_devices else None,
            "organisation_id": row.get("organisation_id")
            if row.get("organisation_id") in live_organisations
            else None,
        }
        for row in rows
    ]


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
# A child forked from a process that held rows (gunicorn's preload_app, say) starts empty:
# the parent's batches stay the parent's, on disk, adopted if it dies.
os.register_at_fork(after_in_child=writer.forget)
