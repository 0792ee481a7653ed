"""Serving phones: everything between a phone's HTTP request and the file it gets.

The phone path (docs/architecture.md draws it):

    endpoint    phone_endpoint: identify the phone (MAC from the file name or User-Agent),
                throttle, authenticate (http_auth), run the view, log (access_log),
                count (voipconfig.metrics: by kind of file and outcome)
    cache       what each process keeps per config version, and how a change reaches
                every process (version_feed); every name it keeps things under: keys
    lookup      the device with its accounts (and its organisation's line keys), in
                statements built once per process
    responses   every answer: text, XML and stored files (ETag, 304, HEAD); 400 to 503
    files       which row holds a stored file's bytes, and small files' bytes kept by hash
    access_log  every request's row, in batches through the spool (local disk) to the table
    faults      a fault that repeats with every request, logged once and then counted
    shared      the shared cache (Redis) as serving reaches it, one failure per request,
                and what stands in for it while it cannot be reached

Other apps use only the names below; the views of `phonebooks` and `media_assets` are phone
endpoints like the config files of `devices.views`.
"""

from __future__ import annotations

from typing import Any

from devices.serving import cache, faults, files, keys, shared
from devices.serving.access_log import writer as _writer
from devices.serving.cache import (
    changed,
    key_profiles,
    memo,
    one_change,
    rendered,
    settings_profiles,
)
from devices.serving.endpoint import is_phone_endpoint, phone_endpoint
from devices.serving.faults import Fault
from devices.serving.files import Body, keep_bytes, load_bytes
from devices.serving.lookup import handsets, line_keys, release, sip_accounts
from devices.serving.request import PhoneHttpRequest, PhoneRequest, client_ip
from devices.serving.responses import (
    not_found,
    service_unavailable,
    stored_file,
    text_file,
    xml_file,
)

__all__ = [
    "Body",
    "Fault",
    "PhoneHttpRequest",
    "PhoneRequest",
    "access_log_state",
    "changed",
    "client_ip",
    "close_access_log",
    "handsets",
    "is_phone_endpoint",
    "keep_bytes",
    "key_profiles",
    "keys",
    "line_keys",
    "load_bytes",
    "memo",
    "not_found",
    "one_change",
    "phone_endpoint",
    "release",
    "rendered",
    "reset",
    "service_unavailable",
    "settings_profiles",
    "shared",
    "sip_accounts",
    "stored_file",
    "text_file",
    "xml_file",
]


def close_access_log(timeout: float | None = None) -> None:
    """The process stops (gunicorn's worker_exit, atexit): write the rows it holds, for up to
    ACCESS_LOG_CLOSE_SECONDS; the spool keeps the rest for the next process."""
    _writer.close(timeout)


def access_log_state() -> dict[str, Any]:
    """What this process's access-log writer reports to /healthz (`Writer.state`)."""
    return _writer.state()


def reset() -> None:
    """Forget what this process keeps (phones, shared data, media bytes, the version feed),
    as a newly started process would; for tests."""
    cache.reset()
    files.reset()
    faults.reset()
