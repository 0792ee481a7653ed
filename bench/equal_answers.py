"""Equal answers: an unknown MAC costs what a known one does (issue 14, part 10).

    .venv/bin/python bench/equal_answers.py [--requests 1000] [options]

Starts gunicorn as production runs it (the boot storm's server: deploy/gunicorn.conf.py,
PostgreSQL, Redis) with throttling off for the run (THROTTLE_ENABLED=false: it sends
thousands of wrong passwords), on an installation built as the boot storm builds it. Then,
one request at a time, it makes real Digest exchanges for a MAC file: a GET without
credentials, whose 401 brings a nonce, then the answer with a wrong password, whose time is
measured (from connecting to the last byte of the 401).

1. The same MAC over and over: a known MAC and an unknown one, interleaved (ABBA), --requests
   each, once with the phone's own user name (the MAC) and once with its organisation's. This
   is what part 10 asks: both are kept by then in every worker, so their answers must cost
   the same.
2. Distinct MACs, each asked once, --requests known and as many unknown, interleaved, right
   after a new config version (no process keeps anything): what someone trying MACs one after
   another sees, the first request for each MAC in a process. A known MAC is then mostly
   kept already, since a worker reads a phone's whole organisation with the first of its
   phones it is asked for (that one request pays for it); an unknown MAC is looked for in the
   database every time.

Every answer must be the same apart from its nonce (and the Date header, the clock's): the
status, every header line and the body are compared, and the script exits non-zero when they
differ. Prints, per part, the median and p90 of each, the difference of the medians and a
bootstrap 95 % interval of it (an interval around 0: within noise); --json writes the same.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import boot_storm  # noqa: E402  # after the path: run as a script

WRONG_PASSWORD = "not-the-password-0123456"
REPEATED_UNKNOWN = "805ec3000000"  # bench phones are 805ec1…, demo phones 805ec0…
DISTINCT_UNKNOWN = "805ec2{:06x}"
NONCE = re.compile(r'nonce="[^"]*"')
BOOTSTRAP_ROUNDS = 2000


# --- one exchange -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]  # every line, in order, names lower-cased
    body: bytes
    seconds: float

    def challenge(self) -> str:
        return next(value for name, value in self.headers if value.startswith("Digest "))

    def shape(self) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        """What must be the same for every wrong password: all of it but nonce and Date."""
        lines = tuple(
            (name, NONCE.sub('nonce="…"', value)) for name, value in self.headers if name != "date"
        )
        return self.status, lines, self.body


def get(port: int, path: str, headers: dict[str, str]) -> Answer:
    """One GET on a connection of its own, as a phone makes it; timed to the last byte."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = _read_all(sock)
    seconds = time.perf_counter() - started
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = tuple(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    return Answer(int(status_line.split()[1]), parsed, body, seconds)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def wrong_password(port: int, mac: str, username: str) -> Answer:
    """The 401 for `mac`'s MAC file, then the answer to it with `username` and a wrong
    password: the answer is returned."""
    path = f"/{mac}.cfg"
    agent = {"User-Agent": boot_storm._agent({"mac": mac, "model": "T54W"})}
    challenge = get(port, path, agent)
    if challenge.status != 401:
        raise SystemExit(f"{path} without credentials got {challenge.status}, not 401")
    digest = boot_storm.Digest(
        {"user": username, "password": WRONG_PASSWORD}, challenge.challenge()
    )
    return get(port, path, {**agent, "Authorization": digest.header(path)})


# --- the parts --------------------------------------------------------------------------------

Ask = tuple[str, str]  # (MAC, user name)


def interleaved(port: int, known: list[Ask], unknown: list[Ask]) -> dict[str, list[Answer]]:
    """Known and unknown in turns, each pair in the other order than the last (ABBA), so that
    a drift of the machine's speed falls on both alike."""
    answers: dict[str, list[Answer]] = {"known": [], "unknown": []}
    for n, pair in enumerate(zip(known, unknown, strict=True)):
        order = (("known", pair[0]), ("unknown", pair[1]))
        for which, (mac, username) in order if n % 2 == 0 else reversed(order):
            answers[which].append(wrong_password(port, mac, username))
    return answers


def same_mac(port: int, phone: dict, own: bool, requests: int) -> dict[str, list[Answer]]:
    """The same known and the same unknown MAC, `requests` times each, after a warm-up that
    lets every worker keep both. Own: each MAC is its user name; else the organisation's."""
    organisation = phone["organisation_user"]
    known = (phone["mac"], phone["mac"] if own else organisation)
    unknown = (REPEATED_UNKNOWN, REPEATED_UNKNOWN if own else organisation)
    warm = min(requests, 50)
    interleaved(port, [known] * warm, [unknown] * warm)
    return interleaved(port, [known] * requests, [unknown] * requests)


def distinct_macs(port: int, phones: list[dict], own: bool, offset: int) -> dict[str, list[Answer]]:
    """Each of `phones` once and as many MACs nobody has, once each, right after a new
    config version: the organisation's user name is the known phone's organisation's."""
    from devices.serving import cache

    cache.bump()  # every process forgets what it kept (its subscription tells it at once)
    time.sleep(0.2)
    known = [(p["mac"], p["mac"] if own else p["organisation_user"]) for p in phones]
    macs = [DISTINCT_UNKNOWN.format(offset + n) for n in range(len(phones))]
    unknown = [(mac, mac if own else user) for mac, (_, user) in zip(macs, known, strict=True)]
    return interleaved(port, known, unknown)


# --- figures ----------------------------------------------------------------------------------


def figures(answers: dict[str, list[Answer]]) -> dict:
    known = [a.seconds * 1000 for a in answers["known"]]
    unknown = [a.seconds * 1000 for a in answers["unknown"]]
    low, high = _difference_interval(known, unknown)
    return {
        "requests": len(known),
        "known": _spread(known),
        "unknown": _spread(unknown),
        "difference_ms": round(statistics.median(unknown) - statistics.median(known), 3),
        "difference_interval_ms": [round(low, 3), round(high, 3)],
        **_compared(answers),
    }


def _compared(answers: dict[str, list[Answer]]) -> dict:
    """Whether every answer, known or unknown, is the same apart from nonce and Date; the
    different answers (the first four), to show."""
    everything = [answer for side in answers.values() for answer in side]
    shapes = sorted({answer.shape() for answer in everything})
    return {
        "identical": len(shapes) == 1,
        "statuses": sorted({answer.status for answer in everything}),
        "answers": [_describe(shape) for shape in shapes[:4]],
    }


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def _difference_interval(known: list[float], unknown: list[float]) -> tuple[float, float]:
    """95 % bootstrap interval of median(unknown) - median(known)."""
    rng = random.Random(14)  # noqa: S311  # resampling figures, not a secret
    diffs = sorted(
        statistics.median(rng.choices(unknown, k=len(unknown)))
        - statistics.median(rng.choices(known, k=len(known)))
        for _ in range(BOOTSTRAP_ROUNDS)
    )
    return diffs[int(0.025 * len(diffs))], diffs[int(0.975 * len(diffs)) - 1]


def _describe(shape: tuple[int, tuple[tuple[str, str], ...], bytes]) -> dict:
    status, lines, body = shape
    return {"status": status, "headers": [f"{n}: {v}" for n, v in lines], "body": body.decode()}


def print_part(title: str, result: dict) -> None:
    known, unknown = result["known"], result["unknown"]
    low, high = result["difference_interval_ms"]
    verdict = "within noise" if low <= 0 <= high else "beyond noise"
    print(f"\n{title}: {result['requests']:,} answers each, ms")
    print(f"  {'':8} {'median':>8} {'p90':>8} {'max':>8}")
    for name, spread in (("known", known), ("unknown", unknown)):
        print(
            f"  {name:8} {spread['median_ms']:8.3f} {spread['p90_ms']:8.3f} {spread['max_ms']:8.2f}"
        )
    print(
        f"  unknown - known, medians: {result['difference_ms']:+.3f} ms "
        f"(95 % interval {low:+.3f} to {high:+.3f}: {verdict})"
    )
    if result["identical"]:
        answer = result["answers"][0]
        print(
            f"  answers identical apart from the nonce and Date: {answer['status']}, "
            f"{len(answer['headers'])} header lines, {len(answer['body'])}-byte body"
        )
    else:
        print(f"  ANSWERS DIFFER ({len(result['answers'])} shown):")
        for shape in result["answers"]:
            print(f"    {shape}")


# --- main -------------------------------------------------------------------------------------


def reachable_or_exit(database_url: str, cache_url: str) -> None:
    """A readable reason, and a non-zero exit, when PostgreSQL or Redis cannot be reached."""
    import psycopg
    import redis

    server = database_url.rsplit("/", 1)[0].replace("postgres://", "postgresql://")
    try:
        psycopg.connect(server + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL is unreachable at {server}: {exc}".strip()) from None
    try:
        redis.Redis.from_url(cache_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is unreachable at {cache_url}: {exc}") from None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Equal answers benchmark (see the module doc).")
    parser.add_argument("--requests", type=int, default=1000, help="answers per MAC and part")
    parser.add_argument("--organisations", type=int, default=4)
    parser.add_argument("--phones", type=int, help="default: twice --requests (distinct MACs)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: two per core)")
    parser.add_argument("--database-url", help="default: a database named after the size")
    parser.add_argument("--cache-url", default=boot_storm.BENCH_ENV["CACHE_URL"], help="Redis")
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    args.phones = args.phones or 2 * args.requests
    if args.phones < 2 * args.requests:
        parser.error("--phones must be at least twice --requests (each known MAC asked once)")
    return args


def measure(port: int, phones: list[dict], requests: int) -> dict[str, dict]:
    phone = phones[0]
    return {
        "same MAC, the phone's own user name": figures(
            same_mac(port, phone, own=True, requests=requests)
        ),
        "same MAC, the organisation's user name": figures(
            same_mac(port, phone, own=False, requests=requests)
        ),
        "distinct MACs, each asked once, own user name": figures(
            distinct_macs(port, phones[:requests], own=True, offset=0)
        ),
        "distinct MACs, each asked once, organisation's user name": figures(
            distinct_macs(port, phones[requests : 2 * requests], own=False, offset=requests)
        ),
    }


def main() -> None:
    args = parse_args()
    url = args.database_url or (
        "postgres://postgres@127.0.0.1:5432/"
        f"voipconfig_equal_answers_{args.organisations}x{args.phones}"
    )
    reachable_or_exit(url, args.cache_url)
    env = {"CACHE_URL": args.cache_url, "THROTTLE_ENABLED": "false"}
    boot_storm.setup_django(url, args.rebuild, env)
    phones = boot_storm.build_installation(args.organisations, args.phones)
    from django.db import connection

    connection.close()
    server, port = boot_storm.start_server(url, args.workers, env)
    try:
        results = measure(port, phones, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for title, result in results.items():
        print_part(title, result)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    sys.stdout.flush()  # the figures before any reason to fail
    _exit_unless_equal(results)


def _exit_unless_equal(results: dict[str, dict]) -> None:
    wrong = [title for title, result in results.items() if result["statuses"] != [401]]
    if wrong:
        raise SystemExit(f"answers other than 401 in: {', '.join(wrong)}")
    differ = [title for title, result in results.items() if not result["identical"]]
    if differ:
        raise SystemExit(
            f"known and unknown MACs were answered differently in: {', '.join(differ)}"
        )


if __name__ == "__main__":
    main()
