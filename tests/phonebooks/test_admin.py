"""Phonebooks and contacts in the Django admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from phonebooks.models import Contact, Phonebook
from tests.factories import make_device
from tests.phonebooks.factories import make_contact, make_contacts, make_phonebook, make_staff

CHANGELIST = reverse("admin:phonebooks_phonebook_changelist")
CONTACTS = reverse("admin:phonebooks_contact_changelist")


def change_url(book: Phonebook) -> str:
    return reverse("admin:phonebooks_phonebook_change", args=[book.pk])


def book_form(book_or_org, **fields) -> dict:
    organisation = getattr(book_or_org, "organisation", book_or_org)
    data = {
        "organisation": organisation.pk,
        "name": "Sales",
        "title": "Sales",
        "position": 100,
        "audience": "all",
    }
    data.update(fields)
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_list_flags_books_too_large_for_some_or_all_phones(admin_client, tenant_a):
    small = make_phonebook(tenant_a.organisation, name="Small")
    some = make_phonebook(tenant_a.organisation, name="Some")
    every = make_phonebook(tenant_a.organisation, name="Every")
    Phonebook.objects.filter(pk=small.pk).update(size_bytes=700 * 1024)
    Phonebook.objects.filter(pk=some.pk).update(size_bytes=800 * 1024)
    Phonebook.objects.filter(pk=every.pk).update(size_bytes=1600 * 1024)

    body = admin_client.get(CHANGELIST).content.decode()

    assert body.count("Too large for some models") == 1
    assert body.count("Too large: phones refuse a phonebook over 1.5 MB") == 1
    assert "700 KB" in body


def test_a_book_grown_too_large_is_flagged_when_a_contact_is_saved(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    make_contacts(book, 9000, groups=3)  # about 0.9 MB in the grouped flavour

    response = admin_client.post(
        reverse("admin:phonebooks_contact_add"),
        {
            "phonebook": book.pk,
            "name": "One more",
            "group": "",
            "number_1": "1",
            "label_1": "office",
            "number_2": "",
            "label_2": "mobile",
            "number_3": "",
            "label_3": "other",
            "position": 0,
        },
        follow=True,
    )

    book.refresh_from_db()
    assert book.size_bytes is not None
    assert book.size_bytes > 768 * 1024
    assert any("Too large for some models" in m for m in messages_of(response))


def test_the_book_page_links_to_its_contacts_instead_of_listing_them(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    make_contacts(book, 250)

    body = admin_client.get(change_url(book)).content.decode()

    assert f"{CONTACTS}?phonebook__id__exact={book.pk}" in body
    assert "250 contacts" in body
    assert "Contact 00001" not in body
    assert f"/pb-t4xg-{book.pk}.xml" in body
    assert reverse("admin:phonebooks_phonebook_import", args=[book.pk]) in body


def test_the_contact_list_is_filtered_by_book_and_paginated(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    other = make_phonebook(tenant_a.organisation)
    make_contacts(book, 150)
    make_contact(other, "Elsewhere")

    response = admin_client.get(CONTACTS, {"phonebook__id__exact": book.pk})

    page = list(response.context["cl"].result_list)
    assert len(page) == 100
    assert {contact.phonebook_id for contact in page} == {book.pk}
    assert response.context["cl"].paginator.num_pages == 2


def test_contacts_are_found_by_number_whatever_the_spaces(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    make_contact(book, "Spaced", number_1="+31 20 123-4567")
    make_contact(book, "Other", number_1="+31 30 999 9999")

    response = admin_client.get(CONTACTS, {"q": "201234567"})

    assert [c.name for c in response.context["cl"].result_list] == ["Spaced"]


def test_a_contact_with_a_bad_number_is_refused_with_the_reason(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)

    response = admin_client.post(
        reverse("admin:phonebooks_contact_add"),
        {
            "phonebook": book.pk,
            "name": "X",
            "number_1": "call me",
            "label_1": "office",
            "label_2": "mobile",
            "label_3": "other",
            "position": 0,
        },
    )

    assert response.status_code == 200
    assert "not allowed in a phone number" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_phone_of_another_organisation_cannot_be_chosen(admin_client, tenant_a, tenant_b):
    response = admin_client.post(
        reverse("admin:phonebooks_phonebook_add"),
        book_form(tenant_a.organisation, audience="chosen", devices=[tenant_b.device.pk]),
    )

    assert response.status_code == 200
    assert "Not phones of Alpha" in response.content.decode()
    assert not Phonebook.objects.exists()


def test_the_admin_says_which_phones_miss_a_book_beyond_the_fifth(admin_client, tenant_a):
    books = [make_phonebook(tenant_a.organisation, name=f"Book {i}", position=i) for i in range(6)]

    response = admin_client.post(
        change_url(books[5]),
        book_form(books[5], name="Book 5", title="Book 5", position=5),
        follow=True,
    )

    assert any("gets only the first 5" in m and "Book 5" in m for m in messages_of(response))
    body = admin_client.get(change_url(books[5])).content.decode()
    assert "1 phone may read more than 5 books" in body
    assert "Alpha desk" in body
    assert "None: every phone" in admin_client.get(change_url(books[0])).content.decode()


def test_a_book_for_chosen_phones_with_none_chosen_gets_a_warning(admin_client, tenant_a):
    response = admin_client.post(
        reverse("admin:phonebooks_phonebook_add"),
        book_form(tenant_a.organisation, audience="chosen"),
        follow=True,
    )

    assert any("No phone is chosen" in m for m in messages_of(response))


def test_an_admin_creates_a_book_for_chosen_phones(admin_client, tenant_a):
    second = make_device(tenant_a.organisation)

    admin_client.post(
        reverse("admin:phonebooks_phonebook_add"),
        book_form(tenant_a.organisation, audience="chosen", devices=[second.pk]),
    )

    book = Phonebook.objects.get()
    assert list(book.devices.all()) == [second]
    assert book.size_bytes is not None


def test_deleting_a_big_book_summarises_its_contacts(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    make_contacts(book, 300)

    response = admin_client.get(reverse("admin:phonebooks_phonebook_delete", args=[book.pk]))

    body = response.content.decode()
    assert "300 contacts" in body
    assert "Contact 00001" not in body
    admin_client.post(reverse("admin:phonebooks_phonebook_delete", args=[book.pk]), {"post": "yes"})
    assert not Contact.objects.exists()


# --- Organisation staff see only their own organisation ---------------------------------


@pytest.fixture
def staff_b(client, tenant_b):
    client.force_login(make_staff(tenant_b.organisation))
    return client


def test_staff_of_b_never_see_the_books_or_contacts_of_a(staff_b, tenant_a, tenant_b):
    book_a = make_phonebook(tenant_a.organisation, name="A's book")
    make_contact(book_a, "Secret of A")
    book_b = make_phonebook(tenant_b.organisation, name="B's book")
    make_contact(book_b, "Friend of B")

    books = staff_b.get(CHANGELIST)
    contacts = staff_b.get(CONTACTS)

    assert [b.name for b in books.context["cl"].result_list] == ["B's book"]
    assert [c.name for c in contacts.context["cl"].result_list] == ["Friend of B"]
    assert "Secret of A" not in contacts.content.decode()


@pytest.mark.parametrize("view", ["change", "import", "export", "delete"])
def test_staff_of_b_get_a_404_for_a_book_of_a(staff_b, tenant_a, view):
    book_a = make_phonebook(tenant_a.organisation)

    response = staff_b.get(reverse(f"admin:phonebooks_phonebook_{view}", args=[book_a.pk]))

    assert response.status_code == 404


def test_staff_of_b_cannot_open_a_contact_of_a(staff_b, tenant_a):
    contact = make_contact(make_phonebook(tenant_a.organisation))

    response = staff_b.get(reverse("admin:phonebooks_contact_change", args=[contact.pk]))

    assert response.status_code == 404


def test_staff_manage_their_own_books(staff_b, tenant_b):
    book = make_phonebook(tenant_b.organisation)

    assert staff_b.get(change_url(book)).status_code == 200
    export = staff_b.get(reverse("admin:phonebooks_phonebook_export", args=[book.pk]))
    assert export.status_code == 200


def test_staff_create_books_for_their_own_organisation_only(staff_b, tenant_a, tenant_b):
    add = reverse("admin:phonebooks_phonebook_add")
    form = book_form(tenant_b.organisation, audience="chosen")
    del form["organisation"]  # read-only for organisation staff

    refused = staff_b.post(add, {**form, "devices": [tenant_a.device.pk]})
    staff_b.post(add, {**form, "devices": [tenant_b.device.pk]})

    assert refused.status_code == 200  # the form again, with the error
    book = Phonebook.objects.get()
    assert (book.organisation, list(book.devices.all())) == (
        tenant_b.organisation,
        [tenant_b.device],
    )


def test_a_book_made_outside_the_admin_is_measured_when_first_listed(admin_client, tenant_a):
    book = make_phonebook(tenant_a.organisation)
    make_contact(book)
    assert book.size_bytes is None

    admin_client.get(CHANGELIST)

    measured = Phonebook.objects.get(pk=book.pk).size_bytes
    assert measured is not None
    assert measured > 0


def test_the_recalculate_action_measures_books_changed_behind_the_admins_back(
    admin_client, tenant_a
):
    book = make_phonebook(tenant_a.organisation)
    Phonebook.objects.filter(pk=book.pk).update(size_bytes=1)
    make_contacts(book, 50)

    admin_client.post(CHANGELIST, {"action": "recalculate_size", "_selected_action": [book.pk]})

    book.refresh_from_db()
    assert book.size_bytes is not None
    assert book.size_bytes > 50 * 50
