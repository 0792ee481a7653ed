"""Django's Redis cache, with one Redis client per process instead of one per call.

Django's backend builds a new `redis.Redis` for every get or set, and building one costs more
than the round trip to Redis (it fills a table of some 170 reply handlers each time). Phone
requests read the cache on every request (the config version, the throttle counts), so this
keeps the client. A `redis.Redis` is safe to share between threads: each command takes a
connection from the pool. After a fork the pool notices and opens new connections.

Redis away or hung must not take phones with it (issue 15). So every connection has connect
and read timeouts (REDIS_CONNECT_TIMEOUT_SECONDS, REDIS_TIMEOUT_SECONDS: redis-py would wait
5 s for each), and every command passes a breaker, one per process and server: after
REDIS_BREAKER_FAILURES failures in a row the process stops calling that Redis for
REDIS_BREAKER_SECONDS, then lets the next call try (one failure opens it again; one answer
closes it). While it is open a command fails at once with `Unreachable`, and `reachable()`
says so beforehand, so callers go straight to what stands in for Redis (devices.serving.shared).
A subscription's commands are its own (redis-py's PubSub): the version feed tells the breaker
of its failures (`failed`). Pipelines (Django's set_many, unused here) have the timeouts only.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
# What says that Redis did not answer (its own replies, errors included, are answers).
FAILURES = (RedisConnectionError, RedisTimeoutError, OSError)


class Unreachable(RedisConnectionError):
    """Not tried: the breaker is open after failures."""


class Breaker:
    """Counts failures to reach one Redis from this process (see the module doc)."""

    def __init__(self, server: str) -> None:
        self.server = server
        parts = urlsplit(server)  # for the log: without a password the URL may hold
        self.name = parts.netloc.rpartition("@")[2] + parts.path
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    def allows(self) -> bool:
        """True unless open: after the open spell, the next calls try again."""
        return time.monotonic() >= self._open_until

    def closed(self) -> bool:
        """No failure since the last answer."""
        return self._failures == 0

    def failed(self, error: BaseException | None = None) -> None:
        with self._lock:
            self._failures += 1
            failures, opens = self._failures, self._failures >= settings.REDIS_BREAKER_FAILURES
            first_open = opens and self._open_until == 0.0
            if opens:
                self._open_until = time.monotonic() + settings.REDIS_BREAKER_SECONDS
        self._log(failures, first_open, error)

    def _log(self, failures: int, first_open: bool, error: BaseException | None) -> None:
        # A line for the first failure and one when it opens, per outage: not one per try.
        if first_open:
            logger.warning(
                "Redis %s: %s; not called for %s s at a time after %d failures in a row",
                self.name,
                error,
                settings.REDIS_BREAKER_SECONDS,
                failures,
            )
        elif failures == 1:
            logger.warning("Redis %s: %s", self.name, error)
        else:
            logger.debug("Redis %s: %s", self.name, error)

    def answered(self) -> None:
        if self._failures == 0:  # the usual case: no lock
            return
        with self._lock:
            was_open, self._failures, self._open_until = self._open_until > 0, 0, 0.0
        if was_open:
            logger.info("Redis %s answers again", self.name)


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_of(server: str) -> Breaker:
    """This process's breaker for `server` (a LOCATION URL): each thread has its own cache
    object (Django's), but they all share the breaker."""
    breaker = _breakers.get(server)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(server, Breaker(server))
    return breaker


def reset_breakers() -> None:
    """Forget every failure (for tests)."""
    _breakers.clear()


class GuardedRedis(Redis):
    """A `redis.Redis` whose every command passes the breaker of its server."""

    breaker: Breaker

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if not self.breaker.allows():
            raise Unreachable(f"Redis {self.breaker.name} not tried after failures")
        try:
            result = super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except FAILURES as error:
            self.breaker.failed(error)
            raise
        self.breaker.answered()
        return result


class RedisCacheClient(DjangoRedisCacheClient):
    if TYPE_CHECKING:  # Django's own, which django-stubs does not declare
        _servers: list[str]
        _pools: dict[int, ConnectionPool]
        _pool_class: type[ConnectionPool]
        _pool_options: dict[str, Any]

        def _get_connection_pool_index(self, write: bool) -> int: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, GuardedRedis] = {}

    def get_client(
        self, key: str | bytes | memoryview | None = None, *, write: bool = False
    ) -> GuardedRedis:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = GuardedRedis(connection_pool=self._pools[index])
            client.breaker = breaker_of(self._servers[index])
            self._clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    if TYPE_CHECKING:  # Django's own, which django-stubs does not declare
        _cache: RedisCacheClient
        _options: dict[str, Any]

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
        self._options = {  # OPTIONS may set their own
            "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT_SECONDS,
            "socket_timeout": settings.REDIS_TIMEOUT_SECONDS,
            **self._options,
        }

    def client(self, *, write: bool = False) -> GuardedRedis:
        """The process's `redis.Redis`, for what Django's cache API has no word for
        (publishing and subscribing: devices.serving.version_feed)."""
        return self._cache.get_client(write=write)

    def reachable(self) -> bool:
        """False while the breaker is open: a call now would fail at once."""
        return self.client(write=True).breaker.allows()

    def failed(self, error: BaseException) -> None:
        """A failure seen outside the commands (a subscription never confirmed), for the
        breaker to count."""
        self.client(write=True).breaker.failed(error)

    def rise(self, key: str, value: int, timeout: int) -> bool:
        """Store `value` under `key` if it is above what is there (or nothing is): True if it
        was. Atomic, in one round trip (a Digest answer's nc: devices.serving.http_auth)."""
        made = self.make_and_validate_key(key)
        client = self._cache.get_client(made, write=True)
        return bool(client.eval(_RISE, 1, made, value, timeout))


# KEYS[1]: the key; ARGV[1]: the value; ARGV[2]: seconds to keep it.
_RISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
end
return 0
"""
