"""Deployment checks of our own, beside Django's (`manage.py check --deploy`)."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_shared_throttle_cache(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Warning]:
    backend = settings.CACHES[settings.THROTTLE_CACHE]["BACKEND"]
    if settings.THROTTLE_ENABLED and backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "Throttling counts are kept in a per-process cache: each app server and worker "
                "counts on its own, so an attacker gets more tries.",
                hint="Set CACHE_URL to Redis (redis://…) or the database (dbcache://…).",
                id="voipconfig.W001",
            )
        ]
    return []
