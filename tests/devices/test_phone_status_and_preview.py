"""The admin's daily views: config preview with diff, phone status, the access log list."""

import importlib
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import status
from devices.admin import EstimatedCountPaginator
from devices.models import AccessLog, Device
from tests.factories import make_device, make_organisation


def preview(admin_client, device, **params):
    return admin_client.get(f"/admin/devices/device/{device.pk}/config/", params)


def test_the_preview_shows_the_files_as_the_phone_gets_them_with_passwords_masked(
    admin_client, tenant_a
):
    response = preview(admin_client, tenant_a.device)

    body = response.context["mac_file"]
    assert "account.1.user_name = a101" in body
    assert "account.1.password = ********" in body
    assert "alpha-sip-101" not in response.content.decode()
    assert tenant_a.password not in response.content.decode()
    assert "static.auto_provision.server.password = ********" in body  # its own
    assert tenant_a.device.provisioning_password not in response.content.decode()
    assert "static.auto_provision.server.password" not in response.context["common"]
    assert response.context["common_name"] == "y000000000096.cfg"


def test_revealing_the_passwords_is_recorded(admin_client, tenant_a):
    response = preview(admin_client, tenant_a.device, reveal="1")

    assert "account.1.password = alpha-sip-101" in response.content.decode()
    entry = LogEntry.objects.get()
    assert entry.object_id == str(tenant_a.device.pk)
    assert "Revealed the passwords" in entry.get_change_message()


def test_the_preview_shows_what_changed_since_the_phones_last_download(
    client, admin_client, tenant_a
):
    assert preview(admin_client, tenant_a.device).context["diff"] is None
    client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())
    assert preview(admin_client, tenant_a.device).context["diff"] == ""

    tenant_a.accounts[0].display_name = "Reception"
    tenant_a.accounts[0].save()
    diff = preview(admin_client, tenant_a.device).context["diff"]

    assert "-account.1.display_name = a101" in diff
    assert "+account.1.display_name = Reception" in diff


def test_the_last_served_file_is_stored_only_when_it_changed(
    client, tenant_a, django_assert_num_queries
):
    client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())
    first = Device.objects.get(pk=tenant_a.device.pk)

    client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    again = Device.objects.get(pk=tenant_a.device.pk)
    assert first.last_config_sha256 == again.last_config_sha256 != ""
    assert "account.1.password = alpha-sip-101" in again.last_config


@pytest.fixture
def fleet(db):
    """Phones in every state: never seen, fresh, stale, failing."""
    now = timezone.now()
    org = make_organisation("status", provisioning_interval_minutes=30)
    never = make_device(org, label="never")
    fresh = make_device(org, label="fresh", last_seen_at=now - timedelta(minutes=20))
    stale = make_device(org, label="stale", last_seen_at=now - timedelta(minutes=61))
    # Wrong credentials 5 minutes ago, as the access-log writer keeps it on the phone
    # (test_wrong_credentials_make_a_phone_failing_until_it_succeeds goes through HTTP).
    refused = now - timedelta(minutes=5)
    failing = make_device(
        org, label="failing", last_seen_at=now - timedelta(minutes=10), last_failure_at=refused
    )
    recovered = make_device(org, label="recovered", last_seen_at=now, last_failure_at=refused)
    return org, {d.label: d for d in (never, fresh, stale, failing, recovered)}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("never", ["never"]),
        ("stale", ["stale"]),
        ("failing", ["failing"]),
        ("ok", ["fresh", "recovered"]),
    ],
)
def test_the_device_list_filters_by_status(admin_client, fleet, choice, expected):
    response = admin_client.get("/admin/devices/device/", {"status": choice})

    assert sorted(d.label for d in response.context["cl"].result_list) == expected


def test_stale_follows_each_organisations_own_interval(fleet):
    slow = make_organisation("slow", provisioning_interval_minutes=120)
    make_device(slow, label="slow-but-fine", last_seen_at=timezone.now() - timedelta(minutes=200))

    labels = set(Device.objects.filter(status.stale()).values_list("label", flat=True))

    assert labels == {"stale"}


def test_wrong_credentials_make_a_phone_failing_until_it_succeeds(client, tenant_a):
    phone = tenant_a.device
    wrong = client.get("/y000000000123.cfg", headers=tenant_a.phone_headers(password="wrong"))
    assert wrong.status_code == 401

    phone.refresh_from_db()
    assert phone.last_failure_at is not None
    assert _status_of(phone) == status.FAILING
    assert AccessLog.objects.filter(device=phone, outcome="wrong_credentials").exists()

    ok = client.get("/y000000000123.cfg", headers=tenant_a.phone_headers())
    assert ok.status_code == 200
    phone.refresh_from_db()
    assert phone.last_seen_at > phone.last_failure_at
    assert _status_of(phone) == status.OK


def test_a_failure_outside_the_window_is_not_failing(fleet, settings):
    _, phones = fleet
    settings.PHONE_FAILING_WINDOW_HOURS = 0  # the failure 5 minutes ago is out of it

    assert _status_of(phones["failing"]) == status.OK


def _status_of(device: Device) -> str:
    return getattr(
        status.annotate_status(Device.objects.filter(pk=device.pk)).get(), status.ANNOTATION
    )


def test_the_organisation_list_counts_phones_by_status(admin_client, fleet):
    org, _ = fleet

    response = admin_client.get("/admin/organisations/organisation/")

    row = next(o for o in response.context["cl"].result_list if o.pk == org.pk)
    assert (row.phone_count, row.never_count, row.stale_count, row.failing_count) == (5, 1, 1, 1)
    assert "5 (1 / 1 / 1)" in response.content.decode()


def test_the_access_log_list_never_counts_more_rows_than_it_needs(
    admin_client, tenant_a, monkeypatch
):
    monkeypatch.setattr(EstimatedCountPaginator, "COUNT_LIMIT", 3)
    AccessLog.objects.bulk_create(
        AccessLog(
            path=f"/{n}", outcome="success", status_code=200, organisation=tenant_a.organisation
        )
        for n in range(10)
    )

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/devices/accesslog/", {"outcome": "success"})

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert response.status_code == 200
    assert counts and all("LIMIT" in sql.upper() for sql in counts)
    assert response.context["cl"].result_count == 4  # capped: "more than 3"


def test_the_preview_shows_the_diff_first_coloured_with_a_legend(client, admin_client, tenant_a):
    client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())
    tenant_a.accounts[0].display_name = "Reception"
    tenant_a.accounts[0].save()

    body = preview(admin_client, tenant_a.device).content.decode()

    removed = '<span class="diff-removed">-account.1.display_name = a101</span>'
    added = '<span class="diff-added">+account.1.display_name = Reception</span>'
    assert removed in body
    assert added in body
    assert '<span class="diff-header">@@' in body
    assert '<span class="diff-context"> account.1.' in body
    assert 'id="diff-legend"' in body
    assert ".diff-added { background:" in body  # the colours come with the page, no CDN
    assert (
        body.index('id="diff"') < body.index('id="mac-file-layers"') < body.index('id="mac-file"')
    )


def test_the_migration_keeps_failing_phones_failing(db):
    """Migration 0019's data step, run on today's tables: migrating the whole graph back and
    forth (as the schema-changing migrations' tests do) costs 17 s on SQLite for what
    changes no schema here but the one column."""
    from django.apps import apps

    migration = importlib.import_module("devices.migrations.0019_device_last_failure_at")
    organisation = make_organisation("old")
    refused, long_ago, fine = (make_device(organisation) for _ in range(3))
    now = timezone.now()
    for device, outcome, hours in [
        (refused, "wrong_credentials", 3),
        (refused, "wrong_credentials", 1),
        (refused, "success", 2),
        (long_ago, "wrong_credentials", 30),  # outside the 24-hour window
        (fine, "success", 1),
    ]:
        row = AccessLog.objects.create(
            device=device,
            organisation=organisation,
            path="/x.cfg",
            outcome=outcome,
            status_code=401,
        )
        AccessLog.objects.filter(pk=row.pk).update(created_at=now - timedelta(hours=hours))

    migration.from_the_access_log(apps, None)  # a data step: it needs no schema editor

    failures = dict(Device.objects.values_list("mac", "last_failure_at"))
    last = failures[refused.mac]
    assert last is not None
    assert abs(last - (now - timedelta(hours=1))) < timedelta(seconds=1)
    assert failures[long_ago.mac] is None
    assert failures[fine.mac] is None
