"""Django's Redis cache, with one Redis client per process instead of one per call.

Django's backend builds a new `redis.Redis` for every get or set, and building one costs more
than the round trip to Redis (it fills a table of some 170 reply handlers each time). Phone
requests read the cache on every request (the config version, the throttle counts), so this
keeps the client. A `redis.Redis` is safe to share between threads: each command takes a
connection from the pool. After a fork the pool notices and opens new connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis import ConnectionPool, Redis


class RedisCacheClient(DjangoRedisCacheClient):
    if TYPE_CHECKING:  # Django's own, which django-stubs does not declare
        _servers: list[str]
        _pools: dict[int, ConnectionPool]
        _pool_class: type[ConnectionPool]
        _pool_options: dict[str, Any]
        _client: type[Redis]

        def _get_connection_pool_index(self, write: bool) -> int: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    def get_client(
        self, key: str | bytes | memoryview | None = None, *, write: bool = False
    ) -> Redis:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class RedisCache(DjangoRedisCache):
    if TYPE_CHECKING:  # Django's own, which django-stubs does not declare
        _cache: RedisCacheClient

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def client(self, *, write: bool = False) -> Redis:
        """The process's `redis.Redis`, for what Django's cache API has no word for
        (publishing and subscribing: devices.serving.version_feed)."""
        return self._cache.get_client(write=write)

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
