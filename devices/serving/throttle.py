"""Throttling brute force and scanning on the phone endpoints.

Failures (unknown MAC, wrong credentials or token, malformed or mismatched requests, names
and ids of files that do not exist) are counted per client address; wrong passwords also per
MAC, and per organisation user name when that is what was tried, from every address. The
counts live in fixed windows in the shared cache (CACHE_URL: Redis or the database in
production, so every app server shares them; the names are in `keys`).

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
import logging
import time

from django.conf import settings
from django.core.cache import BaseCache, caches

from devices.serving import keys

logger = logging.getLogger(__name__)


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


def _cache() -> BaseCache:
    return caches[settings.THROTTLE_CACHE]


def is_throttled(ip: str | None, mac: str | None, username: str | None = None) -> bool:
    """Over a limit: failures from the address, wrong passwords for the MAC, or for the
    (organisation) user name."""
    if not settings.THROTTLE_ENABLED:
        return False
    counted = _keys(ip, mac, username)
    try:
        counts: dict[str, int] = _cache().get_many(list(counted.values()))
    except Exception:  # the cache is down: phones keep working, unthrottled
        logger.warning("throttling cache unavailable; not throttling", exc_info=True)
        return False
    over_ip = counts.get(counted.get("ip", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_IP
    over_mac = counts.get(counted.get("mac", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_MAC
    over_user = counts.get(counted.get("user", ""), 0) >= (
        settings.THROTTLE_MAX_FAILURES_PER_USERNAME
    )
    return over_ip or over_mac or over_user


def record_failure(ip: str | None, mac: str | None = None, username: str | None = None) -> None:
    """Count a failure from `ip`; with `mac`, also a failed password for that MAC (known or
    not, so the counts tell nothing about which MACs exist); with `username`, for that
    user name."""
    if not settings.THROTTLE_ENABLED:
        return
    try:
        for key in _keys(ip, mac, username).values():
            _count(_cache(), key)
    except Exception:  # the cache is down: losing a count is better than failing a phone
        logger.warning("throttling cache unavailable; failure not counted", exc_info=True)


def _count(cache: BaseCache, key: str) -> None:
    # add() starts the window's counter; incr() is atomic on Redis.
    cache.add(key, 0, timeout=2 * settings.THROTTLE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=2 * settings.THROTTLE_WINDOW_SECONDS)
