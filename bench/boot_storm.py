"""Boot storm: every phone of an installation provisions at once, against the real server.

    make bench                       # or: .venv/bin/python bench/boot_storm.py [options]

Starts gunicorn as production runs it (deploy/gunicorn.conf.py: sync workers, two per core)
against PostgreSQL, builds an installation (default 20 organisations under one provider
settings profile, 10,000 phones with two SIP accounts and 10 line keys each, a 500-contact
phonebook and a wallpaper per organisation, a softkey file and a CA certificate), then
plays each phone's full round as a phone does it from its second round on, with its own
credentials (its MAC and its password, read once, decrypted, while the phones are listed):
boot file (401, then Digest), common file, MAC file; then, at the URLs that MAC file gives,
its phonebook and wallpaper (under the phone's resource token: no auth exchange), the softkey
XML and the CA certificate (public).

In the same run, on the same server, it measures a trivial view (the ceiling of this stack on
this machine) and authenticated MAC-file requests alone, so the result is a ratio that holds
on any machine: each phone's MAC file as the first request anyone makes for it, and, for
other phones, as within a round: after the phone's boot file, so that it finds what a
server process loaded for the phone. Prints per request kind and
overall: requests/s, p50/p95/p99, errors, SQL queries per request, the server's peak memory;
--json writes the same as JSON.

What the metrics cost (voipconfig/metrics.py): with --compare-metrics a second server runs
beside the first with METRICS_ENABLED=false, idle but for its own turns in the same slices
(which server goes first alternates), so worker CPU per MAC file with and without metrics
comes from one run, moments apart; --no-metrics runs the one server without them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DEBUG": "false",
    "SECRET_KEY": "boot-storm-benchmark-secret-key-0123456789-abcdefghijklmnop",
    "FIELD_ENCRYPTION_KEYS": "Ym9vdC1zdG9ybS1iZW5jaG1hcmstZmllbGQta2V5ISE=",
    "ALLOWED_HOSTS": "127.0.0.1",
    "CACHE_URL": "redis://127.0.0.1:6379/14",
    "CONN_MAX_AGE": "600",
    "PROVISIONING_URL": "http://127.0.0.1:8000/",
    "LOG_LEVEL": "WARNING",
}
MODELS = [("T54W", "96.86.0.100"), ("T46U", "108.86.0.20"), ("T57W", "97.86.0.100")]
CONTACTS_PER_BOOK = 500
KEYS_PER_PHONE = 10
RATIO_SLICES = 4
METRICS_TURNS = 8  # with and without metrics, alternately (--compare-metrics)
Request = tuple[str, dict[str, str]]  # path, headers


# --- the installation -----------------------------------------------------------------------


def setup_django(
    database_url: str, rebuild: bool = False, env: dict[str, str] | None = None
) -> None:
    """Create the database unless it exists (afresh with `rebuild`) and set Django up on it,
    with BENCH_ENV and then `env` in the environment."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    server = database_url.rsplit("/", 1)[0].replace("postgres://", "postgresql://")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and rebuild:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or rebuild:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(BENCH_ENV, DATABASE_URL=database_url, **(env or {}))
    import django

    django.setup()


def build_installation(organisations: int, phones: int) -> list[dict]:
    """Create the installation unless it is there already; return each phone's identity and
    its own credentials (`user`, `password`), and its organisation's user name."""
    from django.core.management import call_command

    from devices.models import Device

    call_command("migrate", verbosity=0)
    if Device.objects.filter(label="bench").count() != phones:
        started = time.perf_counter()
        _create(organisations, phones)
        print(
            f"built {organisations} organisations, {phones:,} phones "
            f"in {time.perf_counter() - started:.0f} s"
        )
    _add_keys_and_profile()
    return [
        {"mac": mac, "model": model, "user": mac, "password": password, "organisation_user": org}
        for mac, model, password, org in _phones()
    ]


def _create(organisations: int, phones: int) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from devices.models import Device, SipAccount
    from media_assets.demo import logo_png
    from media_assets.models import OrganisationMedia, Wallpaper
    from media_assets.validation import inspect_image
    from organisations.models import Organisation
    from phonebooks.models import Contact, Phonebook
    from phonebooks.render import refresh_size

    call_command("loaddemo", verbosity=0, stdout=open(os.devnull, "w"))  # softkeys, the CA  # noqa: SIM115
    if Organisation.objects.filter(slug__startswith="bench-").exists():
        raise SystemExit("This database holds an installation of another size: use --rebuild.")
    with transaction.atomic():
        orgs = Organisation.objects.bulk_create(
            Organisation(
                name=f"Bench {n}",
                slug=f"bench-{n}",
                provisioning_username=f"bench{n}",
                provisioning_password=f"bench-password-{n}",
                sip_server_host=f"sip{n}.bench.example",
            )
            for n in range(organisations)
        )
        data = logo_png("bench", (0.3, 0.6, 1))
        info = inspect_image(data)
        for org in orgs:
            wallpaper = Wallpaper(
                organisation=org, name="logo.png", width=info.width, height=info.height
            )
            wallpaper.set_content(data, info.content_type)
            wallpaper.save()
            OrganisationMedia.objects.create(
                organisation=org, wallpaper=wallpaper, custom_softkeys_enabled=True
            )
            book = Phonebook.objects.create(organisation=org, name="Everyone", title="Everyone")
            Contact.objects.bulk_create(
                Contact(
                    phonebook=book,
                    name=f"Colleague {c:03d}",
                    group=f"Team {c % 10}",
                    number_1=f"+3120{c:07d}",
                )
                for c in range(CONTACTS_PER_BOOK)
            )
            refresh_size(book)
        devices = Device.objects.bulk_create(
            Device(
                organisation=orgs[n % organisations],
                mac=f"805ec1{n:06x}",
                model=MODELS[n % len(MODELS)][0],
                label="bench",
            )
            for n in range(phones)
        )
        SipAccount.objects.bulk_create(
            SipAccount(
                device=device, index=line, user_name=f"{n}{line}", password=f"sip-{n}-{line}"
            )
            for n, device in enumerate(devices)
            for line in (1, 2)
        )


def _add_keys_and_profile() -> None:
    """A provider settings profile on every organisation and KEYS_PER_PHONE line keys on
    every phone (added to an installation built before they existed)."""
    from django.db import transaction

    from devices.models import Device, KeyType, LineKey
    from organisations.models import Organisation, SettingsProfile

    bench = Device.objects.filter(label="bench")
    if LineKey.objects.filter(device__label="bench").exists():
        return
    started = time.perf_counter()
    with transaction.atomic():
        profile, _ = SettingsProfile.objects.get_or_create(
            name="Bench provider",
            defaults={"srtp": 1, "codecs": "g722,pcma,opus", "vlan_enabled": True, "vlan_id": 20},
        )
        Organisation.objects.filter(slug__startswith="bench-").update(profile=profile)
        LineKey.objects.bulk_create(
            (
                LineKey(
                    device_id=pk,
                    position=position,
                    type=KeyType.BLF,
                    value=f"{1000 + position}",
                    label=f"Colleague {position}",
                )
                for pk in bench.values_list("pk", flat=True).iterator()
                for position in range(3, 3 + KEYS_PER_PHONE)
            ),
            batch_size=5000,
        )
    print(
        f"added the profile and {KEYS_PER_PHONE} keys per phone in "
        f"{time.perf_counter() - started:.0f} s"
    )


def _phones():
    """(MAC, model, own password, organisation user name) of every bench phone. The password
    is decrypted as the column is read, one token per phone; the rest of the row (the
    encrypted last config, the organisation's password) is not read at all."""
    from devices.models import Device

    return (
        Device.objects.filter(label="bench")
        .order_by("mac")
        .values_list("mac", "model", "provisioning_password", "organisation__provisioning_username")
        .iterator(chunk_size=2000)
    )


def queries_per_request(phone: dict) -> dict[str, int]:
    """SQL statements per request kind, counted in-process with the same code."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    counts, mac_file = {}, b""
    for kind, path in _authenticated_steps(phone)[1:]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(
                path, HTTP_USER_AGENT=_agent(phone), HTTP_AUTHORIZATION=_basic(phone)
            )
        counts[kind] = len(captured.captured_queries)
        mac_file = response.content if kind == "MAC file" else mac_file
    for kind, found in resource_paths(phone, mac_file):
        if found is None:
            raise SystemExit(f"the MAC file of {phone['mac']} gives no {kind} URL with its token")
        with CaptureQueriesContext(connection) as captured:
            client.get(found, HTTP_USER_AGENT=_agent(phone))
        counts[kind] = len(captured.captured_queries)
    with CaptureQueriesContext(connection) as captured:
        client.get("/bench/trivial")
    counts["trivial"] = len(captured.captured_queries)
    return counts


def _basic_headers(phone: dict) -> dict[str, str]:
    return {"User-Agent": _agent(phone), "Authorization": _basic(phone)}


def _basic(phone: dict) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{phone['user']}:{phone['password']}".encode()).decode()


# --- the phones -----------------------------------------------------------------------------


def _agent(phone: dict) -> str:
    firmware = dict(MODELS)[phone["model"]]
    mac = ":".join(phone["mac"][i : i + 2] for i in range(0, 12, 2))
    return f"Yealink SIP-{phone['model']} {firmware} {mac}"


def _authenticated_steps(phone: dict) -> list[tuple[str, str]]:
    """The first half of a round: the boot file's 401 (its nonce), then what the phone asks
    for with its credentials."""
    code = int(dict(MODELS)[phone["model"]].split(".")[0])
    return [
        ("boot (401)", f"/{phone['mac']}.boot"),
        ("boot", f"/{phone['mac']}.boot"),
        ("common file", f"/y{code:012d}.cfg"),
        ("MAC file", f"/{phone['mac']}.cfg"),
    ]


# The second half: what the MAC file points to, by the key that gives its URL. The phonebook
# and the wallpaper must be under the phone's resource token (/p/<mac>/<token>/<name>).
RESOURCE_KEYS = {
    "phonebook": b"remote_phonebook.data.1.url",
    "wallpaper": b"wallpaper_upload.url",
    "softkey XML": b"custom_softkey_call_in.url",
    "CA certificate": b"static.trusted_certificates.url",
}
TOKEN_KINDS = ("phonebook", "wallpaper")


def resource_paths(phone: dict, mac_file: bytes) -> list[tuple[str, str | None]]:
    """(kind, path) of each resource at the URL the MAC file gives (on whatever host and port
    the bench's server has); None when the file gives none, or none under the token."""
    paths: list[tuple[str, str | None]] = []
    for kind, key in RESOURCE_KEYS.items():
        url = _value(mac_file, key)
        path = urlsplit(url.decode("latin-1")).path if url else None
        if path and kind in TOKEN_KINDS and not path.startswith(f"/p/{phone['mac']}/"):
            path = None
        paths.append((kind, path))
    return paths


def _value(config: bytes, key: bytes) -> bytes | None:
    """The value of `key = value` in a config file (bytes.find: the load generator shares
    the cores it measures, and a regular expression over 7.5 KB per round cost 100 µs)."""
    start = config.find(b"\n" + key + b" = ")
    if start < 0:
        return None
    start += len(key) + 4
    end = config.find(b"\n", start)
    return config[start : end if end >= 0 else len(config)].strip() or None


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies[kind].append(seconds)
        if not ok:
            self.errors[kind] += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{kind}: {detail}")


async def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.setdefault(name.strip().lower(), value.strip())
    return int(status_line.split()[1]), parsed, body


class Digest:
    """A phone's Digest client: answers the first challenge, then reuses its nonce."""

    def __init__(self, phone: dict, challenge: str) -> None:
        params = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
        self.phone, self.realm, self.nonce, self.count = phone, params["realm"], params["nonce"], 0
        self.ha1 = _md5(f"{phone['user']}:{self.realm}:{phone['password']}")

    def header(self, path: str) -> str:
        self.count += 1
        nc, cnonce = f"{self.count:08x}", f"{self.count:016x}"
        response = _md5(f"{self.ha1}:{self.nonce}:{nc}:{cnonce}:auth:{_md5(f'GET:{path}')}")
        return (
            f'Digest username="{self.phone["user"]}", realm="{self.realm}", nonce="{self.nonce}", '
            f'uri="{path}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
            "algorithm=MD5"
        )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def play_round(port: int, phone: dict, stats: Stats) -> None:
    agent = {"User-Agent": _agent(phone)}
    (kind, path), *steps = _authenticated_steps(phone)
    started = time.perf_counter()
    status, headers, _ = await _get(port, path, agent)
    stats.add(kind, time.perf_counter() - started, status == 401, f"{path} {status}")
    if status != 401:
        return
    digest = Digest(phone, headers.get("www-authenticate", ""))
    mac_file = b""
    for kind, path in steps:
        body = await _fetch(
            port, kind, path, {**agent, "Authorization": digest.header(path)}, stats
        )
        mac_file = body if kind == "MAC file" else mac_file
    for kind, found in resource_paths(phone, mac_file):
        if found is None:
            stats.add(kind, 0.0, False, f"no {kind} URL with the phone's token in its MAC file")
        else:
            await _fetch(port, kind, found, agent, stats)


async def _fetch(port: int, kind: str, path: str, headers: dict[str, str], stats: Stats) -> bytes:
    """One request of a round, counted as `kind`: a 200 with a body, or an error."""
    started = time.perf_counter()
    status, _, body = await _get(port, path, headers)
    ok = status == 200 and len(body) > 0
    stats.add(kind, time.perf_counter() - started, ok, f"{path} {status}")
    return body if ok else b""


async def _timed(cpu: CpuByProcess, part: dict, kind: str, requests) -> None:
    """Run `requests` as `kind` into `part`, with the CPU each process group spent on them."""
    before = cpu.snapshot()
    part[kind] = await requests
    part[f"cpu {kind}"] = CpuByProcess.spent(before, cpu.snapshot())


async def _ratio_slices(port: int, phones: list[dict], args, cpu: CpuByProcess) -> list[dict]:
    """The yardsticks and the MAC files in interleaved slices, so that each ratio compares
    figures taken moments apart (a machine's speed drifts during a run). Per slice: the
    trivial view; MAC files as the first request for their phones; other phones' boot files
    (not measured) and then their MAC files, as within a round; the naive view."""
    n = args.ratio_requests
    size = max(1, n // RATIO_SLICES)
    parts: list[dict] = []
    for start in range(0, n, size):
        first = phones[start : min(start + size, n)]
        in_round = phones[n + start : n + min(start + size, n)]
        # By kind: (stats, seconds); by "cpu <kind>": the CPU each process group spent on it.
        part: dict[str, tuple[Stats, float] | dict[str, float]] = {}
        trivial: list[Request] = [("/bench/trivial", {})] * len(first)
        await _timed(cpu, part, "trivial", run_same(port, trivial, args.concurrency, "trivial"))
        macs = [(f"/{phone['mac']}.cfg", _basic_headers(phone)) for phone in first]
        part["MAC file, 1st"] = await run_same(port, macs, args.concurrency, "MAC file, 1st")
        boots = [(f"/{phone['mac']}.boot", _basic_headers(phone)) for phone in in_round]
        await run_same(port, boots, args.concurrency, "boot")
        macs = [(f"/{phone['mac']}.cfg", _basic_headers(phone)) for phone in in_round]
        round_requests = run_same(port, macs, args.concurrency, "MAC file, round")
        await _timed(cpu, part, "MAC file, round", round_requests)
        naive: list[Request] = [(f"/bench/naive/{phone['mac']}", {}) for phone in first]
        part["naive"] = await run_same(port, naive, args.concurrency, "naive")
        parts.append(part)
    return parts


async def _with_and_without(
    servers: dict[bool, tuple[int, CpuByProcess]], phones: list[dict], args
) -> dict:
    """Worker CPU per MAC file on the server with metrics and on the one without (`servers`
    by whether it counts), in METRICS_TURNS turns whose order alternates, so that both are
    measured moments apart; each server its own half of the phones, whose boot files come
    first (not measured), and then their MAC files over and over, as within rounds."""
    half = len(phones) // 2
    own = {True: phones[:half], False: phones[half:]}
    for metrics, (port, _cpu) in servers.items():
        boots = [(f"/{phone['mac']}.boot", _basic_headers(phone)) for phone in own[metrics]]
        await run_same(port, boots, args.concurrency, "boot")
    per_turn = max(1, args.metrics_requests // METRICS_TURNS)
    spent: dict[bool, dict[str, float]] = {True: defaultdict(float), False: defaultdict(float)}
    pairs = []  # each turn's workers with / without, to see the spread
    errors = 0
    for turn in range(METRICS_TURNS):
        workers = dict(spent[True]), dict(spent[False])
        for metrics in (True, False) if turn % 2 == 0 else (False, True):
            port, cpu = servers[metrics]
            macs = [
                (f"/{phone['mac']}.cfg", _basic_headers(phone))
                for phone in itertools.islice(itertools.cycle(own[metrics]), per_turn)
            ]
            before = cpu.snapshot()
            stats, _seconds = await run_same(port, macs, args.concurrency, "MAC file")
            errors += sum(stats.errors.values())
            for group, seconds in CpuByProcess.spent(before, cpu.snapshot()).items():
                spent[metrics][group] += seconds
        with_ = spent[True]["workers"] - workers[0].get("workers", 0.0)
        without = spent[False]["workers"] - workers[1].get("workers", 0.0)
        pairs.append(with_ / max(without, 1e-9))
    requests = per_turn * METRICS_TURNS
    cost: dict = {
        "with metrics" if metrics else "without metrics": {
            group: round(seconds / requests * 1e6) for group, seconds in sorted(groups.items())
        }
        for metrics, groups in spent.items()
    }
    cost["turns, workers with / without"] = [round(pair, 3) for pair in pairs]
    cost["errors"] = errors
    return cost


def _merged(parts: list[dict], kind: str) -> tuple[Stats, float]:
    stats, seconds = Stats(), 0.0
    for part in parts:
        some, took = part[kind]
        stats.latencies[kind].extend(some.latencies[kind])
        stats.errors[kind] += some.errors.get(kind, 0)
        stats.error_samples.extend(some.error_samples[: 5 - len(stats.error_samples)])
        seconds += took
    return stats, seconds


def _rate(stats: Stats, seconds: float) -> float:
    return sum(len(values) for values in stats.latencies.values()) / seconds


async def run_storm(port: int, phones: list[dict], concurrency: int) -> tuple[Stats, float]:
    stats = Stats()
    queue: asyncio.Queue = asyncio.Queue()
    for phone in phones:
        queue.put_nowait(phone)

    async def worker() -> None:
        while not queue.empty():
            await play_round(port, queue.get_nowait(), stats)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats, time.perf_counter() - started


async def run_same(
    port: int, requests: list[Request], concurrency: int, kind: str
) -> tuple[Stats, float]:
    """The same kind of request over and over: for the throughput ratio."""
    stats = Stats()
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            path, headers = queue.get_nowait()
            started = time.perf_counter()
            status, _, _ = await _get(port, path, headers)
            stats.add(kind, time.perf_counter() - started, status == 200, f"{path} {status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stats, time.perf_counter() - started


# --- the server -----------------------------------------------------------------------------


def start_server(
    database_url: str, workers: int | None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    """gunicorn as production runs it, on a free port, with BENCH_ENV and then `env`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server_env = {
        **os.environ,
        **BENCH_ENV,
        **(env or {}),
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # Each server its own (gunicorn empties it when it starts).
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="voipconfig-bench-metrics-"),
    }
    if workers:
        server_env["GUNICORN_WORKERS"] = str(workers)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "deploy/gunicorn.conf.py",
            "bench.wsgi:application",
        ],
        cwd=ROOT,
        env=server_env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


class MemorySampler:
    """Peak resident memory of gunicorn's master and workers together, from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0

    def sample(self) -> None:
        pids = [self.pid, *self._children()]
        total = sum(self._rss(pid) for pid in pids)
        self.peak = max(self.peak, total)

    def _children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            await asyncio.sleep(0.2)


class CpuByProcess:
    """CPU seconds used so far, from /proc, by who used them: gunicorn's workers (and their
    access-log threads), PostgreSQL, Redis and this load generator; `kernel` is the
    machine's softirq time (the network)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict[str, float]:
        workers = set(MemorySampler(self.server_pid)._children())
        used: dict[str, float] = defaultdict(float)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            group = self._group(int(entry.name), command, workers)
            if group:
                fields = stat.rsplit(")", 1)[1].split()
                used[group] += (int(fields[11]) + int(fields[12])) / self.tick
        softirq = Path("/proc/stat").read_text().split("\n", 1)[0].split()[7]
        used["kernel"] = int(softirq) / self.tick
        return used

    def _group(self, pid: int, command: bytes, workers: set[int]) -> str | None:
        if pid in workers:
            return "workers"
        if pid == os.getpid():
            return "load generator"
        if command.startswith(b"postgres"):
            return "postgresql"
        if b"redis-server" in command:
            return "redis"
        return None

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {group: after[group] - before.get(group, 0.0) for group in after}


async def measured(sampler: MemorySampler, coroutine):
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler.run(stop))
    try:
        return await coroutine
    finally:
        stop.set()
        await sampling


# --- report ---------------------------------------------------------------------------------


def summary(stats: Stats, seconds: float) -> dict:
    kinds = {}
    for kind, values in stats.latencies.items():
        kinds[kind] = _figures(values, seconds, stats.errors.get(kind, 0))
    everything = [value for values in stats.latencies.values() for value in values]
    kinds["overall"] = _figures(everything, seconds, sum(stats.errors.values()))
    return kinds


def _figures(values: list[float], seconds: float, errors: int) -> dict:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return (
            round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else 0
        )

    return {
        "requests": len(values),
        "requests_per_s": round(len(values) / seconds, 1) if seconds else 0,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else 0,
        "errors": errors,
    }


def print_table(title: str, figures: dict, queries: dict[str, int] | None = None) -> None:
    print(f"\n{title}")
    print(
        f"  {'kind':16} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'SQL':>4}"
    )
    for kind, f in figures.items():
        sql = "" if not queries or kind not in queries else str(queries[kind])
        print(
            f"  {kind:16} {f['requests']:9,} {f['requests_per_s']:8.1f} {f['p50_ms']:8.1f} "
            f"{f['p95_ms']:8.1f} {f['p99_ms']:8.1f} {f['errors']:7} {sql:>4}"
        )


def access_log_rows(since) -> int:
    """Rows of requests made since then (a row's time is its request's, not its write's)."""
    from devices.models import AccessLog

    return AccessLog.objects.filter(created_at__gte=since).count()


def _run_event_loop(coroutine):
    """The load generator runs on the cores it measures: the lighter its loop, the more of
    them the server gets. uvloop when installed (requirements-dev.txt), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description="Boot storm benchmark (see the module doc).")
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64, help="phones in flight at once")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: two per core)")
    parser.add_argument(
        "--ratio-requests", type=int, default=4000, help="per MAC-file measurement (two)"
    )
    parser.add_argument("--database-url", help="default: a database named after the size")
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--no-metrics", action="store_true", help="the server with METRICS_ENABLED=false"
    )
    parser.add_argument(
        "--compare-metrics",
        action="store_true",
        help="also a server without metrics: worker CPU per MAC file with and without",
    )
    parser.add_argument(
        "--metrics-requests", type=int, default=8000, help="MAC files per server to compare"
    )
    args = parser.parse_args()

    url = args.database_url or (
        f"postgres://postgres@127.0.0.1:5432/voipconfig_bench_{args.organisations}x{args.phones}"
    )
    setup_django(url, args.rebuild)
    phones = build_installation(args.organisations, args.phones)
    queries = queries_per_request(phones[0])
    from django.db import connection

    connection.close()
    off = {"METRICS_ENABLED": "false"}
    server, port = start_server(url, args.workers, off if args.no_metrics else None)
    servers = [server]
    bare = None
    if args.compare_metrics:
        other, other_port = start_server(url, args.workers, off)
        servers.append(other)
        bare = (other_port, CpuByProcess(other.pid))
    sampler = MemorySampler(server.pid)
    try:
        cpu = CpuByProcess(server.pid)
        result = _run_event_loop(_measure(port, phones, args, sampler, cpu, bare))
    finally:
        for each in servers:
            each.terminate()
        for each in servers:
            each.wait(timeout=30)
    # Counted once the server has stopped: its workers write the rows they still hold (they
    # write in batches, ACCESS_LOG_FLUSH_SECONDS apart) before they exit.
    result["access_log_rows_written"] = access_log_rows(result.pop("storm_started_at"))
    result["queries_per_request"] = queries
    result["server_peak_memory_mb"] = round(sampler.peak / 2**20, 1)
    _report(result, queries)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


async def _measure(
    port: int,
    phones: list[dict],
    args,
    sampler: MemorySampler,
    cpu: CpuByProcess,
    bare: tuple[int, CpuByProcess] | None,
) -> dict:
    await run_same(port, [("/bench/trivial", {})] * 200, args.concurrency, "warm-up")
    if bare is not None:
        await run_same(bare[0], [("/bench/trivial", {})] * 200, args.concurrency, "warm-up")
    slices = await measured(sampler, _ratio_slices(port, phones, args, cpu))
    metrics_cost = None
    if bare is not None:
        servers = {True: (port, cpu), False: bare}
        metrics_cost = await _with_and_without(servers, phones, args)
    trivial, t_seconds = _merged(slices, "trivial")
    config, c_seconds = _merged(slices, "MAC file, 1st")
    again, a_seconds = _merged(slices, "MAC file, round")
    naive, n_seconds = _merged(slices, "naive")
    from django.utils import timezone

    storm_started_at = timezone.now()
    storm, s_seconds = await measured(sampler, run_storm(port, phones, args.concurrency))
    # The next round, as every 30 minutes: the server has seen every phone once.
    warm, w_seconds = await measured(sampler, run_storm(port, phones, args.concurrency))
    expected_rows = sum(
        len(values)
        for stats in (storm, warm)
        for kind, values in stats.latencies.items()
        if kind != "boot (401)"
    )
    trivial_rps = _rate(trivial, t_seconds)
    per_slice = [
        (
            _rate(*part["MAC file, 1st"]) / _rate(*part["trivial"]),
            _rate(*part["MAC file, round"]) / _rate(*part["trivial"]),
        )
        for part in slices
    ]
    return {
        "phones": len(phones),
        "concurrency": args.concurrency,
        "storm_seconds": round(s_seconds, 1),
        "phones_per_s": round(len(phones) / s_seconds, 1),
        "storm": summary(storm, s_seconds),
        "next_round_seconds": round(w_seconds, 1),
        "next_round": summary(warm, w_seconds),
        "trivial": summary(trivial, t_seconds)["trivial"],
        "mac_file_first_request": summary(config, c_seconds)["MAC file, 1st"],
        "mac_file_in_round": summary(again, a_seconds)["MAC file, round"],
        "naive_select_insert": summary(naive, n_seconds)["naive"],
        "config_to_trivial_ratio_first_request": round(_rate(config, c_seconds) / trivial_rps, 2),
        "config_to_trivial_ratio_in_round": round(_rate(again, a_seconds) / trivial_rps, 2),
        "ratio_range_first_request": [
            round(min(r[0] for r in per_slice), 2),
            round(max(r[0] for r in per_slice), 2),
        ],
        "ratio_range_in_round": [
            round(min(r[1] for r in per_slice), 2),
            round(max(r[1] for r in per_slice), 2),
        ],
        "metrics": not args.no_metrics,
        "cpu_us_per_request": {
            kind: _cpu_per_request(slices, kind) for kind in ("trivial", "MAC file, round")
        },
        "metrics_cpu_us_per_mac_file": metrics_cost,
        "access_log_rows_expected": expected_rows,
        "storm_started_at": storm_started_at,
        "error_samples": (
            storm.error_samples + warm.error_samples + config.error_samples + again.error_samples
        ),
    }


def _cpu_per_request(slices: list[dict], kind: str) -> dict[str, int]:
    """Microseconds of CPU per request of `kind`, by process group, over all slices."""
    requests = sum(len(part[kind][0].latencies[kind]) for part in slices)
    total: dict[str, float] = defaultdict(float)
    for part in slices:
        for group, seconds in part[f"cpu {kind}"].items():
            total[group] += seconds
    return {group: round(seconds / requests * 1e6) for group, seconds in sorted(total.items())}


def _report(result: dict, queries: dict[str, int]) -> None:
    print_table(
        f"boot storm: {result['phones']:,} phones, {result['concurrency']} at a time, "
        f"{result['storm_seconds']} s, {result['phones_per_s']} phones/s",
        result["storm"],
        queries,
    )
    print_table(
        f"next round (the server has seen every phone): {result['next_round_seconds']} s",
        result["next_round"],
    )
    print_table(
        "same server, same run",
        {
            "trivial view": result["trivial"],
            "naive view": result["naive_select_insert"],
            "MAC file, 1st": result["mac_file_first_request"],
            "MAC file, round": result["mac_file_in_round"],
        },
        {"trivial view": queries["trivial"], "MAC file, 1st": queries["MAC file"]},
    )
    print("\nauthenticated MAC file / trivial view throughput (target: at least 0.50):")
    low, high = result["ratio_range_in_round"]
    print(
        f"  within a phone's round (after its boot file): "
        f"{result['config_to_trivial_ratio_in_round']:.2f} (slices {low:.2f}-{high:.2f})"
    )
    low, high = result["ratio_range_first_request"]
    print(
        f"  first request of a phone nobody has asked for yet: "
        f"{result['config_to_trivial_ratio_first_request']:.2f} (slices {low:.2f}-{high:.2f})"
    )
    print("CPU per request, microseconds, by process (from /proc; the clock ticks at 10 ms):")
    for kind, groups in result["cpu_us_per_request"].items():
        print(f"  {kind:20s}" + "".join(f"  {group} {us:,}" for group, us in groups.items()))
    cost = result["metrics_cpu_us_per_mac_file"]
    if cost:
        print("CPU per MAC file with and without metrics, microseconds, by process:")
        turns = cost["turns, workers with / without"]
        for kind in ("with metrics", "without metrics"):
            groups = cost[kind]
            print(f"  {kind:20s}" + "".join(f"  {group} {us:,}" for group, us in groups.items()))
        print(f"  turns, workers with / without: {', '.join(f'{t:.3f}' for t in turns)}")
        with_, without = cost["with metrics"]["workers"], cost["without metrics"]["workers"]
        print(
            f"  workers: {(with_ - without) / without:+.1%} with metrics; {cost['errors']} errors"
        )
    print(f"server peak memory (master + workers): {result['server_peak_memory_mb']} MB")
    print(
        f"access-log rows: {result['access_log_rows_written']:,} written, "
        f"{result['access_log_rows_expected']:,} expected"
    )
    for sample in result["error_samples"]:
        print(f"  error: {sample}")


if __name__ == "__main__":
    main()
