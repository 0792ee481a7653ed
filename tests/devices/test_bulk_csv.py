"""Bulk phones: CSV import with preview, all or nothing, idempotent; export in the same format."""

import pytest

from devices import csv_io
from devices.models import Device, KeyProfile, KeyType, LineKey, ProfileKey, SipAccount
from organisations.csv_files import CsvFileError, decode
from tests.factories import make_device

# The file as it was before line keys: every such file must still import exactly as before.
HEADER = (
    "organisation,mac,model,label,active,line,user name,auth name,password,display name,"
    "account label,server,port,transport\n"
)


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
    assert messages[1].startswith("Line 4: model must be one of T19P_E2, T21P_E2, T27G,")
    assert messages[1].endswith(", W90DM, W90B; not 'T99X'.")
    assert messages[2] == "Line 5: line: A T31G has 2 lines; line 3 is out."
    assert messages[3] == "Line 6: active must be yes or no, not 'maybe'."
    assert messages[4] == "Line 7: a password is needed for the new account on line 1."
    assert messages[5] == (
        "Line 8: 00:15:65:bb:bb:01 cannot be added. If it is one of your phones, contact your "
        "provider."
    )
    assert messages[6] == "Line 9: organisation 'bravo' is not yours (alpha)."
    assert messages[7] == "Line 10: model differs from line 2 for the same MAC."
    assert messages[8] == "Line 11: line 1 of this phone is already on line 2."
    assert messages[9].startswith("Line 12: display name: Yealink phones refuse")
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

    assert [str(e) for e in result.errors] == ["Line 1: missing columns: model, organisation"]


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
    assert 'value="Import: 1 phone to create, 1 account to create"' in preview.content.decode()
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


# --- line keys --------------------------------------------------------------------------------


def csv_file(*rows):
    """A file in today's format: the full header, each row given by its column names."""
    lines = [",".join(csv_io.HEADER)]
    lines += [",".join(row.get(name, "") for name in csv_io.HEADER) for row in rows]
    return "\n".join(lines) + "\n"


def phone(mac, model="T54W", **cells):
    return {"organisation": "alpha", "mac": mac, "model": model, "active": "yes", **cells}


def key(mac, position, key_type="BLF", value="201", **cells):
    cells = {"key": str(position), "key type": key_type, "key value": value, **cells}
    return {"organisation": "alpha", "mac": mac, **cells}


def make_key(device, position, module=0, **fields):
    fields.setdefault("type", KeyType.BLF)
    fields.setdefault("value", "201")
    return LineKey.objects.create(device=device, module=module, position=position, **fields)


def make_key_profile(organisation, name, *positions):
    profile = KeyProfile.objects.create(organisation=organisation, name=name)
    for position in positions:
        ProfileKey.objects.create(
            profile=profile, position=position, type=KeyType.SPEED_DIAL, value="1"
        )
    return profile


def keys_of(device):
    return list(
        device.line_keys.values_list(
            "module", "position", "type", "value", "label", "line", "extension"
        )
    )


def shape(device):
    """(key profile, expansion module, how many) of a phone."""
    return (str(device.key_profile), device.expansion_module, device.expansion_module_count)


def test_keys_and_modules_are_previewed_then_written(tenant_a):
    make_key_profile(tenant_a.organisation, "Reception", 1)
    text = csv_file(
        phone(
            "805ec0123456",
            label="Hall",
            **{"key profile": "Reception", "expansion module": "exp50", "expansion modules": "2"},
            line="1",
            **{"user name": "3001", "password": "pw"},
        ),
        key("805ec0123456", 2, "blf", "3002", **{"key label": "Bob", "key extension": "*8"}),
        key("805ec0123456", 27, "Speed Dial", "0611", **{"key account": "1"}),
        key("805ec0123456", 60, "13", "112", **{"key module": "2"}),
        key("805ec0123456", 3, "pickup", "3003"),
        key("805ec0123456", 4, "XML phonebook", ""),
    )

    preview = plan(text, tenant_a)

    assert preview.errors == []
    assert preview.summary() == "1 phone to create, 1 account to create, 5 keys to create."
    assert not LineKey.objects.exists()
    csv_io.apply(preview)
    hall = Device.objects.get(mac="805ec0123456")
    assert shape(hall) == ("Reception", "EXP50", 2)
    assert keys_of(hall) == [
        (0, 2, KeyType.BLF, "3002", "Bob", None, "*8"),
        (0, 3, KeyType.PICKUP, "3003", "", None, ""),
        (0, 4, KeyType.XML_PHONEBOOK, "", "", None, ""),
        (0, 27, KeyType.SPEED_DIAL, "0611", "", 1, ""),
        (2, 60, KeyType.SPEED_DIAL, "112", "", None, ""),
    ]
    again = plan(text, tenant_a)
    assert (again.errors, again.changes) == ([], 0)
    assert again.summary(done=True) == "1 phone unchanged, 1 account unchanged, 5 keys unchanged."


def test_every_bad_key_row_says_what_the_model_has_and_nothing_is_written(tenant_a):
    text = csv_file(
        phone("805ec0120001", line="1", **{"user name": "1", "password": "pw"}),
        key("805ec0120001", 1),
        phone("805ec0120002", "CP920", key="1", **{"key type": "BLF", "key value": "201"}),
        phone("805ec0120003", "W60B", key="1", **{"key type": "speed dial", "key value": "1"}),
        phone("805ec0120004", "T31G", key="3", **{"key type": "BLF", "key value": "201"}),
        phone("805ec0120005", **{"expansion module": "EXP50", "expansion modules": "1"}),
        key("805ec0120005", 1, **{"key module": "2"}),
        key("805ec0120005", 61, **{"key module": "1"}),
        key("805ec0120001", 2, "hold"),
        key("805ec0120001", 3, "BLF", ""),
        key("805ec0120001", 4, **{"key account": "17"}),
        key("805ec0120001", 1, "line", ""),
        {"organisation": "alpha", "mac": "805ec0120001", "key type": "BLF"},
        key("805ec0120001", "x"),
        phone("805ec0120006", "T31G", **{"expansion module": "EXP50", "expansion modules": "1"}),
        {**key("805ec0120001", 5, ""), "line": "2", "user name": "2"},
        key("805ec0120001", 6, **{"key module": "7"}),
    )

    result = plan(text, tenant_a)

    assert [str(error) for error in result.errors] == [
        "Line 4: A CP920 has 0 line keys; there is no key 1.",
        "Line 5: A W60B has 0 line keys; there is no key 1.",
        "Line 6: A T31G has 2 line keys; there is no key 3.",
        "Line 8: This T54W has 1 EXP50 module; there is no expansion module 2 key 1.",
        "Line 9: An EXP50 has 60 keys; there is no expansion module 1 key 61.",
        "Line 10: key type must be one of none, line, BLF, speed dial, call park, directed "
        "pickup, group pickup, intercom, transfer, DTMF, XML phonebook (or its number); "
        "not 'hold'.",
        "Line 11: key value: A BLF key needs a value (a number).",
        "Line 12: A T54W has 16 lines; key 4 uses line 17.",
        "Line 13: key 1 of this phone is already on line 3.",
        "Line 14: key is empty: say which key these key cells are for (1, 2, ...).",
        "Line 15: key must be a number, not 'x'.",
        "Line 16: expansion module: A T31G does not take an EXP50 (it takes: none).",
        "Line 17: a password is needed for the new account on line 2.",
        "Line 17: key type must be one of none, line, BLF, speed dial, call park, directed "
        "pickup, group pickup, intercom, transfer, DTMF, XML phonebook (or its number); "
        "it is empty.",
        "Line 18: key module: Ensure this value is less than or equal to 6.",
        "Line 18: This T54W has no expansion module; there is no expansion module 7 key 6.",
    ]
    with pytest.raises(ValueError):
        csv_io.apply(result)
    assert not Device.objects.filter(mac__startswith="805ec012").exists()


FITTED = {"key profile": "Reception", "expansion module": "EXP50", "expansion modules": "1"}


def fitted_with_keys(device):
    """`device` with a key profile, one EXP50 and a key on the phone and on the module."""
    device.key_profile = make_key_profile(device.organisation, "Reception", 1)
    device.expansion_module, device.expansion_module_count = "EXP50", 1
    device.save()
    return [make_key(device, 20, label="Bob"), make_key(device, 60, module=1)]


def test_a_file_of_the_account_columns_only_leaves_keys_profile_and_modules_alone(tenant_a):
    fitted_with_keys(tenant_a.device)
    before = keys_of(tenant_a.device)
    text = HEADER + "alpha,80:5e:c0:aa:aa:01,T54W,New label,yes,1,a101,,,,,,,\n"

    preview = plan(text, tenant_a)
    csv_io.apply(preview)

    assert preview.errors == []
    assert preview.summary() == "1 phone to update, 1 account unchanged."
    device = Device.objects.get(pk=tenant_a.device.pk)
    assert device.label == "New label"
    assert shape(device) == ("Reception", "EXP50", 1)
    assert keys_of(device) == before


def test_keys_the_file_does_not_list_are_left_alone_and_type_none_blanks_one(tenant_a):
    fitted_with_keys(tenant_a.device)
    text = csv_file(
        phone("805ec0aaaa01", label="Alpha desk", **FITTED),
        key("805ec0aaaa01", 20, "none", ""),
    )

    preview = plan(text, tenant_a)
    csv_io.apply(preview)

    assert preview.errors == []
    assert [(a, k.position, changed) for a, k, changed in preview.keys] == [
        ("update", 20, ["type", "value", "label"])
    ]
    assert keys_of(tenant_a.device) == [
        (0, 20, KeyType.NONE, "", "", None, ""),
        (1, 60, KeyType.BLF, "201", "", None, ""),
    ]


def test_a_new_model_or_fewer_modules_is_refused_while_an_unlisted_key_would_not_fit(tenant_a):
    fitted_with_keys(tenant_a.device)
    smaller = csv_file(phone("805ec0aaaa01", "T31G"))
    no_module = csv_file(phone("805ec0aaaa01", **{"key profile": "Reception"}))
    listed = csv_file(
        phone("805ec0aaaa01", **{"key profile": "Reception"}),
        key("805ec0aaaa01", 60, "none", "", **{"key module": "1"}),
    )
    unlisted = (
        " The phone has that key and this file does not list it: delete the key in the admin "
        "first, or keep the phone as it is."
    )

    assert [str(e) for e in plan(smaller, tenant_a).errors] == [
        "Line 2: A T31G has 2 line keys; there is no key 20." + unlisted,
        "Line 2: This T31G has no expansion module; there is no expansion module 1 key 60."
        + unlisted,
    ]
    assert [str(e) for e in plan(no_module, tenant_a).errors] == [
        "Line 2: This T54W has no expansion module; there is no expansion module 1 key 60."
        + unlisted
    ]
    assert [str(e) for e in plan(listed, tenant_a).errors] == [
        "Line 3: This T54W has no expansion module; there is no expansion module 1 key 60."
    ]


def test_a_key_profile_is_named_within_the_phones_organisation_and_must_fit(tenant_a, tenant_b):
    make_key_profile(tenant_b.organisation, "Bravo reception")
    make_key_profile(tenant_a.organisation, "Big", 20)
    text = csv_file(
        phone("805ec0120001", **{"key profile": "Bravo reception"}),
        phone("805ec0120002", "T31G", **{"key profile": "Big"}),
        phone("805ec0120003", **{"key profile": "Big"}),
    )

    result = plan(text, tenant_a)

    assert [str(e) for e in result.errors] == [
        "Line 2: alpha has no key profile named 'Bravo reception'.",
        "Line 3: key profile: The key profile Big does not fit this phone: A T31G has 2 line "
        "keys; there is no key 20.",
    ]
    planned = {device.mac: device for _, device, _ in result.devices}
    assert shape(planned["805ec0120002"]) == ("Big", "", 0)


def test_later_rows_of_a_phone_must_repeat_its_modules_unchanged(tenant_a):
    text = csv_file(
        phone("805ec0120001", **{"expansion module": "EXP50", "expansion modules": "1"}),
        key("805ec0120001", 1, **{"expansion modules": "2"}),
        key("805ec0120001", 2, **{"expansion module": "exp50", "expansion modules": "1"}),
    )

    result = plan(text, tenant_a)

    assert [str(e) for e in result.errors] == [
        "Line 3: expansion modules differs from line 2 for the same MAC."
    ]


def test_the_export_writes_a_row_per_key_and_imports_back_unchanged(tenant_a, tenant_b):
    fitted_with_keys(tenant_a.device)
    make_key(tenant_a.device, 3, type=KeyType.XML_PHONEBOOK, value="", label="=SUM(A1)", line=2)
    make_key(tenant_a.device, 4, type=KeyType.LINE, value="", line=2)
    before = keys_of(tenant_a.device)
    devices = Device.objects.filter(organisation=tenant_a.organisation)

    exported = csv_io.export(devices)

    rows = exported.lstrip("\ufeff").splitlines()
    assert rows[0] == ",".join(csv_io.HEADER)
    assert len(rows) == 1 + 2 + 4  # header, two accounts, four keys
    assert rows[-1] == (
        "alpha,80:5e:c0:aa:aa:01,T54W,Alpha desk,yes,Reception,EXP50,1,,,,,,,,,,1,60,BLF,201,,,"
    )
    assert ",0,3,XML phonebook,,'=SUM(A1),2," in exported
    again = plan(exported.lstrip("\ufeff"), tenant_a)
    assert (again.errors, again.changes) == ([], 0)
    LineKey.objects.all().delete()
    csv_io.apply(plan(exported.lstrip("\ufeff"), tenant_a))
    assert keys_of(tenant_a.device) == before


def test_the_export_reads_keys_and_accounts_in_a_few_queries_whatever_the_phones(
    tenant_a, django_assert_num_queries
):
    profile = make_key_profile(tenant_a.organisation, "Reception")
    for number in range(3):
        make_key(make_device(tenant_a.organisation, f"805ec0bbbb0{number}", key_profile=profile), 1)

    with django_assert_num_queries(5):  # phones, organisations, key profiles, accounts, keys
        exported = csv_io.export(Device.objects.all())

    assert exported.count(",1,BLF,201,") == 3


def upload(client, text, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data.setdefault("file", SimpleUploadedFile("p.csv", text.encode()))
    return client.post("/admin/devices/device/import/", data)


def test_the_admin_previews_keys_then_imports_them_on_confirmation(admin_client, tenant_a):
    text = csv_file(
        phone("805ec0123456", line="1", **{"user name": "3001", "password": "pw"}),
        key("805ec0123456", 1, "BLF", "3002", **{"key label": "Bob"}),
    )

    preview = upload(admin_client, text)

    body = preview.content.decode()
    assert "1 phone to create, 1 account to create, 1 key to create." in body
    assert "key 1: BLF Bob" in body
    assert 'value="Import: 1 phone to create, 1 account to create, 1 key to create"' in body
    assert not LineKey.objects.exists()
    done = upload(admin_client, "", token=preview.context["token"], confirm="1", file="")
    assert done.status_code == 302
    assert keys_of(Device.objects.get(mac="805ec0123456")) == [
        (0, 1, KeyType.BLF, "3002", "Bob", None, "")
    ]


def test_one_bad_key_keeps_the_whole_file_out_even_when_confirmed(admin_client, tenant_a):
    text = csv_file(
        phone("805ec0aaaa01", label="Renamed", line="1", **{"user name": "x1"}),
        key("805ec0aaaa01", 1),
        phone("805ec0123456", line="1", **{"user name": "3001", "password": "pw"}),
        key("805ec0123456", 28),
    )

    preview = upload(admin_client, text)
    confirmed = upload(admin_client, "", token=preview.context["token"], confirm="1", file="")

    for response in (preview, confirmed):
        body = response.content.decode()
        assert "Nothing was imported: 1 row must be fixed first." in body
        assert "Line 5: A T54W has 27 line keys; there is no key 28." in body
        assert 'name="confirm"' not in body
    assert Device.objects.get(pk=tenant_a.device.pk).label == "Alpha desk"
    assert SipAccount.objects.get(device=tenant_a.device, index=1).user_name == "a101"
    assert not Device.objects.filter(mac="805ec0123456").exists()
    assert not LineKey.objects.exists()


# --- files that are no CSV of phones (issue 15): a message, never a 500 ------------------------


def too_long_a_value():
    """Excel's way to lose a closing quote: the value runs on past the csv module's limit."""
    return HEADER + 'alpha,805ec0123456,T54W,"Hall' + "x" * 140_000 + "\n"


def a_number_of_5000_digits():
    return HEADER + "alpha,805ec0123456,T54W,,yes,1,3001,,pw,,,," + "9" * 5000 + ",\n"


@pytest.fixture
def staff_client(client, tenant_a):
    from organisations.staff import create_organisation_staff

    client.force_login(
        create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    )
    return client


@pytest.mark.parametrize("who", ["provider", "staff"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty: it needs a header line and at least one row."),
        (b"\xef\xbb\xbf", "The file is empty: it needs a header line and at least one row."),
        (
            b"\xef\xbb\xbf\r\n\r\n",
            "The file is empty: it needs a header line and at least one row.",
        ),
        (
            too_long_a_value().encode(),
            "Line 2: a value runs on for more than 128 KB. Most often a quote (&quot;) opens a "
            "value and is never closed: check the quotes from that line on.",
        ),
        (
            a_number_of_5000_digits().encode(),
            "Line 2: port must be a number, not one of 5000 digits.",
        ),
        (
            # PostgreSQL stores no NUL in text: written, the row was a 500 on confirming.
            (HEADER + "alpha,805ec0123456,T54W,Hall\x00way,yes,,,,,,,,,\n").encode(),
            "Line 2 holds a NUL character, which no text field can hold: most often the file "
            "is not plain text. In Excel choose",
        ),
    ],
    ids=["empty", "bom", "blank-lines", "value-over-128-kb", "number-of-5000-digits", "nul"],
)
def test_a_file_that_cannot_be_read_gets_a_message_and_writes_nothing(
    request, who, data, message, tenant_a
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = request.getfixturevalue("admin_client" if who == "provider" else "staff_client")

    response = client.post(
        "/admin/devices/device/import/", {"file": SimpleUploadedFile("p.csv", data)}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert "field limit" not in body and "131072" not in body  # no words of the csv module
    assert 'name="confirm"' not in body
    assert list(Device.objects.values_list("mac", flat=True)) == [tenant_a.device.mac]


def test_the_phonebook_import_reads_files_with_the_same_words(admin_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from tests.phonebooks.factories import make_phonebook

    book = make_phonebook(tenant_a.organisation)
    text = 'name,number 1\n"Hall' + "x" * 140_000 + "\n"

    response = admin_client.post(
        reverse("admin:phonebooks_phonebook_import", args=[book.pk]),
        {"file": SimpleUploadedFile("c.csv", text.encode())},
    )

    assert "Line 2: a value runs on for more than 128 KB." in response.content.decode()
    assert not book.contacts.exists()


def test_the_phonebook_import_refuses_a_nul_character_with_the_same_words(admin_client, tenant_a):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from tests.phonebooks.factories import make_phonebook

    book = make_phonebook(tenant_a.organisation)

    response = admin_client.post(
        reverse("admin:phonebooks_phonebook_import", args=[book.pk]),
        {"file": SimpleUploadedFile("c.csv", b"name,number 1\nHall\x00way,3001\n")},
    )

    assert "Line 2 holds a NUL character" in response.content.decode()
    assert not book.contacts.exists()


def test_a_file_over_the_limit_is_refused_before_it_is_read(admin_client, tenant_a, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from organisations import csv_files

    monkeypatch.setattr(csv_files, "MAX_UPLOAD_BYTES", 1024 * 1024)
    data = (HEADER + "alpha,805ec0123456,T54W,,yes,,,,,,,,,\n" * 30_000).encode()

    response = admin_client.post(
        "/admin/devices/device/import/", {"file": SimpleUploadedFile("p.csv", data)}
    )

    assert f"The file is {len(data) // 1024} KB; split it into files of at most 1 MB." in (
        response.content.decode()
    )


# --- the preview's words (issue 18) -------------------------------------------------------------


def test_a_row_with_three_problems_reports_all_three_by_their_columns(client, tenant_a):
    from tests.phonebooks.factories import make_staff

    client.force_login(make_staff(tenant_a.organisation))
    text = csv_file(
        phone("805ec0123456", "T99X", active="maybe", line="1", transport="carrier pigeon")
        | {"user name": "3001", "password": "pw"},
        phone("805ec0123457", "T54W", key="1", **{"key type": "hold", "key value": "1"}),
    )

    body = upload(client, text).content.decode()

    assert "Nothing was imported: 2 rows must be fixed first." in body
    row = body[body.index("Line 2:") : body.index("Line 3:")]
    assert "model must be one of T19P_E2, T21P_E2, T27G," in row
    assert "W80B, W90DM, W90B; not &#x27;T99X&#x27;." in row  # every model, in a line
    assert "active must be yes or no, not &#x27;maybe&#x27;." in row
    assert "transport must be UDP, TCP, TLS or DNS SRV, not &#x27;carrier pigeon&#x27;." in row
    assert "Line 3: key type must be one of none, line, BLF, speed dial," in body
    assert "index" not in body[body.index('id="import-errors"') :].split("</ul>")[0]


def test_the_model_names_columns_not_fields_in_its_own_checks(tenant_a):
    text = csv_file(
        phone("805ec0123456", "T31G", line="3", **{"user name": "1", "password": "pw"})
        | {"display name": "Bad: name", "port": "70000"},
    )

    messages = [str(error) for error in plan(text, tenant_a).errors]

    assert sorted(messages) == [
        "Line 2: display name: Yealink phones refuse these characters here: :",
        "Line 2: line: A T31G has 2 lines; line 3 is out.",
        "Line 2: port: Ensure this value is less than or equal to 65535.",
    ]


def test_the_preview_counts_phones_accounts_and_keys_apart_with_the_button_twice(
    admin_client, tenant_a
):
    rows = []
    for n in range(3):
        mac = f"805ec01234{n:02x}"
        for line in (1, 2):
            rows.append(phone(mac, line=str(line), **{"user name": f"{n}{line}", "password": "pw"}))
        rows.append(key(mac, 3))
    rows.append(phone("805ec0aaaa01", label="Renamed", line="1", **{"user name": "a101"}))

    response = upload(admin_client, csv_file(*rows))

    body = response.content.decode()
    expected = (
        "3 phones to create, 6 accounts to create, 3 keys to create, 1 phone to update, "
        "1 account unchanged"
    )
    assert f'<p id="import-summary">{expected}.</p>' in body
    button = (
        'value="Import: 3 phones to create, 6 accounts to create, 3 keys to create, '
        '1 phone to update"'
    )
    assert body.count(button) == 2
    top, bottom = (body.find(button), body.rfind(button))
    assert top < body.index('id="import-preview"') < bottom
    assert "<td>label</td>" in body  # the column that changes, not a field's name
    assert "display_name" not in body and "user_name" not in body


def test_a_file_that_changes_nothing_offers_no_import(admin_client, tenant_a):
    text = HEADER + "alpha,80:5e:c0:aa:aa:01,T54W,Alpha desk,yes,,,,,,,,,\n"

    body = upload(admin_client, text).content.decode()

    assert "1 phone unchanged." in body
    assert "Nothing to import" in body
    assert 'name="confirm"' not in body


def test_the_model_may_be_written_in_any_case(tenant_a):
    result = plan(csv_file(phone("805ec0123456", "t54w")), tenant_a)

    assert result.errors == []
    assert result.devices[0][1].model == "T54W"
