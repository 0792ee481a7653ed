"""The real server, spoken to by real HTTP clients we did not write."""

import http.client
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from devices.config import render_device_config
from devices.models import AccessLog
from tests.factories import user_agent


def phone_get(live_server, path, tenant, auth):
    return requests.get(
        live_server.url + path,
        auth=auth,
        headers={"User-Agent": user_agent(tenant.device)},
        timeout=10,
    )


def test_requests_digest_auth_gets_the_mac_file(live_server, tenant_a):
    response = phone_get(
        live_server, "/805ec0aaaa01.cfg", tenant_a, HTTPDigestAuth("alpha", tenant_a.password)
    )

    assert response.status_code == 200
    assert response.text == render_device_config(tenant_a.device)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert list(AccessLog.objects.values_list("outcome", flat=True)) == ["success"]


def test_requests_basic_auth_gets_the_common_file(live_server, tenant_a):
    response = phone_get(
        live_server, "/y000000000096.cfg", tenant_a, HTTPBasicAuth("alpha", tenant_a.password)
    )

    assert response.status_code == 200
    assert "static.auto_provision.server.url" in response.text
    assert tenant_a.password not in response.text  # the common file carries no credentials


def test_requests_digest_auth_with_a_wrong_password_is_refused(live_server, tenant_a):
    response = phone_get(
        live_server, "/805ec0aaaa01.cfg", tenant_a, HTTPDigestAuth("alpha", "wrong-password")
    )

    assert response.status_code == 401
    assert list(AccessLog.objects.values_list("outcome", flat=True)) == ["wrong_credentials"]


def test_the_challenges_arrive_as_two_header_lines_on_the_wire(live_server, tenant_a):
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request(
        "GET", "/805ec0aaaa01.cfg", headers={"User-Agent": user_agent(tenant_a.device)}
    )
    response = connection.getresponse()

    challenges = response.msg.get_all("WWW-Authenticate") or []
    connection.close()
    assert response.status == 401
    assert [challenge.split()[0] for challenge in challenges] == ["Digest", "Basic"]


def test_a_user_agent_in_raw_bytes_that_are_not_utf8_gets_an_answer_not_a_500(
    live_server, tenant_a
):
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest("GET", "/805ec0aaaa01.cfg")
    connection.putheader("User-Agent", b"Yealink SIP-T54W \xff\xfe\xc3 80:5e:c0:aa:aa:01")
    connection.putheader("Authorization", b"Basic \xff\xfe")
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()

    assert response.status == 400
    assert list(AccessLog.objects.values_list("outcome", flat=True)) == ["bad_request"]
