"""What the server counts for Prometheus, and the text a scrape of /metrics gets.

The phone path counts into prometheus_client's instruments below (a few microseconds a
request: docs/performance.md, "Metrics"). gunicorn runs several sync workers and a scrape
reaches one of them, so with PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py sets it)
every process counts into files of its own in that directory and a scrape adds them all up:
those of workers that stopped too, and of commands (`rps_sync` from cron) run with the same
directory. Without it (`runserver`, the tests) a process reports its own counts.

What lives in the database (firmware rollouts and their phones, by state) is read at the
scrape, never on the phone path.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count

logger = logging.getLogger(__name__)


def _multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, made if missing; unset (each process on its own, logged)
    when it cannot be written, so that counting never breaks a phone request or a command.
    prometheus_client reads it once, when it is first imported: so this comes first."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return None
    with contextlib.suppress(OSError):
        os.makedirs(directory, exist_ok=True)
    if os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK):
        return directory
    logger.warning("metrics: %s cannot be written; this process counts on its own", directory)
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    return None


MULTIPROCESS_DIR = _multiprocess_dir()

from prometheus_client import (  # noqa: E402 (after the directory is settled)
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.metrics import MetricWrapperBase  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REGISTRY = CollectorRegistry(auto_describe=True)

PHONE_REQUESTS = Counter(
    "voipconfig_phone_requests",
    "Phone requests by kind of file and outcome (the access log's outcome; 'challenge' for "
    "the 401 that starts a round, 'method_not_allowed' for anything but GET and HEAD).",
    ["kind", "outcome"],
    registry=_REGISTRY,
)
PHONE_SECONDS = Histogram(
    "voipconfig_phone_request_seconds",
    "Time the server took for a phone request, by kind of file (not the bytes' transfer).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=_REGISTRY,
)
CONFIG_CACHE = Counter(
    "voipconfig_config_cache_lookups",
    "Lookups in a process's config cache: a phone (its device and accounts) or a file "
    "rendered for it; hit: kept for the current config version.",
    ["kept", "result"],
    registry=_REGISTRY,
)
THROTTLED = Counter(
    "voipconfig_throttled_requests",
    "Phone requests refused 429 by throttling, by the limit they were over (ip, mac, user).",
    ["limit"],
    registry=_REGISTRY,
)
ACCESS_LOG_BACKLOG = Gauge(
    "voipconfig_access_log_backlog_rows",
    "Access-log rows waiting to be written to the database (in memory and spooled).",
    multiprocess_mode="livesum",
    registry=_REGISTRY,
)
ACCESS_LOG_NOT_WRITTEN = Counter(
    "voipconfig_access_log_rows_not_written",
    "Access-log rows the table did not get: refused by the database (kept in the spool's "
    "rejected/ for replay_access_log), or only in the application log (the disk refused).",
    ["kept_in"],
    registry=_REGISTRY,
)
RPS_RUNS = Counter(
    "voipconfig_rps_sync_runs",
    "RPS syncs (not dry runs) by their state: in_sync, needs_attention, rps_unavailable.",
    ["state"],
    registry=_REGISTRY,
)
RPS_DEVICES = Counter(
    "voipconfig_rps_sync_devices",
    "Phones of RPS syncs by what the sync did with them.",
    ["result"],
    registry=_REGISTRY,
)
RPS_LAST_RUN = Gauge(
    "voipconfig_rps_sync_last_run_timestamp_seconds",
    "When the last RPS sync (not a dry run) finished, Unix time.",
    multiprocess_mode="max",
    registry=_REGISTRY,
)

# Children by label values, bound once per process: `labels()` takes a lock and builds a key
# on every call, a third of what counting costs.
_bound: dict[tuple[Any, ...], Any] = {}


def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    key = (metric, *labels)
    child = _bound.get(key)
    if child is None:
        child = _bound[key] = metric.labels(*labels)
    return child


# --- counting: never raises (a phone gets its file whatever happens to a count) ----------------


def phone_request(kind: str, outcome: str, seconds: float) -> None:
    if not settings.METRICS_ENABLED:
        return
    try:
        _child(PHONE_REQUESTS, kind, outcome).inc()
        _child(PHONE_SECONDS, kind).observe(seconds)
    except Exception:
        logger.exception("metrics: a phone request was not counted")


def config_cache(kept: str, hit: bool) -> None:
    if not settings.METRICS_ENABLED:
        return
    try:
        _child(CONFIG_CACHE, kept, "hit" if hit else "miss").inc()
    except Exception:
        logger.exception("metrics: a cache lookup was not counted")


def throttled(limit: str) -> None:
    _count(THROTTLED, 1, limit)


def access_log_backlog(rows: int) -> None:
    if settings.METRICS_ENABLED:
        try:
            ACCESS_LOG_BACKLOG.set(rows)
        except Exception:
            logger.exception("metrics: the access-log backlog was not set")


def access_log_not_written(rows: int, kept_in: str) -> None:
    _count(ACCESS_LOG_NOT_WRITTEN, rows, kept_in)


def rps_sync_finished(state: str, devices: dict[str, int], finished_at: float) -> None:
    _count(RPS_RUNS, 1, state)
    for result, count in devices.items():
        _count(RPS_DEVICES, count, result)
    if settings.METRICS_ENABLED:
        RPS_LAST_RUN.set(finished_at)


def _count(metric: Counter, amount: int, *labels: str) -> None:
    if not settings.METRICS_ENABLED:
        return
    try:
        _child(metric, *labels).inc(amount)
    except Exception:
        logger.exception("metrics: %s was not counted", metric._name)


# --- the scrape --------------------------------------------------------------------------------


def exposition() -> bytes:
    """The text of a scrape: every process's counts (or this one's), then the database's."""
    if MULTIPROCESS_DIR:
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted, path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
    else:
        counted = _REGISTRY
    stored = CollectorRegistry()
    stored.register(_FromDatabase())
    return generate_latest(counted) + generate_latest(stored)


def mark_process_dead(pid: int) -> None:
    """A worker stopped (gunicorn's child_exit): its live gauges leave the sums."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(pid, MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]


class _FromDatabase:
    """Firmware rollouts by state, and their phones by rollout state and phone state."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from firmware.models import Rollout, RolloutPhone

        up = GaugeMetricFamily(
            "voipconfig_metrics_database_up", "Whether this scrape could read the database."
        )
        try:
            counts = dict(Rollout.objects.values_list("state").annotate(n=Count("pk")).order_by())
            phones = list(
                RolloutPhone.objects.values_list("rollout__state", "state")
                .annotate(n=Count("pk"))
                .order_by()
            )
        except DatabaseError:
            logger.warning("metrics: the database could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        rollouts = [(state, counts.get(state, 0)) for state in Rollout.State.values]
        yield _family(
            "voipconfig_firmware_rollouts", "Firmware rollouts by state.", ["state"], rollouts
        )
        yield _family(
            "voipconfig_firmware_rollout_phones",
            "Phones of firmware rollouts by the rollout's state and the phone's.",
            ["rollout_state", "state"],
            phones,
        )


def _family(
    name: str, documentation: str, labels: list[str], rows: list[tuple[Any, ...]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for *values, count in rows:
        family.add_metric([str(value) for value in values], count)
    return family
