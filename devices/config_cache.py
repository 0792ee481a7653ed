"""What serving a phone needs, kept per app-server process and checked against a shared version.

Phones come back every 30 minutes, and after a power cut all at once, while what they get
changes only when someone edits it. So each process keeps, per MAC, the device and the files
rendered for it, and what many phones share (organisations, their books and media choices).
The phones of one customer come together, and a phone's round is several requests that land
on different processes: so a process that misses a phone reads the phone's whole
organisation in the same statement (up to CONFIG_CACHE_ORGANISATION_MAX_DEVICES phones),
and the requests of its other phones, and of the rest of this round, find them kept.

Every request first checks one shared version token (with Redis, through a subscription
that tells of each new token, see VersionFeed; else by reading it); every save or delete of
a model that feeds a config (registered with `register_config_source`) sets a new token, so
the next request in every process reads the database again: a phone never gets a stale
config after an admin changed something. Nothing of a phone is kept in the shared cache, so its SIP
passwords are in no cache but the memory of the processes that serve it.

It needs a cache that all processes share (Redis, the database, memcached): with a per-process
cache a new token would not reach the other processes, so `CONFIG_CACHE = "auto"` switches it
off there. When the shared cache cannot be reached, requests go to the database as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

from devices.models import Device

logger = logging.getLogger(__name__)
T = TypeVar("T")
VERSION_KEY = "voipconfig:config-version"
PER_PROCESS_BACKENDS = ("LocMemCache", "DummyCache")


@dataclass
class Entry:
    version: str
    device: Device | None
    files: dict[str, str] = field(default_factory=dict)
    value: object = None
    born: float = field(default_factory=time.monotonic)

    def valid(self, version: str | None) -> bool:
        # The age limit bounds the harm of a version token lost or set back (a Redis
        # fail-over to a lagging replica, a restore), or of a change made behind Django.
        age = time.monotonic() - self.born
        return version == self.version and age < settings.CONFIG_CACHE_MAX_AGE_SECONDS


_entries: OrderedDict[str, Entry] = OrderedDict()
_shared: OrderedDict[str, Entry] = OrderedDict()  # what phones share, by name


def enabled() -> bool:
    choice = settings.CONFIG_CACHE
    if choice == "auto":
        backend = settings.CACHES[settings.CONFIG_CACHE_ALIAS]["BACKEND"]
        return not backend.endswith(PER_PROCESS_BACKENDS)
    return bool(choice)


_request: ContextVar[dict | None] = ContextVar("config_cache_request", default=None)


@contextmanager
def one_version_per_request():
    """Within it, the shared version is read once (every lookup of a request agrees, and a
    request pays one round trip to the shared cache, not one per lookup)."""
    token = _request.set({})
    try:
        yield
    finally:
        _request.reset(token)


def current_version() -> str | None:
    """The shared version token, or None when the cache is off or unreachable."""
    scope = _request.get()
    if scope is not None and "version" in scope:
        return scope["version"]
    version = _read_version()
    if scope is not None:
        scope["version"] = version
    return version


def _read_version() -> str | None:
    if not enabled():
        return None
    known, ticket = _feed.known()
    if known is not None:
        return known
    cache = caches[settings.CONFIG_CACHE_ALIAS]
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # first start, or the cache was emptied
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:  # the shared cache is down: serve from the database
        logger.warning("config cache unavailable; reading the database", exc_info=True)
        _entries.clear()  # a bump may be missed meanwhile
        _shared.clear()
        return None
    _feed.read(version, ticket)
    return version


class VersionFeed:
    """Which version is current, without a round trip per request, where the shared cache
    is Redis: every bump also publishes on a channel this process subscribes to, and a
    request first takes whatever arrived on it (without waiting). Nothing arrived since the
    version was last read: it is still the current one. Something arrived: it is read again.

    A bump's message reaches the subscribers as Redis answers the bump (before the process
    that made the change goes on), so a request that starts after the change finds it here.
    Until the subscription is confirmed, after it is lost, and at least every
    CONFIG_CACHE_VERSION_CHECK_SECONDS (a connection that died without a word), the version
    is read as before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pubsub = None
        self._version: str | None = None
        self._read_at = 0.0
        self._retry_at = 0.0
        self._news = 0  # messages taken so far: a version read before one is not current

    def known(self) -> tuple[str | None, int]:
        """The current version, or None: read it, and tell `read` with the ticket."""
        if not _feed_enabled():
            return None, -1
        with self._lock:
            if self._pid != os.getpid():  # a new process: its own subscription
                self._pid, self._pubsub, self._version = os.getpid(), None, None
            if self._pubsub is None and not self._subscribe():
                return None, -1
            try:
                if not self._drain():
                    return None, -1
            except Exception:
                logger.warning("config version feed lost; reading the version", exc_info=True)
                self._close()
                return None, -1
            fresh = time.monotonic() - self._read_at < settings.CONFIG_CACHE_VERSION_CHECK_SECONDS
            return (self._version if fresh else None), self._news

    def _drain(self) -> bool:
        """Take everything that arrived; False if that never ends."""
        for _ in range(1000):
            if self._pubsub.get_message(timeout=0) is not None:
                self._version, self._news = None, self._news + 1
                continue
            # None is also what a health check's PONG gives: go on while anything waits.
            connection = self._pubsub.connection
            if connection is None or not connection.can_read(timeout=0):
                return True
        return False

    def _reconnected(self, connection) -> None:
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
        if time.monotonic() < self._retry_at:
            return False
        try:
            client = caches[settings.CONFIG_CACHE_ALIAS].client()
            self._pubsub = client.pubsub()
            self._pubsub.subscribe(_channel())
            self._pubsub.connection.register_connect_callback(self._reconnected)
            # Bumps after the confirmation arrive as messages; the version is read after it.
            confirmed = self._pubsub.get_message(timeout=1.0)
            if not confirmed or confirmed.get("type") != "subscribe":
                raise ConnectionError(f"no confirmation of the subscription: {confirmed!r}")
        except Exception:
            logger.warning("config version feed unavailable; reading the version", exc_info=True)
            self._close()
            self._retry_at = time.monotonic() + 1.0  # a second after the attempt ended
            return False
        self._version, self._news = None, self._news + 1
        return True

    def _close(self) -> None:
        pubsub, self._pubsub, self._version = self._pubsub, None, None
        self._news += 1
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # already broken
                logger.debug("closing the config version feed", exc_info=True)


def _feed_enabled() -> bool:
    backend = settings.CACHES[settings.CONFIG_CACHE_ALIAS]["BACKEND"]
    return settings.CONFIG_CACHE_VERSION_FEED and backend == "voipconfig.cache.RedisCache"


def _channel() -> str:
    return caches[settings.CONFIG_CACHE_ALIAS].make_key(VERSION_KEY)


def _announce() -> None:
    """Tell every subscribed process that the version changed (after setting it)."""
    if _feed_enabled():
        cache = caches[settings.CONFIG_CACHE_ALIAS]
        cache.client(write=True).publish(_channel(), b"bump")


_feed = VersionFeed()


def bump() -> None:
    """Something a config is made of changed: every process reads the database again."""
    _entries.clear()
    _shared.clear()
    if not enabled():
        return
    try:
        caches[settings.CONFIG_CACHE_ALIAS].set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        _announce()
    except Exception:
        # Without the new token other processes would serve what they kept: say it loudly.
        logger.error(
            "config cache unavailable: other processes may serve old configs until it is back",
            exc_info=True,
        )
        raise


def changed(**kwargs) -> None:
    """Signal receiver: a new version now, and again once the change is committed, because
    a process may read the database between the two and keep what was there before."""
    bump()
    transaction.on_commit(bump)


def register_config_source(model: type[Model]) -> None:
    """Saving or deleting `model` (or changing its many-to-many fields) changes configs."""
    uid = f"config_cache:{model._meta.label}"
    post_save.connect(changed, sender=model, dispatch_uid=uid + ":save", weak=False)
    post_delete.connect(changed, sender=model, dispatch_uid=uid + ":delete", weak=False)
    for m2m in model._meta.many_to_many:
        m2m_changed.connect(
            changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}:{m2m.name}", weak=False
        )


def device(mac: str, load: Callable[[int], list[Device]]) -> Device | None:
    """The device of `mac` as this process keeps it, else `load(limit)`ed: the device first,
    then, when its organisation has at most `limit` devices, the organisation's other
    phones, which the process keeps too (their own requests will follow).

    The others come only into room that is free: they never push out phones kept for this
    version, so a process serving more phones than it keeps reads phone by phone instead of
    reading whole organisations over and over."""
    version = current_version()
    entry = _entries.get(mac) if version else None
    if entry is not None and entry.valid(version):
        _entries.move_to_end(mac)
        return entry.device
    if not version:
        return next(iter(load(0)), None)
    _drop_invalid(version)
    room = settings.CONFIG_CACHE_MAX_ENTRIES - len(_entries) - 1
    loaded = load(max(0, min(settings.CONFIG_CACHE_ORGANISATION_MAX_DEVICES, room)))
    if not loaded or loaded[0].mac != mac:
        return None
    born = time.monotonic()
    for phone in reversed(loaded):  # the asked-for device last: the most recently used
        kept = _entries.get(phone.mac)
        if phone is loaded[0] or kept is None or not kept.valid(version):
            # A kept one that is still valid may hold rendered files and a newer visit.
            _keep(phone.mac, Entry(version, phone, born=born))
    return loaded[0]


def _drop_invalid(version: str) -> None:
    """Drop entries of older versions or past their age from the least recently used end
    (after a new version, all of them), so that they take no room."""
    while _entries:
        oldest = next(iter(_entries.values()))
        if oldest.valid(version):
            return
        _entries.popitem(last=False)


def rendered(mac: str, version: str | None, name: str, render: Callable[[], str]) -> str:
    """A file rendered for the device of `mac`, rendered again only after a change."""
    entry = _entries.get(mac) if version else None
    if entry is None or not entry.valid(version):
        return render()
    if name not in entry.files:
        entry.files[name] = render()
    return entry.files[name]


def memo(name: str, load: Callable[[], T]) -> T:
    """Data many phones share (an organisation's books, the softkey files), kept per version.

    None (nothing found) is not kept: anyone may ask for names that do not exist, and each
    would take memory until the next change.
    """
    version = current_version()
    entry = _shared.get(name)
    if entry is not None and entry.valid(version):
        _shared.move_to_end(name)
        return entry.value
    value = load()
    if version and value is not None:
        _shared[name] = Entry(version, None, value=value)
        _shared.move_to_end(name)
        while len(_shared) > settings.CONFIG_CACHE_MAX_ENTRIES:
            _shared.popitem(last=False)
    return value


def _keep(mac: str, entry: Entry) -> None:
    _entries[mac] = entry
    _entries.move_to_end(mac)
    while len(_entries) > settings.CONFIG_CACHE_MAX_ENTRIES:
        _entries.popitem(last=False)
