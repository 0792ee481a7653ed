"""At most FIRMWARE_MAX_DOWNLOADS firmware downloads at once on this server, across its
worker processes: one lock file per slot (fcntl.flock), held while a download streams.

A lock is the process's and goes with it: a worker that dies frees its slots at once, so no
count can be left wrong. The files live in FIRMWARE_SLOTS_DIR, a directory of this server
(not the shared FIRMWARE_ROOT: the limit protects this server's uplink). With
FIRMWARE_DELIVERY = "nginx" the worker sends no bytes and nginx's `limit_conn` counts
instead (deploy/nginx.conf).
"""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path

from django.conf import settings


class Slot:
    """A held slot; `release` frees it (so does the process's end)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its lock
            self._fd = None

    def __del__(self) -> None:  # a response dropped without being closed frees it too
        self.release()


def acquire() -> Slot | None:
    """A free slot, or None when every one is taken. FIRMWARE_MAX_DOWNLOADS = 0: no limit."""
    limit = settings.FIRMWARE_MAX_DOWNLOADS
    if limit <= 0:
        return Slot(os.open(os.devnull, os.O_RDONLY))
    directory = Path(settings.FIRMWARE_SLOTS_DIR)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    start = random.randrange(limit)  # noqa: S311  # not every request tries slot 0 first
    for offset in range(limit):
        path = directory / f"slot-{(start + offset) % limit}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return Slot(fd)
    return None
