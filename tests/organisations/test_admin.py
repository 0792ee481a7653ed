import pytest

from organisations.models import Organisation
from tests.admin_forms import management_data

pytestmark = pytest.mark.django_db


def organisation_form(client, **extra):
    data = management_data(client, "/admin/organisations/organisation/add/")
    data |= {
        "name": "Hotel NV",
        "slug": "hotel",
        "is_active": "on",
        "provisioning_username": "hotel",
        "provisioning_password": "hotel-secret-pw",
        "sip_server_host": "sip.hotel.example",
        "sip_server_port": "5060",
        "sip_transport": "0",
        "time_zone": "+1",
        "time_zone_name": "Netherlands(Amsterdam)",
        "language": "English",
        "ntp_server": "pool.ntp.org",
        "provisioning_interval_minutes": "30",
        "raw_overrides": "",
        "password_grace_days": "7",
        "organisation_credentials": "bootstrap",
    }
    data.update(extra)
    return data


def test_an_admin_creates_an_organisation(admin_client):
    response = admin_client.post(
        "/admin/organisations/organisation/add/", organisation_form(admin_client)
    )

    assert response.status_code == 302
    assert Organisation.objects.get(slug="hotel").provisioning_password == "hotel-secret-pw"


def test_bad_overrides_name_their_line(admin_client):
    response = admin_client.post(
        "/admin/organisations/organisation/add/",
        organisation_form(
            admin_client, raw_overrides="lang.gui = Dutch\nlang.wui = Dutch\r\nno equals sign"
        ),
    )

    assert "Line 3: &#x27;no equals sign&#x27; is not of the form" in response.content.decode()
    assert not Organisation.objects.exists()


def test_the_organisation_list_counts_phones_and_hides_the_password(admin_client, tenant_a):
    response = admin_client.get("/admin/organisations/organisation/")

    row = response.context["cl"].result_list[0]
    assert (row.phone_count, row.never_count) == (1, 1)
    assert tenant_a.password not in response.content.decode()


def test_the_password_field_is_masked_on_the_change_page(admin_client, tenant_a):
    response = admin_client.get(
        f"/admin/organisations/organisation/{tenant_a.organisation.pk}/change/"
    )

    assert 'type="password" name="provisioning_password"' in response.content.decode()
