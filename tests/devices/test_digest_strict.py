"""Digest done strictly (issue 14, part 8): a captured Authorization header opens nothing
twice, nc only goes up per nonce, RFC 2069 answers (no qop) are refused, and Basic on plain
HTTP is the provider's choice. Real exchanges: a 401 first, then the answer to its nonce."""

import pytest

from devices.models import AccessLog
from tests.conftest import basic
from tests.factories import user_agent
from tests.phone_client import digest_authorization, md5, www_authenticate

pytestmark = pytest.mark.django_db
MAC_FILE = "/805ec0aaaa01.cfg"


def challenge_for(client, tenant) -> str:
    first = client.get(MAC_FILE, headers={"User-Agent": user_agent(tenant.device)})
    assert first.status_code == 401
    return next(value for value in www_authenticate(first) if value.startswith("Digest"))


def answer(client, tenant, authorization: str):
    return client.get(
        MAC_FILE, headers={"User-Agent": user_agent(tenant.device), "Authorization": authorization}
    )


def test_a_captured_authorization_header_is_accepted_once(client, tenant_a):
    header = digest_authorization(
        challenge_for(client, tenant_a), tenant_a.username, tenant_a.password, MAC_FILE
    )

    first = answer(client, tenant_a, header)
    replays = [answer(client, tenant_a, header) for _ in range(20)]

    assert first.status_code == 200
    assert [response.status_code for response in replays] == [401] * 20
    # Challenged afresh with stale=true: a phone that reused its nonce simply retries.
    assert "stale=true" in www_authenticate(replays[0])[0]
    assert b"alpha-sip-101" not in b"".join(response.content for response in replays)
    outcomes = list(AccessLog.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["success"] + ["replayed"] * 20


def test_nc_only_goes_up_for_a_nonce(client, tenant_a):
    challenge = challenge_for(client, tenant_a)

    def with_nc(nc: str):
        header = digest_authorization(
            challenge, tenant_a.username, tenant_a.password, MAC_FILE, nc=nc
        )
        return answer(client, tenant_a, header).status_code

    assert [with_nc(nc) for nc in ("00000001", "00000003", "00000002", "00000003", "00000004")] == [
        200,
        200,
        401,
        401,
        200,
    ]


def test_an_rfc2069_answer_without_qop_is_refused(client, tenant_a):
    challenge = challenge_for(client, tenant_a)
    nonce = challenge.split('nonce="')[1].split('"')[0]
    realm = challenge.split('realm="')[1].split('"')[0]
    ha1 = md5(f"{tenant_a.username}:{realm}:{tenant_a.password}")
    response = md5(f"{ha1}:{nonce}:{md5('GET:' + MAC_FILE)}")
    header = (
        f'Digest username="{tenant_a.username}", realm="{realm}", nonce="{nonce}", '
        f'uri="{MAC_FILE}", response="{response}"'
    )

    refused = answer(client, tenant_a, header)

    assert refused.status_code == 400
    assert AccessLog.objects.get().outcome == "bad_request"


def test_basic_on_plain_http_is_refused_when_the_provider_says_so(client, tenant_a, settings):
    settings.PROVISIONING_ALLOW_BASIC_OVER_HTTP = False
    headers = {"User-Agent": user_agent(tenant_a.device)}

    first = client.get(MAC_FILE, headers=headers)
    refused = client.get(
        MAC_FILE, headers={**headers, "Authorization": basic(tenant_a.username, tenant_a.password)}
    )
    over_tls = client.get(
        MAC_FILE,
        headers={**headers, "Authorization": basic(tenant_a.username, tenant_a.password)},
        secure=True,
    )

    assert [value.split()[0] for value in www_authenticate(first)] == ["Digest"]
    assert refused.status_code == 400
    assert over_tls.status_code == 200


def test_basic_on_plain_http_is_accepted_by_default(client, tenant_a):
    assert client.get(MAC_FILE, headers=tenant_a.phone_headers()).status_code == 200


def test_every_challenge_has_its_own_nonce_so_a_quick_round_is_never_a_replay(client, tenant_a):
    paths = ["/805ec0aaaa01.boot", "/y000000000096.cfg", MAC_FILE, MAC_FILE]
    agent = {"User-Agent": user_agent(tenant_a.device)}
    nonces, answers = [], []
    for path in paths:  # within a second, as a phone's round goes
        first = client.get(path, headers=agent)
        challenge = www_authenticate(first)[0]
        nonces.append(challenge.split('nonce="')[1].split('"')[0])
        header = digest_authorization(challenge, tenant_a.username, tenant_a.password, path)
        answers.append(client.get(path, headers={**agent, "Authorization": header}).status_code)

    assert len(set(nonces)) == len(paths)
    assert answers == [200] * len(paths)


def test_on_redis_an_answer_is_taken_once_across_app_servers(settings):
    from django.core.cache import caches

    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "voipconfig.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/11",
        },
    }
    settings.THROTTLE_CACHE = "shared"
    from devices.serving.http_auth import first_use, make_nonce

    nonce = make_nonce()
    assert hasattr(caches["shared"], "rise")  # the one-round-trip check, not the fallback
    try:
        # Two processes' checks meet in Redis: what one took, the other refuses.
        assert [first_use(nonce, nc) for nc in (1, 1, 3, 2, 4)] == [True, False, True, False, True]
    finally:
        caches["shared"].clear()
