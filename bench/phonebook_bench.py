"""Benchmark: render and serve a phonebook of 10,000 contacts (not a test; prints figures).

    .venv/bin/python bench/phonebook_bench.py [--contacts 10000] [--runs 10]

Runs on a throwaway SQLite database in a temporary directory, unless BENCH_DATABASE_URL
names another (e.g. postgres://postgres@127.0.0.1:5432/voipconfig_bench; it is migrated).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(workdir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipconfig.settings_test")
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client talk to "testserver"
    # Keep one connection across requests, as a server with CONN_MAX_AGE does (and so the
    # query counter sees the request's queries).
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    call_command("migrate", verbosity=0)


def timed(func: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median, best) in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def build_book(contacts: int):
    from devices.models import Device
    from organisations.models import Organisation
    from phonebooks.models import Contact, Phonebook

    organisation, _ = Organisation.objects.get_or_create(
        slug="bench",
        defaults={
            "name": "Bench",
            "provisioning_username": "bench",
            "provisioning_password": "bench-secret-pw",
            "sip_server_host": "sip.bench.example",
        },
    )
    device, _ = Device.objects.get_or_create(
        mac="805ec0beef01", defaults={"organisation": organisation, "model": "T54W"}
    )
    Phonebook.objects.filter(organisation=organisation).delete()
    book = Phonebook.objects.create(organisation=organisation, name="Bench", title="Bench")
    # Names of realistic length, with characters that need escaping and other scripts.
    samples = [
        "Jansen & Zn <Verkoop>",
        "Åsa Ødegård",
        "محمد الأحمد",
        "王小明",
        "Müller-Lüdenscheidt",
    ]
    Contact.objects.bulk_create(
        (
            Contact(
                phonebook=book,
                name=f"{samples[i % len(samples)]} {i:05d}",
                group=f"Department {i % 12}",
                number_1=f"+31 20 {i:07d}",
                number_2=f"06-{i:08d}",
                position=i,
            )
            for i in range(contacts)
        ),
        batch_size=2000,
    )
    return book, device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(workdir)
        run(args.contacts, args.runs)


def run(contacts: int, runs: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from phonebooks.families import FAMILIES, MAX_BYTES, MAX_BYTES_SOME_MODELS
    from phonebooks.render import contact_rows, refresh_size, render_phonebook
    from tests.factories import user_agent

    book, device = build_book(contacts)
    print(f"database: {connection.vendor}; {contacts:,} contacts; median (best) of {runs} runs")
    median, best = timed(lambda: contact_rows(book), runs)
    print(f"  read contacts (1 query)          {median:7.1f} ms ({best:.1f})")
    rows = contact_rows(book)
    for slug in ("t4xg", "t5x"):
        family = FAMILIES[slug]
        size = len(render_phonebook(book, family, rows))
        median, best = timed(partial(render_phonebook, book, family, rows), runs)
        print(
            f"  render {family.flavour:<9} ({slug:<4})       {median:7.1f} ms ({best:.1f})"
            f"   {size:,} bytes = {size / 1024:,.0f} KB"
        )
    client = Client()
    headers = {"User-Agent": user_agent(device)}
    for slug in ("t4xg", "t5x"):
        path = f"/pb-{slug}-{book.pk}.xml"
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, headers=headers)
        query_count = len(queries)  # now: the next request clears the connection's log
        assert response.status_code == 200, response.status_code
        median, best = timed(partial(client.get, path, headers=headers), runs)
        print(
            f"  GET {path:<22}       {median:7.1f} ms ({best:.1f})"
            f"   {query_count} queries, {len(response.content):,} bytes"
        )
    median, best = timed(lambda: refresh_size(book), max(1, runs // 2))
    print(f"  refresh stored size (admin save) {median:7.1f} ms ({best:.1f})")
    limits = f"limits {MAX_BYTES_SOME_MODELS // 1024} KB (some models) / {MAX_BYTES // 1024} KB"
    print(f"  stored size {book.size_bytes:,} bytes; {limits}")


if __name__ == "__main__":
    main()
