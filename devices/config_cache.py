"""What serving a phone needs, kept per app-server process and checked against a shared version.

Phones come back every 30 minutes, and after a power cut all at once, while what they get
changes only when someone edits it. So each process keeps, per MAC, the device and the files
rendered for it, and what many phones share (organisations, their books and media choices).
A phone's round is several requests that land on different processes, so a process also
shares what it loaded for a phone through the cache, sealed with FIELD_ENCRYPTION_KEYS (it
holds SIP passwords), and the next process takes it from there.

Every request first reads one shared version token, with the phone's shared entry in the
same round trip; every save or delete of a model that feeds a config (registered with
`register_config_source`) sets a new token, so the next request in every process reads the
database again: a phone never gets a stale config after an admin changed something.

It needs a cache that all processes share (Redis, the database, memcached): with a per-process
cache a new token would not reach the other processes, so `CONFIG_CACHE = "auto"` switches it
off there. When the shared cache cannot be reached, requests go to the database as before.
"""

from __future__ import annotations

import copy
import logging
import pickle
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
from organisations import secrets

logger = logging.getLogger(__name__)
T = TypeVar("T")
VERSION_KEY = "voipconfig:config-version"
SHARED_KEY = "voipconfig:phone:{mac}"
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
    return version


def bump() -> None:
    """Something a config is made of changed: every process reads the database again."""
    _entries.clear()
    _shared.clear()
    if not enabled():
        return
    try:
        caches[settings.CONFIG_CACHE_ALIAS].set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
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


def device(mac: str, load: Callable[[], Device | None]) -> Device | None:
    """The device of `mac`: as this process keeps it, else as another process shared it,
    else `load()`ed. The shared version and the shared copy come in one round trip, which
    also fixes the version for the rest of the request."""
    scope = _request.get()
    version, shared = _read_version_and_shared(mac)
    if scope is not None:
        scope["version"] = version
    entry = _entries.get(mac) if version else None
    if entry is not None and entry.valid(version):
        _entries.move_to_end(mac)
        return entry.device
    entry = _unpack(shared, version, mac) if version and shared else None
    if entry is None:
        loaded = load()
        if not version or loaded is None:
            return loaded
        entry = Entry(version, loaded)
        _changed(mac)
    _keep(mac, entry)
    return entry.device


def rendered(mac: str, version: str | None, name: str, render: Callable[[], str]) -> str:
    """A file rendered for the device of `mac`, rendered again only after a change."""
    entry = _entries.get(mac) if version else None
    if entry is None or not entry.valid(version):
        return render()
    if name not in entry.files:
        # Kept here, not shared: a phone asks for each file once per round.
        entry.files[name] = render()
    return entry.files[name]


def device_changed(mac: str) -> None:
    """The kept device was updated in place (its last visit): share the new state."""
    if mac in _entries:
        _changed(mac)


def share_changes() -> None:
    """End of a phone request: what it loaded or rendered goes to the shared cache, so the
    phone's next request finds it whichever process takes it (one write, and only when
    something changed). Entries live there CONFIG_CACHE_MAX_AGE_SECONDS at most."""
    scope = _request.get()
    if not scope or not scope.get("changed"):
        return
    cache = caches[settings.CONFIG_CACHE_ALIAS]
    timeout = settings.CONFIG_CACHE_MAX_AGE_SECONDS
    try:
        for mac in scope.pop("changed"):
            entry = _entries.get(mac)
            if entry is not None and entry.version == scope.get("version"):
                cache.set(SHARED_KEY.format(mac=mac), _pack(entry), timeout=timeout)
    except Exception:  # the next request will load from the database instead
        logger.warning("config cache unavailable; not shared", exc_info=True)


def _changed(mac: str) -> None:
    scope = _request.get()
    if scope is not None:
        scope.setdefault("changed", set()).add(mac)


def _read_version_and_shared(mac: str) -> tuple[str | None, bytes | None]:
    scope = _request.get()
    if scope is not None and "version" in scope:  # read already in this request
        return scope["version"], None
    if not enabled():
        return None, None
    cache = caches[settings.CONFIG_CACHE_ALIAS]
    shared_key = SHARED_KEY.format(mac=mac)
    try:
        found = cache.get_many([VERSION_KEY, shared_key])
    except Exception:
        return _read_version(), None  # which says that the cache is down
    if VERSION_KEY not in found:
        return _read_version(), None  # which starts a version
    return found[VERSION_KEY], found.get(shared_key)


def _pack(entry: Entry) -> bytes:
    """The entry sealed (it holds SIP passwords), without the organisation: every process
    keeps its organisations already (devices.fast_lookup)."""
    from devices.fast_lookup import ACCOUNTS

    device = _unlinked(entry.device)
    accounts = getattr(entry.device, ACCOUNTS, None)
    if accounts is not None:
        setattr(device, ACCOUNTS, [_unlinked(account) for account in accounts])
    age = time.monotonic() - entry.born
    payload = (entry.version, time.time() - age, device, dict(entry.files))
    return secrets.seal(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def _unlinked(instance: Model) -> Model:
    """A copy without the related objects it holds (the organisation, the device)."""
    clone = copy.copy(instance)
    clone._state = copy.copy(instance._state)
    clone._state.fields_cache = {}
    return clone


def _unpack(token: bytes, version: str, mac: str) -> Entry | None:
    data = secrets.unseal(token)
    if data is None:
        return None
    shared_version, born_at, device, files = pickle.loads(data)  # noqa: S301 (we sealed it)
    entry = Entry(shared_version, device, files, born=time.monotonic() - (time.time() - born_at))
    if not entry.valid(version) or device.mac != mac:
        return None
    from devices.fast_lookup import organisation_by_pk

    Device.organisation.field.set_cached_value(device, organisation_by_pk(device.organisation_id))
    return entry


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
