"""Which config version is current, without a round trip to Redis on every request.

Where the shared cache is Redis, every bump of the version (`cache.bump`) is also published
on a channel each process subscribes to, and a request first takes whatever arrived on it,
without waiting. Nothing arrived since the version was last read: it is still the current
one. Something arrived: it is read again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Protocol, cast

from django.conf import settings
from django.core.cache import caches
from redis import Redis
from redis.client import PubSub
from redis.connection import Connection

from devices.serving import keys, shared

logger = logging.getLogger(__name__)


class VersionFeed:
    """One per process (a forked process makes its own subscription).

    A bump's message reaches the subscribers as Redis answers the bump (before the process
    that made the change goes on), so a request that starts after the change finds it here.
    Until the subscription is confirmed, after it is lost, and at least every
    CONFIG_CACHE_VERSION_CHECK_SECONDS (a connection that died without a word), the version
    is read as before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pubsub: PubSub | None = None
        self._version: str | None = None
        self._read_at = 0.0
        self._retry_at = 0.0
        self._news = 0  # messages taken so far: a version read before one is not current

    @property
    def version(self) -> str | None:
        """The version this process holds as current (None: to be read)."""
        return self._version

    def connection(self) -> Connection | None:
        """The subscription's connection (a test breaks it to lose the subscription)."""
        return self._pubsub.connection if self._pubsub is not None else None

    def known(self) -> tuple[str | None, int]:
        """The current version, or None: read it, and tell `read` with the ticket."""
        if not enabled():
            return None, -1
        with self._lock:
            if self._pid != os.getpid():  # a new process: its own subscription
                self._pid, self._pubsub, self._version = os.getpid(), None, None
            if self._pubsub is None and not self._subscribe():
                return None, -1
            try:
                if not self._drain():
                    return None, -1
            except Exception as error:
                logger.warning("config version feed lost (%s); reading the version", error)
                self.close()
                return None, -1
            fresh = time.monotonic() - self._read_at < settings.CONFIG_CACHE_VERSION_CHECK_SECONDS
            return (self._version if fresh else None), self._news

    def _drain(self) -> bool:
        """Take everything that arrived; False if that never ends."""
        pubsub = self._pubsub
        assert pubsub is not None
        for _ in range(1000):
            if pubsub.get_message(timeout=0) is not None:
                self._version, self._news = None, self._news + 1
                continue
            # None is also what a health check's PONG gives: go on while anything waits.
            connection: Connection | None = pubsub.connection
            if connection is None or not connection.can_read(timeout=0):
                return True
        return False

    def _reconnected(self, connection: Connection) -> None:
        """redis-py re-made the subscription by itself: what was published meanwhile is
        lost, so the version is read again."""
        self._version, self._news = None, self._news + 1

    def read(self, version: str | None, ticket: int) -> None:
        """The version as read from the shared cache after `known` gave `ticket`; kept only
        when no message arrived since (another thread may have read a newer one)."""
        with self._lock:
            if self._pubsub is not None and ticket == self._news:
                self._version, self._read_at = version, time.monotonic()

    def _subscribe(self) -> bool:
        cache = shared.get(settings.CONFIG_CACHE_ALIAS)
        if cache is None or time.monotonic() < self._retry_at:
            return False
        try:
            self._pubsub = pubsub = _redis().pubsub()  # type: ignore[no-untyped-call]  # redis-py
            pubsub.subscribe(_channel())
            assert pubsub.connection is not None  # subscribing made it
            pubsub.connection.register_connect_callback(self._reconnected)
            # Bumps after the confirmation arrive as messages; the version is read after it.
            confirmed = pubsub.get_message(timeout=settings.REDIS_TIMEOUT_SECONDS)
            if not confirmed or confirmed.get("type") != "subscribe":
                raise ConnectionError(f"no confirmation of the subscription: {confirmed!r}")
        except Exception as error:
            # A subscription's commands are not the cache's: its breaker is told here.
            shared.failed(cache, "the config version feed", error, outside_commands=True)
            self.close()
            self._retry_at = time.monotonic() + 1.0  # a second after the attempt ended
            return False
        self._version, self._news = None, self._news + 1
        return True

    def close(self) -> None:
        """Unsubscribe; the next `known` subscribes again."""
        pubsub, self._pubsub, self._version = self._pubsub, None, None
        self._news += 1
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # already broken
                logger.debug("closing the config version feed", exc_info=True)


def enabled() -> bool:
    """Only Redis has the subscriptions (and only our backend gives its client)."""
    backend = settings.CACHES[settings.CONFIG_CACHE_ALIAS]["BACKEND"]
    return settings.CONFIG_CACHE_VERSION_FEED and backend == "voipconfig.cache.RedisCache"


def announce() -> None:
    """Tell every subscribed process that the version changed (after setting it)."""
    if enabled():
        _redis(write=True).publish(_channel(), b"bump")


class _WithClient(Protocol):
    """Our Redis backend (voipconfig.cache.RedisCache), which `enabled` checked for."""

    def client(self, *, write: bool = False) -> Redis: ...


def _redis(write: bool = False) -> Redis:
    return cast(_WithClient, caches[settings.CONFIG_CACHE_ALIAS]).client(write=write)


def _channel() -> str:
    return caches[settings.CONFIG_CACHE_ALIAS].make_key(keys.VERSION)


feed = VersionFeed()
