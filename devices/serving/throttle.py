"""Throttling brute force and scanning on the phone endpoints.

Failures (unknown MAC, wrong credentials, malformed or mismatched requests) are counted per
client address, and wrong credentials also per MAC, in fixed windows kept in the cache
(CACHE_URL: Redis or the database in production, so every app server shares the counts; the
names are in `keys`). Over a limit, requests are answered 429 without checking any
credentials.

A phone behind the same NAT as an attacker keeps working: a request for a device from the
address that device last succeeded from is never throttled, and its credentials are checked.
"""

from __future__ import annotations

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


def _keys(ip: str | None, mac: str | None) -> dict[str, str]:
    now = window()
    counted = {}
    if ip:
        counted["ip"] = keys.THROTTLE_IP(_network(ip), now)
    if mac:
        counted["mac"] = keys.THROTTLE_MAC(mac, now)
    return counted


def _network(ip: str) -> str:
    """IPv6 clients are counted per /64: one host usually has the whole network to pick from."""
    if ":" not in ip:
        return ip
    return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"


def _cache() -> BaseCache:
    return caches[settings.THROTTLE_CACHE]


def is_throttled(ip: str | None, mac: str | None) -> bool:
    if not settings.THROTTLE_ENABLED:
        return False
    counted = _keys(ip, mac)
    try:
        counts: dict[str, int] = _cache().get_many(list(counted.values()))
    except Exception:  # the cache is down: phones keep working, unthrottled
        logger.warning("throttling cache unavailable; not throttling", exc_info=True)
        return False
    over_ip = counts.get(counted.get("ip", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_IP
    over_mac = counts.get(counted.get("mac", ""), 0) >= settings.THROTTLE_MAX_FAILURES_PER_MAC
    return over_ip or over_mac


def record_failure(ip: str | None, mac: str | None = None) -> None:
    """Count a failure from `ip`; with `mac`, also a failed password for that MAC (known or
    not, so the counts tell nothing about which MACs exist)."""
    if not settings.THROTTLE_ENABLED:
        return
    try:
        for key in _keys(ip, mac).values():
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
