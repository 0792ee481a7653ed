"""Organisation staff never learn which MACs other organisations have (issue 15, part 6).

The attack: 4,256 candidate MACs in one CSV upload, and the answer named exactly Acme's six
phones as "already registered to another organisation". Now staff learn only that a MAC
cannot be added, in the same words in the import and the phone form; a file with more than a
handful of them is refused whole, naming none; enough of them in a day pause adding phones;
and the provider sees every attempt in the admin.
"""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.mac import format_mac
from devices.models import Device, ForeignMacAttempt, UnassignedPhone
from organisations.staff import create_organisation_staff
from tests.admin_forms import browser_form
from tests.factories import make_device, make_organisation

HEADER = "mac,model,label\n"
IMPORT = "/admin/devices/device/import/"
ACME_MACS = [f"001565acbe{n:02x}" for n in range(6)]
CANNOT_ADD = "cannot be added. If it is one of your phones, contact your provider."


@pytest.fixture
def acme(db):
    """Another customer of the provider, with six phones."""
    organisation = make_organisation("acme")
    for mac in ACME_MACS:
        make_device(organisation, mac, model="T46U")
    return organisation


@pytest.fixture
def staff(client, tenant_a):
    user = create_organisation_staff(tenant_a.organisation, "alice", "x", validate=False)
    client.force_login(user)
    return client


def upload(client, macs, **environ):
    text = HEADER + "".join(f"{format_mac(mac)},T54W,Desk\n" for mac in macs)
    file = SimpleUploadedFile("phones.csv", text.encode(), content_type="text/csv")
    return client.post(IMPORT, {"file": file}, **environ)


def candidates(count):
    """MACs a prober might try: Yealink's prefix, counted up; Acme's six among them."""
    free = [f"001565{n:06x}" for n in range(1, count - len(ACME_MACS) + 1)]
    return sorted(free + ACME_MACS)


def body(response):
    return html.unescape(response.content.decode())


def add_phone(client, mac, remote_addr="127.0.0.1", **fields):
    data = browser_form(client, "/admin/devices/device/add/")
    data |= {"mac": mac, "model": "T54W", "label": "Added", **fields}
    return client.post("/admin/devices/device/add/", data, REMOTE_ADDR=remote_addr)


# --- the import ---------------------------------------------------------------------------


def test_an_upload_of_thousands_of_candidates_names_none_of_another_organisations_phones(
    staff, tenant_a, acme
):
    response = upload(staff, candidates(4256), REMOTE_ADDR="198.51.100.7")

    text = body(response)
    assert response.status_code == 200
    for mac in ACME_MACS:
        assert format_mac(mac) not in text
    assert "another organisation" not in text and "registered" not in text
    assert (
        "Nothing was imported: this file has more than 5 MACs that cannot be added. Check the "
        "MACs against the labels on the phones, and contact your provider" in text
    )
    assert 'name="confirm"' not in text
    assert not Device.objects.filter(organisation=tenant_a.organisation, label="Desk").exists()
    attempt = ForeignMacAttempt.objects.get()
    assert (attempt.organisation, attempt.username, attempt.ip) == (
        tenant_a.organisation,
        "alice",
        "198.51.100.7",
    )
    assert (attempt.source, attempt.mac_count, attempt.refused_whole) == ("import", 6, True)
    assert attempt.macs.split() == ACME_MACS


def test_a_refused_file_costs_the_same_whichever_of_its_macs_are_taken(staff, tenant_a, acme):
    """The answer is decided from the MACs alone, before any row is checked: the work done
    for a refused file does not grow with the MACs another organisation has."""
    few_taken = candidates(400)
    many_taken = ACME_MACS + [f"001565ac{n:04x}" for n in range(394)]
    Device.objects.bulk_create(
        [Device(organisation=acme, mac=mac, model="T46U") for mac in many_taken[6:]]
    )

    costs = []
    for macs in (few_taken, many_taken):
        with CaptureQueriesContext(connection) as queries:
            response = upload(staff, macs)
        assert "Nothing was imported: this file has more than 5 MACs" in body(response)
        costs.append(len(queries))

    assert costs[0] == costs[1]


def test_a_few_taken_macs_are_each_said_only_to_be_impossible_to_add(staff, tenant_a, acme):
    free = "805ec0123456"

    response = upload(staff, [free, *ACME_MACS[:2]])

    text = body(response)
    assert "Nothing was imported: 2 rows must be fixed first." in text
    assert f"Line 3: {format_mac(ACME_MACS[0])} {CANNOT_ADD}" in text
    assert f"Line 4: {format_mac(ACME_MACS[1])} {CANNOT_ADD}" in text
    assert "acme" not in text.lower() and "another organisation" not in text
    assert not Device.objects.filter(mac=free).exists()
    attempt = ForeignMacAttempt.objects.get()
    assert (attempt.mac_count, attempt.refused_whole, attempt.macs.split()) == (
        2,
        False,
        ACME_MACS[:2],
    )


def test_the_provider_is_told_whose_phone_it_is(admin_client, tenant_a, acme):
    text = f"organisation,{HEADER}alpha,{format_mac(ACME_MACS[0])},T54W,Desk\n"

    response = admin_client.post(IMPORT, {"file": SimpleUploadedFile("p.csv", text.encode())})

    assert f"Line 2: {format_mac(ACME_MACS[0])} is already registered to acme." in body(response)
    assert not ForeignMacAttempt.objects.exists()  # the provider probes nothing


def test_staff_still_import_their_own_and_new_phones(staff, tenant_a, acme):
    response = upload(staff, [tenant_a.device.mac, "805ec0123456"])
    done = staff.post(IMPORT, {"token": response.context["token"], "confirm": "1"})

    assert done.status_code == 302
    assert Device.objects.get(mac="805ec0123456").organisation == tenant_a.organisation
    assert not ForeignMacAttempt.objects.exists()


# --- the phone form, and "Add this phone" of an unassigned phone -----------------------------


def test_the_phone_form_says_the_same_words_and_records_the_attempt(staff, tenant_a, acme):
    response = add_phone(staff, format_mac(ACME_MACS[0]), remote_addr="198.51.100.8")

    text = body(response)
    assert response.status_code == 200
    assert f"{format_mac(ACME_MACS[0])} {CANNOT_ADD}" in text
    assert "already registered" not in text and "already exists" not in text
    assert Device.objects.get(mac=ACME_MACS[0]).organisation == acme
    attempt = ForeignMacAttempt.objects.get()
    assert (attempt.source, attempt.macs, attempt.ip) == ("form", ACME_MACS[0], "198.51.100.8")


def test_changing_a_phones_mac_to_a_taken_one_says_the_same(staff, tenant_a, acme):
    url = f"/admin/devices/device/{tenant_a.device.pk}/change/"
    data = browser_form(staff, url) | {"mac": ACME_MACS[1]}

    response = staff.post(url, data)

    assert f"{format_mac(ACME_MACS[1])} {CANNOT_ADD}" in body(response)
    assert Device.objects.get(pk=tenant_a.device.pk).mac == "805ec0aaaa01"
    assert ForeignMacAttempt.objects.get().macs == ACME_MACS[1]


def test_staff_are_told_when_a_mac_is_one_of_their_own_phones(staff, tenant_a):
    response = add_phone(staff, "80:5e:c0:aa:aa:01")

    assert "This MAC is one of your phones already." in body(response)
    assert not ForeignMacAttempt.objects.exists()


def test_the_provider_sees_the_real_reason_in_the_form(admin_client, tenant_a, acme):
    response = add_phone(admin_client, ACME_MACS[0], organisation=tenant_a.organisation.pk)

    assert "This MAC address is already registered to a device." in body(response)
    assert not ForeignMacAttempt.objects.exists()


def test_an_unassigned_phone_another_organisation_added_stays_listed_and_cannot_be_added(
    staff, tenant_a, acme
):
    """Its row leaving the list would say that someone has it."""
    listed = UnassignedPhone.objects.create(organisation=tenant_a.organisation, mac="805ec0bbbb01")
    make_device(acme, "805ec0bbbb01")

    page = staff.get("/admin/devices/unassignedphone/")
    link = body(page).split('href="/admin/devices/device/add/?')[1].split('"')[0]
    form = staff.get(f"/admin/devices/device/add/?{link}")
    response = add_phone(staff, form.context["adminform"].form.initial["mac"])

    assert [phone.pk for phone in page.context["cl"].result_list] == [listed.pk]
    assert f"80:5e:c0:bb:bb:01 {CANNOT_ADD}" in body(response)
    assert ForeignMacAttempt.objects.get().source == "form"


def test_adding_the_phone_itself_still_takes_it_off_the_list(staff, tenant_a):
    UnassignedPhone.objects.create(organisation=tenant_a.organisation, mac="805ec0bbbb01")

    assert add_phone(staff, "80:5e:c0:bb:bb:01").status_code == 302

    assert not UnassignedPhone.objects.exists()


# --- the pause: a day's budget of taken MACs per organisation ---------------------------------


@pytest.fixture
def paused(staff, tenant_a, acme, settings):
    settings.FOREIGN_MACS_PER_DAY = 4
    upload(staff, ACME_MACS[:2])
    upload(staff, ACME_MACS[2:4])
    return staff


def test_once_paused_a_free_mac_and_a_taken_one_get_the_same_answer(paused, tenant_a):
    answers = []
    for mac in ("805ec0123456", ACME_MACS[5]):
        for response in (upload(paused, [mac]), add_phone(paused, mac)):
            text = body(response)
            assert format_mac(mac) not in text.split("errornote", 1)[-1].split("</p>")[0]
            answers.append(text.count("Adding phones is paused for Alpha"))

    assert answers == [1, 1, 1, 1]
    assert not Device.objects.filter(mac="805ec0123456").exists()


def test_once_paused_a_file_of_many_taken_macs_gets_the_same_answer_too(paused, tenant_a, settings):
    """Found by the review of issue 15: "refused whole" came before the pause, so five known
    taken MACs and one candidate told, while paused, whether the candidate was taken."""
    settings.FOREIGN_MACS_PER_IMPORT = 5
    known = ACME_MACS[:5]
    answers = [
        body(upload(paused, [*known, candidate])).count("Adding phones is paused for Alpha")
        for candidate in ("805ec0123456", ACME_MACS[5])
    ]

    assert answers == [1, 1]


def test_a_paused_organisation_still_changes_its_own_phones(paused, tenant_a):
    response = upload(paused, [tenant_a.device.mac])
    done = paused.post(IMPORT, {"token": response.context["token"], "confirm": "1"})

    assert done.status_code == 302
    assert Device.objects.get(pk=tenant_a.device.pk).label == "Desk"


def test_the_provider_still_adds_phones_for_a_paused_organisation(paused, admin_client, tenant_a):
    response = add_phone(admin_client, "805ec0123456", organisation=tenant_a.organisation.pk)

    assert response.status_code == 302


def test_the_pause_ends_a_day_after_the_attempts(paused, tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    ForeignMacAttempt.objects.update(created_at=timezone.now() - timedelta(hours=25))

    assert add_phone(paused, "805ec0123456").status_code == 302


# --- what the provider sees --------------------------------------------------------------------


def test_the_provider_sees_who_tried_which_macs_and_whose_they_are(
    staff, admin_client, tenant_a, acme
):
    upload(staff, ACME_MACS[:2], REMOTE_ADDR="198.51.100.7")
    attempt = ForeignMacAttempt.objects.get()

    listing = body(admin_client.get("/admin/devices/foreignmacattempt/"))
    found = admin_client.get("/admin/devices/foreignmacattempt/", {"q": "00-15-65-AC-BE-01"})
    detail = body(admin_client.get(f"/admin/devices/foreignmacattempt/{attempt.pk}/change/"))

    assert "alice" in listing and "198.51.100.7" in listing and "CSV import" in listing
    assert list(found.context["cl"].result_list) == [attempt]
    assert "<code>00:15:65:ac:be:00</code> Acme" in detail
    assert "<code>00:15:65:ac:be:01</code> Acme" in detail


def test_the_record_is_read_only_and_the_providers_alone(staff, admin_client, tenant_a, acme):
    upload(staff, ACME_MACS[:1])
    attempt = ForeignMacAttempt.objects.get()
    change = f"/admin/devices/foreignmacattempt/{attempt.pk}/change/"

    assert staff.get("/admin/devices/foreignmacattempt/").status_code == 403
    assert admin_client.get("/admin/devices/foreignmacattempt/add/").status_code == 403
    admin_client.post(change, {"username": "someone else", "mac_count": "0"})
    admin_client.post(f"/admin/devices/foreignmacattempt/{attempt.pk}/delete/", {"post": "yes"})

    attempt.refresh_from_db()
    assert (attempt.username, attempt.mac_count) == ("alice", 1)
