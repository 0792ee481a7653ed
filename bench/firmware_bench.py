"""Firmware downloads beside provisioning: phones download a large image at once while the
rest of an installation provisions.

    .venv/bin/python bench/firmware_bench.py [--phones 2000] [--downloads 50] [--json out.json]

Builds an installation with bench/boot_storm.py's builder (default 2,000 phones) and a
generated image of --image-mb (100 MB; NOT firmware) as the target of every T54W, then starts
gunicorn as production runs it (deploy/gunicorn.conf.py, boot_storm's start_server) behind a
real nginx on the shipped deploy/nginx.conf (bench/nginx.py) and measures, in one run:

1. provisioning rounds alone (boot_storm's play_round: boot, common and MAC file, phonebook,
   wallpaper, softkeys, CA) by the phones that do not download, for --seconds: requests/s;
2. the same while --downloads T54W phones download the image at once through nginx
   (FIRMWARE_DELIVERY=nginx): requests/s during the downloads, their aggregate MB/s and each
   one's time.

Then, unless --no-stream, the same two against gunicorn alone with FIRMWARE_DELIVERY=stream
(the workers send the bytes). Peak resident memory (VmHWM, reset at each part's start) of
every gunicorn worker and of nginx. The downloads are read as fast as this machine goes
(--download-mbps caps each one), by the load generator on the same cores as the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import boot_storm, nginx  # noqa: E402

VERSION = "96.86.0.250"  # the image's: the phones report 96.86.0.100, so all T54Ws get it
MB = 2**20


# --- the image ------------------------------------------------------------------------------


def make_target(size_mb: int) -> tuple[int, str]:
    """A generated image of `size_mb` as the target of every T54W (in place of the demo's);
    return its pk and file name."""
    from devices.phone_models import models_for_code
    from firmware.models import FirmwareImage, FirmwareTarget, image_path

    FirmwareTarget.objects.filter(
        model="T54W", profile=None, organisation=None, device=None
    ).delete()
    FirmwareImage.objects.filter(version=VERSION).delete()
    image = FirmwareImage(
        version=VERSION,
        model_code=96,
        model_names=[model.name for model in models_for_code(96)],
        file_name=f"{VERSION}.rom",
        notes="Benchmark data: generated, NOT firmware.",
    )
    image.size, image.sha256, image.file.name = _write_image(image, size_mb, image_path)
    image.save()
    FirmwareTarget.objects.create(model="T54W", image=image)
    return image.pk, image.file_name


def _write_image(image, size_mb: int, image_path) -> tuple[int, str, str]:
    """Write the bytes into the firmware storage where an upload would go, hashing them."""
    storage = image.file.storage
    scratch = Path(storage.location) / "incoming.rom"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with scratch.open("wb") as out:
        for _ in range(size_mb):
            chunk = os.urandom(MB)
            digest.update(chunk)
            out.write(chunk)
    image.sha256 = digest.hexdigest()
    name = image_path(image, image.file_name)
    final = Path(storage.path(name))
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch.replace(final)
    return size_mb * MB, image.sha256, name


def download_path(phone: dict, pk: int, file_name: str) -> str:
    from devices.credentials import resource_path

    return "/" + resource_path(phone["mac"], phone["password"], f"firmware/{pk}/{file_name}")


# --- the load -------------------------------------------------------------------------------


@dataclass
class Download:
    status: int
    received: int
    expected: int
    seconds: float


async def download(port: int, path: str, agent: str, mbps: float) -> Download:
    """One phone's download: its answer's status, the body's bytes, how long it took."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MB)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {agent}\r\n"
    writer.write((request + "Connection: close\r\n\r\n").encode("latin-1"))
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    expected = (
        int(head.split("content-length:", 1)[1].split()[0]) if "content-length:" in head else 0
    )
    received = 0
    while chunk := await reader.read(MB):
        received += len(chunk)
        if mbps:  # no faster than a phone's link
            await asyncio.sleep(max(0.0, started + received / (mbps * MB) - time.perf_counter()))
    writer.close()
    return Download(int(head.split()[1]), received, expected, time.perf_counter() - started)


async def rounds_until(port: int, phones: list[dict], stop: asyncio.Event, concurrency: int):
    """Phones' provisioning rounds, one after another on `concurrency` connections, until
    `stop`; return the stats and the seconds they took."""
    stats, order = boot_storm.Stats(), itertools.cycle(phones)

    async def phone() -> None:
        while not stop.is_set():
            await boot_storm.play_round(port, next(order), stats)

    started = time.perf_counter()
    await asyncio.gather(*(phone() for _ in range(concurrency)))
    return stats, time.perf_counter() - started


async def rounds_alone(port: int, phones: list[dict], seconds: float, concurrency: int):
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await rounds_until(port, phones, stop, concurrency)


async def rounds_with_downloads(port: int, phones: list[dict], downloads: list[tuple], args):
    """Rounds from the moment the downloads start until the last one ends."""
    stop = asyncio.Event()
    provisioning = asyncio.create_task(rounds_until(port, phones, stop, args.concurrency))
    started = time.perf_counter()
    done = await asyncio.gather(
        *(download(port, path, agent, args.download_mbps) for path, agent in downloads)
    )
    window = time.perf_counter() - started
    stop.set()
    stats, seconds = await provisioning
    return stats, seconds, list(done), window


# --- memory ---------------------------------------------------------------------------------


@dataclass
class Peaks:
    """The peak resident memory (VmHWM) of each process of gunicorn's and nginx's, by pid."""

    gunicorn: int
    nginx: int | None
    workers: dict[int, int] = field(default_factory=dict)
    nginx_processes: dict[int, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Each process's peak back to its present size (Linux: clear_refs 5)."""
        for pid in self._workers() + self._nginx():
            with contextlib.suppress(OSError):  # gone, or not ours
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.workers, self.nginx_processes = {}, {}

    def sample(self) -> None:
        for pid in self._workers():
            self.workers[pid] = max(self.workers.get(pid, 0), _hwm(pid))
        for pid in self._nginx():
            self.nginx_processes[pid] = max(self.nginx_processes.get(pid, 0), _hwm(pid))

    def _workers(self) -> list[int]:
        return boot_storm.MemorySampler(self.gunicorn)._children()

    def _nginx(self) -> list[int]:
        if self.nginx is None:
            return []
        return [self.nginx, *boot_storm.MemorySampler(self.nginx)._children()]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            await asyncio.sleep(0.2)
        self.sample()

    def figures(self) -> dict:
        workers = sorted(round(kb / 1024, 1) for kb in self.workers.values() if kb)
        return {
            "gunicorn_worker_peak_mb": workers,
            "nginx_peak_mb": round(sum(self.nginx_processes.values()) / 1024, 1)
            if self.nginx_processes
            else None,
        }


def _hwm(pid: int) -> int:
    """VmHWM in kB (0 for a process gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def sampled(peaks: Peaks, coroutine):
    peaks.reset()
    stop = asyncio.Event()
    sampling = asyncio.create_task(peaks.run(stop))
    try:
        return await coroutine
    finally:
        stop.set()
        await sampling


# --- one delivery ---------------------------------------------------------------------------


async def measure(port: int, peaks: Peaks, phones: list[dict], downloads: list, args) -> dict:
    warm_up = asyncio.Event()
    asyncio.get_running_loop().call_later(min(2.0, args.seconds), warm_up.set)
    await rounds_until(port, phones, warm_up, args.concurrency)  # each worker's cache filled
    stats, seconds = await sampled(
        peaks, rounds_alone(port, phones, args.seconds, args.concurrency)
    )
    alone = {**_rounds_figures(stats, seconds), **peaks.figures()}
    stats, seconds, done, window = await sampled(
        peaks, rounds_with_downloads(port, phones, downloads, args)
    )
    during = {**_rounds_figures(stats, seconds), **_download_figures(done, window)}
    return {"rounds_alone": alone, "rounds_during_downloads": {**during, **peaks.figures()}}


def _rounds_figures(stats, seconds: float) -> dict:
    overall = boot_storm.summary(stats, seconds)["overall"]
    return {
        "seconds": round(seconds, 1),
        "requests": overall["requests"],
        "requests_per_s": overall["requests_per_s"],
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "errors": overall["errors"],
        "error_samples": stats.error_samples,
    }


def _download_figures(done: list[Download], window: float) -> dict:
    complete = [d for d in done if d.status == 200 and d.received == d.expected > 0]
    times = sorted(d.seconds for d in complete)
    statuses: dict[str, int] = {}
    for d in done:
        statuses[str(d.status)] = statuses.get(str(d.status), 0) + 1
    return {
        "downloads": len(done),
        "downloads_complete": len(complete),
        "download_statuses": statuses,
        "downloads_seconds": round(window, 2),
        "downloads_mb_per_s": round(sum(d.received for d in done) / MB / window, 1),
        "download_s_median": round(statistics.median(times), 2) if times else None,
        "download_s_max": round(times[-1], 2) if times else None,
    }


def run_delivery(delivery: str, url: str, root: Path, phones: list, downloads: list, args):
    """gunicorn with FIRMWARE_DELIVERY=`delivery` (behind nginx for "nginx"), measured."""
    env = {"FIRMWARE_DELIVERY": delivery, "FIRMWARE_ROOT": str(root)}
    if delivery == "nginx":
        env["TRUSTED_PROXY_HOPS"] = "1"
    server, port = boot_storm.start_server(url, args.workers, env)
    try:
        if delivery != "nginx":
            peaks = Peaks(server.pid, None)
            return boot_storm._run_event_loop(measure(port, peaks, phones, downloads, args))
        workdir = Path(tempfile.mkdtemp(prefix="vc-firmware-bench-nginx-"))
        site = nginx.Site(workdir, f"127.0.0.1:{port}", root, worker_processes=args.nginx_workers)
        try:
            with nginx.running(site) as process:
                peaks = Peaks(server.pid, process.pid)
                coroutine = measure(site.http_port, peaks, phones, downloads, args)
                return boot_storm._run_event_loop(coroutine)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- report ---------------------------------------------------------------------------------


def report(result: dict) -> None:
    print(
        f"\n{result['phones']:,} phones; {result['downloads']} download a {result['image_mb']} MB "
        f"image at once; rounds on {result['concurrency']} connections"
    )
    for delivery, parts in result["deliveries"].items():
        alone, during = parts["rounds_alone"], parts["rounds_during_downloads"]
        ratio = during["requests_per_s"] / alone["requests_per_s"] if alone["requests_per_s"] else 0
        print(f"\nFIRMWARE_DELIVERY={delivery}")
        print(
            f"  provisioning alone:           {alone['requests_per_s']:8.1f} req/s "
            f"(p99 {alone['p99_ms']} ms, {alone['errors']} errors)"
        )
        print(
            f"  during the downloads:         {during['requests_per_s']:8.1f} req/s "
            f"(p99 {during['p99_ms']} ms, {during['errors']} errors): {ratio:.2f} of alone"
        )
        print(
            f"  downloads: {during['downloads_complete']}/{during['downloads']} complete "
            f"{during['download_statuses']}, {during['downloads_mb_per_s']} MB/s together over "
            f"{during['downloads_seconds']} s; each: median {during['download_s_median']} s, "
            f"slowest {during['download_s_max']} s"
        )
        for name, part in (("alone", alone), ("during", during)):
            nginx_mb = f", nginx {part['nginx_peak_mb']} MB" if part["nginx_peak_mb"] else ""
            print(
                f"  peak memory {name:6}: gunicorn workers {part['gunicorn_worker_peak_mb']} MB"
                f"{nginx_mb}"
            )
        for sample in (alone["error_samples"] + during["error_samples"])[:5]:
            print(f"  error: {sample}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Firmware download benchmark (module doc).")
    parser.add_argument("--organisations", type=int, default=4)
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--downloads", type=int, default=50, help="T54Ws downloading at once")
    parser.add_argument("--image-mb", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20, help="rounds alone, per delivery")
    parser.add_argument("--concurrency", type=int, default=16, help="rounds in flight")
    parser.add_argument("--download-mbps", type=float, default=0, help="cap per download")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: two per core)")
    parser.add_argument("--nginx-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-stream", action="store_true", help="skip the stream contrast")
    parser.add_argument("--database-url", help="default: a database named after the size")
    parser.add_argument("--rebuild", action="store_true", help="drop and build the database")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    url = args.database_url or (
        "postgres://postgres@127.0.0.1:5432/"
        f"voipconfig_firmware_bench_{args.organisations}x{args.phones}"
    )
    root = Path(tempfile.mkdtemp(prefix="vc-firmware-bench-"))
    try:
        result = run(url, root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def run(url: str, root: Path, args: argparse.Namespace) -> dict:
    boot_storm.setup_django(url, args.rebuild, env={"FIRMWARE_ROOT": str(root)})
    phones = boot_storm.build_installation(args.organisations, args.phones)
    pk, file_name = make_target(args.image_mb)
    from django.conf import settings
    from django.db import connection

    limit = getattr(settings, "FIRMWARE_MAX_DOWNLOADS", None)
    connection.close()
    fetching = [phone for phone in phones if phone["model"] == "T54W"][: args.downloads]
    others = [phone for phone in phones if phone not in fetching]
    downloads = [(download_path(p, pk, file_name), boot_storm._agent(p)) for p in fetching]
    deliveries = ["nginx"] if args.no_stream else ["nginx", "stream"]
    return {
        "phones": len(phones),
        "downloads": len(downloads),
        "image_mb": args.image_mb,
        "concurrency": args.concurrency,
        "firmware_max_downloads": limit,
        "deliveries": {
            delivery: run_delivery(delivery, url, root, others, downloads, args)
            for delivery in deliveries
        },
    }


if __name__ == "__main__":
    main()
