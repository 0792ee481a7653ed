"""Requests per token and minute, counted in the shared cache (Redis: every app server
counts together). While Redis is away each process counts on its own, as the phone
throttle does (devices.serving.shared): weaker, never off."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import BaseCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from devices.serving import shared
from organisations.scoping import ApiClient

if TYPE_CHECKING:  # rest_framework.views imports the settings that name this module
    from rest_framework.views import APIView

WINDOW_SECONDS = 60


class TokenRateThrottle(BaseThrottle):
    """API_REQUESTS_PER_MINUTE per token (writes count API_WRITE_WEIGHT each: a bulk
    request of 1,000 phones is one request, but no light one)."""

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        client: object = request.user  # typed as a User; ours is an ApiClient
        limit = settings.API_REQUESTS_PER_MINUTE
        if not isinstance(client, ApiClient) or not limit:
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"api:rate:{client.token_id}:{window}"
        weight = 1 if request.method in ("GET", "HEAD", "OPTIONS") else settings.API_WRITE_WEIGHT
        count = _add(key, weight)
        if count <= limit:
            return True
        self.wait_seconds = (window + 1) * WINDOW_SECONDS - now
        return False

    def wait(self) -> float | None:
        return self.wait_seconds


def _add(key: str, weight: int) -> int:
    cache = shared.get(settings.THROTTLE_CACHE)
    if cache is not None:
        try:
            return _count(cache, key, weight)
        except Exception as error:
            shared.failed(cache, "API rate limits", error)
    return _count(shared.local(), key, weight)


def _count(cache: BaseCache, key: str, weight: int) -> int:
    cache.add(key, 0, timeout=2 * WINDOW_SECONDS)
    try:
        return int(cache.incr(key, weight))
    except ValueError:  # expired between add() and incr()
        cache.add(key, weight, timeout=2 * WINDOW_SECONDS)
        return weight
