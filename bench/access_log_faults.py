"""The access log under a stalled database, with workers restarted and killed meanwhile.

    .venv/bin/python bench/access_log_faults.py [--lock-seconds 45] [--hup-at 5] [--kill-at 7]

Starts gunicorn as production runs it (deploy/gunicorn.conf.py) against a PostgreSQL database
of its own, with the demo data, and has --clients phones fetch their MAC file without pause
(Digest, as a phone does). Two seconds in it takes

    LOCK TABLE devices_accesslog IN ACCESS EXCLUSIVE MODE

and holds it for --lock-seconds; --hup-at seconds into the lock it sends gunicorn a HUP (every
worker is replaced gracefully), --kill-at seconds in it kills one worker with SIGKILL. After the
lock, the phones go on for a few seconds; then it waits for the rows to arrive and prints what
phones were answered (200, 503) and what the access log holds for them: rows written, rows
recovered from the spool by another process, answers without a row, errors (no answer: the
killed worker's request), and the worst latency. --json prints the same as JSON.

tests/test_access_log_faults.py runs it short; docs/performance.md has a long run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import requests
from requests.auth import HTTPDigestAuth

ROOT = Path(__file__).resolve().parent.parent
UA = {"User-Agent": "Yealink SIP-T54W 96.86.0.100 80:5e:c0:00:00:01"}
MAC = "805ec0000001"


@dataclass
class Answers:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    worst: float = 0.0
    retry_after: set[str] = field(default_factory=set)
    slow: list[tuple[float, float, int | None]] = field(default_factory=list)  # over 2 s
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int | None, seconds: float, retry_after: str | None) -> None:
        with self.lock:
            if seconds > 2:
                self.slow.append((round(time.monotonic() - seconds, 1), round(seconds, 1), status))
            if status is None:
                self.errors += 1
            else:
                self.statuses[status] += 1
            if retry_after:
                self.retry_after.add(retry_after)
            self.worst = max(self.worst, seconds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database(url: str, name: str, drop: bool = False) -> str:
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def _environment(database_url: str, spool: str, args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "voipconfig.settings",  # production's, not the tests'
        "DEBUG": "false",
        "SECRET_KEY": "access-log-faults-secret-key-0123456789-abcdefghijklmnopqrstuv",
        "FIELD_ENCRYPTION_KEYS": "YWNjZXNzLWxvZy1mYXVsdHMtZmllbGQta2V5LTAwMDA=",
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": "600",
        "CACHE_URL": args.cache_url,
        "ACCESS_LOG_FLUSH_SECONDS": str(args.flush_seconds),
        "ACCESS_LOG_SPOOL_DIR": spool,
        "ACCESS_LOG_MAX_STALL_SECONDS": str(args.max_stall),
        "ACCESS_LOG_ADOPT_SECONDS": "2",
        "GUNICORN_WORKERS": str(args.workers),
        "LOG_FAULTS_INTERVAL_SECONDS": "5",
    }


def _phone(base: str, answers: Answers, stop: threading.Event) -> None:
    session = requests.Session()
    session.auth = HTTPDigestAuth("demo", "demo-provisioning")
    while not stop.is_set():
        started = time.monotonic()
        try:
            response = session.get(f"{base}/{MAC}.cfg", headers=UA, timeout=60)
        except requests.RequestException:
            answers.add(None, time.monotonic() - started, None)
            session = requests.Session()
            session.auth = HTTPDigestAuth("demo", "demo-provisioning")
            continue
        answers.add(
            response.status_code, time.monotonic() - started, response.headers.get("Retry-After")
        )
        if response.status_code == 503:
            time.sleep(0.05)  # a phone waits Retry-After; these only do not hammer


def _workers(master: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _rows(url: str, since: datetime) -> Counter[int]:
    query = (
        "SELECT status_code, count(*) FROM devices_accesslog "
        "WHERE mac = %s AND created_at >= %s GROUP BY status_code"
    )
    with psycopg.connect(url) as conn:
        return Counter(dict(conn.execute(query, [MAC, since]).fetchall()))


def _settled(url: str, since: datetime, expected: int, seconds: float) -> Counter[int]:
    """The rows once they stop arriving (or all expected ones are there)."""
    deadline = time.monotonic() + seconds
    last, still = Counter[int](), 0
    while time.monotonic() < deadline:
        rows = _rows(url, since)
        if sum(rows.values()) >= expected:
            return rows
        still = still + 1 if rows == last else 0
        if still >= 8:  # 4 s without a new row, adoption included
            return rows
        last = rows
        time.sleep(0.5)
    return _rows(url, since)


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = _database(args.database_url, args.database)
    spool = tempfile.mkdtemp(prefix="vc-spool-")
    env = _environment(url, spool, args)
    root = Path(args.root)
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=root)
    subprocess.run([*manage, "loaddemo"], env=env, check=True, cwd=root, capture_output=True)
    if args.cache_url.startswith("redis"):
        import redis

        redis.Redis.from_url(args.cache_url).flushdb()
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="vc-faults-", suffix=".log", delete=False)  # noqa: SIM115
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "voipconfig.wsgi"],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base)
        return _scenario(args, url, server, base, Path(log.name))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if not args.keep:
            _database(args.database_url, args.database, drop=True)


def _wait_for(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(base + "/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _scenario(
    args: argparse.Namespace, url: str, server: subprocess.Popen[bytes], base: str, log: Path
) -> dict[str, Any]:
    answers, stop = Answers(), threading.Event()
    since = datetime.now(UTC)
    phones = [
        threading.Thread(target=_phone, args=(base, answers, stop), daemon=True)
        for _ in range(args.clients)
    ]
    for phone in phones:
        phone.start()
    time.sleep(2)
    locker = psycopg.connect(url)
    locker.execute("LOCK TABLE devices_accesslog IN ACCESS EXCLUSIVE MODE")
    locked = time.monotonic()
    events = sorted([(args.hup_at, "hup"), (args.kill_at, "kill")], key=lambda event: event[0] or 0)
    for at, what in events:
        if at is None or at < 0:  # not this time
            continue
        time.sleep(max(0.0, locked + at - time.monotonic()))
        if what == "hup":
            server.send_signal(signal.SIGHUP)
        elif workers := _workers(server.pid):
            os.kill(workers[0], signal.SIGKILL)
    time.sleep(max(0.0, locked + args.lock_seconds - time.monotonic()))
    locker.rollback()
    locker.close()
    time.sleep(args.after)
    stop.set()
    for phone in phones:
        phone.join(timeout=70)
    answered = answers.statuses[200] + answers.statuses[503]
    rows = _settled(url, since, answered, args.settle)
    text = log.read_text(errors="replace")
    recovered = sum(int(n) for n in re.findall(r"took over (\d+) row", text))
    return {
        "answers": dict(answers.statuses),
        "answered": answered,
        "errors": answers.errors,
        "worst_latency_seconds": round(answers.worst, 2),
        "slow": [(round(at - locked, 1), took, status) for at, took, status in answers.slow],
        "retry_after": sorted(answers.retry_after),
        "rows": dict(rows),
        "rows_written": sum(rows.values()),
        "rows_recovered": recovered,
        "answers_without_row": max(0, answers.statuses[200] - rows[200])
        + max(0, answers.statuses[503] - rows[503]),
        "rows_without_answer": max(0, rows[200] - answers.statuses[200])
        + max(0, rows[503] - answers.statuses[503]),
        "worker_timeouts": text.count("WORKER TIMEOUT"),
        "tracebacks": text.count("Traceback"),
        "log_bytes": len(text),
        "rate_per_second": round(answered / (time.monotonic() - locked + 2), 1),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip())
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default=f"vc_faults_{os.getpid()}")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--lock-seconds", type=float, default=45)
    parser.add_argument("--hup-at", type=float, default=5, help="seconds into the lock; -1: none")
    parser.add_argument("--kill-at", type=float, default=None, help="SIGKILL a worker then")
    parser.add_argument("--max-stall", type=float, default=15)
    parser.add_argument("--flush-seconds", type=float, default=0.25)
    parser.add_argument("--after", type=float, default=3, help="seconds of load after the lock")
    parser.add_argument("--settle", type=float, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--root", default=str(ROOT), help="the checkout to serve (to compare)")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result.items():
        print(f"{name:>24}: {value}")


if __name__ == "__main__":
    main()
