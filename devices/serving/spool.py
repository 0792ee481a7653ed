"""Access-log rows on local disk until the database has them: the writer's spool.

Every batch the writer takes from memory is written here first (one file, fsynced), then to
the database, and its file removed once the database committed it. So a process that stops
while the database stalls, or is killed outright, leaves its rows here, and the next process
(any app-server process using the same directory) takes them over and writes them.

    <owner>.lock           held (flock) by the living process that owns the files below
    <owner>.<seq>.rows     a batch: a header line {"batch": key, ...}, then one row per line
    <owner>.overflow       rows of requests answered 503 (the writer could not keep up):
                           appended one by one, turned into a batch once rows go through again
    rejected/<key>.rows    rows the database refused on their own (replay_access_log)

An owner is a process (host, pid, start time). A lock file nobody holds belongs to a process
that is gone: its files are adopted, renamed to the adopter's owner, so that they are never
written by two processes, and are adopted again if the adopter dies too. A batch keeps its key
when adopted; the key is recorded in the same transaction as its rows (AccessLogWriter), so a
batch whose commit went through just before its process died is not written twice.

Rows hold no secret (paths are written with resource tokens masked); the device fields a visit
updates do (a config's text), so visits are not spooled: a phone's next request sets them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Row = dict[str, Any]
BATCH_SUFFIX = ".rows"
OVERFLOW_SUFFIX = ".overflow"
LOCK_SUFFIX = ".lock"


@dataclass
class Batch:
    """Rows written (or to be written) together, under one key."""

    key: str
    rows: list[Row]
    path: Path | None = None  # its file; None while it is only in memory
    created: float = field(default_factory=time.monotonic)
    visits: dict[int, dict[str, Any]] = field(default_factory=dict)  # never on disk


@dataclass
class Damage:
    """What reading a file could not make sense of (a line cut short by a power loss)."""

    lines: int = 0


class Spool:
    """One process's files in `directory` (the pid decides: a forked child gets its own)."""

    def __init__(self, directory: Path, fsync: bool = True) -> None:
        self.directory = directory
        self.fsync = fsync
        self._pid: int | None = None
        self._owner = ""
        self._lock_fd: int | None = None
        self._seq = 0
        self._overflow_fd: int | None = None
        self._overflow_key = ""
        self._overflow_rows = 0
        self._keys = threading.RLock()  # numbering and ownership, from any thread

    # --- this process's batches --------------------------------------------------------------

    def write(self, rows: list[Row]) -> Batch:
        """A new batch, on disk before this returns (raises OSError if it cannot be)."""
        self._own()
        batch = Batch(self._next_key(), rows)
        path = self._path(batch.key, BATCH_SUFFIX)
        self._write_file(path, _header(batch.key) + b"".join(_line(row) for row in rows))
        batch.path = path
        return batch

    def new_key(self) -> str:
        """A key for a batch kept in memory only (the disk refused it): numbered with the
        rest, so the database's record of this writer stays one row."""
        return self._next_key()

    def discard(self, batch: Batch) -> None:
        """The database has the batch's rows."""
        if batch.path is not None:
            with contextlib.suppress(FileNotFoundError):
                batch.path.unlink()

    def reject(self, batch_key: str, rows: list[Row]) -> Path:
        """Rows the database refused on their own, kept for `replay_access_log --rejected`."""
        directory = self.directory / "rejected"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"{batch_key}{BATCH_SUFFIX}"
        self._write_file(path, _header(batch_key) + b"".join(_line(row) for row in rows))
        return path

    # --- rows of refused requests --------------------------------------------------------------

    def overflow(self, row: Row, max_rows: int) -> None:
        """Keep the row of a request answered 503 (raises OSError if the disk refuses)."""
        self._own()
        if self._overflow_fd is None or self._overflow_rows >= max_rows:
            self.close_overflow()
            self._overflow_key = self._next_key()
            path = self._path(self._overflow_key, OVERFLOW_SUFFIX)
            self._overflow_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(self._overflow_fd, _header(self._overflow_key, overflow=True))
            self._overflow_rows = 0
        os.write(self._overflow_fd, _line(row))
        self._overflow_rows += 1

    def sync_overflow(self) -> None:
        """Called every flush interval: what a power loss may take is that interval's rows."""
        if self._overflow_fd is not None and self.fsync:
            os.fsync(self._overflow_fd)

    def close_overflow(self) -> None:
        if self._overflow_fd is not None:
            self.sync_overflow()
            os.close(self._overflow_fd)
            self._overflow_fd = None

    def overflowed(self) -> Iterator[Batch]:
        """This process's overflow files, as batches to write; not the one open for rows
        (the caller closed the last one, under the lock the rows are added under)."""
        if self._pid != os.getpid():
            return
        for path in sorted(self.directory.glob(f"{self._owner}.*{OVERFLOW_SUFFIX}")):
            if self._overflow_fd is not None and path.name.startswith(self._overflow_key + "."):
                continue  # opened since: rows are being added to it
            batch = self._read_as_own(path, adopted=False)
            if batch is not None:
                yield batch

    # --- files of processes that are gone ------------------------------------------------------

    def adopt(self) -> Generator[Batch]:
        """The batches of every process that stopped without writing them, now this one's."""
        if not self.directory.is_dir():
            return
        self._own()
        for lock in sorted(self.directory.glob(f"*{LOCK_SUFFIX}")):
            owner = lock.name.removesuffix(LOCK_SUFFIX)
            if owner != self._owner:
                yield from self._adopt_owner(lock, owner)

    def _adopt_owner(self, lock: Path, owner: str) -> Generator[Batch]:
        try:
            fd = os.open(lock, os.O_RDWR)  # never created here: a removed file stays removed
        except FileNotFoundError:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its process is alive
            files = sorted(self.directory.glob(f"{owner}.*"))
            for path in files:
                if path.suffix == ".new":  # cut short while it replaced a file that is here
                    path.unlink(missing_ok=True)
                elif path.suffix in (BATCH_SUFFIX, OVERFLOW_SUFFIX):
                    batch = self._read_as_own(path, adopted=True)
                    if batch is not None:
                        yield batch
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def _read_as_own(self, path: Path, adopted: bool) -> Batch | None:
        """Rename the file to this process (so it is adopted again if this one dies), read it.

        A batch another process wrote keeps its key: that process may have committed it.
        Overflow rows were never written anywhere: they become a new batch of this process,
        whose key comes after every batch it wrote before (see `key_parts`)."""
        new_key = self._next_key()
        own = self._path(new_key, BATCH_SUFFIX)
        path.rename(own)
        damage = Damage()
        key, rows = read(own, damage)
        if damage.lines:
            logger.error("access log spool: %d damaged line(s) in %s skipped", damage.lines, path)
        if key is None and not rows:
            own.unlink()
            return None
        if adopted and key is not None:
            return Batch(key, rows, own)  # it may have been committed: its key says
        # A new batch: its file must say its new key, or whoever adopts it next would take
        # the old one (the overflow file's, numbered before batches written since).
        fresh = own.with_name(f"{new_key}.new")
        self._write_file(fresh, _header(new_key) + b"".join(_line(row) for row in rows))
        fresh.replace(own)
        return Batch(new_key, rows, own)

    # --- what is here --------------------------------------------------------------------------

    def usage(self) -> tuple[int, int]:
        """(files, bytes) in the spool, rejected rows included."""
        files = size = 0
        if self.directory.is_dir():
            for path in self.directory.rglob("*"):
                if path.suffix in (BATCH_SUFFIX, OVERFLOW_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        size += path.stat().st_size
                        files += 1
        return files, size

    def rejected(self) -> list[Path]:
        return sorted((self.directory / "rejected").glob(f"*{BATCH_SUFFIX}"))

    def release(self) -> None:
        """This process writes no more: its files may be adopted at once (a process that
        just exits releases them as well)."""
        self.close_overflow()
        if self._lock_fd is not None and self._pid == os.getpid():
            files = self.directory.glob(f"{self._owner}.*")
            if all(path.suffix == LOCK_SUFFIX for path in files):  # nothing left to adopt
                self._path(self._owner, LOCK_SUFFIX).unlink(missing_ok=True)  # while held
            os.close(self._lock_fd)
        self._lock_fd = None
        self._pid = None

    # --- this process as an owner --------------------------------------------------------------

    def _identity(self) -> None:
        """This process's owner name and numbering (again after a fork: a child is its own
        owner, and lets go of the parent's files). Touches no disk."""
        if self._pid == os.getpid():
            return
        for inherited in (self._lock_fd, self._overflow_fd):  # the parent's: let go of ours
            if inherited is not None:
                os.close(inherited)
        self._lock_fd = self._overflow_fd = None
        self._pid = os.getpid()
        host = socket.gethostname().replace(".", "_")[:40] or "host"
        self._owner = f"{host}-{self._pid}-{time.time_ns()}"
        self._seq = 0

    def _own(self) -> None:
        """Hold this owner's lock file before writing any file of it (raises OSError if the
        disk refuses; tried again next time): a file without a held lock would be adopted."""
        with self._keys:
            self._identity()
            if self._lock_fd is not None:
                return
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
            fd = os.open(self._path(self._owner, LOCK_SUFFIX), flags, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._lock_fd = fd

    def _next_key(self) -> str:
        """The next number of this owner. Callers number batches in the order they are
        written (devices.serving.access_log holds that order)."""
        with self._keys:
            self._identity()
            self._seq += 1
            return f"{self._owner}.{self._seq:08d}"

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / f"{key}{suffix}"

    def _write_file(self, path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            if self.fsync:
                os.fsync(fd)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)
        if self.fsync:  # the file's name, too, must survive a power loss
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def key_parts(key: str) -> tuple[str, int]:
    """A batch key's owner and sequence number. An owner writes its batches in the order of
    their numbers, so "the last number it wrote" says which of its batches the database has
    (AccessLogWriter)."""
    owner, _, seq = key.rpartition(".")
    return owner, int(seq)


def read(path: Path, damage: Damage | None = None) -> tuple[str | None, list[Row]]:
    """A spool file's batch key and rows; lines that are not whole JSON objects are counted
    in `damage` and skipped (None for the key: no usable header, or rows of an overflow,
    which no batch ever wrote)."""
    damage = damage if damage is not None else Damage()
    key: str | None = None
    rows: list[Row] = []
    with path.open("rb") as file:
        for number, line in enumerate(file):
            try:
                value = json.loads(line)
            except ValueError:
                damage.lines += 1
                continue
            if number == 0 and isinstance(value, dict) and isinstance(value.get("batch"), str):
                key = None if value.get("overflow") else value["batch"]
            elif isinstance(value, dict):
                rows.append(_row(value))
            else:
                damage.lines += 1
    return key, rows


def _header(key: str, overflow: bool = False) -> bytes:
    """An overflow file's rows were never written: its key is no batch's (read says None)."""
    header: dict[str, Any] = {"batch": key, "format": 1}
    if overflow:
        header["overflow"] = True
    return json.dumps(header).encode() + b"\n"


def _line(row: Row) -> bytes:
    return json.dumps(row, default=_encode, separators=(",", ":")).encode() + b"\n"


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"an access-log row holds a {type(value).__name__}")


def _row(value: dict[str, Any]) -> Row:
    created = value.get("created_at")
    if isinstance(created, str):
        value["created_at"] = datetime.fromisoformat(created)
    return value
