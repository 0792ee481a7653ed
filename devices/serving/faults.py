"""Faults that repeat with every request, logged once and then counted.

While the database is down every phone request fails the same way; a traceback per answer
was 17 MB of log for 17,500 answers, and hid everything else. A `Fault` logs its first
occurrence in full (with the traceback), then one line per LOG_FAULTS_INTERVAL_SECONDS with
the count and the last message, and one more when it stops happening.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings


class Fault:
    def __init__(self, logger: logging.Logger, what: str) -> None:
        _every.append(self)
        self.logger = logger
        self.what = what  # "database unavailable", say: the start of each line
        self._lock = threading.Lock()
        self._count = 0  # since the last line
        self._total = 0  # since it began
        self._since: float | None = None  # it began; None while it does not happen
        self._reported = 0.0
        self._latest = 0.0  # when it last happened
        self._last = ""

    def happened(self, message: str, *, exc_info: bool | BaseException = False) -> None:
        """Log it in full if it is new, else count it (and say the count once an interval)."""
        now = time.monotonic()
        if self._since is not None and now - self._latest > settings.LOG_FAULTS_INTERVAL_SECONDS:
            self.ended()  # quiet for an interval: this is a new one
        with self._lock:
            self._latest = now
            first = self._since is None
            if first:
                self._since = self._reported = now
                self._count, self._total = 0, 1
            else:
                self._count += 1
                self._total += 1
            self._last = message
        if first:
            self.logger.warning("%s: %s", self.what, message, exc_info=exc_info)
        else:
            self.tick(now)

    def tick(self, now: float | None = None) -> None:
        """Say the count if an interval has passed (the writer's thread calls this too, so a
        count is said even when no request comes)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._since is None or now - self._reported < settings.LOG_FAULTS_INTERVAL_SECONDS:
                return
            count, last, self._count, self._reported = self._count, self._last, 0, now
            total, seconds = self._total, now - self._since
        if count:
            self.logger.warning(
                "%s: %d more in the last %g s (%d in %.0f s), the last: %s",
                self.what,
                count,
                settings.LOG_FAULTS_INTERVAL_SECONDS,
                total,
                seconds,
                last,
            )

    def ended(self) -> None:
        """It stopped happening: say so, with the total."""
        with self._lock:
            if self._since is None:
                return
            total, seconds, self._since = self._total, time.monotonic() - self._since, None
        self.logger.warning("%s: over after %.0f s (%d in all)", self.what, seconds, total)

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def forget(self) -> None:
        with self._lock:
            self._since, self._count, self._total = None, 0, 0


_every: list[Fault] = []


def reset() -> None:
    """Forget every fault in progress, as a new process would (for tests)."""
    for fault in _every:
        fault.forget()
