"""The shared cache (Redis in production) as the serving code reaches it, and what stands in
for it while it cannot be reached.

Every Redis call has its timeouts, and after failures each process stops calling Redis for a
while (the breaker, in voipconfig/cache.py). Here, on top:

- **one failure per request**: within `one_request` (every request: the middleware and the
  phone endpoint enter it), once a call failed the others do not try, so a hung Redis costs
  a request one timeout, not one per call;
- **a per-process stand-in** (`local`) for what must go on without Redis: throttle counts
  and the highest Digest nc per nonce. Counted per process they are weaker than shared
  (an attacker spread over P processes gets P times the limits), but someone who can take
  Redis down must not get unlimited guesses or replays for it;
- **changes not announced**: `cache.bump` notes them here, for the admin to say when phones
  get them (voipconfig.middleware).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)


@dataclass
class Request:
    """What one request met of the shared cache."""

    failed: bool = False  # a call failed: the others skip it
    unannounced: bool = False  # a config change other processes were not told of


_request: ContextVar[Request | None] = ContextVar("shared_cache_request", default=None)


@contextmanager
def one_request() -> Iterator[Request]:
    """The scope of one request (nested scopes are the outer one)."""
    outer = _request.get()
    if outer is not None:
        yield outer
        return
    scope = Request()
    token = _request.set(scope)
    try:
        yield scope
    finally:
        _request.reset(token)


def get(alias: str) -> BaseCache | None:
    """The shared cache, or None when a call to it would fail at once (its breaker is open,
    or a call of this request failed)."""
    scope = _request.get()
    if scope is not None and scope.failed:
        return None
    cache = caches[alias]
    reachable = getattr(cache, "reachable", None)  # only our Redis backend has a breaker
    if reachable is not None and not reachable():
        return None
    return cache


def failed(
    cache: BaseCache, what: str, error: Exception, *, outside_commands: bool = False
) -> None:
    """A call for `what` failed. `outside_commands`: a failure the backend's own commands
    did not see (a subscription never confirmed), for its breaker to count."""
    scope = _request.get()
    if scope is not None:
        scope.failed = True
    note = getattr(cache, "failed", None)  # our Redis backend's breaker
    if outside_commands and note is not None:
        note(error)
    # Our Redis backend logs an outage itself, a line or two per process; any other cache
    # is logged here. No traceback: the error says what happened (refused, timed out).
    level = logging.DEBUG if note is not None else logging.WARNING
    logger.log(level, "shared cache unreachable (%s): %s", what, error)


def unannounced() -> None:
    """A config change other processes were not told of (`cache.bump`)."""
    scope = _request.get()
    if scope is not None:
        scope.unannounced = True


# --- standing in for the shared cache -----------------------------------------------------------

# Bounded: a flood of made-up addresses pushes out the least recently used counts only.
_local = LocMemCache("voipconfig-shared-stand-in", {"OPTIONS": {"MAX_ENTRIES": 50_000}})
_rise_lock = threading.Lock()


def local() -> BaseCache:
    """This process's stand-in for the shared cache."""
    return _local


def local_rise(key: str, value: int, timeout: int) -> bool:
    """`RedisCache.rise` in this process: store `value` if above what is there."""
    with _rise_lock:
        if value <= _local.get(key, -1):
            return False
        _local.set(key, value, timeout=timeout)
        return True


def reset() -> None:
    """Forget the stand-in's counts (for tests)."""
    _local.clear()
