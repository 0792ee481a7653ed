"""Bad input in the admin's addresses gets a clear answer, never a 500."""

from __future__ import annotations

import pytest

from devices.models import Device
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


# A form posted back with a value that is no id in a field with an autocomplete widget: the
# widget looked the value up to show it again, and Django's lookup raised, a 500.
AUTOCOMPLETE_FORMS = [
    ("/admin/phonebooks/phonebook/add/", {"name": "Hall", "audience": "all", "devices": "x"}),
    ("/admin/devices/sipaccount/add/", {"device": "x", "index": "1", "user_name": "u"}),
    ("/admin/phonebooks/contact/add/", {"phonebook": "x", "name": "Jo", "number_1": "3001"}),
]


@pytest.mark.parametrize("who", ["provider", "staff"])
@pytest.mark.parametrize(("path", "data"), AUTOCOMPLETE_FORMS, ids=lambda value: str(value)[:40])
def test_a_value_that_is_no_id_in_an_autocomplete_field_is_a_form_error(request, who, path, data):
    client = request.getfixturevalue("admin_client" if who == "provider" else "staff_client")

    response = client.post(path, data)

    assert response.status_code == 200
    assert "Please correct the error" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/devices/device/add/",
        "/admin/devices/keyprofile/add/",
        "/admin/media_assets/wallpaper/add/",
    ],
)
def test_the_providers_organisation_field_takes_a_value_that_is_no_id_as_an_error(
    admin_client, path
):
    response = admin_client.post(path, {"organisation": "x", "name": "n", "mac": "805ec0123456"})

    assert response.status_code == 200
    assert "Please correct the error" in response.content.decode()


# An action's selection holding a value that is no id (a tampered or stale form): Django's
# admin filtered the list by it, and the lookup raised, a 500.
ACTIONS = [
    ("/admin/devices/device/", "export_csv"),
    ("/admin/devices/device/", "delete_selected"),
    ("/admin/phonebooks/phonebook/", "recalculate_size"),
    ("/admin/devices/sipaccount/", "delete_selected"),
]


@pytest.mark.parametrize("who", ["provider", "staff"])
@pytest.mark.parametrize(("path", "action"), ACTIONS)
def test_an_action_on_a_selection_that_is_no_id_says_so_instead_of_a_500(
    request, who, path, action, tenant_a
):
    client = request.getfixturevalue("admin_client" if who == "provider" else "staff_client")

    response = client.post(
        path, {"action": action, "_selected_action": ["abc", str(tenant_a.device.pk)]}, follow=True
    )

    assert response.status_code == 200
    assert "select them again" in response.content.decode()
    assert Device.objects.filter(pk=tenant_a.device.pk).exists()
