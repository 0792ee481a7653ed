"""The phones' web UI passwords: never the factory admin/admin, generated per organisation,
encrypted at rest, in no admin page, revealed only to provider staff and recorded."""

from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from devices.config import device_config
from organisations.models import Organisation
from tests.admin_forms import browser_form
from tests.devices.test_phone_settings import mac_file
from tests.factories import make_organisation

pytestmark = pytest.mark.django_db


def web_password_lines(config: dict[str, str]) -> list[str]:
    return [value for key, value in config.items() if key.startswith("static.security.user_")]


def test_every_organisation_gets_its_own_random_admin_password_stored_encrypted(tenant_a):
    other = make_organisation("other")

    first, second = tenant_a.organisation.phone_admin_password, other.phone_admin_password

    assert len(first) == 16 and first.isalnum() and first != second
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone_admin_password FROM organisations_organisation WHERE id = %s",
            [other.pk],
        )
        (stored,) = cursor.fetchone()
    assert stored.startswith("enc1:") and second not in stored


def test_the_phone_gets_its_admin_and_user_passwords_and_a_phone_may_have_its_own(client, tenant_a):
    org = tenant_a.organisation
    org.phone_user_password = "desk-user-pw"
    org.save()

    response_lines = mac_file(client, tenant_a)
    rendered = device_config(tenant_a.device)

    assert [v for k, v in rendered.items() if k.startswith("static.security.user_password")] == [
        f"admin:{org.phone_admin_password}",
        "user:desk-user-pw",
    ]
    assert response_lines["static.security.user_password"] == "user:desk-user-pw"  # last line
    tenant_a.device.phone_admin_password = "this-phone-only"
    tenant_a.device.save()
    rendered = device_config(tenant_a.device)
    assert rendered["static.security.user_password@admin"] == "admin:this-phone-only"
    assert rendered.origin["static.security.user_password@admin"] == "phone"


@pytest.mark.parametrize("password", ["admin", "ADMIN", "user", "short", "with space", "a:b-long"])
def test_factory_and_unusable_web_passwords_are_refused(tenant_a, password):
    org = tenant_a.organisation
    org.phone_admin_password = password

    with pytest.raises(ValidationError) as raised:
        org.full_clean()

    assert "phone_admin_password" in raised.value.message_dict


def test_the_change_page_never_holds_the_web_passwords_and_keeps_them_when_left_empty(
    admin_client, tenant_a
):
    org = tenant_a.organisation
    org.phone_user_password = "desk-user-pw"
    org.save()
    url = f"/admin/organisations/organisation/{org.pk}/change/"

    page = admin_client.get(url).content.decode()
    data = browser_form(admin_client, url)
    response = admin_client.post(url, data)

    assert org.phone_admin_password not in page and "desk-user-pw" not in page
    assert response.status_code == 302, response.context["adminform"].form.errors
    org.refresh_from_db()
    assert org.phone_user_password == "desk-user-pw"
    assert len(org.phone_admin_password) == 16


def test_a_typed_password_replaces_it_and_clear_removes_an_optional_one(admin_client, tenant_a):
    org = tenant_a.organisation
    org.phone_user_password = "desk-user-pw"
    org.save()
    url = f"/admin/organisations/organisation/{org.pk}/change/"
    data = browser_form(admin_client, url)
    data |= {"phone_admin_password": "NewAdmin2026", "clear_phone_user_password": "on"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    org.refresh_from_db()
    assert (org.phone_admin_password, org.phone_user_password) == ("NewAdmin2026", "")


def test_a_new_organisation_left_without_one_gets_a_generated_password(admin_client):
    from tests.organisations.test_admin import organisation_form

    response = admin_client.post(
        "/admin/organisations/organisation/add/", organisation_form(admin_client)
    )

    assert response.status_code == 302
    assert len(Organisation.objects.get(slug="hotel").phone_admin_password) == 16


def test_provider_staff_reveal_the_web_passwords_and_it_is_recorded(admin_client, tenant_a):
    org = tenant_a.organisation

    response = admin_client.get(f"/admin/organisations/organisation/{org.pk}/web-passwords/")

    assert response.status_code == 200
    assert org.phone_admin_password in response.content.decode()
    entry = LogEntry.objects.get(object_id=str(org.pk))
    assert (
        entry.get_change_message()
        == "Revealed the phones' web passwords and the provisioning password."
    )


def test_organisation_staff_never_see_or_reveal_them(client):
    call_command("loaddemo", stdout=StringIO())
    demo = Organisation.objects.get(slug="demo")
    client.force_login(get_user_model().objects.get(username="demo-admin"))

    page = client.get(f"/admin/organisations/organisation/{demo.pk}/change/")
    reveal = client.get(f"/admin/organisations/organisation/{demo.pk}/web-passwords/")
    phone = demo.devices.get(mac="805ec0000001")
    preview = client.get(f"/admin/devices/device/{phone.pk}/config/?reveal=1")

    assert page.status_code == 200 and demo.phone_admin_password not in page.content.decode()
    assert "phone_admin_password" not in page.content.decode()
    assert reveal.status_code == 403
    assert demo.phone_admin_password not in preview.content.decode()
    assert "static.security.user_password = admin:********" in preview.content.decode()
    assert not LogEntry.objects.filter(change_message__contains="web passwords").exists()
