"""The admin side of trust (issue 14): the organisation page explains the credentials and
the policy, a phone's page shows its own credentials and gives it new ones, and staff add an
unassigned phone with one click, the form filled in from what the phone said."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from devices.models import Device, UnassignedPhone
from organisations.models import Organisation

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    from io import StringIO

    call_command("loaddemo", stdout=StringIO())
    return Organisation.objects.get(slug="demo")


@pytest.fixture
def staff(client, demo):
    client.force_login(User.objects.get(username="demo-admin"))
    return client


def test_the_organisation_page_explains_the_credentials_and_the_policy(admin_client, demo):
    page = admin_client.get(f"/admin/organisations/organisation/{demo.pk}/change/")

    text = html.unescape(page.content.decode())
    assert "Every phone has its own provisioning credentials" in text
    assert "Until the phone has used its own (recommended)" in text  # the policy's choices
    assert "1 phone</a> sent these credentials" in text  # the demo's unassigned phone


def test_staff_see_the_explanation_and_enrolment_but_not_the_policy(staff, demo):
    page = staff.get(f"/admin/organisations/organisation/{demo.pk}/change/")

    text = html.unescape(page.content.decode())
    assert "Every phone has its own provisioning credentials" in text
    assert "Enrol unknown phones" in text
    assert "phones may use the organisation's credentials".capitalize() not in text


def test_a_phones_page_shows_its_own_user_name_and_hides_its_password(admin_client, demo):
    device = Device.objects.get(mac="805ec0000001")

    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()

    assert "User name <code>805ec0000001</code>" in page
    assert device.provisioning_password not in page
    assert "not used yet" in page


def test_the_action_gives_new_passwords_and_keeps_the_old_ones_for_a_while(admin_client, demo):
    device = Device.objects.get(mac="805ec0000001")
    old = device.provisioning_password

    admin_client.post(
        "/admin/devices/device/",
        {"action": "rotate_provisioning_passwords", "_selected_action": [device.pk]},
    )

    device.refresh_from_db()
    assert device.provisioning_password != old
    assert device.passwords() == [device.provisioning_password, old]


def test_staff_see_their_unassigned_phones_and_add_one_in_one_click(staff, demo):
    page = staff.get("/admin/devices/unassignedphone/")

    listed = list(page.context["cl"].result_list)
    assert [phone.mac for phone in listed] == ["805ec0000099"]  # not Acme's
    link = html.unescape(page.content.decode()).split('href="/admin/devices/device/add/?')[1]
    query = link.split('"')[0]
    form = staff.get(f"/admin/devices/device/add/?{query}")
    initial = form.context["adminform"].form.initial
    assert (initial["mac"], initial["model"]) == ("80:5e:c0:00:00:99", "T46U")


def test_staff_cannot_open_another_organisations_unassigned_phone(staff, demo):
    acme = UnassignedPhone.objects.get(organisation__slug="acme")

    assert staff.get(f"/admin/devices/unassignedphone/{acme.pk}/change/").status_code in (
        302,
        404,
    )
    assert staff.post(f"/admin/devices/unassignedphone/{acme.pk}/delete/").status_code in (
        302,
        404,
    )
    assert UnassignedPhone.objects.filter(pk=acme.pk).exists()


def test_a_phone_added_in_bulk_leaves_the_list(admin_client, demo):
    Device.objects.bulk_create([Device(organisation=demo, mac="805ec0000099", model="T46U")])

    page = admin_client.get("/admin/devices/unassignedphone/")

    assert "805ec0000099" not in [phone.mac for phone in page.context["cl"].result_list]
