"""Redis faults under load, against the real server (issue 15, part 2).

    .venv/bin/python bench/redis_faults.py [--hung-seconds 35] [--stopped-seconds 20]

Starts its own redis-server on a spare port (default 6390; the shared one is not touched),
gunicorn as production runs it (deploy/gunicorn.conf.py) against PostgreSQL and that Redis,
and phones fetching their MAC files with their own credentials, without pause, through
these phases:

    normal     Redis up
    hung       Redis SIGSTOPped (what the fault test did for 35 s)
    recovered  SIGCONT
    stopped    Redis shut down
    back       Redis started again

Two seconds into the hung and the stopped phase a change is made as the admin makes it (a
SIP password saved in a transaction, from this process, with the server's settings): whether
it commits, how long the save took, and how long until every worker serves it (watched on
into the next phases: the stopped phase outlasts CONFIG_CACHE_MAX_AGE_SECONDS). /healthz
is asked at the end of each phase. Prints per phase: requests answered (200), errors, req/s,
p50/p99 and worst latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.boot_storm import (  # noqa: E402
    _basic_headers,
    _get,
    build_installation,
    setup_django,
    start_server,
)


class Redis:
    """A redis-server of our own, to stop, hang and start at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        time.sleep(0.5)

    def hang(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on TERM
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Phase:
    def __init__(self, name: str) -> None:
        self.name = name
        self.latencies: list[float] = []
        self.errors = 0
        self.samples: list[str] = []
        self.started = time.monotonic()
        self.seconds = 0.0
        self.notes: dict[str, object] = {}

    def figures(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

        answered = len(ordered) - self.errors
        return {
            "phase": self.name,
            "seconds": round(self.seconds, 1),
            "answered": answered,
            "errors": self.errors,
            "per_s": round(answered / self.seconds, 1) if self.seconds else 0,
            "p50_ms": pct(0.5) if ordered else 0,
            "p99_ms": pct(0.99) if ordered else 0,
            "worst_ms": round(ordered[-1] * 1000, 1) if ordered else 0,
            **self.notes,
        }


class Load:
    """Phones fetching their MAC files, `concurrency` at a time, counted into `phase`."""

    def __init__(self, port: int, phones: list[dict], concurrency: int) -> None:
        self.port, self.phones, self.concurrency = port, phones, concurrency
        self.phase = Phase("warm-up")
        self.running = True

    async def run(self) -> None:
        await asyncio.gather(*(self._phone(n) for n in range(self.concurrency)))

    async def _phone(self, n: int) -> None:
        index = n
        while self.running:
            phone = self.phones[index % len(self.phones)]
            index += self.concurrency
            phase, started = self.phase, time.monotonic()
            try:
                status, _, _ = await asyncio.wait_for(
                    _get(self.port, f"/{phone['mac']}.cfg", _basic_headers(phone)), 60
                )
                detail = str(status)
            except Exception as error:  # a refused or timed-out request is an error too
                status, detail = 0, repr(error)
            phase.latencies.append(time.monotonic() - started)
            if status != 200:
                phase.errors += 1
                if len(phase.samples) < 3:
                    phase.samples.append(detail)


def admin_change(port: int, phone: dict, password: str) -> dict[str, object]:
    """Save a SIP password of `phone` as the admin does (in a transaction), and measure when
    its MAC file shows it."""
    from django.db import transaction

    from devices.models import SipAccount

    started = time.monotonic()
    try:
        with transaction.atomic():
            account = SipAccount.objects.get(device__mac=phone["mac"], index=1)
            account.password = password
            account.save()
        outcome = "committed"
    except Exception as error:
        outcome = f"rolled back: {type(error).__name__}"
    saved = time.monotonic()
    result: dict[str, object] = {"change": outcome, "save_s": round(saved - started, 2)}
    if outcome == "committed":
        result["reached_phone_s"] = _until_served(port, phone, password, saved)
    return result


def _until_served(port: int, phone: dict, password: str, since: float) -> float | None:
    """Seconds until 20 answers in a row show it: the workers take requests in turn, so
    then every one serves it."""
    wanted, in_a_row, first = f"account.1.password = {password}".encode(), 0, since
    while time.monotonic() - since < 150:
        _, _, body = asyncio.run(_get(port, f"/{phone['mac']}.cfg", _basic_headers(phone)))
        if wanted not in body:
            in_a_row = 0
        elif in_a_row == 0:
            in_a_row, first = 1, time.monotonic()
        else:
            in_a_row += 1
        if in_a_row >= 20:
            return round(first - since, 2)
        time.sleep(0.05)
    return None


def healthz(port: int) -> str:
    status, _, body = asyncio.run(_get(port, "/healthz", {}))
    try:
        return f"{status} {json.loads(body).get('status')}"
    except ValueError:
        return str(status)


async def scenario(port: int, phones: list[dict], redis: Redis, args, report: list[dict]):
    load = Load(port, phones[1:], args.concurrency)  # phones[0] is the one changed
    runner = asyncio.create_task(load.run())
    await asyncio.sleep(3)  # warm-up: every worker has its phones
    changes: list[asyncio.Task] = []

    async def phase(name: str, seconds: float, before=None, change: bool = False) -> None:
        if before is not None:
            before()
        load.phase = current = Phase(name)
        if change:  # watched on into the next phases, until every worker serves it
            await asyncio.sleep(2)
            password = f"while-{name}-{time.time():.0f}"
            changes.append(
                asyncio.create_task(asyncio.to_thread(admin_change, port, phones[0], password))
            )
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - current.started)))
        current.notes["healthz"] = await asyncio.to_thread(healthz, port)
        current.seconds = time.monotonic() - current.started
        report.append(current.figures() | {"error_samples": current.samples})

    await phase("normal", args.normal_seconds)
    await phase("hung", args.hung_seconds, before=redis.hang, change=True)
    await phase("recovered", args.normal_seconds, before=redis.resume)
    await phase("stopped", args.stopped_seconds, before=redis.stop, change=True)
    await phase("back", args.normal_seconds, before=redis.start)
    load.running = False
    await runner
    for name, task in zip(("change while hung", "change while stopped"), changes, strict=True):
        report.append({"phase": name, **await task})


def main() -> None:
    parser = argparse.ArgumentParser(description="Redis faults under load (see the module doc).")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/vc_redis")
    parser.add_argument("--phones", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--normal-seconds", type=float, default=10)
    parser.add_argument("--hung-seconds", type=float, default=35)
    parser.add_argument("--stopped-seconds", type=float, default=75)
    parser.add_argument("--max-age", type=int, help="CONFIG_CACHE_MAX_AGE_SECONDS (default 60)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    redis = Redis(args.redis_port)
    redis.start()
    env = {"CACHE_URL": f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"}
    if args.max_age is not None:
        env["CONFIG_CACHE_MAX_AGE_SECONDS"] = str(args.max_age)
    setup_django(args.database_url, env=env)
    phones = build_installation(2, args.phones)
    from django.db import connection

    connection.close()
    server, port = start_server(args.database_url, args.workers, env)
    report: list[dict] = []
    try:
        asyncio.run(scenario(port, phones, redis, args, report))
    finally:
        server.terminate()
        server.wait(timeout=60)
        redis.stop()
    for row in report:
        print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
