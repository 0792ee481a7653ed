"""The RPS state in the admin, and "Sync with RPS" on organisations and phones."""

from __future__ import annotations

import html
import re
import socket
import time
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command

from rps import wording
from rps.desired import server_name
from rps.models import RpsDeviceState
from tests.admin_forms import browser_form
from tests.factories import make_device, make_organisation
from tests.jobs.worker import run_worker

Status = RpsDeviceState.Status


def messages_of(response) -> list[str]:
    """What the page says: its messages, and on a job's page each line of what it shows
    (the summary; for the provider the detail too)."""
    said = [str(message) for message in get_messages(response.wsgi_request)]
    shown = re.findall(r'<div class="readonly">(.*?)</div>', response.content.decode(), re.S)
    lines = [line for text in shown for line in re.split(r"<br>|\n", text)]
    return said + [html.unescape(line).strip() for line in lines if line.strip()]


def run_action(client, url: str, action: str, pks: list[int]):
    """The action queues the sync and shows its job's page; the worker runs it; the page
    then says how it went."""
    queued = client.post(url, {"action": action, "_selected_action": pks}, follow=True)
    if not queued.redirect_chain or "/jobs/job/" not in queued.redirect_chain[-1][0]:
        return queued  # refused in the request: nothing queued
    run_worker()
    return client.get(queued.redirect_chain[-1][0])


@pytest.fixture
def alpha(db):
    organisation = make_organisation("alpha")
    for _ in range(3):
        make_device(organisation)
    return organisation


def test_the_organisation_action_syncs_the_selected_organisations(admin_client, fake_rps, alpha):
    bravo = make_organisation("bravo")
    make_device(bravo)

    response = run_action(
        admin_client,
        "/admin/organisations/organisation/",
        "sync_organisations_with_rps",
        [alpha.pk],
    )

    assert response.status_code == 200
    assert set(fake_rps.our_devices().values()) == {server_name("alpha")}
    assert len(fake_rps.our_devices()) == 3
    [headline] = [line for line in messages_of(response) if line.startswith("RPS sync:")]
    assert "servers 1 created" in headline
    assert "3 registered" in headline


def test_the_device_action_rechecks_a_phone_another_customer_has_released(
    admin_client, fake_rps, alpha
):
    phone = make_device(alpha, "805ec0ee0001")
    fake_rps.seed_device(phone.mac, owner="another-provider")
    with pytest.raises(CommandError):
        call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    del fake_rps.devices[phone.mac]
    fake_rps.calls.clear()

    response = run_action(
        admin_client, "/admin/devices/device/", "sync_devices_with_rps", [phone.pk]
    )

    assert fake_rps.our_devices()[phone.mac] == server_name("alpha")
    assert RpsDeviceState.objects.get(mac=phone.mac).status == Status.REGISTERED
    assert [call.body["macs"] for call in fake_rps.calls_to("device/add")] == [[phone.mac]]
    assert any("1 registered" in line for line in messages_of(response))


def test_an_action_reports_failures_per_phone(admin_client, fake_rps, alpha):
    phone = make_device(alpha, "805ec0ee0001")
    fake_rps.seed_device(phone.mac, owner="another-provider")

    response = run_action(
        admin_client,
        "/admin/organisations/organisation/",
        "sync_organisations_with_rps",
        [alpha.pk],
    )

    shown = messages_of(response)  # the provider reads what RPS said
    assert any("80:5e:c0:ee:00:01: device.mac.added.by.other" in line for line in shown)


def test_an_action_without_rps_keys_says_what_to_set(admin_client, fake_rps, alpha, settings):
    settings.RPS_ACCESS_KEY_SECRET = ""

    response = run_action(
        admin_client,
        "/admin/organisations/organisation/",
        "sync_organisations_with_rps",
        [alpha.pk],
    )

    assert (
        "RPS_ACCESS_KEY_SECRET must be set (see .env.example); nothing was sent to RPS."
        in messages_of(response)
    )
    assert fake_rps.calls == []


def test_the_phone_page_shows_its_rps_state_with_the_reason_of_a_failure(
    admin_client, fake_rps, alpha
):
    phone = make_device(alpha, "805ec0ee0001")
    fake_rps.seed_device(phone.mac, owner="another-provider")
    with pytest.raises(CommandError):
        call_command("rps_sync", stdout=StringIO(), stderr=StringIO())

    page = admin_client.get(f"/admin/devices/device/{phone.pk}/change/").content.decode()

    assert "Yealink RPS" in page
    assert "Owned by another RPS customer" in page
    assert "device.mac.added.by.other" in page


def test_a_phone_never_synced_says_so(admin_client, alpha):
    phone = alpha.devices.first()

    page = admin_client.get(f"/admin/devices/device/{phone.pk}/change/").content.decode()

    assert "not synced yet" in page


def test_a_synced_phones_page_still_saves_and_leaves_its_rps_state_alone(
    admin_client, fake_rps, alpha
):
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    phone = alpha.devices.first()
    state = phone.rps_state
    url = f"/admin/devices/device/{phone.pk}/change/"
    data = browser_form(admin_client, url)
    data.update(
        {
            "organisation": alpha.pk,
            "mac": phone.mac,
            "model": phone.model,
            "label": "Renamed",
            "is_active": "on",
            "raw_overrides": "",
            # The read-only row's hidden fields, as the browser sends them back.
            "rps_state-0-id": state.pk,
            "rps_state-0-device": phone.pk,
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    phone.refresh_from_db()
    assert phone.label == "Renamed"
    assert RpsDeviceState.objects.get(pk=state.pk).status == Status.REGISTERED


def test_the_phone_list_shows_each_phones_rps_state_in_one_query(
    admin_client, fake_rps, alpha, django_assert_max_num_queries
):
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    newcomer = make_device(alpha, "805ec0ee0002")
    moved = make_device(alpha, "805ec0ee0003")
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    moved.organisation = make_organisation("bravo")
    moved.save()

    page = admin_client.get("/admin/devices/device/").content.decode()

    registered = '<span class="badge badge-ok" title="Registered">Registered</span>'
    assert page.count(f'<td class="field-rps_state_column">{registered}</td>') == 4
    assert 'title="Registered, move pending">Moving</span>' in page
    assert newcomer.mac  # registered by the second sync
    for _ in range(20):
        make_device(alpha)
    with django_assert_max_num_queries(12):
        page = admin_client.get("/admin/devices/device/").content.decode()
    assert page.count("Pending (not synced yet)") == 20


def test_the_state_list_finds_a_mac_in_any_notation_and_filters_by_status(
    admin_client, fake_rps, alpha
):
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    mac = alpha.devices.first().mac
    colons = ":".join(mac[i : i + 2] for i in range(0, 12, 2)).upper()

    found = admin_client.get("/admin/rps/rpsdevicestate/", {"q": colons}).content.decode()
    failed = admin_client.get("/admin/rps/rpsdevicestate/", {"status__exact": "failed"})

    assert found.count("field-mac_address") == 1
    assert "0 RPS devices" in failed.content.decode()
    assert admin_client.get("/admin/rps/rpsserverstate/").status_code == 200


def test_state_rows_cannot_be_edited_in_the_admin(admin_client, fake_rps, alpha):
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    state = RpsDeviceState.objects.first()
    assert state is not None

    response = admin_client.post(
        f"/admin/rps/rpsdevicestate/{state.pk}/change/", {"status": "removed"}
    )

    assert response.status_code == 403
    state.refresh_from_db()
    assert state.status == Status.REGISTERED


def test_organisation_staff_see_only_their_own_phones_rps_state(alpha_staff, fake_rps, alpha):
    bravo_phone = make_device(make_organisation("bravo"), "001565bb0001")
    call_command("rps_sync", stdout=StringIO(), stderr=StringIO())
    bravo_state = RpsDeviceState.objects.get(mac=bravo_phone.mac)
    own_phone = alpha.devices.first()

    listed = alpha_staff.get("/admin/rps/rpsdevicestate/")
    own_page = alpha_staff.get(f"/admin/devices/device/{own_phone.pk}/change/").content.decode()

    assert {state.device.organisation for state in listed.context["cl"].result_list} == {alpha}
    assert listed.context["cl"].result_count == 3
    assert "Yealink RPS" in own_page
    assert alpha_staff.get(f"/admin/rps/rpsdevicestate/{bravo_state.pk}/change/").status_code == 404
    assert alpha_staff.get("/admin/rps/rpsserverstate/").status_code == 403


def test_the_organisation_page_shows_its_rps_server_and_phones(admin_client, tenant_a):
    from rps.models import RpsDeviceState, RpsServerState

    RpsServerState.objects.create(
        organisation=tenant_a.organisation, server_name="alpha-1a2b3c", rps_id="77"
    )
    RpsDeviceState.objects.create(
        mac=tenant_a.device.mac, device=tenant_a.device, status="registered"
    )

    body = admin_client.get(
        f"/admin/organisations/organisation/{tenant_a.organisation.pk}/change/"
    ).content.decode()

    assert "alpha-1a2b3c" in body
    assert "1 registered, 0 pending, 0 failed" in body


# --- what staff read: plain words; the provider reads what RPS said ---------------------

# What organisation staff must never read: settings, libraries, exceptions, RPS's own keys.
NOT_FOR_STAFF = (
    "RPS_",
    ".env",
    "urllib3",
    "requests",
    "HTTPConnection",
    "Errno",
    "Traceback",
    "Error(",
    "device.mac",
    "param.invalid",
    "signature",
    "HTTP 5",
    "127.0.0.1",
)


def assert_plain(text: str) -> None:
    assert not [word for word in NOT_FOR_STAFF if word in text], text


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def sync_phone(client, phone):
    return run_action(client, "/admin/devices/device/", "sync_devices_with_rps", [phone.pk])


def make_unreachable(settings, fake_rps):
    settings.RPS_API_URL = closed_port_url()


def make_refused_access(settings, fake_rps):
    settings.RPS_ACCESS_KEY_SECRET = "not-the-secret"


def make_not_set_up(settings, fake_rps):
    settings.RPS_ACCESS_KEY_ID = ""


def make_busy(settings, fake_rps):
    fake_rps.fail("server/list", 503, times=100)


def make_phone_refused(settings, fake_rps):
    fake_rps.fail("device/add", 400, key="param.invalid", times=100)


def make_owned(settings, fake_rps):
    fake_rps.seed_device("805ec0ee0009", owner="another-provider")


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (make_unreachable, wording.UNREACHABLE),
        (make_busy, wording.UNREACHABLE),
        (make_refused_access, wording.REFUSED_ACCESS_JOB),
        (make_not_set_up, wording.NOT_SET_UP_JOB),
        (make_phone_refused, wording.PHONE_REFUSED),
        (make_owned, wording.OWNED_BY_OTHER),
    ],
)
def test_staff_read_plain_words_whatever_went_wrong(
    alpha_staff, fake_rps, alpha, settings, fault, said
):
    phone = make_device(alpha, "805ec0ee0009")
    fault(settings, fake_rps)

    response = sync_phone(alpha_staff, phone)
    page = alpha_staff.get(f"/admin/devices/device/{phone.pk}/change/").content.decode()
    listed = alpha_staff.get("/admin/rps/rpsdevicestate/").content.decode()
    states = RpsDeviceState.objects.filter(device=phone)
    detail_pages = [
        alpha_staff.get(f"/admin/rps/rpsdevicestate/{state.pk}/change/").content.decode()
        for state in states
    ]

    shown = messages_of(response)
    assert any(said in line for line in shown), shown
    for text in [*shown, page, listed, *detail_pages]:
        assert_plain(text)


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        (make_unreachable, "Connection refused"),
        (make_busy, "HTTP 503"),
        (make_refused_access, "RPS_ACCESS_KEY_SECRET"),
        (make_not_set_up, "RPS_ACCESS_KEY_ID must be set"),
        (make_phone_refused, "param.invalid"),
        (make_owned, "device.mac.added.by.other"),
    ],
)
def test_the_provider_reads_what_rps_said(admin_client, fake_rps, alpha, settings, fault, detail):
    phone = make_device(alpha, "805ec0ee0009")
    fault(settings, fake_rps)

    response = sync_phone(admin_client, phone)

    assert any(detail in line for line in messages_of(response)), messages_of(response)


def test_the_provider_sees_what_rps_said_on_the_phone_page_and_staff_do_not(
    admin_client, alpha_staff, fake_rps, alpha
):
    phone = make_device(alpha, "805ec0ee0009")
    fake_rps.fail("device/add", 400, key="param.invalid", times=100)
    sync_phone(admin_client, phone)
    state = RpsDeviceState.objects.get(device=phone)
    url = f"/admin/devices/device/{phone.pk}/change/"

    provider_page = admin_client.get(url).content.decode()
    staff_page = alpha_staff.get(url).content.decode()

    assert "param.invalid" in state.last_error_detail
    assert "param.invalid" in provider_page
    assert "param.invalid" not in staff_page
    assert wording.PHONE_REFUSED in staff_page


def test_staff_do_not_see_the_organisation_a_state_row_was_last_pushed_to(
    alpha_staff, fake_rps, alpha
):
    phone = alpha.devices.first()
    elsewhere = make_organisation("elsewhere")
    RpsDeviceState.objects.create(
        mac=phone.mac, device=phone, organisation=elsewhere, status="registered"
    )
    state = RpsDeviceState.objects.get(mac=phone.mac)

    listed = alpha_staff.get("/admin/rps/rpsdevicestate/").content.decode()
    detail = alpha_staff.get(f"/admin/rps/rpsdevicestate/{state.pk}/change/").content.decode()

    assert "Elsewhere" not in listed
    assert "Elsewhere" not in detail


def test_the_admin_gives_up_on_a_hanging_rps_within_its_call_budget(
    alpha_staff, fake_rps, alpha, settings
):
    settings.RPS_READ_TIMEOUT = 30  # the cron job's patience: far too long for a request
    settings.RPS_RETRIES = 4
    settings.RPS_ADMIN_CALL_SECONDS = 0.5
    fake_rps.latency = 5.0
    phone = alpha.devices.first()

    started = time.monotonic()
    response = sync_phone(alpha_staff, phone)
    seconds = time.monotonic() - started

    assert seconds < 3  # one call, cut at 0.5 s; unbudgeted it would take 2 x 30 s
    assert any(wording.UNREACHABLE in line for line in messages_of(response))
