"""Secrets at rest: a database dump alone reveals no password."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from devices.models import Device, SipAccount
from organisations.models import Organisation
from organisations.secrets import encrypt


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_passwords_are_stored_encrypted_and_read_in_clear(tenant_a):
    stored_org = raw(
        "organisations_organisation", "provisioning_password", tenant_a.organisation.pk
    )
    stored_sip = raw("devices_sipaccount", "password", tenant_a.accounts[0].pk)

    assert stored_org.startswith("enc1:") and tenant_a.password not in stored_org
    assert stored_sip.startswith("enc1:") and "alpha-sip-101" not in stored_sip
    assert (
        Organisation.objects.get(pk=tenant_a.organisation.pk).provisioning_password
        == tenant_a.password
    )
    assert SipAccount.objects.get(pk=tenant_a.accounts[0].pk).password == "alpha-sip-101"


def test_the_last_served_mac_file_is_stored_encrypted_too(client, tenant_a):
    client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())

    stored = raw("devices_device", "last_config", tenant_a.device.pk)
    served = Device.objects.get(pk=tenant_a.device.pk).last_config
    # Compressed, then encrypted: a fraction of the file's size in the database.
    assert stored.startswith("enc1z:") and "alpha-sip-101" not in stored
    assert "account.1.password = alpha-sip-101" in served
    assert len(stored) < len(served) / 2


def test_a_value_stored_before_compression_still_reads(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE devices_device SET last_config = %s WHERE id = %s",
            [encrypt("account.1.label = old"), tenant_a.device.pk],
        )

    assert Device.objects.get(pk=tenant_a.device.pk).last_config == "account.1.label = old"


def test_encrypting_the_same_password_twice_gives_different_tokens(settings):
    assert encrypt("same") != encrypt("same")


def test_rotating_the_key_re_encrypts_everything(tenant_a, settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = StringIO()

    call_command("reencrypt_secrets", stdout=out)

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone now
    assert (
        Organisation.objects.get(pk=tenant_a.organisation.pk).provisioning_password
        == tenant_a.password
    )
    assert SipAccount.objects.get(pk=tenant_a.accounts[1].pk).password == "alpha-sip-102"
    assert "organisations.Organisation: 1 row(s)" in out.getvalue()
    assert "devices.SipAccount: 2 row(s)" in out.getvalue()


def test_a_missing_key_is_a_clear_error_and_the_command_changes_nothing(tenant_a, settings):
    before = raw("organisations_organisation", "provisioning_password", tenant_a.organisation.pk)
    Organisation.objects.get(pk=tenant_a.organisation.pk)  # decrypted (and kept) with the key
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Organisation.objects.get(pk=tenant_a.organisation.pk)
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("reencrypt_secrets", stdout=StringIO())
    assert (
        raw("organisations_organisation", "provisioning_password", tenant_a.organisation.pk)
        == before
    )


def test_a_value_stored_in_clear_before_encryption_is_read_and_then_encrypted(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE devices_sipaccount SET password = 'legacy-clear' WHERE id = %s",
            [tenant_a.accounts[0].pk],
        )

    assert SipAccount.objects.get(pk=tenant_a.accounts[0].pk).password == "legacy-clear"
    call_command("reencrypt_secrets", stdout=StringIO())
    assert raw("devices_sipaccount", "password", tenant_a.accounts[0].pk).startswith("enc1:")


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_passwords_that_were_stored_in_clear():
    executor = MigrationExecutor(connection)
    before = [("organisations", "0002_password_rotation_and_staff")]
    executor.migrate(before)
    OldOrganisation = executor.loader.project_state(before).apps.get_model(
        "organisations", "Organisation"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO organisations_organisation (name, slug, is_active, provisioning_username, "
            "provisioning_password, sip_server_host, sip_server_port, sip_transport, time_zone, "
            "time_zone_name, language, ntp_server, provisioning_interval_minutes, raw_overrides, "
            "password_grace_days, previous_provisioning_password, created_at, updated_at) VALUES "
            "('Old', 'old', true, 'old', 'clear-password', 'sip', 5060, 0, '+1', '', 'English', "
            "'ntp', 30, '', 7, '', '2026-01-01', '2026-01-01')"
        )
    pk = OldOrganisation.objects.get(slug="old").pk

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert raw("organisations_organisation", "provisioning_password", pk).startswith("enc1:")
    assert Organisation.objects.get(pk=pk).provisioning_password == "clear-password"
