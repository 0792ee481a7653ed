"""gunicorn configuration for production: `gunicorn -c deploy/gunicorn.conf.py voipconfig.wsgi`.

Behind nginx (deploy/nginx.conf) on the same host. Phone requests are short and CPU-bound
(render a small file, two or three queries), so sync workers, two per core, no threads.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
from pathlib import Path

if os.environ.get("DEBUG", "").lower() in ("1", "true", "yes", "on"):
    raise SystemExit(
        "DEBUG is on: never serve production with DEBUG (unset it in the environment)."
    )

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = 30
# A stopping worker writes its access-log rows for up to ACCESS_LOG_CLOSE_SECONDS (5), then
# leaves the rest in the spool for the next: well within this, so no row waits on a kill.
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then, so a slow leak never grows into an outage.
max_requests = 20000
max_requests_jitter = 2000
# nginx on the same host sets X-Forwarded-For/-Proto; trust them from it only.
forwarded_allow_ips = "127.0.0.1"
# Every phone request is in the access log table already; gunicorn's own would duplicate it.
accesslog = None
errorlog = "-"
loglevel = "warning"


# A worker keeps the phones of whole organisations in memory (devices/serving/cache.py), and
# with Python's default thresholds its collector ran so often over that heap that it cost
# 0.1 ms of each phone request (a tenth of it; bench/boot_storm.py). Young objects are now
# collected every 50,000 allocations instead of 700. GC_THRESHOLD="" keeps Python's default.
GC_THRESHOLD = os.environ.get("GC_THRESHOLD", "50000,50,100")


# Every worker counts its metrics into files here, and a scrape of /metrics adds them up
# (voipconfig/metrics.py): a directory of this server's own, on local disk (tmpfs is best),
# emptied when gunicorn starts. Commands whose counts belong in the metrics (rps_sync) need
# the same PROMETHEUS_MULTIPROC_DIR in their environment. Set in the master before any
# worker starts (and before the app is imported: not with preload_app).


def on_starting(server: object) -> None:
    """The directory, emptied: the counts of a previous run start afresh (Prometheus reads
    the drop as a restart)."""
    import environ

    root = Path(__file__).resolve().parent.parent
    environ.Env.read_env(root / ".env", overwrite=False)  # as the settings read it
    directory = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(root / "var" / "metrics"))
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A worker is gone: its live gauges (the access-log backlog) leave the sums; its
    counters stay in them."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]


def post_fork(server: object, worker: object) -> None:
    if GC_THRESHOLD:
        gc.set_threshold(*(int(part) for part in GC_THRESHOLD.split(",")))


def worker_exit(server: object, worker: object) -> None:
    """A worker stops (restart, deploy, shutdown): write the access-log rows it holds, or
    leave them in the spool for the next worker (devices/serving/access_log.py)."""
    from devices.serving import close_access_log

    close_access_log()
