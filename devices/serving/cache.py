"""What serving a phone needs, kept per app-server process and checked against a shared version.

Phones come back every 30 minutes, and after a power cut all at once, while what they get
changes only when someone edits it. So each process keeps, per MAC, the device and the files
rendered for it, and what many phones share (organisations, their books and media choices;
the names are in `keys`). The phones of one customer come together, and a phone's round is
several requests that land on different processes: so a process that misses a phone reads
the phone's whole organisation in the same statement (up to
CONFIG_CACHE_ORGANISATION_MAX_DEVICES phones), and the requests of its other phones, and of
the rest of this round, find them kept.

Every request first checks one shared version token (with Redis, through a subscription
that tells of each new token, see `version_feed`; else by reading it); every save or delete
of a model a config is made of (`keys.CONFIG_SOURCES`) sets a new token, so the next request
in every process reads the database again: a phone never gets a stale config after an admin
changed something. Nothing of a phone is kept in the shared cache, so its SIP passwords are
in no cache but the memory of the processes that serve it.

It needs a cache that all processes share (Redis, the database, memcached): with a per-process
cache a new token would not reach the other processes, so `CONFIG_CACHE = "auto"` switches it
off there.

When the shared cache cannot be reached (`shared`), a process drops what it kept and goes
on under a token of its own, new each time it loses the shared one: what it keeps then is
good for CONFIG_CACHE_MAX_AGE_SECONDS, so a change made in another process reaches its
phones within that, and its own changes at once. A change it cannot announce is announced
once the shared cache answers again, and the admin says when phones get it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from devices.models import Device, FormerDevice, ProfileKey
from devices.serving import keys, lookup, shared, version_feed
from organisations.models import Organisation, SettingsProfile
from voipconfig import metrics

logger = logging.getLogger(__name__)
T = TypeVar("T")
PER_PROCESS_BACKENDS = ("LocMemCache", "DummyCache")


@dataclass
class _Kept:
    version: str
    born: float = field(default_factory=time.monotonic, kw_only=True)

    def valid(self, version: str | None) -> bool:
        # The age limit bounds the harm of a version token lost or set back (a Redis
        # fail-over to a lagging replica, a restore), or of a change made behind Django.
        age = time.monotonic() - self.born
        return version == self.version and age < settings.CONFIG_CACHE_MAX_AGE_SECONDS


@dataclass
class _Phone(_Kept):
    device: Device
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class _Shared(_Kept):
    value: Any


_phones: OrderedDict[str, _Phone] = OrderedDict()  # by MAC, least recently used first


@dataclass
class _Unknown(_Kept):
    former: FormerDevice | None  # a deleted phone's credentials, if it was one


# MACs asked for and not found, so that an unknown MAC costs what a known one does (no
# statement each time: the time of an answer must not tell which MACs exist).
_unknown: OrderedDict[str, _Unknown] = OrderedDict()
_shared: OrderedDict[str, _Shared] = OrderedDict()  # what phones share, by its `keys` name


def enabled() -> bool:
    choice = settings.CONFIG_CACHE
    if choice == "auto":
        backend = settings.CACHES[settings.CONFIG_CACHE_ALIAS]["BACKEND"]
        return not backend.endswith(PER_PROCESS_BACKENDS)
    return bool(choice)


# --- the version --------------------------------------------------------------------------------

_request: ContextVar[dict[str, str | None] | None] = ContextVar("serving_request", default=None)


@contextmanager
def one_version_per_request() -> Iterator[None]:
    """Within it, the shared version is read once (every lookup of a request agrees, and a
    request pays one round trip to the shared cache, not one per lookup), and a failed call
    to the shared cache is the request's last (`shared.one_request`)."""
    token = _request.set({})
    try:
        with shared.one_request():
            yield
    finally:
        _request.reset(token)


def current_version() -> str | None:
    """The shared version token (or this process's own while the shared cache cannot be
    reached: `_local_version`), or None when the cache is off."""
    scope = _request.get()
    if scope is not None and "version" in scope:
        return scope["version"]
    version = _read_version()
    if scope is not None:
        scope["version"] = version
    return version


_local: str | None = None  # this process's own version while the shared one cannot be read
_owed = False  # a change this process could not announce


def _read_version() -> str | None:
    global _local
    if not enabled():
        return None
    if _owed:
        _announce()
    known, ticket = version_feed.feed.known()
    if known is not None:
        return known
    cache = shared.get(settings.CONFIG_CACHE_ALIAS)
    if cache is None:
        return _local_version()
    try:
        version: str | None = cache.get(keys.VERSION)
        if version is None:  # first start, or the cache was emptied
            cache.add(keys.VERSION, uuid.uuid4().hex, timeout=None)
            version = cache.get(keys.VERSION)
    except Exception as error:
        shared.failed(cache, "the config version", error)
        return _local_version()
    _local = None
    version_feed.feed.read(version, ticket)
    return version


def _local_version() -> str:
    """A token of this process's own, made anew each time the shared one is lost: what was
    kept before is dropped (a change may be missed meanwhile), and what is kept under it
    lasts CONFIG_CACHE_MAX_AGE_SECONDS at most (`_Kept.valid`)."""
    global _local
    if _local is None:
        _forget()
        _local = f"local-{uuid.uuid4().hex}"
    return _local


def bump() -> None:
    """Something a config is made of changed: every process reads the database again. Never
    raises: with the shared cache away the change still commits; this process forgets what
    it kept at once, the others within CONFIG_CACHE_MAX_AGE_SECONDS (or when it is back)."""
    _forget()
    if enabled():
        _announce()


def _announce() -> None:
    global _owed
    cache = shared.get(settings.CONFIG_CACHE_ALIAS)
    if cache is not None:
        try:
            cache.set(keys.VERSION, uuid.uuid4().hex, timeout=None)
            version_feed.announce()
        except Exception as error:
            shared.failed(cache, "a config change", error)
        else:
            _owed = False
            return
    if not _owed:  # once until it is announced, however many changes meanwhile
        logger.warning(
            "config change not announced: the shared cache is unreachable; other processes "
            "serve it within %s s",
            settings.CONFIG_CACHE_MAX_AGE_SECONDS,
        )
    _owed = True
    shared.unannounced()


def changed(**signal: object) -> None:
    """A config source changed (a signal, or a bulk write that sends none): a new version
    now, and again once the change is committed, because a process may read the database
    between the two and keep what was there before. Within `one_change`, once at its end."""
    pending = _pending.get()
    if pending is not None:
        pending.append(True)
        return
    bump()
    transaction.on_commit(bump)


_pending: ContextVar[list[bool] | None] = ContextVar("config_changes_pending", default=None)


@contextmanager
def one_change() -> Iterator[None]:
    """Writes of many rows (a bulk request, an import) as one change: their rows' signals
    announce nothing, and one change is announced when they are done, rather than two per
    row to every process (the version in Redis and the feed)."""
    if _pending.get() is not None:
        yield
        return
    pending: list[bool] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            changed()


def connect_config_sources() -> None:
    """Saving or deleting a row of a `keys.CONFIG_SOURCES` model (or changing its
    many-to-many relations) is a change (at start-up, from DevicesConfig.ready)."""
    for label in keys.CONFIG_SOURCES:
        model = apps.get_model(label)
        uid = f"serving.changed:{label}"
        post_save.connect(changed, sender=model, dispatch_uid=f"{uid}:save", weak=False)
        post_delete.connect(changed, sender=model, dispatch_uid=f"{uid}:delete", weak=False)
        for m2m in model._meta.many_to_many:
            through = m2m.remote_field.through
            m2m_uid = f"{uid}:{m2m.name}"
            m2m_changed.connect(changed, sender=through, dispatch_uid=m2m_uid, weak=False)


# --- phones ---------------------------------------------------------------------------------------


def device(mac: str) -> Device | None:
    """The device of `mac` with its organisation and accounts, as this process keeps it.

    Else read: the device first, then, when its organisation has at most
    CONFIG_CACHE_ORGANISATION_MAX_DEVICES devices, the organisation's other phones, which the
    process keeps too (their own requests will follow). The others come only into room that
    is free: they never push out phones kept for this version, so a process serving more
    phones than it keeps reads phone by phone instead of reading whole organisations over
    and over."""
    version = current_version()
    kept = _phones.get(mac) if version else None
    if kept is not None and kept.valid(version):
        _phones.move_to_end(mac)
        metrics.config_cache("phone", hit=True)
        return kept.device
    if not version:
        return next(iter(_read(mac, 0)), None)
    unknown = _unknown.get(mac)
    if unknown is not None and unknown.valid(version):
        _unknown.move_to_end(mac)
        metrics.config_cache("phone", hit=True)
        return None
    metrics.config_cache("phone", hit=False)
    _drop_invalid(version)
    room = settings.CONFIG_CACHE_MAX_ENTRIES - len(_phones) - 1
    loaded = _read(mac, max(0, min(settings.CONFIG_CACHE_ORGANISATION_MAX_DEVICES, room)))
    if not loaded or loaded[0].mac != mac:
        _unknown[mac] = _Unknown(version, FormerDevice.objects.filter(mac=mac).first())
        _unknown.move_to_end(mac)
        while len(_unknown) > settings.CONFIG_CACHE_MAX_ENTRIES:
            _unknown.popitem(last=False)
        return None
    born = time.monotonic()
    for phone in reversed(loaded):  # the asked-for device last: the most recently used
        kept = _phones.get(phone.mac)
        if phone is loaded[0] or kept is None or not kept.valid(version):
            # A kept one that is still valid may hold rendered files and a newer visit.
            _keep(_Phone(version, phone, born=born))
    return loaded[0]


def former_device(mac: str) -> FormerDevice | None:
    """The deleted phone this MAC was, for a MAC `device` found no device of (kept with it)."""
    unknown = _unknown.get(mac)
    if unknown is not None and unknown.valid(current_version()):
        return unknown.former
    return FormerDevice.objects.filter(mac=mac).first()


def _read(mac: str, limit: int) -> list[Device]:
    devices = lookup.phones_of_organisation(mac, limit)
    for phone in devices:
        Device.organisation.field.set_cached_value(phone, organisation(phone.organisation_id))
    return devices


def organisation(pk: int) -> Organisation | None:
    """An organisation, kept per version: thousands of phones share a few of them."""
    return memo(keys.ORGANISATION(pk), lambda: Organisation.objects.filter(pk=pk).first())


def organisation_by_username(username: str) -> Organisation | None:
    """The organisation whose provisioning user name this is, from a map of all of them kept
    per version: a name that is nobody's costs what a real one does."""

    def load() -> dict[str, int]:
        return dict(Organisation.objects.values_list("provisioning_username", "pk"))

    pk = memo(keys.ORGANISATION_USERNAMES, load).get(username)
    return organisation(pk) if pk is not None else None


def settings_profiles() -> dict[int, SettingsProfile]:
    """The provider's settings profiles by pk, kept per version (there are few)."""

    def load() -> dict[int, SettingsProfile]:
        return dict(SettingsProfile.objects.in_bulk())

    return memo(keys.SETTINGS_PROFILES, load)


def key_profiles(organisation: int) -> dict[int, tuple[str, list[ProfileKey]]]:
    """An organisation's key profiles that have keys, by pk: (name, keys in order), kept
    per version; one statement, whatever the number of profiles and keys."""

    def load() -> dict[int, tuple[str, list[ProfileKey]]]:
        profiles: dict[int, tuple[str, list[ProfileKey]]] = {}
        rows = ProfileKey.objects.filter(profile__organisation=organisation).select_related(
            "profile"
        )
        for key in rows.order_by("module", "position"):
            profiles.setdefault(key.profile_id, (key.profile.name, []))[1].append(key)
        return profiles

    return memo(keys.KEY_PROFILES(organisation), load)


def rendered(device: Device, name: str, render: Callable[[], str]) -> str:
    """A file rendered for `device`, rendered again only after a change."""
    version = current_version()
    kept = _phones.get(device.mac) if version else None
    if kept is None or not kept.valid(version):
        if version:
            metrics.config_cache("file", hit=False)
        return render()
    hit = name in kept.files
    metrics.config_cache("file", hit=hit)
    if not hit:
        kept.files[name] = render()
    return kept.files[name]


def kept_phones() -> list[str]:
    """The MACs this process keeps, least recently used first."""
    return list(_phones)


def kept_files(mac: str) -> list[str]:
    """The names of the files kept for a MAC (`keys.MAC_FILE` and its variants), sorted."""
    kept = _phones.get(mac)
    return sorted(kept.files) if kept is not None else []


def _drop_invalid(version: str) -> None:
    """Drop entries of older versions or past their age from the least recently used end
    (after a new version, all of them), so that they take no room."""
    while _phones:
        oldest = next(iter(_phones.values()))
        if oldest.valid(version):
            return
        _phones.popitem(last=False)


def _keep(phone: _Phone) -> None:
    _phones[phone.device.mac] = phone
    _phones.move_to_end(phone.device.mac)
    while len(_phones) > settings.CONFIG_CACHE_MAX_ENTRIES:
        _phones.popitem(last=False)


# --- what phones share ----------------------------------------------------------------------------


def memo(name: str, load: Callable[[], T]) -> T:
    """Data many phones share (an organisation's books, the softkey files), kept per version
    under its `keys` name.

    None (nothing found) is not kept: anyone may ask for names that do not exist, and each
    would take memory until the next change.
    """
    version = current_version()
    kept = _shared.get(name)
    if kept is not None and kept.valid(version):
        _shared.move_to_end(name)
        value: T = kept.value
        return value
    value = load()
    if version and value is not None:
        _shared[name] = _Shared(version, value)
        _shared.move_to_end(name)
        while len(_shared) > settings.CONFIG_CACHE_MAX_ENTRIES:
            _shared.popitem(last=False)
    return value


def _forget() -> None:
    _phones.clear()
    _unknown.clear()
    _shared.clear()


def reset() -> None:
    """Forget everything this process keeps and owes, and subscribe afresh (for tests)."""
    global _local, _owed
    _forget()
    _local, _owed = None, False
    shared.reset()
    version_feed.feed.close()
    version_feed.feed = version_feed.VersionFeed()
