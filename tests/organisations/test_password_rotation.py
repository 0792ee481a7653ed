"""A new provisioning password: the old one still works for a grace period, then not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import AccessLog
from organisations.models import Organisation


def rotate(organisation: Organisation, new: str, grace_days: int = 7) -> Organisation:
    organisation = Organisation.objects.get(pk=organisation.pk)
    organisation.password_grace_days = grace_days
    organisation.provisioning_password = new
    organisation.save()
    return organisation


def test_a_phone_with_the_old_password_gets_the_config_carrying_the_new_one(client, tenant_a):
    old = tenant_a.password
    rotate(tenant_a.organisation, "brand-new-password")

    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers(password=old))

    # It gets its MAC file, which gives it its own credentials: the organisation's new
    # password need not reach it at all.
    assert response.status_code == 200
    own = tenant_a.device.provisioning_password
    assert f"static.auto_provision.server.password = {own}".encode() in response.content
    assert b"brand-new-password" not in response.content
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.SUCCESS_PREVIOUS_PASSWORD


def test_the_new_password_works_at_once(client, tenant_a):
    rotate(tenant_a.organisation, "brand-new-password")

    response = client.get(
        "/805ec0aaaa01.cfg", headers=tenant_a.phone_headers(password="brand-new-password")
    )

    assert response.status_code == 200
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.SUCCESS


def test_after_the_grace_period_the_old_password_is_refused(client, tenant_a):
    old = tenant_a.password
    organisation = rotate(tenant_a.organisation, "brand-new-password")
    Organisation.objects.filter(pk=organisation.pk).update(
        previous_password_valid_until=timezone.now() - timedelta(seconds=1)
    )

    response = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers(password=old))

    assert response.status_code == 401
    assert AccessLog.objects.get().outcome == AccessLog.Outcome.WRONG_CREDENTIALS


def test_without_a_grace_period_the_old_password_stops_at_once(client, tenant_a):
    old = tenant_a.password
    rotate(tenant_a.organisation, "brand-new-password", grace_days=0)

    assert (
        client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers(password=old)).status_code
        == 401
    )


def test_rotating_twice_keeps_only_the_one_before(tenant_a):
    first = tenant_a.password
    rotate(tenant_a.organisation, "second-password")
    org = rotate(tenant_a.organisation, "third-password")

    assert org.previous_password() == "second-password"
    assert first not in (org.previous_password(), org.provisioning_password)


def test_saving_without_changing_the_password_keeps_the_grace_period(tenant_a):
    org = rotate(tenant_a.organisation, "second-password")
    until = org.previous_password_valid_until

    org.name = "Renamed"
    org.save()

    org.refresh_from_db()
    assert org.previous_password_valid_until == until


@pytest.mark.parametrize("days", [7, 30])
def test_the_grace_period_is_shown_in_the_admin(admin_client, tenant_a, days):
    rotate(tenant_a.organisation, "second-password", grace_days=days)

    body = admin_client.get(
        f"/admin/organisations/organisation/{tenant_a.organisation.pk}/change/"
    ).content.decode()

    expected = timezone.localtime(timezone.now() + timedelta(days=days)).strftime("%Y-%m-%d")
    assert f"still accepted until {expected}" in body
