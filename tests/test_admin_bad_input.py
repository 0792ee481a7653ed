"""Bad input in the admin's addresses gets a clear answer, never a 500."""

from __future__ import annotations

import pytest

from organisations.staff import create_organisation_staff

# Every list whose fields a query string can filter on (Django's admin lets it filter any of
# the model's own fields): PostgreSQL refuses a NUL in text, which was a 500.
LISTS = [
    "/admin/devices/device/?mac=%00",
    "/admin/devices/device/?label__contains=a%00b",
    "/admin/devices/accesslog/?outcome__exact=%00",
    "/admin/devices/unassignedphone/?mac=%00",
    "/admin/rps/rpsdevicestate/?status__exact=%00",
    "/admin/devices/device/?q=%00",
]


@pytest.fixture
def staff_client(client, tenant_a):
    staff = create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    client.force_login(staff)
    return client


@pytest.mark.parametrize("who", ["provider", "staff"])
@pytest.mark.parametrize("path", LISTS)
def test_it_refuses_a_nul_character_in_the_query_string_with_400(request, who, path):
    client = request.getfixturevalue("admin_client" if who == "provider" else "staff_client")

    response = client.get(path)

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_phone_url_with_a_nul_in_its_query_string_is_refused_too(client, tenant_a):
    response = client.get(f"/{tenant_a.device.mac}.cfg?x=%00", **tenant_a.own_headers())

    assert response.status_code == 400
