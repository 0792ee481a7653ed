"""Raw overrides hold secrets (web and 802.1x passwords): stored encrypted like the other
secrets, re-encrypted by the same rotation command, and encrypted where they were in clear."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from devices.models import Device
from organisations.models import Organisation
from tests.devices.test_phone_settings import mac_file

ORGANISATION_LINES = "static.network.802_1x.md5_password = Dot1xSecret\nlang.gui = Dutch"
PHONE_LINES = "static.security.user_password = admin:PhoneOnly2026"


def stored(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT raw_overrides FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def overridden(tenant_a):
    org, device = tenant_a.organisation, tenant_a.device
    org.raw_overrides = ORGANISATION_LINES
    org.save()
    device.raw_overrides = PHONE_LINES
    device.save()
    return tenant_a


def test_raw_overrides_are_stored_encrypted_and_still_reach_the_phone(client, overridden):
    org_row = stored("organisations_organisation", overridden.organisation.pk)
    phone_row = stored("devices_device", overridden.device.pk)

    got = mac_file(client, overridden)

    assert org_row.startswith("enc1:") and "Dot1xSecret" not in org_row
    assert phone_row.startswith("enc1:") and "PhoneOnly2026" not in phone_row
    assert got["static.network.802_1x.md5_password"] == "Dot1xSecret"
    assert got["static.security.user_password"] == "admin:PhoneOnly2026"


def test_empty_overrides_stay_empty(tenant_a):
    assert stored("organisations_organisation", tenant_a.organisation.pk) == ""
    assert stored("devices_device", tenant_a.device.pk) == ""


def test_a_change_of_the_overrides_is_still_told_from_the_stored_text(overridden):
    org = Organisation.objects.get(pk=overridden.organisation.pk)
    org.raw_overrides = "lang.gui = Dutch"
    org.save()

    assert org.retired_override_keys == "static.network.802_1x.md5_password"
    again = Organisation.objects.get(pk=org.pk)
    again.save()  # read back decrypted: unchanged, nothing more taken out
    assert again.retired_override_keys == "static.network.802_1x.md5_password"


def test_rotating_the_key_re_encrypts_the_overrides_too(overridden, settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    out = StringIO()

    call_command("reencrypt_secrets", stdout=out)

    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key gone
    assert Organisation.objects.get(pk=overridden.organisation.pk).raw_overrides == (
        ORGANISATION_LINES
    )
    assert Device.objects.get(pk=overridden.device.pk).raw_overrides == PHONE_LINES
    assert "raw_overrides" in out.getvalue().split("organisations.Organisation:")[1].split("\n")[0]
    assert "raw_overrides" in out.getvalue().split("devices.Device:")[1].split("\n")[0]


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_overrides_stored_in_clear_and_back():
    before = [
        ("organisations", "0007_organisation_credentials_policy"),
        ("devices", "0014_access_log_writer"),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    blank = {"managed_settings": "", "retired_override_keys": ""}
    organisation = old.get_model("organisations", "Organisation").objects.create(
        name="Old",
        slug="old",
        provisioning_username="old",
        provisioning_password="old-secret-pw",
        raw_overrides=ORGANISATION_LINES,
        **blank,
    )
    device = old.get_model("devices", "Device").objects.create(
        organisation_id=organisation.pk, mac="805ec0dd0001", raw_overrides=PHONE_LINES, **blank
    )
    assert stored("organisations_organisation", organisation.pk) == ORGANISATION_LINES

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert stored("organisations_organisation", organisation.pk).startswith("enc1:")
    assert stored("devices_device", device.pk).startswith("enc1:")
    assert Organisation.objects.get(pk=organisation.pk).raw_overrides == ORGANISATION_LINES
    assert Device.objects.get(pk=device.pk).raw_overrides == PHONE_LINES

    executor = MigrationExecutor(connection)
    executor.migrate(before)  # rolled back, the older code reads them in clear again
    try:
        assert stored("organisations_organisation", organisation.pk) == ORGANISATION_LINES
        assert stored("devices_device", device.pk) == PHONE_LINES
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
