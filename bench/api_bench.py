"""Benchmark: the REST API at the size of a real installation (not a test; prints figures).

    .venv/bin/python bench/api_bench.py [--devices 10000] [--bulk 1000] [--page-size 100]

- lists 10,000 devices page by page, as a billing system reconciling would: time and SQL
  queries per page (they must not grow with the page number or the installation);
- a bulk create of 1,000 phones with two SIP accounts each in one request, then the same
  body again (idempotent: nothing changes) and again with every label changed.

In process, through Django's test client and the whole middleware and DRF stack. Runs on a
throwaway SQLite database unless BENCH_DATABASE_URL names another (it is migrated).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.phonebook_bench import setup_django  # noqa: E402


def build(devices: int) -> str:
    """`devices` phones over 20 organisations, each with two accounts; a provider token."""
    from api import tokens
    from devices.models import Device, SipAccount
    from organisations.models import Organisation

    organisations = [
        Organisation.objects.create(
            name=f"Bench {n}",
            slug=f"bench-{n}",
            provisioning_username=f"bench{n}",
            provisioning_password="bench-secret-pw",
            sip_server_host="sip.bench.example",
        )
        for n in range(20)
    ]
    made = Device.objects.bulk_create(
        (
            Device(
                organisation=organisations[n % 20],
                mac=f"805ec0{n:06x}",
                model="T54W",
                label=f"desk {n}",
            )
            for n in range(devices)
        ),
        batch_size=2000,
    )
    SipAccount.objects.bulk_create(
        (
            SipAccount(device=device, index=line, user_name=f"{n}{line}", password=f"pw-{n}-{line}")
            for n, device in enumerate(made)
            for line in (1, 2)
        ),
        batch_size=4000,
    )
    _, text = tokens.issue("bench", None)
    return text


class Counted:
    """SQL statements run inside it (Django's own query log keeps only the last 9,000)."""

    def __enter__(self) -> Counted:
        from django.db import connection

        self.count = 0
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __exit__(self, *exc: Any) -> None:
        self._wrapper.__exit__(*exc)

    def __len__(self) -> int:
        return self.count


def list_all(client, token: str, page_size: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/devices?page_size={page_size}"
    times, queries, rows = [], [], 0
    start = time.perf_counter()
    while url:
        began = time.perf_counter()
        with Counted() as captured:
            response = client.get(url, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        queries.append(len(captured))
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        rows += len(body["results"])
        url = body["next"]
    total = time.perf_counter() - start
    print(
        f"  list {rows:,} devices, {page_size} a page: {len(times)} pages in {total:.1f} s; "
        f"a page {statistics.median(times):.0f} ms median, {max(times):.0f} ms slowest; "
        f"queries a page {min(queries)}..{max(queries)}"
    )


def bulk(client, token: str, count: int, organisation: str) -> None:
    def body(label: str) -> str:
        return json.dumps(
            {
                "devices": [
                    {
                        "organisation": organisation,
                        "mac": f"001565{n:06x}",
                        "model": "T46U",
                        "label": f"{label} {n}",
                        "sip_accounts": [
                            {"line": 1, "user_name": f"b{n}1", "password": f"bulk-{n}-1"},
                            {"line": 2, "user_name": f"b{n}2", "password": f"bulk-{n}-2"},
                        ],
                    }
                    for n in range(count)
                ]
            }
        )

    headers = {"Authorization": f"Bearer {token}"}
    for what, text in (
        ("create", body("bulk")),
        ("same body again", body("bulk")),
        ("every label changed", body("relabelled")),
    ):
        began = time.perf_counter()
        with Counted() as captured:
            response = client.post(
                "/api/v1/devices/bulk", text, content_type="application/json", headers=headers
            )
        took = time.perf_counter() - began
        assert response.status_code in (200, 201), response.content[:1000]
        counts = {k: v for k, v in response.json().items() if isinstance(v, int)}
        print(
            f"  bulk {count:,} phones x 2 accounts, {what}: {took:.2f} s, "
            f"{len(captured):,} queries, {len(text) / 1024:,.0f} KB body; {counts}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--page-size", type=int, action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(workdir)
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        settings.API_REQUESTS_PER_MINUTE = 0  # measured, not throttled
        token = build(args.devices)
        print(f"database: {connection.vendor}; {args.devices:,} devices in 20 organisations")
        client = Client()
        for page_size in args.page_size or [100, 1000]:
            list_all(client, token, page_size)
        bulk(client, token, args.bulk, "bench-0")


if __name__ == "__main__":
    main()
