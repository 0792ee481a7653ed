"""The phone's side of the conversation: boot, common and MAC files over HTTP auth."""

import time

import pytest

from devices.models import AccessLog, Device
from devices.serving import http_auth
from devices.serving.http_auth import make_nonce
from tests.conftest import basic
from tests.factories import make_account, make_device, make_organisation, user_agent
from tests.phone_client import digest_authorization, www_authenticate

Outcome = AccessLog.Outcome
MAC_FILE = "/805ec0aaaa01.cfg"


def fetch(
    client,
    path,
    tenant,
    *,
    agent=None,
    username=None,
    password=None,
    nonce=None,
    uri=None,
    challenge=None,
):
    """A phone's round trip: without credentials, then answering the Digest challenge.

    By default the tenant's phone does it right; each keyword changes one thing: its
    User-Agent, the user name or password it answers with, the nonce or URI it answers for,
    or a challenge it was given earlier (instead of asking for one first)."""
    agent = agent or user_agent(tenant.device)
    if challenge is None:
        first = client.get(path, headers={"User-Agent": agent})
        assert first.status_code == 401
        challenge = www_authenticate(first)[0]
    authorization = digest_authorization(
        challenge,
        tenant.username if username is None else username,
        tenant.password if password is None else password,
        uri or path,
        nonce=nonce,
    )
    return client.get(path, headers={"User-Agent": agent, "Authorization": authorization})


def challenge_for(client, tenant, path=MAC_FILE) -> str:
    """The Digest challenge a phone gets to its first request."""
    first = client.get(path, headers=tenant.phone_headers(auth=False))
    return www_authenticate(first)[0]


def only_log_row() -> AccessLog:
    return AccessLog.objects.get()


# --- the challenge ---------------------------------------------------------------------


def test_a_request_without_credentials_gets_digest_and_basic_on_separate_lines(client, tenant_a):
    response = client.get(MAC_FILE, headers=tenant_a.phone_headers(auth=False))

    challenges = www_authenticate(response)
    assert response.status_code == 401
    assert len(challenges) == 2
    assert challenges[0].startswith('Digest realm="voipconfig", qop="auth", algorithm=MD5, nonce="')
    assert challenges[1] == 'Basic realm="voipconfig", charset="UTF-8"'
    assert not AccessLog.objects.exists()  # the first step of every round is not an attempt


def test_with_digest_only_the_challenge_offers_digest_alone(client, tenant_a, settings):
    settings.PROVISIONING_AUTH_SCHEMES = ["digest"]

    first = client.get(MAC_FILE, headers=tenant_a.phone_headers(auth=False))
    basic_attempt = client.get(MAC_FILE, headers=tenant_a.phone_headers())

    assert [c.split()[0] for c in www_authenticate(first)] == ["Digest"]
    assert basic_attempt.status_code == 400
    assert only_log_row().outcome == Outcome.BAD_REQUEST


# --- success ---------------------------------------------------------------------------


def test_the_phone_gets_its_mac_file_with_digest(client, tenant_a):
    response = fetch(client, MAC_FILE, tenant_a)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert int(response["Content-Length"]) == len(response.content)
    body = response.content.decode()
    assert body.startswith("#!version:1.0.0.1\n")
    assert "account.1.user_name = a101\n" in body
    assert "account.2.password = alpha-sip-102\n" in body


def test_the_phone_gets_its_mac_file_with_basic(client, tenant_a):
    response = client.get(MAC_FILE, headers=tenant_a.phone_headers())

    assert response.status_code == 200
    assert b"account.1.password = alpha-sip-101" in response.content


def test_success_is_logged_without_the_password(client, tenant_a):
    fetch(
        client,
        MAC_FILE,
        tenant_a,
        agent="Yealink SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01",
    )

    row = only_log_row()
    assert row.outcome == Outcome.SUCCESS
    assert row.status_code == 200
    assert (row.mac, row.username, row.path, row.ip) == (
        "805ec0aaaa01",
        "alpha",
        MAC_FILE,
        "127.0.0.1",
    )
    assert (row.organisation, row.device) == (tenant_a.organisation, tenant_a.device)
    assert row.user_agent == "Yealink SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01"
    assert tenant_a.password not in str(list(AccessLog.objects.values().get().values()))


def test_success_records_what_the_phone_told_us(client, tenant_a):
    before = time.time()

    fetch(
        client,
        MAC_FILE,
        tenant_a,
        agent="Yealink SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01",
    )

    device = Device.objects.get(pk=tenant_a.device.pk)
    assert device.last_seen_at is not None
    assert device.last_seen_at.timestamp() >= before - 1
    assert device.last_seen_ip == "127.0.0.1"
    assert device.last_firmware == "96.86.0.100"
    assert device.last_user_agent == "Yealink SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01"


def test_a_mac_file_name_in_upper_case_is_served(client, tenant_a):
    response = fetch(client, "/805EC0AAAA01.cfg", tenant_a)

    assert response.status_code == 200
    assert only_log_row().mac == "805ec0aaaa01"


def test_head_answers_like_get_without_a_body(client, tenant_a):
    response = client.head(MAC_FILE, headers=tenant_a.phone_headers())

    assert response.status_code == 200
    assert response.content == b""
    assert int(response["Content-Length"]) > 100


def test_other_methods_are_not_allowed(client, tenant_a):
    response = client.post(MAC_FILE, headers=tenant_a.phone_headers())

    assert response.status_code == 405


# --- refusals ----------------------------------------------------------------------------


def test_wrong_credentials_get_a_new_challenge_and_are_logged(client, tenant_a):
    response = fetch(client, MAC_FILE, tenant_a, password="not-the-password")

    assert response.status_code == 401
    assert len(www_authenticate(response)) == 2
    row = only_log_row()
    assert (row.outcome, row.status_code, row.device) == (
        Outcome.WRONG_CREDENTIALS,
        401,
        tenant_a.device,
    )
    assert Device.objects.get(pk=tenant_a.device.pk).last_seen_at is None


def test_another_organisations_credentials_get_a_404_and_nothing(client, tenant_a, tenant_b):
    response = fetch(
        client, MAC_FILE, tenant_a, username=tenant_b.username, password=tenant_b.password
    )

    # Valid credentials, not for this phone: no 401 (a Yealink phone would prompt).
    assert response.status_code == 404
    assert b"alpha-sip" not in response.content
    assert only_log_row().outcome == Outcome.UNASSIGNED


def test_an_unknown_mac_looks_exactly_like_wrong_credentials(client, tenant_a):
    wrong = client.get(MAC_FILE, headers=tenant_a.phone_headers(password="not-the-password"))
    unknown = client.get(
        "/805ec0999999.cfg",
        headers={"User-Agent": user_agent("805ec0999999"), "Authorization": basic("alpha", "x")},
    )

    assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)
    assert [h.split(" nonce=")[0] for h in www_authenticate(unknown)] == [
        h.split(" nonce=")[0] for h in www_authenticate(wrong)
    ]
    assert sorted(name for name, _ in unknown.items()) == sorted(name for name, _ in wrong.items())
    assert list(AccessLog.objects.order_by("id").values_list("outcome", flat=True)) == [
        Outcome.WRONG_CREDENTIALS,
        Outcome.MAC_UNKNOWN,
    ]


@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_an_unknown_mac_costs_the_same_credential_check_as_a_wrong_password(
    client, tenant_a, monkeypatch, scheme
):
    # A timing difference would tell which MACs exist: an unknown MAC's answer is checked
    # against a password all the same.
    checks = []
    real = http_auth.check

    def check(credentials, username, password, method):
        checks.append((type(credentials).__name__, len(password)))
        return real(credentials, username, password, method)

    monkeypatch.setattr(http_auth, "check", check)

    def attempt(mac):
        if scheme == "basic":
            headers = {"User-Agent": user_agent(mac), "Authorization": basic("alpha", "guess")}
            return client.get(f"/{mac}.cfg", headers=headers)
        return fetch(client, f"/{mac}.cfg", tenant_a, agent=user_agent(mac), password="guess")

    wrong = attempt(tenant_a.device.mac)
    wrong_checks, checks[:] = list(checks), []
    unknown = attempt("805ec0999999")

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert len(wrong_checks) == len(checks) == 1
    assert checks[0][0] == wrong_checks[0][0]  # the same scheme's work
    assert checks[0][1] > 0  # against a password, not a shortcut for an empty one


@pytest.mark.parametrize("inactive", ["device", "organisation"])
def test_an_inactive_phone_or_organisation_is_refused_without_a_prompt(client, tenant_a, inactive):
    target = tenant_a.device if inactive == "device" else tenant_a.organisation
    target.is_active = False
    target.save()

    by_organisation = client.get(MAC_FILE, headers=tenant_a.phone_headers())
    by_own = client.get(MAC_FILE, headers=tenant_a.own_headers())

    assert (by_organisation.status_code, by_own.status_code) == (404, 404)
    assert set(AccessLog.objects.values_list("outcome", flat=True)) == {Outcome.INACTIVE}


def test_a_phone_never_gets_another_phones_mac_file(client, tenant_a, tenant_b):
    headers = tenant_b.phone_headers(auth=False)

    without = client.get(MAC_FILE, headers=headers)
    with_own_credentials = client.get(MAC_FILE, headers=tenant_b.phone_headers())

    assert (without.status_code, with_own_credentials.status_code) == (404, 404)
    assert set(AccessLog.objects.values_list("outcome", "mac")) == {
        (Outcome.MAC_MISMATCH, "805ec0aaaa01")
    }


def test_even_the_right_credentials_do_not_get_a_file_for_another_mac(client, tenant_a):
    second = make_device(tenant_a.organisation, "805ec0aaaa02")
    make_account(second, 1, password="second-phone-secret")

    response = client.get("/805ec0aaaa02.cfg", headers=tenant_a.phone_headers())

    assert response.status_code == 404
    assert b"second-phone-secret" not in response.content


# --- Digest details ------------------------------------------------------------------------


def test_an_expired_nonce_with_the_right_answer_gets_a_stale_challenge(client, tenant_a, settings):
    old_nonce = make_nonce(time.time() - settings.DIGEST_NONCE_TTL_SECONDS - 5)

    response = fetch(client, MAC_FILE, tenant_a, nonce=old_nonce)

    assert response.status_code == 401
    assert www_authenticate(response)[0].endswith(", stale=true")
    assert only_log_row().outcome == Outcome.STALE_NONCE


def test_an_expired_nonce_with_a_wrong_answer_is_plain_wrong_credentials(
    client, tenant_a, settings
):
    old_nonce = make_nonce(time.time() - settings.DIGEST_NONCE_TTL_SECONDS - 5)

    response = fetch(client, MAC_FILE, tenant_a, password="wrong-password", nonce=old_nonce)

    assert "stale" not in www_authenticate(response)[0]
    assert only_log_row().outcome == Outcome.WRONG_CREDENTIALS


def test_a_nonce_we_did_not_issue_with_the_right_answer_gets_a_stale_challenge(client, tenant_a):
    # The phone retries with a fresh nonce rather than prompting for a password.
    forged = f"{int(time.time()):x}.AAAAAAAAAAAAAAAAAAAAAAAA"

    response = fetch(client, MAC_FILE, tenant_a, nonce=forged)

    assert response.status_code == 401
    assert www_authenticate(response)[0].endswith(", stale=true")
    assert only_log_row().outcome == Outcome.STALE_NONCE


def test_a_nonce_we_did_not_issue_with_a_wrong_answer_is_wrong_credentials(client, tenant_a):
    forged = f"{int(time.time()):x}.AAAAAAAAAAAAAAAAAAAAAAAA"

    response = fetch(
        client,
        MAC_FILE,
        tenant_a,
        password="guess",
        nonce=forged,
        challenge='Digest realm="voipconfig", nonce="x"',
    )

    assert "stale" not in www_authenticate(response)[0]
    assert only_log_row().outcome == Outcome.WRONG_CREDENTIALS


def test_a_nonce_issued_before_a_secret_key_rotation_still_counts(client, tenant_a, settings):
    challenge = challenge_for(client, tenant_a)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-after-rotation-0123456789"

    response = fetch(client, MAC_FILE, tenant_a, challenge=challenge)

    assert response.status_code == 200


def test_a_digest_uri_that_is_no_uri_at_all_is_a_bad_request(client, tenant_a):
    response = fetch(client, MAC_FILE, tenant_a, uri="http://[x/805ec0aaaa01.cfg")

    assert response.status_code == 400
    assert only_log_row().outcome == Outcome.BAD_REQUEST


def test_a_digest_answer_for_another_uri_is_a_bad_request(client, tenant_a):
    response = fetch(client, MAC_FILE, tenant_a, uri="/y000000000096.cfg")

    assert response.status_code == 400
    assert only_log_row().outcome == Outcome.BAD_REQUEST


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic bm8tY29sb24=",  # "no-colon"
        "Bearer abc.def",
        "Digest garbage",
        'Digest username="alpha", realm="voipconfig", nonce="x", uri="/805ec0aaaa01.cfg"',
        'Digest username="alpha", realm="voipconfig", nonce="x", uri="/805ec0aaaa01.cfg", '
        'response="0123", algorithm=SHA-256',
        'Digest username="alpha", realm="voipconfig", nonce="x", uri="/805ec0aaaa01.cfg", '
        'response="not-hex", qop=auth, nc=1, cnonce="c"',
        "Digest " + "a=b, " * 2000,
        "\u00ff\u00fe",
    ],
)
def test_a_garbage_authorization_header_is_a_bad_request_never_a_500(
    client, tenant_a, authorization
):
    response = client.get(
        MAC_FILE, HTTP_USER_AGENT=user_agent(tenant_a.device), HTTP_AUTHORIZATION=authorization
    )

    assert response.status_code == 400
    assert only_log_row().outcome == Outcome.BAD_REQUEST


@pytest.mark.parametrize(
    "agent",
    [
        "Yealink SIP-T54W \u00ff\u00fe\u00e9 80:5e:c0:aa:aa:01",  # bytes that are not UTF-8
        "Yealink\x00SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01",
        "x" * 5000,
        "",
    ],
)
def test_an_odd_user_agent_never_breaks_the_request_or_the_log(client, tenant_a, agent):
    response = client.get(
        MAC_FILE, HTTP_USER_AGENT=agent, HTTP_AUTHORIZATION=basic("alpha", tenant_a.password)
    )

    assert response.status_code == 200
    row = only_log_row()
    assert "\x00" not in row.user_agent
    assert len(row.user_agent) <= 255


# --- common file and boot files ----------------------------------------------------------


def test_the_common_file_holds_the_organisations_settings_and_no_sip_passwords(client, tenant_a):
    response = fetch(client, "/y000000000096.cfg", tenant_a)

    body = response.content.decode()
    assert response.status_code == 200
    assert "local_time.time_zone = +1\n" in body
    # No credentials: each phone's own are in its MAC file, the organisation's nowhere.
    assert "static.auto_provision.server.username" not in body
    assert tenant_a.password not in body
    assert "account." not in body
    assert "alpha-sip-101" not in body


def test_any_twelve_digit_common_file_name_is_served(client, tenant_a):
    response = fetch(client, "/y000000000999.cfg", tenant_a)

    assert response.status_code == 200
    assert response.content.startswith(b"#!version:1.0.0.1\n")


def test_a_phone_without_a_mac_in_its_user_agent_is_known_by_its_user_name(client, tenant_a):
    response = fetch(client, "/y000000000096.cfg", tenant_a, agent="Yealink SIP-T54W 96.86.0.100")

    row = only_log_row()
    assert response.status_code == 200
    assert (row.outcome, row.organisation, row.device, row.mac) == (
        Outcome.SUCCESS,
        tenant_a.organisation,
        None,
        "",
    )


def test_an_unknown_user_name_without_a_mac_is_refused(client, tenant_a):
    response = client.get(
        "/y000000000096.cfg",
        headers={
            "User-Agent": "Yealink SIP-T54W 96.86.0.100",
            "Authorization": basic("nobody", "x"),
        },
    )

    assert response.status_code == 401
    assert only_log_row().outcome == Outcome.MAC_UNKNOWN


def test_the_mac_boot_file_lists_the_common_file_of_the_firmware_and_the_mac_file(client, tenant_a):
    response = fetch(client, "/805ec0aaaa01.boot", tenant_a)

    assert response.status_code == 200
    assert response.content.decode() == (
        '#!version:1.0.0.1\ninclude:config "y000000000096.cfg"\ninclude:config "805ec0aaaa01.cfg"\n'
    )


def test_the_common_boot_file_names_the_mac_file_of_the_phone_asking(client, tenant_b):
    agent = "Yealink SIP-T46U 108.86.0.20 00:15:65:bb:bb:01"

    response = fetch(client, "/y000000000000.boot", tenant_b, agent=agent)

    assert response.content.decode().splitlines()[1:] == [
        'include:config "y000000000108.cfg"',
        'include:config "001565bbbb01.cfg"',
    ]


def test_without_firmware_in_the_user_agent_the_boot_file_uses_the_devices_model(client, tenant_b):
    response = fetch(client, "/001565bbbb01.boot", tenant_b, agent="Yealink")

    assert 'include:config "y000000000108.cfg"' in response.content.decode()


# --- cost ------------------------------------------------------------------------------------


def test_a_phone_request_costs_the_same_queries_however_large_the_installation(
    client, tenant_a, django_assert_max_num_queries
):
    def queries_for_mac_file() -> int:
        AccessLog.objects.all().delete()
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(MAC_FILE, headers=tenant_a.own_headers())
        assert response.status_code == 200
        return len(captured.captured_queries)

    small = queries_for_mac_file()
    for number in range(20):
        organisation = make_organisation(f"bulk-{number}")
        for _ in range(3):
            make_account(make_device(organisation), 1)
    for index in range(3, 17):
        make_account(tenant_a.device, index)

    assert queries_for_mac_file() == small
    # 13 reads, the access-log row and its hour's count (test_phone_settings lists them):
    # the visit was just written by the request before.
    with django_assert_max_num_queries(15):
        client.get(MAC_FILE, headers=tenant_a.own_headers())


@pytest.mark.parametrize(
    "path",
    [
        "/zz5ec0aaaa01.cfg",
        "/805ec0aaaa0.cfg",
        "/805ec0aaaa011.cfg",
        "/y00000000096.cfg",
        "/805ec0aaaa01.boot.cfg",
    ],
)
def test_a_malformed_file_name_is_not_found(client, tenant_a, path):
    response = client.get(path, headers=tenant_a.phone_headers())

    assert response.status_code == 404


@pytest.mark.parametrize("mac", ["000000000000", "ffffffffffff", "010000000000"])
def test_a_mac_that_can_never_be_a_phone_is_simply_unknown(client, tenant_a, mac):
    # Found by the fuzz test: these once raised in the lookup (a 500).
    response = client.get(f"/{mac}.cfg", headers={"Authorization": basic("alpha", "x")})

    assert response.status_code == 401
    assert only_log_row().outcome == Outcome.MAC_UNKNOWN
