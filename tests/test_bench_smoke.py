"""The boot-storm benchmark still runs end to end (a tiny installation, against PostgreSQL):
every request answered as a phone expects and every access-log row written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the benchmark smoke test: {exc}")
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")


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
