"""Random paths, headers, Authorization values and User-Agents at the phone endpoints:
never a 500, and never an access-log row lost.

Every request a phone endpoint answers writes exactly one row, except the bare challenge (a
401 to a request without credentials), which is the first step of every round.
"""

from __future__ import annotations

import base64
import string
import time
from urllib.parse import quote, unquote

import pytest
from django.core.cache import cache
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.models import AccessLog
from devices.serving.http_auth import make_nonce
from tests.phone_client import md5

EXAMPLES = 600
MACS = ["805ec0aaaa01", "805EC0AAAA01", "001565bbbb01", "805ec0999999", "80:5e:c0:aa:aa:01"]
weird = st.text(alphabet=st.characters(codec="latin-1"), max_size=40)
hex_ish = st.text(alphabet=string.hexdigits + ":-.gz%", min_size=0, max_size=16)
# Random text goes into the path percent-encoded, as a client sends it ("//[" would be read
# as a host by the test client); the server sees it decoded.
encoded = st.builds(lambda text: quote(text, safe=""), weird)
names = st.one_of(st.sampled_from(["logo.png", "ring.wav", "CallIn.xml", "x.bmp"]), encoded)

paths = st.one_of(
    st.builds("/{}.cfg".format, st.one_of(st.sampled_from(MACS), hex_ish)),
    st.builds("/{}.boot".format, st.one_of(st.sampled_from(MACS), hex_ish)),
    st.builds("/y{}.cfg".format, st.text(alphabet=string.digits + "x", min_size=10, max_size=14)),
    st.just("/y000000000000.boot"),
    st.builds(
        "/pb-{}-{}.xml".format,
        st.sampled_from(["t4xg", "t5x", "T5X", "zz"]),
        st.integers(-5, 10**20),
    ),
    st.builds("/{}".format, names),
    st.builds("/xml/_global/{}".format, names),
    st.just("/ca.crt"),
    st.builds("/{}".format, encoded),
)


def _digest(params: dict[str, str]) -> str:
    return "Digest " + ", ".join(f'{key}="{value}"' for key, value in params.items())


def _valid_looking_digest(username: str, password: str, uri: str, stale: bool) -> str:
    nonce = make_nonce(time.time() - (10_000 if stale else 0))
    ha1, ha2 = md5(f"{username}:voipconfig:{password}"), md5(f"GET:{uri}")
    response = md5(f"{ha1}:{nonce}:00000001:c:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="voipconfig", nonce="{nonce}", uri="{uri}", '
        f'qop=auth, nc=00000001, cnonce="c", response="{response}"'
    )


authorizations = st.one_of(
    st.none(),
    weird,
    st.builds(lambda raw: "Basic " + base64.b64encode(raw).decode(), st.binary(max_size=60)),
    st.builds(
        lambda u, p: "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode(),
        st.sampled_from(["alpha", "bravo", "", "x"]),
        st.sampled_from(["alpha-secret-pw", "bravo-secret-pw", "wrong", ""]),
    ),
    st.builds(
        _digest,
        st.dictionaries(
            st.sampled_from(
                [
                    "username",
                    "realm",
                    "nonce",
                    "uri",
                    "response",
                    "qop",
                    "nc",
                    "cnonce",
                    "algorithm",
                ]
            ),
            weird,
        ),
    ),
    st.builds(
        _valid_looking_digest,
        st.sampled_from(["alpha", "bravo"]),
        st.sampled_from(["alpha-secret-pw", "wrong"]),
        st.sampled_from(
            ["/805ec0aaaa01.cfg", "/y000000000096.cfg", "/other", "http://[x/805ec0aaaa01.cfg"]
        ),
        st.booleans(),
    ),
)
user_agents = st.one_of(
    st.sampled_from(
        [
            "Yealink SIP-T54W 96.86.0.100 80:5e:c0:aa:aa:01",
            "Yealink SIP-T46U 108.86.0.20 00:15:65:bb:bb:01",
            "Yealink SIP-T54W 96.86.0.100 805ec0aaaa01",
            "Yealink SIP-T54W 96.86.0.100",
        ]
    ),
    weird,
    st.builds("Yealink SIP-T54W 96.86.0.100 {}".format, hex_ish),
)


def expected_rows(path: str, response, authorization: str | None) -> int:
    try:
        match = resolve(unquote(path.split("?")[0]))
    except Resolver404:
        return 0
    if not getattr(match.func, "is_phone_endpoint", False):
        return 0
    bare_challenge = response.status_code == 401 and not authorization
    return 0 if bare_challenge else 1


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=paths, agent=user_agents, authorization=authorizations)
def test_random_requests_never_get_a_500_nor_lose_a_log_row(
    client, tenant_a, tenant_b, path, agent, authorization
):
    cache.clear()  # each example starts unthrottled
    headers = {"HTTP_USER_AGENT": agent}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    before = AccessLog.objects.count()

    response = client.get(path, **headers)

    assert response.status_code < 500, (path, agent, authorization)
    assert AccessLog.objects.count() - before == expected_rows(path, response, authorization)
