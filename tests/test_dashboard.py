"""The admin's first page: figures of the phones and their requests, for the provider and,
scoped, for organisation staff; each a link to the list it counts; drawn as SVG; its cost
independent of the access log's size (it reads the hourly counts, never the log)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devices.models import AccessLog, AccessLogHour, Device
from tests.factories import make_device, own_basic, user_agent
from tests.phonebooks.factories import make_staff

INDEX = "/admin/"


def provision(client, device: Device, password: str | None = None) -> int:
    headers = {"User-Agent": user_agent(device), "Authorization": own_basic(device, password)}
    return client.get(f"/{device.mac}.cfg", headers=headers).status_code


@pytest.fixture
def installation(client, tenant_a, tenant_b):
    assert provision(client, tenant_a.device) == 200
    assert provision(client, tenant_b.device) == 200
    assert provision(client, tenant_b.device, "wrong-password") == 401
    make_device(tenant_a.organisation, model="T46U")  # never provisioned
    return tenant_a, tenant_b


def test_the_provider_sees_every_organisations_figures(admin_client, installation):
    page = admin_client.get(INDEX)

    dashboard = page.context["dashboard"]
    html = page.content.decode()
    assert page.status_code == 200
    assert {figure.label: figure.value for figure in dashboard["status"]} == {
        "ok": 1,
        "stale": 0,
        "failing": 1,  # tenant b's phone: wrong credentials after its last success
        "never provisioned": 1,
    }
    assert dashboard["requests_24h"] == 3 and dashboard["failed_24h"] == 1
    assert html.count("<svg") >= 6
    assert "Requests per hour, last 24 hours" in html
    assert 'href="/admin/devices/device/?is_active__exact=1&amp;status=failing"' in html


def test_organisation_staff_see_only_their_organisations_figures(client, installation):
    tenant_a, _ = installation
    client.force_login(make_staff(tenant_a.organisation))

    dashboard = client.get(INDEX).context["dashboard"]

    assert {figure.label: figure.value for figure in dashboard["status"]} == {
        "ok": 1,
        "stale": 0,
        "failing": 0,
        "never provisioned": 1,
    }
    assert dashboard["requests_24h"] == 1 and dashboard["failed_24h"] == 0


def test_every_figure_opens_the_list_it_counts(admin_client, installation):
    dashboard = admin_client.get(INDEX).context["dashboard"]

    for figure in dashboard["status"]:
        listed = admin_client.get(figure.url)
        assert listed.status_code == 200, figure.url
        assert listed.context["cl"].result_count == figure.value, figure.label
    log = admin_client.get(
        reverse("admin:devices_accesslog_changelist") + "?outcome__exact=wrong_credentials"
    )
    assert log.context["cl"].result_count == dashboard["failed_24h"]


def test_the_page_reads_the_hourly_counts_not_the_access_log(
    admin_client, installation, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        admin_client.get(INDEX)
    AccessLog.objects.bulk_create(
        AccessLog(path="/x.cfg", outcome="success", status_code=200) for _ in range(2000)
    )
    with CaptureQueriesContext(connection) as large:
        admin_client.get(INDEX)

    assert len(large.captured_queries) == len(small.captured_queries)
    scans = [
        query["sql"]
        for query in large.captured_queries
        if '"devices_accesslog"' in query["sql"] and "EXISTS" not in query["sql"].upper()
    ]
    assert scans == [], "the dashboard read the access log"
    assert AccessLogHour.objects.exists()


def test_an_empty_installation_draws_without_error(admin_client):
    page = admin_client.get(INDEX)

    assert page.status_code == 200
    assert page.context["dashboard"]["requests_24h"] == 0
