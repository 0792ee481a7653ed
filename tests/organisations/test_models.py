import pytest
from django.core.exceptions import ValidationError

from organisations.models import Organisation
from tests.factories import make_organisation


def organisation(**fields) -> Organisation:
    values = {
        "name": "Echo",
        "slug": "echo",
        "provisioning_username": "echo",
        "provisioning_password": "echo-secret-pw",
        "sip_server_host": "sip.echo.example",
    }
    values.update(fields)
    return Organisation(**values)


def test_a_valid_organisation_has_the_documented_defaults(db):
    org = organisation()
    org.full_clean()

    assert org.provisioning_interval_minutes == 30
    assert org.sip_server_port == 5060


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provisioning_username", "x" * 33),
        ("provisioning_username", "has:colon"),
        ("provisioning_password", "short"),
        ("provisioning_password", "y" * 33),
        ("provisioning_interval_minutes", 0),
        ("provisioning_interval_minutes", 43201),
        ("time_zone", "Europe/Amsterdam"),
        ("sip_server_host", "sip.example\nlang.gui = x"),
        ("raw_overrides", "lang.gui Dutch"),
    ],
)
def test_it_refuses_values_a_phone_cannot_use(db, field, value):
    with pytest.raises(ValidationError) as caught:
        organisation(**{field: value}).full_clean()

    assert field in caught.value.message_dict


def test_provisioning_user_names_are_unique_across_organisations(db):
    make_organisation("foxtrot", provisioning_username="shared")

    with pytest.raises(ValidationError) as caught:
        organisation(provisioning_username="shared").full_clean()

    assert "provisioning_username" in caught.value.message_dict
