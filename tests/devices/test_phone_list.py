"""The phone list (issue 18): status badges, last seen in words, compact columns, the model
filter of the models in use, no organisation column for organisation staff, one query a page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.admin import ModelInUseFilter, ago
from devices.models import AccessLog
from rps.models import RpsDeviceState
from tests.factories import make_device, make_organisation, user_agent
from tests.phonebooks.factories import make_staff

LIST = "/admin/devices/device/"


def columns(response) -> list[str]:
    return [header["class_attrib"] for header in response.context["result_headers"]]


def filter_names(response) -> list[str]:
    return [str(spec.title) for spec in response.context["cl"].filter_specs]


def model_choices(response) -> list[str]:
    spec = next(s for s in response.context["cl"].filter_specs if isinstance(s, ModelInUseFilter))
    return [value for value, _ in spec.lookup_choices]


def test_the_provider_sees_the_organisation_column_and_filter(admin_client, tenant_a, tenant_b):
    response = admin_client.get(LIST)

    assert any("column-organisation_column" in c for c in columns(response))
    assert "organisation" in filter_names(response)
    assert f'title="{tenant_a.organisation.name}"' in response.content.decode()


def test_organisation_staff_see_no_organisation_column_or_filter(client, tenant_a, tenant_b):
    client.force_login(make_staff(tenant_a.organisation))

    response = client.get(LIST)

    assert response.status_code == 200
    assert not any("organisation" in c for c in columns(response))
    assert "organisation" not in filter_names(response)
    assert {"status", "model", "last firmware"} <= set(filter_names(response))


@pytest.fixture
def fleet(db):
    """Phones in every state: never seen, ok, stale, failing."""
    now = timezone.now()
    org = make_organisation("status", provisioning_interval_minutes=30)
    phones = {
        "never": make_device(org, label="never"),
        "ok": make_device(org, label="ok", last_seen_at=now - timedelta(minutes=12)),
        "stale": make_device(org, label="stale", last_seen_at=now - timedelta(minutes=61)),
        # Wrong credentials 5 minutes ago, as the access-log writer keeps it on the phone.
        "failing": make_device(
            org,
            label="failing",
            last_seen_at=now - timedelta(minutes=10),
            last_failure_at=now - timedelta(minutes=5),
        ),
    }
    return org, phones


def test_each_phone_has_its_status_as_a_badge(admin_client, fleet):
    response = admin_client.get(LIST)

    statuses = {d.label: d.phone_status for d in response.context["cl"].result_list}
    assert statuses == {"never": "never", "ok": "ok", "stale": "stale", "failing": "failing"}
    body = response.content.decode()
    for kind, text in [
        ("ok", "ok"),
        ("stale", "stale"),
        ("failing", "failing"),
        ("never", "never provisioned"),
    ]:
        assert f'<span class="badge badge-{kind}" title="">{text}</span>' in body


def test_a_failing_phone_is_failing_in_the_filter_as_in_its_badge(admin_client, fleet):
    _, phones = fleet
    phones["failing"].last_seen_at = timezone.now() - timedelta(hours=2)  # and stale too
    phones["failing"].save()

    stale = admin_client.get(LIST, {"status": "stale"}).context["cl"].result_list
    failing = admin_client.get(LIST, {"status": "failing"}).context["cl"].result_list

    assert [d.label for d in stale] == ["stale"]
    assert [d.label for d in failing] == ["failing"]


def test_the_list_sorts_by_status(admin_client, fleet):
    response = admin_client.get(LIST, {"o": "6"})  # the status column (after the checkbox)

    labels = [d.label for d in response.context["cl"].result_list]
    assert labels == ["failing", "never", "ok", "stale"]


def test_last_seen_reads_minutes_ago_with_the_exact_time_on_hover(admin_client, fleet):
    _, phones = fleet
    seen = timezone.localtime(phones["ok"].last_seen_at)

    body = admin_client.get(LIST).content.decode()

    assert f'<time title="{seen:%Y-%m-%d %H:%M:%S %Z}">12 min ago</time>' in body


@pytest.mark.parametrize(
    ("before", "words"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=12), "12 min ago"),
        (timedelta(hours=3, minutes=5), "3 h ago"),
        (timedelta(days=1, hours=2), "1 day ago"),
        (timedelta(days=5), "5 days ago"),
    ],
)
def test_ago_says_how_long_ago_in_a_few_characters(before, words):
    now = timezone.now()

    assert ago(now - before, now) == words


def test_firmware_and_address_are_cut_short_and_whole_on_hover(admin_client, tenant_a):
    device = tenant_a.device
    device.last_firmware = "150.86.254.1234567"
    device.last_seen_ip = "2001:db8:85a3::8a2e:370:7334"
    device.last_seen_at = timezone.now()
    device.last_user_agent = user_agent(device, "T46U")
    device.save()

    body = admin_client.get(LIST).content.decode()

    assert '<span class="compact" title="150.86.254.1234567">150.86.254.1234567</span>' in body
    assert 'title="2001:db8:85a3::8a2e:370:7334"' in body
    assert 'title="The phone says it is a T46U."' in body  # configured as a T54W


def test_the_model_filter_lists_only_the_models_in_use(admin_client, client, tenant_a, tenant_b):
    make_device(tenant_a.organisation, model="T46U")
    make_device(tenant_a.organisation, model="T54W")
    make_device(tenant_b.organisation, model="W70B")
    client.force_login(make_staff(tenant_a.organisation))

    assert model_choices(admin_client.get(LIST)) == ["T46U", "T54W", "W70B"]
    assert model_choices(client.get(LIST)) == ["T46U", "T54W"]  # B's W70B is not theirs
    filtered = client.get(LIST, {"model": "T46U"}).context["cl"].result_list
    assert [d.model for d in filtered] == ["T46U"]


def test_the_rps_state_is_a_small_badge_with_the_whole_state_on_hover(admin_client, tenant_a):
    RpsDeviceState.objects.create(
        mac=tenant_a.device.mac,
        device=tenant_a.device,
        organisation=tenant_a.organisation,
        status=RpsDeviceState.Status.FAILED,
        last_error="RPS refused the MAC.",
    )

    body = admin_client.get(LIST).content.decode()

    assert (
        '<span class="badge badge-failing" title="Failed: RPS refused the MAC.">Failed</span>'
        in body
    )


def _phones_with_everything(organisation, count: int) -> None:
    now = timezone.now()
    for n in range(count):
        device = make_device(
            organisation,
            last_seen_at=now - timedelta(minutes=n),
            last_user_agent=user_agent(None, "T46U"),
            last_firmware="96.86.0.100",
        )
        RpsDeviceState.objects.create(mac=device.mac, device=device, organisation=organisation)
        AccessLog.objects.create(
            path="/x.cfg",
            device=device,
            organisation=organisation,
            outcome="wrong_credentials",
            status_code=401,
        )


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["provider", "staff"])
def test_the_list_takes_as_many_queries_for_30_phones_as_for_1(admin_client, client, who):
    organisation = make_organisation("fleet")
    if who == "staff":
        client.force_login(make_staff(organisation))
    else:
        client = admin_client
    _phones_with_everything(organisation, 1)
    one = _queries(client)

    _phones_with_everything(organisation, 29)

    assert _queries(client) == one
