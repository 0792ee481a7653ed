"""Deployment checks of our own, beside Django's (`manage.py check --deploy`)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register(deploy=True)
def check_access_log_spool(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Warning]:
    """Batched access-log rows wait in the spool until the database has them: a spool that
    cannot be written keeps them in memory only, where a stopping process loses them."""
    if settings.ACCESS_LOG_FLUSH_SECONDS <= 0:
        return []
    directory = Path(settings.ACCESS_LOG_SPOOL_DIR)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        return [
            Warning(
                f"The access-log spool {directory} cannot be written ({error.strerror}).",
                hint="Set ACCESS_LOG_SPOOL_DIR to a directory on local disk that the "
                "app-server processes may write (and that survives a restart).",
                id="voipconfig.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_proxy_hops(app_configs: Sequence[AppConfig] | None, **kwargs: object) -> list[Warning]:
    """gunicorn listens on 127.0.0.1 behind nginx (deploy/): with no proxy hop trusted, every
    client is 127.0.0.1, and the per-address limits count everyone as one client."""
    if settings.TRUSTED_PROXY_HOPS == 0:
        return [
            Warning(
                "TRUSTED_PROXY_HOPS is 0: every client's address is the one it connects from. "
                "Behind nginx that is 127.0.0.1 for all of them, so phone throttling and the "
                "admin's login lockout count every client as one: anyone could lock the "
                "provider's login out.",
                hint="Set TRUSTED_PROXY_HOPS=1 behind one proxy (the number of proxies that "
                "append to X-Forwarded-For); silence voipconfig.W003 if clients connect "
                "directly.",
                id="voipconfig.W003",
            )
        ]
    return []


FIRMWARE_DELIVERIES = ("stream", "nginx", "signed-url")


@register()
def check_firmware_delivery(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Error]:
    """A typo here would send phones empty answers (nginx) or hold workers (stream) without a
    word: refused when the project starts."""
    if settings.FIRMWARE_DELIVERY in FIRMWARE_DELIVERIES:
        return []
    return [
        Error(
            f"FIRMWARE_DELIVERY is {settings.FIRMWARE_DELIVERY!r}.",
            hint="Set it to 'stream' (the worker sends the file), 'nginx' (X-Accel-Redirect "
            "to FIRMWARE_NGINX_PREFIX, see deploy/nginx.conf) or 'signed-url' (a redirect to "
            "the object store, FIRMWARE_STORAGE=s3).",
            id="voipconfig.E001",
        )
    ]


# The store each delivery serves from: nginx reads FIRMWARE_ROOT, a signed URL is the object
# store's ("stream" reads either through the storage API).
DELIVERY_STORAGE = {"nginx": "filesystem", "signed-url": "s3"}


@register()
def check_firmware_delivery_storage(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Error]:
    """A delivery that cannot reach the images would fail every phone's download."""
    delivery, storage = settings.FIRMWARE_DELIVERY, settings.FIRMWARE_STORAGE
    needed = DELIVERY_STORAGE.get(delivery, storage)
    if needed == storage:
        return []
    return [
        Error(
            f"FIRMWARE_DELIVERY is {delivery!r}, which needs FIRMWARE_STORAGE={needed}; it is "
            f"{storage!r}.",
            hint="Images on the filesystem: FIRMWARE_DELIVERY=nginx; in an S3 bucket: "
            "FIRMWARE_DELIVERY=signed-url.",
            id="voipconfig.E002",
        )
    ]


@register()
def check_firmware_bucket(app_configs: Sequence[AppConfig] | None, **kwargs: object) -> list[Error]:
    bucket = settings.STORAGES["firmware"].get("OPTIONS", {}).get("bucket_name")
    if settings.FIRMWARE_STORAGE != "s3" or bucket:
        return []
    return [
        Error(
            "FIRMWARE_STORAGE is 's3' but no bucket is set.",
            hint="Set FIRMWARE_S3_BUCKET (and the other FIRMWARE_S3_* of .env.example).",
            id="voipconfig.E003",
        )
    ]


@register(deploy=True)
def check_firmware_streaming(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[Warning]:
    """Streaming holds a sync worker per download, and gunicorn's arbiter kills a worker that
    sends no heartbeat within its timeout, which a worker streaming a response does not."""
    if settings.FIRMWARE_DELIVERY != "stream" or settings.DEBUG:
        return []
    return [
        Warning(
            "FIRMWARE_DELIVERY is 'stream': each firmware download holds a gunicorn worker, "
            "and one longer than gunicorn's timeout (30 s) is cut off.",
            hint="Use 'nginx' (deploy/nginx.conf) or 'signed-url' in production.",
            id="voipconfig.W004",
        )
    ]
