"""Requests without proof change nothing (issue 14, part 6): only a request that
authenticated as the phone records where the phone is and what it runs."""

import pytest

from devices.models import Device
from phonebooks.models import Phonebook
from tests.conftest import basic
from tests.factories import user_agent

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.66"
PHONE = "198.51.100.7"


def test_a_request_without_credentials_records_nothing_of_the_phone(client, tenant_a):
    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    forged = {"User-Agent": "Yealink SIP-T54W 96.99.0.1 80:5e:c0:aa:aa:01"}

    response = client.get(f"/pb-t5x-{book.pk}.xml", headers=forged, REMOTE_ADDR=ATTACKER)

    assert response.status_code == 401  # a MAC alone opens nothing
    device = Device.objects.get(pk=tenant_a.device.pk)
    assert (device.last_seen_ip, device.last_firmware, device.last_seen_at) == (None, "", None)


def test_a_forged_visit_cannot_turn_the_throttle_against_the_real_phone(client, tenant_a):
    headers = tenant_a.phone_headers()
    assert client.get("/805ec0aaaa01.cfg", headers=headers, REMOTE_ADDR=PHONE).status_code == 200
    book = Phonebook.objects.create(organisation=tenant_a.organisation, name="All", title="All")
    client.get(
        f"/pb-t5x-{book.pk}.xml",
        headers={"User-Agent": headers["User-Agent"]},
        REMOTE_ADDR=ATTACKER,
    )
    wrong = {"User-Agent": user_agent(tenant_a.device), "Authorization": basic("alpha", "nope")}
    for _ in range(10):
        client.get("/805ec0aaaa01.cfg", headers=wrong, REMOTE_ADDR=ATTACKER)

    # From its second round the phone uses its own credentials, which others' failures
    # never lock out.
    own = tenant_a.own_headers()
    real = [
        client.get("/805ec0aaaa01.cfg", headers=own, REMOTE_ADDR=PHONE).status_code
        for _ in range(8)
    ]

    assert real == [200] * 8
    assert Device.objects.get(pk=tenant_a.device.pk).last_seen_ip == PHONE
