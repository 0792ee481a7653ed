"""Hang Redis (SIGSTOP) and stop it under a running gunicorn, phones fetching all the while
(bench/redis_faults.py, tiny): no phone gets an error or waits seconds, /healthz says
degraded, and a change made meanwhile commits and reaches every worker within
CONFIG_CACHE_MAX_AGE_SECONDS. A redis-server of its own, on a free port, so nothing else
is touched. Needs redis-server and PostgreSQL; CI has both."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bench_smoke import _postgres_or_skip

pytestmark = pytest.mark.own_server

ROOT = Path(__file__).resolve().parent.parent
MAX_AGE = 5


def _redis_server_or_skip() -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the Redis outage test: redis-server is not installed")
        pytest.skip("redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database() -> str:
    """Kept between runs (a fresh migration takes longer than the test), named after the
    migrations, so another schema gets its own."""
    digest = hashlib.sha256()
    for migration in sorted(ROOT.glob("*/migrations/0*.py")):
        digest.update(migration.read_bytes())
    return f"voipconfig_bench_smoke_redis_faults_{digest.hexdigest()[:10]}"


@pytest.fixture(scope="module")
def phases(tmp_path_factory):
    _postgres_or_skip()
    _redis_server_or_skip()
    result_file = tmp_path_factory.mktemp("redis-faults") / "result.json"
    command = [
        sys.executable,
        "bench/redis_faults.py",
        f"--redis-port={_free_port()}",
        f"--database-url=postgres://postgres@127.0.0.1:5432/{_database()}",
        "--phones=20",
        "--concurrency=8",
        "--workers=2",
        "--normal-seconds=2",
        "--hung-seconds=4",
        f"--stopped-seconds={MAX_AGE + 4}",
        f"--max-age={MAX_AGE}",
        f"--json={result_file}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {row["phase"]: row for row in json.loads(result_file.read_text())}


def test_phones_get_no_error_while_redis_is_hung_or_stopped(phases):
    for name in ("normal", "hung", "recovered", "stopped", "back"):
        assert phases[name]["errors"] == 0, phases[name]["error_samples"]
        assert phases[name]["answered"] > 0


def test_a_hung_redis_makes_no_phone_wait_seconds(phases):
    # Without timeouts a request waited 5 s per Redis call, 10 s and more in all.
    assert phases["hung"]["worst_ms"] < 3000


def test_healthz_says_degraded_while_redis_is_away(phases):
    assert phases["normal"]["healthz"] == "200 ok"
    assert phases["hung"]["healthz"] == "200 degraded"
    assert phases["stopped"]["healthz"] == "200 degraded"
    assert phases["back"]["healthz"] == "200 ok"


def test_a_change_made_while_redis_is_stopped_commits_and_reaches_every_worker(phases):
    change = phases["change while stopped"]

    assert change["change"] == "committed"
    assert change["save_s"] < 1
    assert change["reached_phone_s"] is not None
    assert change["reached_phone_s"] < MAX_AGE + 2  # Redis is still away: by age alone


def test_a_change_made_while_redis_is_hung_commits(phases):
    change = phases["change while hung"]

    assert change["change"] == "committed"
    assert change["reached_phone_s"] is not None
