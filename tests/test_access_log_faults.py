"""Issue 15, part 1, through the real thing: gunicorn as production runs it, PostgreSQL, the
access-log table locked for seconds under load, every worker replaced (HUP) and one killed
(SIGKILL) meanwhile. Every answer a phone got has its row, once; only the killed worker's last
flush interval may be missing. Runs bench/access_log_faults.py short (its long run's figures
are in docs/performance.md).
"""

from __future__ import annotations

import math
import os

import psycopg
import pytest

from bench import access_log_faults

pytestmark = pytest.mark.own_server

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres_or_skip() -> None:
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the access-log fault test: {error}")
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {error}")


def test_a_locked_access_log_a_restart_and_a_killed_worker_lose_no_answered_row():
    _postgres_or_skip()
    args = access_log_faults.parse(
        [
            "--database",
            f"vc_faults_test_{os.getpid()}",
            "--lock-seconds", "15",
            "--hup-at", "1",
            "--kill-at", "3",
            "--max-stall", "2",
            "--workers", "3",
            "--clients", "4",
            "--after", "2",
            "--settle", "30",
        ]
    )  # fmt: skip

    result = access_log_faults.run(args)

    answers = result["answers"]
    assert answers.get(200, 0) > 50, result  # served before the lock, in its first seconds, after
    assert answers.get(503, 0) > 0, result  # the stall went past ACCESS_LOG_MAX_STALL_SECONDS
    assert result["retry_after"] == ["60"], result
    # What the killed worker took in its last flush interval (0.25 s) at most; nothing twice.
    assert result["answers_without_row"] <= math.ceil(result["rate_per_second"] * 0.25) + 1, result
    assert result["rows_without_answer"] <= result["errors"], result
    assert result["rows_recovered"] > 0, result  # the replaced workers' rows, written by others
    assert result["worker_timeouts"] == 0, result
    assert result["tracebacks"] <= 1, result  # the fault said once, not per answer
