"""The benchmarks still run end to end (tiny installations, against PostgreSQL and Redis): the
boot storm answers every request as a phone expects and writes every access-log row; the
equal-answers benchmark answers known and unknown MACs alike."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.own_server  # the benchmarks start gunicorn on their own database

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        _skip_unless_ci(f"no PostgreSQL at 127.0.0.1:5432: {exc}")


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        _skip_unless_ci(f"no Redis at 127.0.0.1:6379: {exc}")


def _skip_unless_ci(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the benchmark smoke tests: {reason}")
    pytest.skip(reason)


def test_the_boot_storm_benchmark_runs_and_loses_no_row(tmp_path):
    _postgres_or_skip()
    result_file = tmp_path / "result.json"
    database = f"voipconfig_bench_smoke_{os.getpid()}"
    command = [
        sys.executable,
        "bench/boot_storm.py",
        "--organisations=2",
        "--phones=30",
        "--ratio-requests=10",
        "--concurrency=8",
        f"--database-url=postgres://postgres@127.0.0.1:5432/{database}",
        "--rebuild",
        f"--json={result_file}",
        "--compare-metrics",
        "--metrics-requests=16",
    ]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                f"DROP DATABASE IF EXISTS {database}",
            ],
            capture_output=True,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())

    assert result["storm"]["overall"]["requests"] == 30 * 8
    assert result["storm"]["overall"]["errors"] == 0
    assert result["next_round"]["overall"]["errors"] == 0
    assert result["mac_file_first_request"]["errors"] == 0
    assert result["mac_file_in_round"]["errors"] == 0
    assert result["access_log_rows_written"] == result["access_log_rows_expected"] == 2 * 30 * 7
    assert "authenticated MAC file / trivial view throughput" in done.stdout
    assert "CPU per request, microseconds, by process" in done.stdout
    for kind in ("trivial", "MAC file, round"):
        spent = result["cpu_us_per_request"][kind]
        assert {"workers", "postgresql", "redis", "load generator", "kernel"} <= spent.keys()
        assert all(us >= 0 for us in spent.values())
    metrics = result["metrics_cpu_us_per_mac_file"]  # beside a server without them
    assert {"workers", "postgresql"} <= metrics["with metrics"].keys()
    assert {"workers", "postgresql"} <= metrics["without metrics"].keys()
    assert metrics["errors"] == 0
    assert "with metrics; 0 errors" in done.stdout


def _equal_answers_database() -> str:
    """Kept between runs, so that the test takes seconds, not a fresh migration's ten: named
    after the migrations' contents, so a schema of another branch or edit gets its own."""
    digest = hashlib.sha256()
    for migration in sorted(ROOT.glob("*/migrations/0*.py")):
        digest.update(migration.read_bytes())
    return f"voipconfig_bench_smoke_equal_answers_{digest.hexdigest()[:10]}"


EQUAL_ANSWERS_PARTS = {
    "same MAC, the phone's own user name",
    "same MAC, the organisation's user name",
    "distinct MACs, each asked once, own user name",
    "distinct MACs, each asked once, organisation's user name",
}


def test_the_equal_answers_benchmark_answers_known_and_unknown_macs_alike(tmp_path):
    _postgres_or_skip()
    _redis_or_skip()
    result_file = tmp_path / "result.json"
    command = [
        sys.executable,
        "bench/equal_answers.py",
        "--requests=5",
        "--organisations=1",
        "--workers=1",
        f"--database-url=postgres://postgres@127.0.0.1:5432/{_equal_answers_database()}",
        f"--json={result_file}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert set(result) == EQUAL_ANSWERS_PARTS
    for part in result.values():
        assert part["requests"] == 5
        assert part["statuses"] == [401]
        assert part["identical"] is True
        assert part["known"]["median_ms"] > 0
        assert part["unknown"]["median_ms"] > 0
    assert done.stdout.count("unknown - known, medians") == 4


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        ("--database-url=postgres://postgres@127.0.0.1:1/nothing", "PostgreSQL is unreachable"),
        ("--cache-url=redis://127.0.0.1:1/0", "Redis is unreachable"),
    ],
)
def test_the_equal_answers_benchmark_says_what_it_cannot_reach(option, reason):
    if option.startswith("--cache-url"):
        _postgres_or_skip()  # checked first
    command = [sys.executable, "bench/equal_answers.py", "--requests=1", option]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert reason in done.stderr
    assert "Traceback" not in done.stderr


def test_the_firmware_benchmark_downloads_beside_provisioning_in_both_deliveries(tmp_path):
    from bench import nginx

    _postgres_or_skip()
    _redis_or_skip()
    if nginx.binary() is None:
        _skip_unless_ci("nginx is not installed (apt-get install nginx-light)")
    result_file = tmp_path / "result.json"
    database = _equal_answers_database().replace("equal_answers", "firmware")
    command = [
        sys.executable,
        "bench/firmware_bench.py",
        "--organisations=2",
        "--phones=30",
        "--image-mb=2",
        "--downloads=3",
        "--seconds=1",
        "--workers=2",
        "--nginx-workers=1",
        f"--database-url=postgres://postgres@127.0.0.1:5432/{database}",
        f"--json={result_file}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert set(result["deliveries"]) == {"nginx", "stream"}
    for delivery, parts in result["deliveries"].items():
        alone, during = parts["rounds_alone"], parts["rounds_during_downloads"]
        assert alone["requests"] > 0 and alone["errors"] == 0, alone["error_samples"]
        assert during["errors"] == 0, during["error_samples"]
        assert during["download_statuses"] == {"200": 3}
        assert during["downloads_complete"] == 3
        assert len(during["gunicorn_worker_peak_mb"]) == 2
        assert (during["nginx_peak_mb"] is not None) == (delivery == "nginx")
    assert "FIRMWARE_DELIVERY=stream" in done.stdout
