"""What counting costs a phone request, in one process: MAC files through Django's test
client, in alternating blocks with METRICS_ENABLED on and off, CPU time per request.

    .venv/bin/python bench/metrics_cost.py [--blocks 20] [--block 300]

The boot storm's comparison (`boot_storm.py --compare-metrics`) measures it on gunicorn, but
on a shared machine its turns spread more than the cost; here both sides run in one process,
a block apart, so what differs is the counting (prometheus_client in multiprocess mode, into
a directory of its own) and the request log's level check. SQLite in memory, the config
cache on, the access-log row written in the request (as on SQLite): the same on both sides.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=20, help="blocks on each side")
    parser.add_argument("--block", type=int, default=300, help="MAC files per block")
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="voipconfig.settings_test",
        DEBUG="true",
        DATABASE_URL="sqlite://:memory:",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="voipconfig-metrics-cost-"),
    )
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_databases, setup_test_environment

    from tests.conftest import basic
    from tests.factories import make_account, make_device, make_organisation, user_agent

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    settings.CONFIG_CACHE = True
    device = make_device(make_organisation("alpha"), "805ec0aaaa01", model="T54W")
    make_account(device, 1, user_name="a101", password="alpha-sip-101")
    headers = {
        "User-Agent": user_agent(device),
        "Authorization": basic(device.mac, device.provisioning_password),
    }
    client = Client()
    per_request: dict[bool, list[float]] = {True: [], False: []}
    for block in range(2 * args.blocks + 2):
        enabled = block % 2 == 0
        settings.METRICS_ENABLED = enabled
        started = time.process_time()
        for _ in range(args.block):
            assert client.get("/805ec0aaaa01.cfg", headers=headers).status_code == 200
        if block >= 2:  # the first pair warms up
            per_request[enabled].append((time.process_time() - started) / args.block * 1e6)
    on, off = (statistics.median(per_request[side]) for side in (True, False))
    print(f"CPU per MAC file, median of {args.blocks} blocks of {args.block} (quartiles):")
    for side, median in ((True, on), (False, off)):
        low, _, high = statistics.quantiles(per_request[side], n=4)
        label = "with metrics" if side else "without"
        print(f"  {label:12s} {median:,.1f} µs ({low:,.1f}-{high:,.1f})")
    print(f"  difference {on - off:+.1f} µs, {(on - off) / off:+.1%}")


if __name__ == "__main__":
    main()
