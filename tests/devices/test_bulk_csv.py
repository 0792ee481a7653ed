"""Bulk phones: CSV import with preview, all or nothing, idempotent; export in the same format."""

import pytest

from devices import csv_io
from devices.models import Device, SipAccount
from organisations.csv_files import CsvFileError, decode
from tests.factories import make_device

HEADER = ",".join(csv_io.HEADER) + "\n"


def plan(text, tenant=None, organisations=()):
    return csv_io.plan_import(text, tenant.organisation if tenant else None, organisations)


def test_a_good_file_is_previewed_then_written(tenant_a):
    text = HEADER + (
        "alpha,80:5E:C0:12:34:56,T54W,Hall,yes,1,3001,,pw-3001,Hall,,,,\n"
        "alpha,80:5E:C0:12:34:56,,,,2,3002,,pw-3002,Hall 2,,sbc.example,5061,TLS\n"
        "alpha,805e.c012.3457,T46U,Store,no,,,,,,,,,\n"
    )

    preview = plan(text, tenant_a)

    assert preview.errors == []
    assert (preview.count("create"), preview.count("update")) == (4, 0)
    assert not Device.objects.filter(mac="805ec0123456").exists()  # a preview writes nothing
    csv_io.apply(preview)
    hall = Device.objects.get(mac="805ec0123456")
    assert (hall.label, hall.model, hall.organisation) == ("Hall", "T54W", tenant_a.organisation)
    second = hall.sip_accounts.get(index=2)
    assert (second.server_host, second.server_port, second.server_transport) == (
        "sbc.example",
        5061,
        2,
    )
    assert Device.objects.get(mac="805ec0123457").is_active is False


def test_importing_the_same_file_twice_changes_nothing(tenant_a):
    text = HEADER + "alpha,80:5E:C0:12:34:56,T54W,Hall,yes,1,3001,,pw-3001,Hall,,,,\n"
    csv_io.apply(plan(text, tenant_a))

    again = plan(text, tenant_a)

    assert again.errors == []
    assert again.changes == 0
    assert again.count("unchanged") == 2


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tenant_a, tenant_b):
    text = HEADER + (
        "alpha,80:5E:C0:12:34:56,T54W,Good,yes,1,3001,,pw,,,,,\n"
        "alpha,not-a-mac,T54W,,yes,,,,,,,,,\n"
        "alpha,80:5E:C0:12:34:57,T99X,,yes,,,,,,,,,\n"
        "alpha,80:5E:C0:12:34:58,T31G,,yes,3,3003,,pw,,,,,\n"
        "alpha,80:5E:C0:12:34:59,T54W,,maybe,,,,,,,,,\n"
        "alpha,80:5E:C0:12:34:5a,T54W,,yes,1,3004,,,,,,,\n"
        "alpha,00:15:65:bb:bb:01,T46U,,yes,,,,,,,,,\n"
        "bravo,80:5E:C0:12:34:5b,T54W,,yes,,,,,,,,,\n"
        "alpha,80:5E:C0:12:34:56,T46U,,yes,2,3005,,pw,,,,,\n"
        "alpha,80:5E:C0:12:34:56,,,,1,3006,,pw,,,,,\n"
        "alpha,80:5E:C0:12:34:5c,T54W,,yes,1,3007,,pw,Bad: name,,,,\n"
    )

    result = plan(text, tenant_a)

    messages = [str(error) for error in result.errors]
    assert messages[0].startswith("Line 3: 'm', 'n', 'o', 't' are not hexadecimal digits")
    assert messages[1].startswith("Line 4: model:")
    assert messages[2] == "Line 5: index: A T31G has 2 line(s); line 3 is out."
    assert messages[3] == "Line 6: active must be yes or no, not 'maybe'."
    assert messages[4] == "Line 7: a password is needed for the new account on line 1."
    assert messages[5] == "Line 8: 00:15:65:bb:bb:01 is already registered to another organisation."
    assert messages[6] == "Line 9: organisation 'bravo' is not yours (alpha)."
    assert messages[7] == "Line 10: model differs from line 2 for the same MAC."
    assert messages[8] == "Line 11: line 1 of this phone is already on line 2."
    assert messages[9].startswith("Line 12: display_name: Yealink phones refuse")
    assert len(messages) == 10
    with pytest.raises(ValueError):
        csv_io.apply(result)
    assert not Device.objects.filter(mac="805ec0123456").exists()


def test_providers_name_the_organisation_and_must_name_one_that_exists(tenant_a, tenant_b):
    organisations = [tenant_a.organisation, tenant_b.organisation]
    text = (
        HEADER
        + "bravo,80:5E:C0:12:34:56,T54W,,yes,,,,,,,,,\nnope,80:5E:C0:12:34:57,T54W,,yes,,,,,,,,,\n"
    )

    result = plan(text, None, organisations)

    assert [str(e) for e in result.errors] == ["Line 3: no organisation with the slug 'nope'."]
    assert result.devices[0][1].organisation == tenant_b.organisation


def test_a_file_without_the_needed_columns_is_refused(tenant_a):
    result = plan("mac;label\n805ec0123456;x\n", None)

    assert [str(e) for e in result.errors] == ["Line 1: missing column(s): model, organisation"]


def test_semicolons_and_a_bom_from_excel_are_read(tenant_a):
    text = decode(
        (
            "\ufeff" + HEADER.replace(",", ";") + "alpha;805ec0123456;T54W;Hall;yes;;;;;;;;;\n"
        ).encode()
    )

    result = plan(text, tenant_a)

    assert result.errors == []
    assert result.devices[0][1].label == "Hall"


def test_a_file_that_is_not_utf8_is_refused_with_a_way_out():
    with pytest.raises(CsvFileError, match="not UTF-8: line 2"):
        decode("mac\nCaf\xe9\n".encode("latin-1"))


def test_the_export_imports_back_unchanged_and_carries_no_password(tenant_a):
    tenant_a.accounts[0].server_transport = 1
    tenant_a.accounts[0].save()
    bare = make_device(tenant_a.organisation, "805ec0aaaa02", label="=cmd|' /C calc'!A0")

    exported = csv_io.export(
        Device.objects.filter(organisation=tenant_a.organisation).order_by("mac")
    )

    assert "alpha-sip-101" not in exported
    assert "'=cmd" in exported  # no formula for Excel to run
    again = plan(exported.lstrip("\ufeff"), tenant_a)
    assert again.errors == []
    assert again.changes == 0
    assert Device.objects.get(pk=bare.pk).label.startswith("=cmd")


def test_an_empty_password_keeps_the_current_one(tenant_a):
    text = HEADER + "alpha,80:5e:c0:aa:aa:01,T54W,Alpha desk,yes,1,a101,,,New name,,,,\n"

    csv_io.apply(plan(text, tenant_a))

    account = SipAccount.objects.get(device=tenant_a.device, index=1)
    assert (account.display_name, account.password) == ("New name", "alpha-sip-101")


def test_the_admin_import_previews_then_imports_on_confirmation(admin_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "p.csv", (HEADER + "alpha,805ec0123456,T54W,Hall,yes,1,3001,,pw,,,,,\n").encode()
    )

    preview = admin_client.post("/admin/devices/device/import/", {"file": upload})
    token = preview.context["token"]
    assert "Import 2 changes" in preview.content.decode()
    assert not Device.objects.filter(mac="805ec0123456").exists()
    done = admin_client.post("/admin/devices/device/import/", {"token": token, "confirm": "1"})

    assert done.status_code == 302
    assert Device.objects.get(mac="805ec0123456").sip_accounts.count() == 1


def test_a_tampered_preview_token_is_refused(admin_client, tenant_a):
    response = admin_client.post(
        "/admin/devices/device/import/", {"token": "x:y:z", "confirm": "1"}
    )

    assert "expired or was altered" in response.content.decode()


def test_the_admin_shows_every_bad_row_and_imports_nothing(admin_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = HEADER + "alpha,805ec0123456,T54W,,yes,,,,,,,,,\nalpha,bad,T54W,,yes,,,,,,,,,\n"
    response = admin_client.post(
        "/admin/devices/device/import/", {"file": SimpleUploadedFile("p.csv", text.encode())}
    )

    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "Line 3:" in body
    assert 'name="confirm"' not in body
