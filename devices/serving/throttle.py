"""Throttling brute force and scanning on the phone endpoints.

Failures (unknown MAC, wrong credentials or token, malformed or mismatched requests, names
and ids of files that do not exist) are counted per client address; wrong passwords also per
MAC, and per organisation user name when that is what was tried, from every address. The
counts live in fixed windows in the shared cache (CACHE_URL: Redis or the database in
production, so every app server shares them; the names are in `keys`). While it cannot be
reached, each process counts on its own (`shared.local`): weaker limits, but never none, so
taking Redis down does not switch throttling off. Counts made meanwhile are not carried over.

What is refused over a limit, and what is not (`docs/architecture.md`, "Throttling"):
- an organisation's credentials, and anything else that is not a phone's own, are answered
  429 unchecked: a password people chose is guessed no further, from any address;
- a phone's own credentials and resource tokens are always checked, and answered as usual
  when right: 128 random bits and more cannot be guessed at any rate, so nobody's failures,
  from the phone's NAT address or anywhere, lock the real phone out. Wrong ones over a limit
  get 429 as well.
No address is trusted for what it did before.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import BaseCache

from devices.serving import keys, shared
from voipconfig import metrics


def window() -> int:
    """The throttle window now: counts start afresh in each."""
    return int(time.time() // settings.THROTTLE_WINDOW_SECONDS)


def _keys(ip: str | None, mac: str | None, username: str | None = None) -> dict[str, str]:
    now = window()
    counted = {}
    if ip:
        counted["ip"] = keys.THROTTLE_IP(_network(ip), now)
    if mac:
        counted["mac"] = keys.THROTTLE_MAC(mac, now)
    if username:
        # Whatever a client sent: hashed, so a key never holds odd or overlong text.
        digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        counted["user"] = keys.THROTTLE_USER(digest, now)
    return counted


def _network(ip: str) -> str:
    """IPv6 clients are counted per /64: one host usually has the whole network to pick from."""
    if ":" not in ip:
        return ip
    return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"


def is_throttled(ip: str | None, mac: str | None, username: str | None = None) -> bool:
    """Over a limit: failures from the address, wrong passwords for the MAC, or for the
    (organisation) user name."""
    if not settings.THROTTLE_ENABLED:
        return False
    counted = _keys(ip, mac, username)
    counts = _counts(list(counted.values()))
    over_ip = counts.get(counted.get("ip", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_IP
    over_mac = counts.get(counted.get("mac", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_MAC
    over_user = counts.get(counted.get("user", ""), 0) >= (
        settings.THROTTLE_MAX_FAILURES_PER_USERNAME
    )
    if over_ip or over_mac or over_user:
        metrics.throttled("ip" if over_ip else "mac" if over_mac else "user")
        return True
    return False


def _counts(names: list[str]) -> dict[str, int]:
    cache = shared.get(settings.THROTTLE_CACHE)
    if cache is not None:
        try:
            return cache.get_many(names)
        except Exception as error:
            shared.failed(cache, "throttling", error)
    return shared.local().get_many(names)


def record_failure(ip: str | None, mac: str | None = None, username: str | None = None) -> None:
    """Count a failure from `ip`; with `mac`, also a failed password for that MAC (known or
    not, so the counts tell nothing about which MACs exist); with `username`, for that
    user name."""
    if not settings.THROTTLE_ENABLED:
        return
    names = list(_keys(ip, mac, username).values())
    cache = shared.get(settings.THROTTLE_CACHE)
    if cache is not None:
        try:
            for name in names:
                _count(cache, name)
            return
        except Exception as error:  # counted here instead (a count may be lost, no phone)
            shared.failed(cache, "throttling", error)
    for name in names:
        _count(shared.local(), name)


def _count(cache: BaseCache, key: str) -> None:
    # add() starts the window's counter; incr() is atomic on Redis.
    cache.add(key, 0, timeout=2 * settings.THROTTLE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=2 * settings.THROTTLE_WINDOW_SECONDS)
