"""The RPS client against the fake: envelope, error keys, retries and timeouts."""

from __future__ import annotations

import time

import pytest

from rps.client import RpsClient, RpsConfigError, RpsError, client_from_settings
from tests.rps.fake_rps import KEY_ID, SECRET


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def client(fake_rps, pauses) -> RpsClient:
    return RpsClient(
        fake_rps.url,
        KEY_ID,
        SECRET,
        retries=3,
        backoff=0.5,
        backoff_max=4,
        read_timeout=0.5,
        sleep=pauses.append,
    )


def test_it_retries_a_server_error_with_growing_backoff_and_a_fresh_signature(
    fake_rps, client, pauses
):
    fake_rps.fail("server/list", 500, times=2)

    servers, total = client.list_servers()

    assert (servers, total) == ([], 0)
    assert [call.status for call in fake_rps.calls] == [500, 500, 200]
    assert pauses == [0.5, 1.0]
    assert len(fake_rps.nonces) == 3  # each attempt signed anew


def test_it_honours_retry_after_on_429_but_caps_it(fake_rps, client, pauses):
    fake_rps.fail("server/list", 429, times=1, retry_after="2")
    fake_rps.fail("server/list", 429, times=1, retry_after="3600")

    client.list_servers()

    assert pauses == [2.0, 4.0]


def test_it_gives_up_after_its_retries_with_a_retryable_error(fake_rps, client, pauses):
    fake_rps.fail("server/list", 503, times=10)

    with pytest.raises(RpsError) as caught:
        client.list_servers()

    assert caught.value.status == 503
    assert caught.value.retryable
    assert len(fake_rps.calls) == 4


def test_it_does_not_retry_a_refusal_that_would_fail_again(fake_rps, client):
    with pytest.raises(RpsError) as caught:
        client.edit_server("999", {"serverName": "x"})

    assert caught.value.key == "server.not.found"
    assert not caught.value.retryable
    assert len(fake_rps.calls) == 1


def test_a_400_is_an_error_with_the_key_and_field_errors_of_the_envelope(fake_rps, client):
    with pytest.raises(RpsError) as caught:
        client.add_server({"serverName": "ok-name"})

    assert caught.value.status == 400
    assert caught.value.key == "param.required"
    assert "url" in str(caught.value)
    assert len(fake_rps.calls) == 1


def test_a_slow_answer_times_out_and_is_retried(fake_rps, client):
    fake_rps.delay("server/list", 1.5)

    client.list_servers()

    assert len(fake_rps.calls) == 2


def test_an_unreachable_rps_is_a_retryable_connection_error(pauses):
    client = RpsClient("http://127.0.0.1:9", KEY_ID, SECRET, retries=1, sleep=pauses.append)

    with pytest.raises(RpsError) as caught:
        client.list_servers()

    assert caught.value.key == "connection"
    assert caught.value.retryable
    assert len(pauses) == 1


OWN = {
    "uniqueServerUrl": "https://p.example/",
    "authName": "805ec0000001",
    "password": "Own24CharacterPassword00",
}


def test_device_calls_send_lower_case_macs_in_batches_of_at_most_100(fake_rps, client):
    server_id = fake_rps.seed_server("s1")

    ids = client.add_devices(["805ec0000001", "805ec0000002"], server_id, {})
    client.delete_devices(["805ec0000001"])

    assert set(ids) == {"805ec0000001", "805ec0000002"}
    assert fake_rps.calls_to("device/delete")[0].body == {"macs": ["805ec0000001"]}
    with pytest.raises(ValueError, match="1 to 100"):
        client.add_devices([f"805ec0{n:06x}" for n in range(101)], server_id, {})


def test_a_device_carries_its_own_url_and_credentials_and_the_list_never_shows_a_password(
    fake_rps, client
):
    server_id = fake_rps.seed_server("s1")

    ids = client.add_devices(["805ec0000001"], server_id, OWN, "alpha")

    [add] = fake_rps.calls_to("device/add")
    assert add.body == {"macs": ["805ec0000001"], "serverId": server_id, **OWN, "remark": "alpha"}
    assert fake_rps.device_fields("805ec0000001") == OWN
    [listed] = client.iter_devices()
    assert (listed.id, listed.unique_server_url, listed.auth_name) == (
        ids["805ec0000001"],
        OWN["uniqueServerUrl"],
        OWN["authName"],
    )
    assert OWN["password"] not in str(fake_rps.calls[-1].body) + str(listed)


def test_an_edit_sends_every_field_of_the_device(fake_rps, client):
    old_server, new_server = fake_rps.seed_server("s1"), fake_rps.seed_server("s2")
    device_id = fake_rps.seed_device("805ec0000001", server_id=old_server)

    client.edit_device(device_id, new_server, OWN, "alpha")

    [edit] = fake_rps.calls_to("device/edit")
    assert edit.body == {"id": device_id, "serverId": new_server, **OWN, "remark": "alpha"}
    assert fake_rps.devices["805ec0000001"]["serverId"] == new_server
    assert fake_rps.device_fields("805ec0000001") == OWN


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({**OWN, "uniqueServerUrl": "provisioning.example.net"}, ["uniqueServerUrl"]),
        ({**OWN, "uniqueServerUrl": "https://p.example/" + "x" * 300}, ["uniqueServerUrl"]),
        ({**OWN, "uniqueServerUrl": ""}, ["uniqueServerUrl"]),
        ({**OWN, "authName": "has space"}, ["authName"]),
        ({**OWN, "authName": ""}, ["authName"]),
        ({**OWN, "password": "x" * 65}, ["password"]),
        ({**OWN, "password": "line\nbreak"}, ["password"]),
        ({**OWN, "password": 12345}, ["password"]),
    ],
)
def test_the_fake_refuses_device_fields_rps_could_not_hand_a_phone(
    fake_rps, client, fields, refused
):
    server_id = fake_rps.seed_server("s1")
    device_id = fake_rps.seed_device("805ec0000002", server_id=server_id)

    for call in (
        lambda: client.add_devices(["805ec0000001"], server_id, fields),
        lambda: client.edit_device(device_id, server_id, fields),
    ):
        with pytest.raises(RpsError) as caught:
            call()
        assert (caught.value.key, caught.value.status) == ("param.invalid", 400)
        assert str([{"field": name} for name in refused]) in str(caught.value)
    assert "805ec0000001" not in fake_rps.devices
    assert fake_rps.device_fields("805ec0000002") == dict.fromkeys(OWN, "")


def test_listing_devices_pages_through_everything(fake_rps, client):
    for n in range(250):
        fake_rps.seed_device(f"805ec0{n:06x}", server_id="1")
    fake_rps.seed_device("805ec0ffffff", owner="other")

    devices = list(client.iter_devices())

    assert len(devices) == 250
    assert len(fake_rps.calls_to("device/list")) == 3


def test_check_mac_tells_ours_from_another_customers(fake_rps, client):
    fake_rps.seed_device("805ec0000001")
    fake_rps.seed_device("805ec0000002", owner="other")

    assert client.check_mac("805ec0000001") == (True, True)
    assert client.check_mac("805ec0000002") == (True, False)
    assert client.check_mac("805ec0000003") == (False, False)


def test_missing_keys_are_a_clear_error_before_any_call(settings):
    settings.RPS_ACCESS_KEY_ID = "id"
    settings.RPS_ACCESS_KEY_SECRET = ""

    with pytest.raises(RpsConfigError, match="RPS_ACCESS_KEY_SECRET must be set"):
        client_from_settings()


def test_a_403_about_one_device_is_not_mistaken_for_a_refused_key(fake_rps, client):
    fake_rps.fail("device/delete", 403, key="device.operate.forbidden")

    with pytest.raises(RpsError) as caught:
        client.delete_devices(["805ec0000001"])

    assert caught.value.status == 403
    assert not caught.value.is_auth
    assert not caught.value.retryable


def test_listing_goes_on_when_rps_answers_shorter_pages_than_asked(fake_rps, client):
    fake_rps.max_page = 30
    for n in range(100):
        fake_rps.seed_device(f"805ec0{n:06x}", server_id="1")

    devices = list(client.iter_devices())

    assert len(devices) == 100
    assert len(fake_rps.calls_to("device/list")) == 4


def test_a_timeout_is_tried_once_more_not_as_often_as_other_failures(fake_rps, client, pauses):
    fake_rps.delay("server/list", 1.5, times=10)  # the client's read timeout is 0.5 s

    with pytest.raises(RpsError) as caught:
        client.list_servers()

    assert caught.value.key == "timeout"
    assert caught.value.attempts == 2  # not 1 + retries (3): each try costs the whole timeout
    assert "did not answer in 0.5 s" in str(caught.value)
    assert caught.value.call == "POST server/list"


def test_a_call_budget_cuts_a_hanging_call_and_its_retries_short(fake_rps):
    fake_rps.latency = 3.0
    client = RpsClient(
        fake_rps.url, KEY_ID, SECRET, read_timeout=30, retries=4, backoff=0, call_seconds=0.5
    )

    started = time.monotonic()
    with pytest.raises(RpsError) as caught:
        client.list_servers()

    assert time.monotonic() - started < 2  # 0.5 s, where 30 s and a retry were allowed
    assert caught.value.attempts == 1
    assert caught.value.retryable


def test_a_connection_refused_says_so_without_the_layers_of_requests(pauses):
    client = RpsClient("http://127.0.0.1:9", KEY_ID, SECRET, retries=2, sleep=pauses.append)

    with pytest.raises(RpsError) as caught:
        client.list_servers()

    text = str(caught.value)
    assert text.startswith("RPS at 127.0.0.1:9 could not be reached: Failed to establish")
    assert "Connection refused; 3 attempts in" in text
    assert "HTTPConnectionPool" not in text
    assert caught.value.stops_run


def test_an_error_we_raise_ourselves_is_not_taken_for_rps_not_answering():
    error = RpsError("device.not.listed", "RPS says the MAC is ours but does not list it")

    assert not error.retryable
    assert not error.stops_run
