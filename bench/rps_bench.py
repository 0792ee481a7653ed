"""Benchmark: `rps_sync` of 10,000 phones in 20 organisations against the fake RPS.

    .venv/bin/python bench/rps_bench.py [--organisations 20] [--phones 10000] [--latency-ms 0]

Runs on a throwaway SQLite database in a temporary directory, unless BENCH_DATABASE_URL
names another (it is migrated). The fake RPS (tests/rps/fake_rps.py) runs in this process on
127.0.0.1 and checks every signature. `--latency-ms` adds that much to every answer, to see
what a real network round trip costs; the figures without it are our own overhead.

Each phone is registered with its own credentials, one device call each (a call carries one
password); the runs include the upgrade of an installation synced before that (recorded
without credentials, RPS ids never told us) and the rotation of 1,000 phones' passwords.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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

    call_command("migrate", verbosity=0)


def build(organisations: int, phones: int) -> None:
    from devices.models import Device
    from organisations.models import Organisation
    from rps.models import RpsDeviceState, RpsServerState

    RpsDeviceState.objects.all().delete()
    RpsServerState.objects.all().delete()
    Device.objects.filter(organisation__slug__startswith="bench-").delete()
    Organisation.objects.filter(slug__startswith="bench-").delete()
    orgs = [
        Organisation.objects.create(
            slug=f"bench-customer-{n:02d}",
            name=f"Bench customer {n}",
            provisioning_username=f"bench{n:02d}",
            provisioning_password=f"bench-secret-{n:02d}",
            sip_server_host="sip.bench.example",
        )
        for n in range(organisations)
    ]
    Device.objects.bulk_create(
        Device(organisation=orgs[n % organisations], mac=f"805ec0{n:06x}", model="T54W")
        for n in range(phones)
    )


def rotate_phone_passwords(count: int) -> None:
    from devices.models import Device

    phones = list(Device.objects.filter(organisation__slug__startswith="bench-")[:count])
    for phone in phones:
        phone.rotate_provisioning_password(grace_days=0)
    Device.objects.bulk_update(phones, ["provisioning_password"])


def as_synced_before_own_credentials(fake) -> None:
    """What a sync before per-phone credentials left: nothing of a phone's own in RPS, the
    old fingerprint (of MAC and server) recorded, and no RPS ids (device/add's answer is not
    documented to carry them)."""
    import hashlib

    from rps.models import RpsDeviceState

    for device in fake.devices.values():
        device.update(uniqueServerUrl="", authName="", password="")
    states = list(RpsDeviceState.objects.all())
    for state in states:
        old = f"{state.mac}|{state.server_rps_id}".encode()
        state.fingerprint, state.rps_id = hashlib.sha256(old).hexdigest()[:32], ""
    RpsDeviceState.objects.bulk_update(states, ["fingerprint", "rps_id"], batch_size=500)


def run(label: str, fake, *options: str, failures: int = 0) -> None:
    from rps.client import client_from_settings
    from rps.sync import RpsSync

    fake.calls.clear()
    client = client_from_settings()
    summary = RpsSync(client, dry_run="--dry-run" in options, full="--full" in options).run()
    writes = len(fake.write_calls())
    counts = (
        f"servers +{summary.servers_created}/~{summary.servers_updated}, devices "
        f"+{summary.devices_registered} ~{summary.devices_updated} >{summary.devices_moved} "
        f"-{summary.devices_removed} "
        f"={summary.devices_unchanged} !{summary.devices_failed}"
    )
    print(
        f"{label:<44} {len(fake.calls):>6} calls {writes:>5} writes "
        f"{summary.seconds:>7.2f} s   {counts}"
    )
    assert len(summary.errors) == failures, summary.errors[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        setup_django(workdir)
        from django.conf import settings

        from devices.models import Device
        from organisations.models import Organisation
        from tests.rps.fake_rps import KEY_ID, SECRET, FakeRps

        fake = FakeRps(latency=args.latency_ms / 1000).start()
        settings.RPS_API_URL = fake.url
        settings.RPS_ACCESS_KEY_ID, settings.RPS_ACCESS_KEY_SECRET = KEY_ID, SECRET
        build(args.organisations, args.phones)
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(
            f"{args.phones} phones in {args.organisations} organisations, "
            f"{args.latency_ms:g} ms added per call, database {engine}"
        )
        run("first sync (RPS empty)", fake)
        run("second sync (nothing changed)", fake)
        run("second sync --full (lists everything)", fake, "--full")
        for org in Organisation.objects.filter(slug__startswith="bench-"):
            org.provisioning_password = org.provisioning_password + "-2"
            org.save()
        run("every organisation's password rotated", fake)
        rotate_phone_passwords(1000)
        run("1,000 phones' own passwords rotated", fake)
        as_synced_before_own_credentials(fake)
        run("upgrade: recorded without own credentials", fake)
        orgs = list(Organisation.objects.filter(slug__startswith="bench-"))
        moving = Device.objects.filter(organisation=orgs[0]).values_list("pk", flat=True)[:250]
        Device.objects.filter(pk__in=list(moving)).update(organisation=orgs[1])
        gone = Device.objects.filter(organisation=orgs[2]).values_list("pk", flat=True)[:250]
        Device.objects.filter(pk__in=list(gone)).delete()
        run("250 phones moved, 250 deleted", fake)
        run("dry run afterwards (nothing to do)", fake, "--dry-run")
        new = [
            Device(organisation=orgs[n % len(orgs)], mac=f"805ec1{n:06x}", model="T54W")
            for n in range(1000)
        ]
        Device.objects.bulk_create(new)
        for device in new[::100]:
            fake.seed_device(device.mac, owner="another-provider")
        run("1,000 new phones, 10 owned by another customer", fake, failures=10)
        fake.stop()


if __name__ == "__main__":
    main()
