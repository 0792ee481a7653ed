"""The phone side: GET /pb-<type>-<id>.xml, for the phones allowed to read the book."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree

from devices.models import AccessLog
from phonebooks.models import Contact
from tests.conftest import basic
from tests.factories import make_device, resource_path, user_agent
from tests.phonebooks.factories import make_contact, make_contacts, make_phonebook, phone_get

NOT_FOUND = AccessLog.Outcome.NOT_FOUND


def last_outcome() -> str:
    log = AccessLog.objects.order_by("-pk").first()
    assert log is not None
    return log.outcome


@pytest.fixture
def book(tenant_a):
    book = make_phonebook(tenant_a.organisation, name="Sales", title="Sales team")
    make_contact(book, "Jansen & Zn", number_1="+31 20 123 4567", number_2="06-1234 5678")
    return book


def test_the_phone_gets_the_book_as_xml(client, tenant_a, book):
    response = phone_get(client, f"/pb-t4xg-{book.pk}.xml", tenant_a.device)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert int(response["Content-Length"]) == len(response.content)
    root = etree.fromstring(response.content)
    assert root.tag == "YealinkIPPhoneDirectory"
    assert root.findtext("Title") == "Sales team"
    assert root.findtext("DirectoryEntry/Name") == "Jansen & Zn"
    assert last_outcome() == AccessLog.Outcome.SUCCESS


def test_it_logs_one_row_with_the_device_and_organisation(client, tenant_a, book):
    phone_get(client, f"/pb-t4xg-{book.pk}.xml", tenant_a.device)

    row = AccessLog.objects.get()
    assert (row.device, row.organisation, row.status_code) == (
        tenant_a.device,
        tenant_a.organisation,
        200,
    )
    assert row.path == f"/p/{tenant_a.device.mac}/…/pb-t4xg-{book.pk}.xml"  # no token


def test_it_accepts_the_mac_without_colons_as_t5x_phones_send_it(client, tenant_a, book):
    headers = {"User-Agent": "Yealink SIP-T54W 96.86.0.100 805ec0aaaa01"}

    response = client.get(resource_path(tenant_a.device, f"pb-t5x-{book.pk}.xml"), headers=headers)

    assert response.status_code == 200
    assert etree.fromstring(response.content).tag == "YealinkIPPhoneBook"


def test_it_accepts_an_upper_case_type(client, tenant_a, book):
    assert phone_get(client, f"/pb-T4XG-{book.pk}.xml", tenant_a.device).status_code == 200


def test_an_unknown_type_is_a_404(client, tenant_a, book):
    response = phone_get(client, f"/pb-t99-{book.pk}.xml", tenant_a.device)

    assert response.status_code == 404
    assert last_outcome() == NOT_FOUND


def test_a_book_that_does_not_exist_is_a_404(client, tenant_a, book):
    response = phone_get(client, f"/pb-t4xg-{book.pk + 1000}.xml", tenant_a.device)

    assert response.status_code == 404
    assert last_outcome() == NOT_FOUND


def test_an_id_too_large_for_the_database_is_a_logged_404(client, tenant_a):
    response = phone_get(client, "/pb-t4xg-99999999999999999999999.xml", tenant_a.device)

    assert response.status_code == 404
    assert last_outcome() == NOT_FOUND


def test_a_phone_that_is_not_chosen_gets_a_404(client, tenant_a):
    other = make_device(tenant_a.organisation, "805ec0aaaa02")
    book = make_phonebook(tenant_a.organisation, devices=[other])
    make_contact(book)

    assert phone_get(client, f"/pb-t4xg-{book.pk}.xml", tenant_a.device).status_code == 404
    assert last_outcome() == NOT_FOUND
    assert phone_get(client, f"/pb-t4xg-{book.pk}.xml", other).status_code == 200


def test_a_chosen_book_with_no_phones_reaches_nobody(client, tenant_a):
    book = make_phonebook(tenant_a.organisation, audience="chosen")

    assert phone_get(client, f"/pb-t4xg-{book.pk}.xml", tenant_a.device).status_code == 404


def test_an_inactive_phone_gets_a_404_logged_as_deactivated(client, tenant_a, book):
    tenant_a.device.is_active = False
    tenant_a.device.save()

    response = phone_get(client, f"/pb-t4xg-{book.pk}.xml", tenant_a.device)

    assert response.status_code == 404
    assert last_outcome() == AccessLog.Outcome.INACTIVE


def test_an_unknown_mac_gets_a_404_logged_as_mac_unknown(client, book):
    response = phone_get(client, f"/pb-t4xg-{book.pk}.xml", "805ec0ffff99")

    assert response.status_code == 404
    assert last_outcome() == AccessLog.Outcome.MAC_UNKNOWN


def test_a_request_without_token_or_credentials_is_challenged(client, tenant_a, book):
    response = client.get(f"/pb-t4xg-{book.pk}.xml", headers={"User-Agent": user_agent(None)})

    assert response.status_code == 401
    assert b"Directory" not in response.content


def test_right_credentials_are_accepted(client, tenant_a, book):
    response = client.get(f"/pb-t4xg-{book.pk}.xml", headers=tenant_a.phone_headers())

    assert response.status_code == 200
    assert AccessLog.objects.get().username == tenant_a.username


def test_wrong_credentials_are_a_401(client, tenant_a, book):
    headers = tenant_a.phone_headers(password="not-the-password")

    response = client.get(f"/pb-t4xg-{book.pk}.xml", headers=headers)

    assert response.status_code == 401
    assert last_outcome() == AccessLog.Outcome.WRONG_CREDENTIALS


def test_another_organisations_credentials_open_nothing_of_this_one(
    client, tenant_a, tenant_b, book
):
    headers = {
        "User-Agent": user_agent(tenant_a.device),
        "Authorization": basic(tenant_b.username, tenant_b.password),
    }

    # Valid credentials, but not this phone's organisation: 404, never a password prompt.
    assert client.get(f"/pb-t4xg-{book.pk}.xml", headers=headers).status_code == 404
    row = AccessLog.objects.get()
    assert (row.outcome, row.organisation, row.device) == (
        AccessLog.Outcome.UNASSIGNED,
        tenant_b.organisation,
        None,  # another organisation's phone is none of its business
    )


def test_only_get_and_head_are_allowed(client, tenant_a, book):
    headers = {"User-Agent": user_agent(tenant_a.device)}
    path = resource_path(tenant_a.device, f"pb-t4xg-{book.pk}.xml")

    assert client.post(path, headers=headers).status_code == 405
    assert client.head(path, headers=headers).status_code == 200


def test_a_phone_of_b_never_gets_a_book_of_a_whatever_id_it_tries(client, tenant_a, tenant_b):
    books_of_a = [make_phonebook(tenant_a.organisation) for _ in range(3)]
    book_of_b = make_phonebook(tenant_b.organisation)
    for book in books_of_a:
        make_contact(book, "Secret of A")

    answers = {
        pk: phone_get(client, f"/pb-t4xg-{pk}.xml", tenant_b.device, model="T46U")
        for pk in range(1, book_of_b.pk + 5)
    }

    assert answers.pop(book_of_b.pk).status_code == 200
    assert {response.status_code for response in answers.values()} == {404}
    assert all(b"Secret of A" not in response.content for response in answers.values())


def test_every_refusal_looks_the_same_so_nobody_learns_which_books_exist(
    client, tenant_a, tenant_b
):
    book_of_b = make_phonebook(tenant_b.organisation)
    not_chosen = make_phonebook(tenant_a.organisation, audience="chosen")
    paths = [
        f"/pb-t4xg-{book_of_b.pk}.xml",  # another organisation's
        f"/pb-t4xg-{not_chosen.pk}.xml",  # not for this phone
        f"/pb-t4xg-{book_of_b.pk + 100}.xml",  # does not exist
        f"/pb-zz-{not_chosen.pk}.xml",  # unknown type
    ]

    answers = [phone_get(client, path, tenant_a.device) for path in paths]

    assert {(r.status_code, r.content, r["Content-Type"]) for r in answers} == {
        (404, b"Not found\n", "text/plain; charset=utf-8")
    }
    assert [row.outcome for row in AccessLog.objects.order_by("pk")] == [NOT_FOUND] * 4


def queries_to_serve(client, device, size: int) -> int:
    book = make_phonebook(device.organisation)
    make_contacts(book, size, groups=7)
    with CaptureQueriesContext(connection) as queries:
        response = phone_get(client, f"/pb-t5x-{book.pk}.xml", device)
    assert len(etree.fromstring(response.content).findall("Menu/Unit")) == size
    return len(queries)


def test_serving_a_book_costs_the_same_queries_whatever_its_size(client, tenant_a, settings):
    settings.LAST_SEEN_PRECISION_SECONDS = 0  # both requests write the visit
    assert queries_to_serve(client, tenant_a.device, 10) == queries_to_serve(
        client, tenant_a.device, 500
    )


@pytest.mark.parametrize("size", [10, 500])
def test_serving_a_book_costs_at_most_seven_queries(
    client, tenant_a, size, django_assert_max_num_queries
):
    book = make_phonebook(tenant_a.organisation)
    make_contacts(book, size, groups=7)

    # Device, organisation, the organisation's books and who was chosen for them (all kept
    # per config version when the cache is on), the contacts, the visit, the log row and
    # its hour's count.
    with django_assert_max_num_queries(8):
        response = phone_get(client, f"/pb-t5x-{book.pk}.xml", tenant_a.device)

    assert response.status_code == 200


def test_a_client_that_sends_the_etag_back_gets_a_304_until_the_book_changes(
    client, tenant_a, book
):
    path = f"/pb-t4xg-{book.pk}.xml"
    etag = phone_get(client, path, tenant_a.device)["ETag"]

    unchanged = phone_get(client, path, tenant_a.device, **{"If-None-Match": etag})
    make_contact(book, "New colleague")
    changed = phone_get(client, path, tenant_a.device, **{"If-None-Match": etag})

    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert last_outcome() == AccessLog.Outcome.SUCCESS


# --- numbers the phone would show blank -----------------------------------------------------


def units(response):
    return [dict(unit.attrib) for unit in etree.fromstring(response.content).iter("Unit")]


def test_a_t5x_phone_gets_only_the_phone_attributes_a_contact_has(client, tenant_a):
    # The firmware adds a number for every PhoneN attribute there is, empty or not.
    book = make_phonebook(tenant_a.organisation)
    make_contact(book, "Roland", number_1="123", number_2="", number_3="")
    make_contact(book, "Bea", number_1="", number_2="", number_3="06-1234 5678")
    make_contact(book, "Cas", number_1="1", number_2="2", number_3="3")

    response = client.get(f"/pb-t5x-{book.pk}.xml", headers=tenant_a.phone_headers())

    assert response.status_code == 200
    assert units(response) == [
        {"Name": "Bea", "Phone1": "0612345678"},
        {"Name": "Cas", "Phone1": "1", "Phone2": "2", "Phone3": "3"},
        {"Name": "Roland", "Phone1": "123"},
    ]


def test_a_number_with_nothing_to_dial_gives_no_empty_number_in_either_flavour(client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    # Written behind the validators' back: only the dashes and spaces the phone never gets.
    Contact.objects.create(phonebook=book, name="Dashes", number_1=" - -", number_2="456")

    grouped = client.get(f"/pb-t5x-{book.pk}.xml", headers=tenant_a.phone_headers())
    directory = client.get(f"/pb-t4xg-{book.pk}.xml", headers=tenant_a.phone_headers())

    assert units(grouped) == [{"Name": "Dashes", "Phone1": "456"}]
    telephones = etree.fromstring(directory.content).findall("DirectoryEntry/Telephone")
    assert [(phone.get("label"), phone.text) for phone in telephones] == [("Mobile", "456")]
