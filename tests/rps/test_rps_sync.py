"""`manage.py rps_sync` against the fake RPS on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.mac import format_mac
from devices.models import Device
from rps import sync as sync_module
from rps import wording
from rps.desired import server_name
from rps.models import RpsDeviceState, RpsServerState
from tests.factories import make_device, make_organisation

Status = RpsDeviceState.Status
URL = "https://provisioning.example.net/"  # PROVISIONING_URL in the fake_rps fixture


def sync(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rps_sync", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def sync_fails(*args: str, code: int = 1) -> tuple[str, str, str]:
    """Runs the command, which must exit with `code` (1: needs someone, 2: RPS unavailable)."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("rps_sync", *args, stdout=out, stderr=err)
    assert caught.value.returncode == code, caught.value
    return str(caught.value), out.getvalue(), err.getvalue()


def own_fields(mac: str) -> dict[str, str]:
    """What RPS should hand the phone with this MAC: our URL and its own credentials."""
    device = Device.objects.get(mac=mac)
    return {"uniqueServerUrl": URL, "authName": mac, "password": device.provisioning_password}


def old_fingerprint(mac: str, server_rps_id: str) -> str:
    """The device fingerprint recorded before phones had credentials of their own."""
    return hashlib.sha256(f"{mac}|{server_rps_id}".encode()).hexdigest()[:32]


def as_synced_before_own_credentials(fake_rps) -> None:
    """RPS and our records as a sync before issue 14 left them: each phone on its
    organisation's server with nothing of its own, recorded with the old fingerprint."""
    for device in fake_rps.devices.values():
        device.update(uniqueServerUrl="", authName="", password="")
    for state in RpsDeviceState.objects.all():
        state.fingerprint = old_fingerprint(state.mac, state.server_rps_id)
        state.save()


@pytest.fixture
def two_organisations(db):
    alpha = make_organisation("alpha")
    bravo = make_organisation("bravo")
    alpha_macs = [make_device(alpha).mac for _ in range(3)]
    bravo_macs = [make_device(bravo).mac for _ in range(2)]
    return alpha, bravo, alpha_macs, bravo_macs


def test_the_first_sync_creates_a_server_per_organisation_and_registers_every_phone(
    fake_rps, ca_url, two_organisations
):
    alpha, _, alpha_macs, bravo_macs = two_organisations

    out, _ = sync()

    server = fake_rps.server_named(server_name("alpha"))
    assert server["url"] == "https://provisioning.example.net/"
    assert (server["authName"], server["password"]) == ("alpha", "alpha-secret-pw")
    assert server["certificateUrl"] == ca_url
    expected = {mac: server_name("alpha") for mac in alpha_macs}
    expected.update({mac: server_name("bravo") for mac in bravo_macs})
    assert fake_rps.our_devices() == expected
    assert set(RpsDeviceState.objects.values_list("status", flat=True)) == {Status.REGISTERED}
    assert RpsServerState.objects.get(organisation=alpha).rps_id == server["id"]
    assert "servers 2 created" in out
    assert "5 registered" in out


def test_each_phone_is_registered_with_our_url_and_its_own_credentials(fake_rps, two_organisations):
    _, _, alpha_macs, bravo_macs = two_organisations

    sync()

    for mac in alpha_macs + bravo_macs:
        assert fake_rps.device_fields(mac) == own_fields(mac)
    passwords = {fake_rps.device_fields(mac)["password"] for mac in alpha_macs + bravo_macs}
    assert len(passwords) == 5  # no two phones share one
    adds = fake_rps.calls_to("device/add")
    assert sorted(mac for call in adds for mac in call.body["macs"]) == sorted(
        alpha_macs + bravo_macs
    )
    assert {len(call.body["macs"]) for call in adds} == {1}  # one password per call
    stored = RpsDeviceState.objects.values_list("fingerprint", flat=True)
    assert not [value for value in stored if any(p in value for p in passwords)]


def test_a_second_sync_right_after_makes_no_write_calls(fake_rps, two_organisations):
    sync()
    fake_rps.calls.clear()

    out, _ = sync()

    assert fake_rps.write_calls() == []
    assert "5 unchanged" in out
    assert "0 write(s)" in out


def test_an_installation_synced_before_own_credentials_gets_them_by_edits_on_the_next_sync(
    fake_rps, two_organisations
):
    _, _, alpha_macs, bravo_macs = two_organisations
    sync()
    ids = {mac: device["id"] for mac, device in fake_rps.devices.items()}
    as_synced_before_own_credentials(fake_rps)
    fake_rps.calls.clear()

    out, _ = sync()

    edits = fake_rps.write_calls()
    assert [call.endpoint for call in edits] == ["device/edit"] * 5  # no add, no delete
    assert sorted(call.body["id"] for call in edits) == sorted(ids.values())
    for mac in alpha_macs + bravo_macs:
        assert fake_rps.devices[mac]["id"] == ids[mac]
        assert fake_rps.device_fields(mac) == own_fields(mac)
    assert fake_rps.our_devices()[alpha_macs[0]] == server_name("alpha")
    assert "0 registered, 5 updated, 0 moved" in out

    fake_rps.calls.clear()
    sync()
    assert fake_rps.write_calls() == []


def test_phones_whose_rps_ids_were_never_told_us_are_found_in_one_listing(
    fake_rps, two_organisations
):
    _, _, alpha_macs, bravo_macs = two_organisations
    sync()
    as_synced_before_own_credentials(fake_rps)
    RpsDeviceState.objects.update(rps_id="")
    fake_rps.calls.clear()

    sync()

    assert len(fake_rps.calls_to("device/list")) == 1  # not a look-up per phone
    assert len(fake_rps.calls_to("device/edit")) == 5
    for mac in alpha_macs + bravo_macs:
        assert fake_rps.device_fields(mac) == own_fields(mac)
        assert RpsDeviceState.objects.get(mac=mac).rps_id == fake_rps.devices[mac]["id"]


def test_a_rotated_phone_password_is_pushed_with_an_edit_and_only_that(fake_rps, two_organisations):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    phone = alpha.devices.get(mac=alpha_macs[1])
    before = phone.provisioning_password
    phone.rotate_provisioning_password()
    phone.save()
    fake_rps.calls.clear()

    out, _ = sync()

    [edit] = fake_rps.write_calls()
    assert edit.endpoint == "device/edit"
    assert edit.body["id"] == fake_rps.devices[phone.mac]["id"]
    assert edit.body["password"] == phone.provisioning_password != before
    assert fake_rps.device_fields(phone.mac) == own_fields(phone.mac)
    assert fake_rps.server_named(server_name("alpha"))["password"] == "alpha-secret-pw"
    assert "1 updated" in out
    assert "4 unchanged" in out

    fake_rps.calls.clear()
    sync()
    assert fake_rps.write_calls() == []


def test_a_refused_edit_is_reported_by_its_mac_and_the_other_phones_are_edited(
    fake_rps, two_organisations
):
    _, _, alpha_macs, bravo_macs = two_organisations
    sync()
    as_synced_before_own_credentials(fake_rps)
    refused_id = fake_rps.devices[alpha_macs[0]]["id"]
    fake_rps.fail("device/edit", 400, key="param.invalid", match=lambda b: b["id"] == refused_id)

    _, _, err = sync_fails()

    assert f"alpha {format_mac(alpha_macs[0])}: RPS refused POST device/edit: param.invalid" in err
    assert fake_rps.device_fields(alpha_macs[0])["password"] == ""
    for mac in alpha_macs[1:] + bravo_macs:
        assert fake_rps.device_fields(mac) == own_fields(mac)
    state = RpsDeviceState.objects.get(mac=alpha_macs[0])
    assert state.status == Status.FAILED
    assert state.fingerprint == old_fingerprint(state.mac, state.server_rps_id)  # as RPS has it

    fake_rps.calls.clear()
    sync()

    assert [call.body["id"] for call in fake_rps.write_calls()] == [refused_id]
    assert fake_rps.device_fields(alpha_macs[0]) == own_fields(alpha_macs[0])


def test_a_new_provisioning_url_reaches_the_server_and_every_phone(
    fake_rps, two_organisations, settings
):
    sync()
    settings.PROVISIONING_URL = "https://p2.example.net/"
    fake_rps.calls.clear()

    sync()

    endpoints = [call.endpoint for call in fake_rps.write_calls()]
    assert sorted(endpoints) == ["device/edit"] * 5 + ["server/edit"] * 2
    assert {d["uniqueServerUrl"] for d in fake_rps.devices.values()} == {settings.PROVISIONING_URL}


def test_a_dry_run_says_which_phones_it_would_give_new_credentials(fake_rps, two_organisations):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    phone = alpha.devices.get(mac=alpha_macs[0])
    phone.rotate_provisioning_password()
    phone.save()
    fake_rps.calls.clear()

    out, _ = sync("--dry-run")

    assert fake_rps.write_calls() == []
    assert f"alpha: would update 1 phone(s): {format_mac(phone.mac)}" in out
    assert "1 updated" in out
    assert fake_rps.device_fields(phone.mac)["password"] != phone.provisioning_password


def test_a_full_sync_repairs_a_phones_credentials_changed_in_rps(fake_rps, two_organisations):
    _, _, alpha_macs, _ = two_organisations
    sync()
    fake_rps.devices[alpha_macs[0]]["authName"] = "changed-in-the-portal"
    fake_rps.calls.clear()

    sync()
    assert fake_rps.write_calls() == []  # trusting our records, nothing to do

    out, _ = sync("--full")

    assert [call.endpoint for call in fake_rps.write_calls()] == ["device/edit"]
    assert fake_rps.device_fields(alpha_macs[0]) == own_fields(alpha_macs[0])
    assert "1 updated" in out


def test_a_password_change_edits_the_server_and_nothing_else(fake_rps, two_organisations):
    alpha = two_organisations[0]
    sync()
    fake_rps.calls.clear()
    alpha.provisioning_password = "rotated-password-1"
    alpha.save()

    out, _ = sync()

    assert [call.endpoint for call in fake_rps.write_calls()] == ["server/edit"]
    assert fake_rps.server_named(server_name("alpha"))["password"] == "rotated-password-1"
    mac = two_organisations[2][0]
    assert fake_rps.device_fields(mac) == own_fields(mac)  # the phones keep their own
    assert "1 updated" in out
    stored = RpsServerState.objects.filter(organisation=alpha).values().get()
    assert not [name for name, value in stored.items() if "rotated" in str(value)]


def test_an_uploaded_ca_certificate_reaches_the_servers(fake_rps, two_organisations, monkeypatch):
    sync()
    assert fake_rps.server_named(server_name("alpha"))["certificateUrl"] == ""
    monkeypatch.setattr("media_assets.ca.ca_certificate_url", lambda: "https://x.example/ca.crt")

    sync()

    assert (
        fake_rps.server_named(server_name("bravo"))["certificateUrl"] == "https://x.example/ca.crt"
    )


def test_a_phone_moved_to_another_organisation_is_moved_in_rps(fake_rps, two_organisations):
    alpha, bravo, alpha_macs, _ = two_organisations
    sync()
    fake_rps.calls.clear()
    phone = alpha.devices.get(mac=alpha_macs[0])
    phone.organisation = bravo
    phone.save()

    out, _ = sync()

    [migrate] = fake_rps.write_calls()  # its own credentials are as they were
    assert migrate.endpoint == "device/migrate"
    assert fake_rps.our_devices()[phone.mac] == server_name("bravo")
    assert fake_rps.device_fields(phone.mac) == own_fields(phone.mac)
    state = RpsDeviceState.objects.get(mac=phone.mac)
    assert state.organisation == bravo
    assert state.server_rps_id == fake_rps.server_named(server_name("bravo"))["id"]
    assert "1 moved" in out


def test_a_deleted_phone_is_removed_from_rps_and_its_record_kept(fake_rps, two_organisations):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    alpha.devices.get(mac=alpha_macs[0]).delete()

    out, _ = sync()

    assert alpha_macs[0] not in fake_rps.devices
    assert fake_rps.calls_to("device/delete")[0].body == {"macs": [alpha_macs[0]]}
    state = RpsDeviceState.objects.get(mac=alpha_macs[0])
    assert (state.status, state.device, state.rps_id) == (Status.REMOVED, None, "")
    assert "1 removed" in out


def test_a_deactivated_phone_is_removed_and_comes_back_when_activated(fake_rps, two_organisations):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    phone = alpha.devices.get(mac=alpha_macs[1])
    phone.is_active = False
    phone.save()

    sync()
    assert phone.mac not in fake_rps.devices

    phone.is_active = True
    phone.save()
    sync()
    assert fake_rps.our_devices()[phone.mac] == server_name("alpha")


def test_the_phones_of_an_inactive_organisation_are_removed(fake_rps, two_organisations):
    _, bravo, _, bravo_macs = two_organisations
    sync()
    bravo.is_active = False
    bravo.save()

    sync()

    assert not set(bravo_macs) & set(fake_rps.devices)


def test_a_run_stops_at_the_first_call_rps_leaves_unanswered_and_the_next_one_goes_on(fake_rps, db):
    alpha = make_organisation("alpha")
    macs = sorted(make_device(alpha).mac for _ in range(20))
    fake_rps.fail("device/add", 503, times=1000)

    message, out, err = sync_fails(code=2)

    assert len(fake_rps.calls_to("device/add")) == 3  # one phone: 1 try + 2 retries, no more
    assert "alpha: stopped, RPS unavailable, 20 phone(s)" in out
    assert "RPS answered POST device/add with busy (HTTP 503); 3 attempts" in err
    assert "the run stopped at alpha" in err
    state = RpsDeviceState.objects.get()  # the others untouched
    assert (state.mac, state.status, state.last_error) == (
        macs[0],
        Status.PENDING,
        wording.NO_ANSWER,
    )
    assert "RPS sync stopped" in message

    fake_rps.rules.clear()
    sync()

    assert set(fake_rps.our_devices()) == set(macs)


def test_a_phone_rps_keeps_failing_on_goes_last_so_it_cannot_hold_back_the_others(fake_rps, db):
    alpha = make_organisation("alpha")
    macs = sorted(make_device(alpha).mac for _ in range(5))
    fake_rps.fail("device/add", 500, times=1000, match=lambda body: body["macs"] == [macs[1]])

    sync_fails(code=2)
    assert set(fake_rps.our_devices()) == {macs[0]}  # stopped at macs[1]

    sync_fails(code=2)

    assert set(fake_rps.our_devices()) == set(macs) - {macs[1]}  # it was tried last
    assert [call.body["macs"] for call in fake_rps.calls_to("device/add")][-1] == [macs[1]]


def test_a_refusal_of_one_phone_is_reported_by_its_mac_and_the_others_are_registered(fake_rps, db):
    alpha = make_organisation("alpha")
    macs = sorted(make_device(alpha).mac for _ in range(5))
    refused = macs[2]
    fake_rps.fail(
        "device/add", 400, key="device.password.invalid", match=lambda b: b["macs"] == [refused]
    )

    message, out, _ = sync_fails("--json")

    assert set(fake_rps.our_devices()) == set(macs) - {refused}
    [error] = json.loads(out)["errors"]
    assert (error["organisation"], error["mac"], error["kind"]) == (
        "alpha",
        refused,
        "phone_refused",
    )
    assert error["message"] == wording.PHONE_REFUSED
    assert "device.password.invalid" in error["detail"]
    state = RpsDeviceState.objects.get(mac=refused)
    assert (state.status, state.fingerprint) == (Status.FAILED, "")
    assert state.last_error == wording.PHONE_REFUSED
    assert "device.password.invalid" in state.last_error_detail
    assert "1 problem(s)" in message


def test_a_phone_added_without_an_answer_is_given_its_credentials_next_run(fake_rps, db, settings):
    alpha = make_organisation("alpha")
    macs = sorted(make_device(alpha).mac for _ in range(3))
    settings.RPS_RETRIES = 0
    settings.RPS_READ_TIMEOUT = 0.2
    fake_rps.delay("device/add", 0.5)  # RPS adds the first one, we time out: the run stops
    sync_fails(code=2)
    fake_rps.wait_idle()
    assert set(fake_rps.our_devices()) == {macs[0]}
    assert RpsDeviceState.objects.get(mac=macs[0]).status == Status.PENDING
    fake_rps.calls.clear()

    out, _ = sync()

    # RPS says it has it; what it holds of the phone's own cannot be read back: pushed again
    # (after the others: a phone left unanswered goes last).
    endpoints = [call.endpoint for call in fake_rps.write_calls()]
    assert endpoints == ["device/add", "device/add", "device/add", "device/edit"]
    assert set(RpsDeviceState.objects.values_list("status", flat=True)) == {Status.REGISTERED}
    assert fake_rps.device_fields(macs[0]) == own_fields(macs[0])
    assert "2 registered, 1 updated, 0 moved, 0 removed, 0 unchanged, 0 failed" in out


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(fake_rps, two_organisations):
    out, _ = sync("--dry-run")

    assert fake_rps.write_calls() == []
    assert not RpsServerState.objects.exists()
    assert not RpsDeviceState.objects.exists()
    assert "would have: servers 2 created" in out
    assert "5 registered" in out
    assert f"alpha: would create server {server_name('alpha')}" in out
    assert "bravo: would register 2 phone(s): 80:5e:c0:" in out


def test_a_dry_run_after_a_deletion_says_it_would_remove_it(fake_rps, two_organisations):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    alpha.devices.get(mac=alpha_macs[0]).delete()
    fake_rps.calls.clear()

    out, _ = sync("--dry-run")

    assert fake_rps.write_calls() == []
    assert alpha_macs[0] in fake_rps.devices
    assert "1 removed" in out
    assert f"Would remove 1 phone(s): {format_mac(alpha_macs[0])}" in out
    assert RpsDeviceState.objects.get(mac=alpha_macs[0]).status == Status.REGISTERED


def test_a_wrong_secret_is_reported_clearly_and_stops_the_run(
    fake_rps, two_organisations, settings
):
    settings.RPS_ACCESS_KEY_SECRET = "not-the-secret"

    message, out, err = sync_fails(code=2)

    assert "RPS refused our access key or signature" in err
    assert "RPS_ACCESS_KEY_SECRET" in err
    assert len(fake_rps.calls) == 1  # the first refusal stops everything
    assert fake_rps.servers == {}
    assert not RpsDeviceState.objects.exists()
    assert "alpha: stopped, RPS unavailable" in out
    assert "bravo: not tried, RPS unavailable" in out
    assert "RPS sync stopped" in message


def test_missing_keys_are_a_clear_error_before_any_call(fake_rps, two_organisations, settings):
    settings.RPS_ACCESS_KEY_ID = ""

    message, _, err = sync_fails()

    assert "RPS_ACCESS_KEY_ID must be set" in err
    assert "RPS sync not run: RPS is not set up" in message
    assert fake_rps.calls == []


def test_a_phone_owned_by_another_customer_is_reported_once_and_not_retried(fake_rps, db):
    alpha = make_organisation("alpha")
    theirs = make_device(alpha, "805ec0ee0001").mac
    ours = [make_device(alpha).mac for _ in range(3)]
    fake_rps.seed_device(theirs, owner="another-provider")

    message, _, err = sync_fails()

    assert "RPS sync: 1 problem(s) need someone" in message
    assert "805ec0ee0001" not in fake_rps.our_devices()
    assert set(ours) <= set(fake_rps.our_devices())
    assert "alpha 80:5e:c0:ee:00:01: device.mac.added.by.other" in err
    assert "another RPS account" in err
    assert RpsDeviceState.objects.get(mac=theirs).status == Status.OWNED_BY_OTHER

    fake_rps.calls.clear()
    message, out, err = sync_fails()  # still needs someone: still exit 1

    assert fake_rps.calls == []  # not retried on every run
    assert "1 owned by another customer" in out
    assert err.count("80:5e:c0:ee:00:01") == 1


def test_a_full_sync_rechecks_a_phone_another_customer_has_released(fake_rps, db):
    alpha = make_organisation("alpha")
    theirs = make_device(alpha, "805ec0ee0001").mac
    fake_rps.seed_device(theirs, owner="another-provider")
    sync_fails()
    del fake_rps.devices[theirs]

    sync("--full")

    assert fake_rps.our_devices()[theirs] == server_name("alpha")
    assert RpsDeviceState.objects.get(mac=theirs).status == Status.REGISTERED


def test_a_phone_already_in_our_account_on_another_server_is_moved(fake_rps, db):
    alpha = make_organisation("alpha")
    phone = make_device(alpha)
    legacy = fake_rps.seed_server("legacy-server")
    fake_rps.seed_device(phone.mac, server_id=legacy)

    out, _ = sync()

    assert fake_rps.our_devices()[phone.mac] == server_name("alpha")
    assert fake_rps.device_fields(phone.mac) == own_fields(phone.mac)
    assert "1 updated" in out


def test_a_full_sync_repairs_what_was_changed_in_rps_behind_our_back(fake_rps, two_organisations):
    _, _, alpha_macs, _ = two_organisations
    sync()
    del fake_rps.devices[alpha_macs[0]]
    fake_rps.server_named(server_name("alpha"))["url"] = "https://wrong.example/"
    stray = fake_rps.seed_device(
        "805ec0dd0001", server_id=fake_rps.server_named(server_name("alpha"))["id"]
    )

    sync()
    assert alpha_macs[0] not in fake_rps.devices  # trusting our records, nothing to do

    out, _ = sync("--full")

    assert fake_rps.our_devices()[alpha_macs[0]] == server_name("alpha")
    assert fake_rps.server_named(server_name("alpha"))["url"] == "https://provisioning.example.net/"
    assert "805ec0dd0001" not in fake_rps.devices
    assert stray
    assert "1 registered" in out
    assert "1 updated" in out


def test_a_server_deleted_in_rps_is_created_again(fake_rps, two_organisations):
    alpha = two_organisations[0]
    sync()
    old = fake_rps.server_named(server_name("alpha"))["id"]
    del fake_rps.servers[old]
    alpha.provisioning_password = "rotated-password-2"
    alpha.save()

    sync()

    assert fake_rps.server_named(server_name("alpha"))["id"] != old


def test_a_server_name_taken_by_another_customer_is_reported_clearly(fake_rps, two_organisations):
    fake_rps.seed_server(server_name("alpha"), owner="another-provider")

    _, out, err = sync_fails()

    assert "RPS refused to create server" in err
    assert "server.name.existed" in err
    assert "RPS_SERVER_NAME_PREFIX" in err
    assert "Its phones are not registered until it exists" in err
    assert "alpha: needs attention, 3 phone(s), 1 problem(s)" in out
    assert "bravo: in sync, 2 phone(s)" in out
    assert set(fake_rps.our_devices()) == set(two_organisations[3])  # bravo went ahead
    server = RpsServerState.objects.get(organisation__slug="alpha")
    assert server.last_error == wording.SERVER_NOT_CREATED
    assert "server.name.existed" in server.last_error_detail

    sync_fails()  # reported again while it persists


def test_a_server_created_by_a_lost_answer_is_adopted_not_duplicated(fake_rps, two_organisations):
    fake_rps.seed_server(server_name("alpha"), url="old")

    sync()

    assert len([s for s in fake_rps.servers.values() if "alpha" in s["serverName"]]) == 1
    assert fake_rps.server_named(server_name("alpha"))["url"] == "https://provisioning.example.net/"


def test_organisation_limits_the_run_to_those_organisations(fake_rps, two_organisations):
    _, _, alpha_macs, bravo_macs = two_organisations

    sync("--organisation", "bravo")

    assert set(fake_rps.our_devices()) == set(bravo_macs)
    assert not set(alpha_macs) & set(fake_rps.devices)
    assert {s["serverName"] for s in fake_rps.servers.values()} == {server_name("bravo")}


def test_an_unknown_organisation_is_an_error_before_any_call(fake_rps, two_organisations):
    message, _, _ = sync_fails("--organisation", "alpha", "--organisation", "nope")

    assert "No organisation with slug nope" in message
    assert fake_rps.calls == []


def test_json_gives_a_machine_readable_summary(fake_rps, two_organisations):
    out, _ = sync("--json")

    summary = json.loads(out)
    assert summary["ok"] is True
    assert summary["servers_created"] == 2
    assert summary["devices_registered"] == 5
    assert summary["write_calls"] == 7  # 2 servers, then a call per phone
    assert summary["errors"] == []


def test_json_lists_the_failures_by_organisation_and_mac(fake_rps, db):
    alpha = make_organisation("alpha")
    theirs = make_device(alpha, "805ec0ee0001").mac
    fake_rps.seed_device(theirs, owner="another-provider")

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("rps_sync", "--json", stdout=out, stderr=StringIO())

    [error] = json.loads(out.getvalue())["errors"]
    assert (error["organisation"], error["mac"]) == ("alpha", theirs)


def test_it_prints_plain_progress_lines_when_not_on_a_terminal(fake_rps, two_organisations):
    out, _ = sync()

    assert "alpha: in sync, 3 phone(s)\nbravo: in sync, 2 phone(s)\nremovals: done\n" in out
    assert "\r" not in out


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_it_draws_a_progress_bar_on_a_terminal(fake_rps, two_organisations):
    out = Terminal()

    call_command("rps_sync", stdout=out, stderr=StringIO())

    assert "\r[##################............] 3/5 phones  alpha" in out.getvalue()
    assert "\r[##############################] 5/5 phones  removals" in out.getvalue()
    assert "alpha: done" not in out.getvalue()


def test_rate_limiting_is_waited_out(fake_rps, two_organisations):
    fake_rps.fail("device/add", 429, times=2, retry_after="0")

    out, _ = sync()

    assert len(fake_rps.our_devices()) == 5
    assert "0 failed" in out


def test_a_deleted_organisations_server_is_deleted_after_its_phones(fake_rps, two_organisations):
    _, bravo, _, bravo_macs = two_organisations
    sync()
    bravo.devices.all().delete()
    bravo.delete()

    out, _ = sync()

    assert not set(bravo_macs) & set(fake_rps.devices)
    assert server_name("bravo") not in {s["serverName"] for s in fake_rps.servers.values()}
    assert not RpsServerState.objects.filter(server_name=server_name("bravo")).exists()
    assert "1 removed; devices" in out


def test_a_deleted_phone_whose_mac_comes_back_elsewhere_is_moved_not_removed(
    fake_rps, two_organisations
):
    alpha, bravo, alpha_macs, _ = two_organisations
    sync()
    alphas_password = alpha.devices.get(mac=alpha_macs[0]).provisioning_password
    alpha.devices.get(mac=alpha_macs[0]).delete()
    make_device(bravo, alpha_macs[0])
    fake_rps.calls.clear()

    sync("--organisation", "alpha")  # alpha's run must not remove bravo's new phone
    assert fake_rps.write_calls() == []
    sync()

    # Added by another organisation, the phone gets new credentials (the old ones are in a
    # phone that may still be alpha's): one edit moves it and gives RPS them.
    assert [call.endpoint for call in fake_rps.write_calls()] == ["device/edit"]
    assert fake_rps.our_devices()[alpha_macs[0]] == server_name("bravo")
    assert fake_rps.device_fields(alpha_macs[0]) == own_fields(alpha_macs[0])
    assert fake_rps.device_fields(alpha_macs[0])["password"] != alphas_password
    moved = RpsDeviceState.objects.get(mac=alpha_macs[0]).device
    assert moved is not None
    assert moved.organisation == bravo


def test_the_demo_phones_start_pending_and_the_first_sync_registers_them(fake_rps, db):
    call_command("loaddemo", stdout=StringIO())
    assert set(RpsDeviceState.objects.values_list("status", flat=True)) == {Status.PENDING}

    sync()

    assert set(RpsDeviceState.objects.values_list("status", flat=True)) == {Status.REGISTERED}
    assert len(fake_rps.our_devices()) == RpsDeviceState.objects.count() > 0


def test_a_deleted_phone_another_customer_took_over_meanwhile_counts_as_removed(
    fake_rps, two_organisations
):
    alpha, _, alpha_macs, _ = two_organisations
    sync()
    fake_rps.devices[alpha_macs[0]]["owner"] = "another-provider"
    alpha.devices.get(mac=alpha_macs[0]).delete()

    out, _ = sync()

    assert fake_rps.calls_to("device/delete")[0].body == {"macs": [alpha_macs[0]]}
    assert RpsDeviceState.objects.get(mac=alpha_macs[0]).status == Status.REMOVED
    assert "1 removed" in out


def test_a_foreign_mac_among_many_costs_only_its_own_calls(fake_rps, db):
    alpha = make_organisation("alpha")
    macs = sorted(make_device(alpha).mac for _ in range(100))
    fake_rps.seed_device(macs[37], owner="another-provider")

    _, _, err = sync_fails()

    assert set(fake_rps.our_devices()) == set(macs) - {macs[37]}
    assert len(fake_rps.calls_to("device/add")) == 100
    assert len(fake_rps.calls_to("device/checkMac")) == 1
    assert RpsDeviceState.objects.get(mac=macs[37]).status == Status.OWNED_BY_OTHER
    assert err.count("another RPS account") == 1


def test_a_row_recorded_meanwhile_by_another_run_is_overwritten_not_a_crash(
    fake_rps, db, monkeypatch
):
    alpha = make_organisation("alpha")
    phone = make_device(alpha)
    original = sync_module._states_by_mac

    def looked_too_early(macs):  # another run creates the row right after we looked
        found = original(macs)
        RpsDeviceState.objects.create(mac=phone.mac, status=Status.FAILED, last_error="other run")
        return found

    monkeypatch.setattr(sync_module, "_states_by_mac", looked_too_early)

    sync()

    state = RpsDeviceState.objects.get(mac=phone.mac)
    assert (state.status, state.last_error, state.device) == (Status.REGISTERED, "", phone)


def test_the_progress_bar_moves_with_each_batch_of_a_large_organisation(fake_rps, db):
    alpha = make_organisation("alpha")
    for _ in range(250):
        make_device(alpha)
    out = Terminal()

    call_command("rps_sync", stdout=out, stderr=StringIO())

    shown = out.getvalue()
    assert shown.index(" 100/250 phones") < shown.index(" 200/250 phones") < shown.index(" 250/250")
