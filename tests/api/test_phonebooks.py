"""/api/v1/phonebooks and their contacts, through HTTP with real tokens."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lxml import etree

from phonebooks.csv_io import MAX_ROWS
from phonebooks.models import Contact, Phonebook
from tests.api.conftest import pointers, problem
from tests.factories import make_device
from tests.phonebooks.factories import make_contact, make_contacts, make_phonebook, phone_get

BOOKS = "/api/v1/phonebooks"


def contacts_url(book: Phonebook) -> str:
    return f"{BOOKS}/{book.pk}/contacts"


@pytest.fixture
def book_a(tenant_a):
    book = make_phonebook(tenant_a.organisation, name="Sales", title="Sales team")
    make_contact(book, "Jansen", number_1="+31 20 123 4567")
    make_contact(book, "de Vries", group="Suppliers", number_1="020 765 4321", position=5)
    return book


@pytest.fixture
def book_b(tenant_b):
    book = make_phonebook(tenant_b.organisation, name="Beta book", title="Beta")
    make_contact(book, "Beta secret", number_1="+31 30 000 0000")
    return book


# --- books ---------------------------------------------------------------------------------


def test_it_lists_a_book_with_what_the_admin_shows(api_a, book_a):
    response = api_a.get(BOOKS)

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["organisation"] == "alpha"
    assert (row["name"], row["title"], row["audience"], row["position"]) == (
        "Sales",
        "Sales team",
        "all",
        100,
    )
    assert row["contact_count"] == 2 and row["devices"] == []
    assert row["phone_urls"]["t4xg"].endswith(f"pb-t4xg-{book_a.pk}.xml")


def test_a_provider_lists_one_organisations_books(provider_api, book_a, book_b):
    response = provider_api.get(BOOKS, {"organisation": "bravo"})

    assert [row["name"] for row in response.json()["results"]] == ["Beta book"]
    assert len(provider_api.get(BOOKS).json()["results"]) == 2


def test_too_many_contacts_are_refused_as_the_csv_import_refuses_them(api_a, book_a):
    body = {"contacts": [{"name": "N", "number_1": "1"}] * (MAX_ROWS + 1)}

    response = api_a.put(contacts_url(book_a), body)

    assert problem(response)["errors"] == [
        {
            "pointer": "/contacts",
            "code": "max_length",
            "message": "More than 20,000 contacts; split the list.",
        }
    ]
    assert book_a.contacts.count() == 2


def test_an_organisation_token_creates_a_book_in_its_own_organisation(api_a, tenant_a):
    devices = ["80:5E:C0:AA:AA:01"]  # any notation
    body = {"name": "Support", "title": "Support", "audience": "chosen", "devices": devices}

    response = api_a.post(BOOKS, body)

    assert response.status_code == 201, response.content
    book = Phonebook.objects.get(name="Support")
    assert book.organisation == tenant_a.organisation
    assert list(book.devices.all()) == [tenant_a.device]
    assert response.json()["devices"] == ["805ec0aaaa01"]
    assert book.size_bytes  # measured, as the admin does on save
    entry = LogEntry.objects.get(object_id=str(book.pk))
    assert "through the API" in entry.change_message


def test_a_provider_token_must_name_the_organisation(provider_api, tenant_a):
    response = provider_api.post(BOOKS, {"name": "X", "title": "X"})

    assert response.status_code == 400
    assert pointers(response) == {"/organisation": "required"}
    created = provider_api.post(BOOKS, {"organisation": "alpha", "name": "X", "title": "X"})
    assert created.status_code == 201


def test_it_refuses_a_name_twice_in_an_organisation_with_the_admins_message(api_a, book_a):
    response = api_a.post(BOOKS, {"name": "Sales", "title": "Other"})

    assert response.status_code == 400
    [error] = problem(response)["errors"]
    assert error["message"] == "Phonebook with this Organisation and Name already exists."


def test_a_provider_cannot_choose_phones_of_another_organisation(provider_api, book_a, tenant_b):
    response = provider_api.patch(
        f"{BOOKS}/{book_a.pk}", {"audience": "chosen", "devices": [tenant_b.device.mac]}
    )

    assert response.status_code == 400
    [error] = problem(response)["errors"]
    assert error["pointer"] == "/devices"
    assert error["message"].startswith("Not phones of Alpha")
    assert not book_a.devices.exists()


def test_an_organisation_token_cannot_name_another_organisations_phone_or_slug(
    api_a, book_a, tenant_b
):
    url = f"{BOOKS}/{book_a.pk}"
    phone = api_a.patch(url, {"devices": [tenant_b.device.mac]})
    slug = api_a.patch(url, {"organisation": "bravo"})

    assert pointers(phone) == {"/devices": "does_not_exist"}
    assert pointers(slug) == {"/organisation": "does_not_exist"}
    # Said as for a MAC or slug that is nobody's: nothing confirms that bravo has them.
    no_phone = api_a.patch(url, {"devices": ["001565cccc01"]})
    no_slug = api_a.patch(url, {"organisation": "nobody"})
    assert _message(phone).replace(tenant_b.device.mac, "?") == _message(no_phone).replace(
        "001565cccc01", "?"
    )
    assert _message(slug).replace("bravo", "?") == _message(no_slug).replace("nobody", "?")
    book_a.refresh_from_db()
    assert book_a.organisation.slug == "alpha" and not book_a.devices.exists()


def _message(response) -> str:
    [error] = problem(response)["errors"]
    return error["message"]


def test_another_organisations_book_is_a_404_for_every_method(api_a, book_b):
    url = f"{BOOKS}/{book_b.pk}"

    assert api_a.get(BOOKS).json()["results"] == []
    for response in (
        api_a.get(url),
        api_a.patch(url, {"title": "Mine"}),
        api_a.delete(url),
        api_a.get(contacts_url(book_b)),
        api_a.put(contacts_url(book_b), {"contacts": []}),
        api_a.get(f"{contacts_url(book_b)}/{book_b.contacts.get().pk}"),
    ):
        assert response.status_code == 404
        assert problem(response)["code"] == "not_found"
    book_b.refresh_from_db()
    assert book_b.title == "Beta" and book_b.contacts.count() == 1


def test_a_read_only_token_reads_and_cannot_write(read_only_api_a, book_a):
    assert read_only_api_a.get(f"{BOOKS}/{book_a.pk}").status_code == 200
    for response in (
        read_only_api_a.post(BOOKS, {"name": "X", "title": "X"}),
        read_only_api_a.patch(f"{BOOKS}/{book_a.pk}", {"title": "X"}),
        read_only_api_a.delete(f"{BOOKS}/{book_a.pk}"),
        read_only_api_a.put(contacts_url(book_a), {"contacts": []}),
        read_only_api_a.post(contacts_url(book_a), {"name": "X", "number_1": "1"}),
    ):
        assert response.status_code == 403
        assert problem(response)["code"] == "read_only_token"
    assert book_a.contacts.count() == 2


def test_deleting_a_book_deletes_its_contacts(api_a, book_a):
    response = api_a.delete(f"{BOOKS}/{book_a.pk}")

    assert response.status_code == 204
    assert not Phonebook.objects.exists() and not Contact.objects.exists()


def test_put_replaces_the_books_fields(api_a, book_a):
    body = {"name": "Sales NL", "title": "Verkoop", "position": 1, "audience": "all"}

    response = api_a.put(f"{BOOKS}/{book_a.pk}", body)

    assert response.status_code == 200, response.content
    book_a.refresh_from_db()
    assert (book_a.name, book_a.title, book_a.position) == ("Sales NL", "Verkoop", 1)


@pytest.mark.parametrize("path", [BOOKS, "contacts"])
def test_a_list_page_costs_the_same_queries_for_2_and_20_rows(provider_api, tenant_a, path):
    def queries(count: int) -> int:
        Phonebook.objects.all().delete()
        book = None
        for index in range(count if path == BOOKS else 1):
            book = make_phonebook(tenant_a.organisation, devices=[tenant_a.device])
            if index == 0:
                make_contacts(book, count)
        assert book is not None
        url = BOOKS if path == BOOKS else contacts_url(book)
        provider_api.get(url)  # the token's first use of the day is recorded once
        with CaptureQueriesContext(connection) as captured:
            response = provider_api.get(url)
        assert response.status_code == 200
        assert len(response.json()["results"]) == count
        return len(captured)

    assert queries(2) == queries(20)


# --- contacts, one by one --------------------------------------------------------------------


def test_it_lists_a_books_contacts_in_the_phones_order(api_a, book_a):
    response = api_a.get(contacts_url(book_a))

    assert [row["name"] for row in response.json()["results"]] == ["Jansen", "de Vries"]
    assert response.json()["results"][1] == {
        "id": response.json()["results"][1]["id"],
        "name": "de Vries",
        "group": "Suppliers",
        "number_1": "020 765 4321",
        "label_1": "office",
        "number_2": "",
        "label_2": "mobile",
        "number_3": "",
        "label_3": "other",
        "position": 5,
    }


def test_a_contact_is_created_changed_and_deleted(api_a, book_a):
    created = api_a.post(contacts_url(book_a), {"name": "Bakker", "number_1": "+31 6 1234"})
    assert created.status_code == 201, created.content
    url = f"{contacts_url(book_a)}/{created.json()['id']}"

    assert api_a.patch(url, {"number_2": "010 1"}).json()["number_2"] == "010 1"
    assert api_a.get(url).json()["name"] == "Bakker"
    assert api_a.delete(url).status_code == 204
    assert not book_a.contacts.filter(name="Bakker").exists()


def test_a_contact_is_refused_with_the_models_messages(api_a, book_a):
    no_number = api_a.post(contacts_url(book_a), {"name": "Nobody"})
    twice = api_a.post(contacts_url(book_a), {"name": "Jansen", "number_1": "1"})

    assert problem(no_number)["errors"] == [
        {
            "pointer": "/number_1",
            "code": "invalid",
            "message": "A contact needs at least one number.",
        }
    ]
    assert problem(twice)["errors"][0]["message"] == (
        "Contact with this Phonebook, Name and Group already exists."
    )
    assert book_a.contacts.count() == 2


def test_a_contact_of_another_book_is_a_404_under_this_one(api_a, book_a, tenant_a):
    other = make_phonebook(tenant_a.organisation, name="Other")
    contact = make_contact(other, "Elsewhere")

    assert api_a.get(f"{contacts_url(book_a)}/{contact.pk}").status_code == 404


# --- contacts, all at once -------------------------------------------------------------------


def test_a_bulk_replace_creates_updates_deletes_and_counts(api_a, book_a):
    body = {
        "contacts": [
            {"name": "Jansen", "number_1": "+31 20 123 4567"},  # unchanged
            {"name": "de Vries", "group": "Suppliers", "number_1": "020 1", "position": 5},
            {"name": "Bakker", "number_1": "06 1", "label_1": "Mobile"},
        ]
    }

    response = api_a.put(contacts_url(book_a), body)

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 1, "deleted": 0, "unchanged": 1}
    assert book_a.contacts.get(name="Bakker").label_1 == "mobile"
    again = api_a.put(contacts_url(book_a), body)
    assert again.json() == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 3}
    fewer = api_a.put(contacts_url(book_a), {"contacts": body["contacts"][:1]})
    assert fewer.json() == {"created": 0, "updated": 0, "deleted": 2, "unchanged": 1}
    assert list(book_a.contacts.values_list("name", flat=True)) == ["Jansen"]


def test_one_bad_contact_changes_nothing_and_each_error_points_at_its_field(api_a, book_a):
    before = sorted(book_a.contacts.values_list("name", "number_1"))
    body = {
        "contacts": [
            {"name": "Jansen", "number_1": "0800 NEW"},
            {"name": "Bakker", "number_1": "06 1"},
            {"name": "Bakker", "number_1": "06 2"},
            {"name": "Smit", "number_1": "1", "label_2": "fax", "position": -1},
            {"name": "Leeg"},
        ]
    }

    response = api_a.put(contacts_url(book_a), body)

    assert response.status_code == 400
    errors = {error["pointer"]: error["message"] for error in problem(response)["errors"]}
    assert set(errors) == {
        "/contacts/0/number_1",
        "/contacts/2",
        "/contacts/3/label_2",
        "/contacts/3/position",
        "/contacts/4/number_1",
    }
    assert errors["/contacts/2"] == "'Bakker' (no group) is at /contacts/1 already."
    assert errors["/contacts/3/label_2"] == "'fax' is not one of office, mobile, other"
    assert errors["/contacts/3/position"] == "'-1' is not a whole number of 0 or more"
    assert errors["/contacts/4/number_1"] == "A contact needs at least one number."
    assert sorted(book_a.contacts.values_list("name", "number_1")) == before


def test_the_bulk_messages_are_the_csv_imports(api_a, book_a):
    from phonebooks.csv_io import plan_import

    csv = plan_import(book_a, b"name,number 1,label 2\nSmit,1,fax\n")
    response = api_a.put(
        contacts_url(book_a), {"contacts": [{"name": "Smit", "number_1": "1", "label_2": "fax"}]}
    )

    [error] = problem(response)["errors"]
    assert str(csv.errors[0]) == f"Line 2: label 2: {error['message']}"


def test_a_bulk_replace_with_a_wrong_shape_is_a_400_not_a_500(api_a, book_a):
    for body in ({}, {"contacts": "x"}, {"contacts": [{"number_1": "1"}]}, [1]):
        response = api_a.put(contacts_url(book_a), body)
        assert response.status_code == 400, body
    assert pointers(api_a.put(contacts_url(book_a), {"contacts": [{"number_1": "1"}]})) == {
        "/contacts/0/name": "required"
    }


# --- phones --------------------------------------------------------------------------------


def test_a_bulk_replace_reaches_the_phones_next_phonebook(client, api_a, book_a, tenant_a):
    url = f"/pb-t4xg-{book_a.pk}.xml"
    assert phone_get(client, url, tenant_a.device).status_code == 200  # kept by the server

    api_a.put(contacts_url(book_a), {"contacts": [{"name": "Nieuw", "number_1": "+31 20 9"}]})

    root = etree.fromstring(phone_get(client, url, tenant_a.device).content)
    assert [entry.findtext("Name") for entry in root.iter("DirectoryEntry")] == ["Nieuw"]


def test_a_new_book_reaches_the_phones_next_mac_file(client, api_a, tenant_a):
    other = make_device(tenant_a.organisation, "805ec0aaaa02")
    first = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers())
    assert "remote_phonebook.data.1.url = %NULL%" in first.content.decode()

    created = api_a.post(
        BOOKS,
        {"name": "Desk", "title": "Desk book", "audience": "chosen", "devices": [other.mac]},
    )
    api_a.patch(f"{BOOKS}/{created.json()['id']}", {"devices": [tenant_a.device.mac]})

    config = client.get("/805ec0aaaa01.cfg", headers=tenant_a.phone_headers()).content.decode()
    assert "remote_phonebook.data.1.name = Desk book" in config
