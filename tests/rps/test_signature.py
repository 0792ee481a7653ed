"""The RPS signature of yealink.md §6, as a pure function, and the fake's check of it."""

from __future__ import annotations

import json

import pytest
import requests

from rps.client import RpsClient, RpsError, sign, string_to_sign
from tests.rps.fake_rps import KEY_ID, SECRET

BODY = b'{"macs":["805ec0000001"],"serverId":"7"}'
NONCE = "0b7e4a2c-0000-4000-8000-000000000001"
TIMESTAMP = 1764150000000


def test_the_string_to_sign_has_the_lines_of_the_spec_in_order():
    text = string_to_sign(
        "post", "/api/open/v1/device/add", None, "PmxwdFjh4tkTbtS7CMXo/Q==", "k", "n", "1"
    )

    assert text.split("\n") == [
        "POST",
        "Content-MD5:PmxwdFjh4tkTbtS7CMXo/Q==",
        "X-Ca-Key:k",
        "X-Ca-Nonce:n",
        "X-Ca-Timestamp:1",
        "api/open/v1/device/add",
    ]


def test_a_query_is_one_more_line_sorted_by_name_and_there_is_no_md5_without_body():
    text = string_to_sign("GET", "/p", {"mac": "805ec0000001", "b": "2"}, "", "k", "n", "1")

    assert text.split("\n") == [
        "GET",
        "X-Ca-Key:k",
        "X-Ca-Nonce:n",
        "X-Ca-Timestamp:1",
        "p",
        "b=2&mac=805ec0000001",
    ]


def test_it_signs_a_post_as_an_independent_hmac_computation_does():
    # Expected values computed with `openssl dgst -sha256 -hmac secret-1 -binary | base64`.
    headers = sign(
        "POST", "/api/open/v1/device/add", None, BODY, "key-1", "secret-1", NONCE, TIMESTAMP
    )

    assert headers == {
        "Content-Type": "application/json;charset=UTF-8",
        "X-Ca-Key": "key-1",
        "X-Ca-Nonce": NONCE,
        "X-Ca-Timestamp": "1764150000000",
        "Content-MD5": "PmxwdFjh4tkTbtS7CMXo/Q==",
        "X-Ca-Signature": "7GJLO3XBlAUVGY4ipy3ji6WZIzV/K35eeO0GU+e/kss=",
    }


def test_it_signs_a_get_with_its_sorted_query_and_no_content_md5():
    query = {"mac": "805ec0000001", "b": "2"}
    headers = sign(
        "GET", "/api/open/v1/device/checkMac", query, b"", "key-1", "secret-1", "n-2", TIMESTAMP
    )

    assert "Content-MD5" not in headers
    assert headers["X-Ca-Signature"] == "eQjSb02gkFgIFiJUN5MP68xzc/q7xSDkoV5uVfCHUmo="


def _send(fake_rps, body: bytes, headers: dict) -> dict:
    response = requests.post(
        fake_rps.url + "/api/open/v1/server/list", data=body, headers=headers, timeout=5
    )
    return {"status": response.status_code, **response.json()}


def _signed(body: bytes, nonce: str = NONCE, timestamp: int | None = None, secret: str = SECRET):
    import time

    timestamp = timestamp or int(time.time() * 1000)
    return sign("POST", "/api/open/v1/server/list", None, body, KEY_ID, secret, nonce, timestamp)


def test_the_fake_accepts_a_correctly_signed_request(fake_rps):
    answer = _send(fake_rps, b'{"key":""}', _signed(b'{"key":""}'))

    assert answer["status"] == 200
    assert answer["ret"] == 0
    assert answer["data"] == {"data": [], "total": 0}


@pytest.mark.parametrize(
    ("tamper", "key"),
    [
        ("body", "signature.content.md5.mismatch"),
        ("secret", "signature.invalid"),
        ("timestamp", "signature.timestamp.expired"),
        ("key", "accesskey.invalid"),
    ],
)
def test_the_fake_rejects_a_request_whose_signature_does_not_hold(fake_rps, tamper, key):
    body = b'{"key":""}'
    headers = _signed(body, secret="wrong" if tamper == "secret" else SECRET)
    if tamper == "timestamp":
        headers = _signed(body, timestamp=1_000_000_000_000)
    if tamper == "key":
        headers["X-Ca-Key"] = "someone-else"
    sent = b'{"key":"x"}' if tamper == "body" else body

    answer = _send(fake_rps, sent, headers)

    assert answer["status"] == 401
    assert answer["ret"] < 0
    assert answer["error"]["msg"] == key


def test_the_fake_rejects_a_reused_nonce(fake_rps):
    body = b'{"key":""}'
    assert _send(fake_rps, body, _signed(body, nonce="once"))["status"] == 200

    answer = _send(fake_rps, body, _signed(body, nonce="once"))

    assert answer["error"]["msg"] == "signature.nonce.used"


def test_the_client_signs_exactly_the_bytes_it_sends_including_non_ascii(fake_rps):
    client = RpsClient(fake_rps.url, KEY_ID, SECRET, backoff=0)

    server_id = client.add_server(
        {
            "serverName": "zoe-1",
            "url": "https://p.example/",
            "authName": "zoë",
            "password": "pässwörd",
            "certificateUrl": "",
        }
    )

    assert fake_rps.servers[server_id]["authName"] == "zoë"
    assert json.loads(json.dumps(fake_rps.calls[-1].body))["password"] == "pässwörd"


def test_the_client_gets_a_clear_error_for_a_wrong_secret(fake_rps):
    client = RpsClient(fake_rps.url, KEY_ID, "not-the-secret", backoff=0)

    with pytest.raises(RpsError) as caught:
        client.list_servers()

    assert caught.value.is_auth
    assert caught.value.key == "signature.invalid"
    assert len(fake_rps.calls) == 1  # never retried: it would fail the same way
