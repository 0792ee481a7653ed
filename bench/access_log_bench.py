"""How fast the access-log admin list and the dashboard stay with millions of rows (PostgreSQL).

    .venv/bin/python bench/access_log_bench.py [--rows 2000000] [--database-url URL]

Fills a throwaway database with access-log rows spread over 30 days, 20 organisations and
10,000 phones, and their hourly counts (devices.AccessLogHour) as the access-log writer keeps
them, then times the admin list as a provider sees it: unfiltered, filtered by outcome,
organisation and date, searched by MAC and by IP; and the admin's first page, the dashboard,
as the provider and as an organisation's staff. Prints the median of 5 runs of each, the SQL
statements each page ran, and the plan of the page query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test import Client

    from organisations.models import Organisation

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/voipconfig_bench"
    )
    args = parser.parse_args()
    _setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _fill(args.rows)
    _measure()


def _setup_django(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voipconfig.settings_test")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()


def _fill(rows: int) -> None:
    from django.db import connection

    from devices.models import AccessLog, Device
    from organisations.models import Organisation

    if AccessLog.objects.count() >= rows:
        print(f"using the {rows:,} rows already there")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # A throwaway database: whatever refers to the organisations goes with them.
        cursor.execute(
            "TRUNCATE devices_accesslog, devices_sipaccount, devices_device,"
            " organisations_organisation CASCADE"
        )
    # The organisations and phones through the ORM, so the fill keeps up with their columns.
    organisations = [
        Organisation.objects.create(
            name=f"Org {n}",
            slug=f"org-{n}",
            provisioning_username=f"org{n}",
            provisioning_password="secret-password",
            sip_server_host="sip.example",
        )
        for n in range(1, 21)
    ]
    Device.objects.bulk_create(
        Device(organisation=organisations[n % 20], mac=f"805ec0{n:06x}", model="T54W")
        for n in range(1, 10_001)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO devices_accesslog (created_at, ip, user_agent, path, mac, username,
              organisation_id, device_id, outcome, status_code)
            SELECT now() - (n %% 2592000) * interval '1 second',
              ('10.' || (n %% 250) || '.' || (n / 250 %% 250) || '.1')::inet,
              'Yealink SIP-T54W 96.86.0.100 ' || d.mac, '/' || d.mac || '.cfg', d.mac, 'org1',
              d.organisation_id, d.id,
              CASE WHEN n %% 50 = 0 THEN 'wrong_credentials' WHEN n %% 97 = 0 THEN 'mac_unknown'
                   ELSE 'success' END,
              CASE WHEN n %% 50 = 0 OR n %% 97 = 0 THEN 401 ELSE 200 END
            FROM generate_series(1, %s) AS n
            JOIN devices_device d ON d.id = (SELECT min(id) FROM devices_device) + n %% 10000
            """,
            [rows],
        )
        # The hourly counts the writer keeps as it writes the rows (count_hours).
        cursor.execute("TRUNCATE devices_accessloghour")
        cursor.execute(
            """
            INSERT INTO devices_accessloghour (hour, organisation_id, outcome, requests)
            SELECT date_trunc('hour', created_at), organisation_id, outcome, count(*)
            FROM devices_accesslog GROUP BY 1, 2, 3
            """
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE devices_accesslog")
        cursor.execute("ANALYZE devices_accessloghour")
    print(f"filled {rows:,} rows in {time.perf_counter() - started:.1f} s")


def _measure() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from organisations.models import Organisation

    User = get_user_model()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "bench@example.com", "bench"
    )
    client = Client()
    client.force_login(user)
    org = Organisation.objects.order_by("pk").first()
    assert org is not None, "the fill creates the organisations"
    cases: dict[str, dict[str, str | int]] = {
        "unfiltered": {},
        "outcome = wrong credentials": {"outcome__exact": "wrong_credentials"},
        "one organisation": {"organisation__id__exact": org.pk},
        "last 7 days": {"created_at__gte": _days_ago(7)},
        "search MAC": {"q": "80:5e:c0:00:00:2a"},
        "search IP": {"q": "10.42.0.1"},
        "page 50, outcome": {"outcome__exact": "success", "p": "50"},
    }
    print(f"\n{'access-log admin list':32} {'median ms':>10} {'queries':>8}")
    for name, params in cases.items():
        timings = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/admin/devices/accesslog/", params)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        print(f"{name:32} {statistics.median(timings):10.1f} {len(queries):8d}")
    _measure_dashboard(client, org)
    _explain(org)


def _measure_dashboard(provider: Client, org: Organisation) -> None:
    """The admin's first page: figures from the hourly counts and the phones, never from
    the access log, so its time must not grow with the log."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from organisations.staff import create_organisation_staff

    get_user_model().objects.filter(username="bench-staff").delete()
    staff = create_organisation_staff(org, "bench-staff", "correct-horse-battery-staple-7")
    customer = Client()
    customer.force_login(staff)
    print(f"\n{'dashboard (/admin/)':32} {'median ms':>10} {'queries':>8}")
    for name, client in (("provider", provider), ("organisation staff", customer)):
        timings = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/admin/")
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            assert 'id="dashboard"' in response.text
            assert '"devices_accesslog"' not in " ".join(q["sql"] for q in queries.captured_queries)
        print(f"{name:32} {statistics.median(timings):10.1f} {len(queries):8d}")


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S%z")


def _explain(org) -> None:
    from django.db import connection

    from devices.models import AccessLog

    query = AccessLog.objects.filter(outcome="wrong_credentials").order_by("-created_at")[:100]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = [row[0] for row in cursor.fetchall()]
    print("\nplan of the page query filtered by outcome:")
    print("\n".join("  " + line for line in plan[:6]))


if __name__ == "__main__":
    main()
