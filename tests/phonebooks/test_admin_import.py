"""CSV import in the admin: upload, preview (nothing written), confirm (all or nothing)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from phonebooks.models import Phonebook
from tests.phonebooks.factories import make_contact, make_phonebook, make_staff

GOOD = (
    "\ufeffname;group;number 1\r\n"
    "Jansen & Zn <Verkoop>;Klanten;+31 20 123 4567\r\n"
    "محمد;;+971 4 1\r\n"
)


@pytest.fixture
def book(tenant_a) -> Phonebook:
    return make_phonebook(tenant_a.organisation, name="Sales")


def import_url(book: Phonebook) -> str:
    return reverse("admin:phonebooks_phonebook_import", args=[book.pk])


def upload(client, book: Phonebook, content: str | bytes, **extra):
    data = content.encode() if isinstance(content, str) else content
    file = SimpleUploadedFile("contacts.csv", data, content_type="text/csv")
    return client.post(import_url(book), {"file": file, **extra})


def token_of(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the preview offers no confirmation"
    return match.group(1)


def test_the_import_page_explains_the_format(admin_client, book):
    body = admin_client.get(import_url(book)).content.decode()

    assert "name, group, number 1, label 1" in body
    assert 'enctype="multipart/form-data"' in body


def test_the_preview_shows_what_would_happen_and_writes_nothing(admin_client, book):
    make_contact(book, "محمد", number_1="+971 4 1")

    response = upload(admin_client, book, GOOD)

    body = response.content.decode()
    assert response.status_code == 200
    assert "1 to create, 0 to update, 1 unchanged" in body
    assert "Jansen &amp; Zn &lt;Verkoop&gt;" in body
    assert "Separator: semicolon" in body
    assert book.contacts.count() == 1


def test_confirming_the_preview_imports_the_file(admin_client, book):
    token = token_of(upload(admin_client, book, GOOD))

    response = admin_client.post(import_url(book), {"token": token}, follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:phonebooks_phonebook_change", args=[book.pk]
    )
    assert "2 created, 0 updated, 0 unchanged, 0 removed" in response.content.decode()
    assert sorted(book.contacts.values_list("name", flat=True)) == [
        "Jansen & Zn <Verkoop>",
        "محمد",
    ]


def test_confirming_twice_creates_no_duplicates(admin_client, book):
    token = token_of(upload(admin_client, book, GOOD))

    admin_client.post(import_url(book), {"token": token})
    admin_client.post(import_url(book), {"token": token})

    assert book.contacts.count() == 2


def test_bad_rows_are_listed_with_their_line_and_nothing_can_be_confirmed(admin_client, book):
    content = "name,number 1\nGood,1\nBad,12ab\n,5\n"

    response = upload(admin_client, book, content)

    body = response.content.decode()
    assert "<td>3</td><td>number 1: &#x27;a&#x27; &#x27;b&#x27; not allowed" in body
    assert "<td>4</td><td>name: This field cannot be blank.</td>" in body
    assert 'name="token"' not in body
    assert not book.contacts.exists()


def test_a_file_that_is_not_utf8_gets_a_clear_message(admin_client, book):
    response = upload(admin_client, book, "name;number 1\nRené;1\n".encode("cp1252"))

    body = response.content.decode()
    assert "This file is not UTF-8: line 2" in body
    assert not book.contacts.exists()


def test_a_tampered_token_is_refused(admin_client, book):
    token = token_of(upload(admin_client, book, GOOD))

    response = admin_client.post(import_url(book), {"token": token[:-3] + "abc"}, follow=True)

    assert "The preview has expired" in response.content.decode()
    assert not book.contacts.exists()


def test_a_token_for_one_book_cannot_import_into_another(admin_client, book, tenant_a):
    other = make_phonebook(tenant_a.organisation, name="Other")
    token = token_of(upload(admin_client, book, GOOD))

    admin_client.post(import_url(other), {"token": token})

    assert not other.contacts.exists()


def test_the_confirmation_applies_the_file_to_the_book_as_it_is_now(admin_client, book):
    token = token_of(upload(admin_client, book, "name,number 1\nA,1\nB,2\n"))
    make_contact(book, "A", number_1="9")  # added by someone else after the preview

    admin_client.post(import_url(book), {"token": token})

    assert dict(book.contacts.values_list("name", "number_1")) == {"A": "1", "B": "2"}


def test_removing_missing_contacts_is_shown_in_the_preview(admin_client, book):
    make_contact(book, "Leaver")

    response = upload(admin_client, book, GOOD, delete_missing="on")

    assert "1 to remove" in response.content.decode()
    admin_client.post(import_url(book), {"token": token_of(response)})
    assert not book.contacts.filter(name="Leaver").exists()


def test_the_export_downloads_an_importable_csv(admin_client, book):
    make_contact(book, "Åsa Ødegård", number_1="+47 22 12 34 56")

    response = admin_client.get(
        reverse("admin:phonebooks_phonebook_export", args=[book.pk]), {"separator": "semicolon"}
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="phonebook-sales.csv"' in response["Content-Disposition"]
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeffname;group;number 1;")
    assert "Åsa Ødegård;;+47 22 12 34 56;office;" in content
    preview = upload(admin_client, book, content)
    assert "0 to create, 0 to update, 1 unchanged" in preview.content.decode()


def test_staff_without_contact_permissions_cannot_import(client, book, tenant_a):
    staff = make_staff(tenant_a.organisation)
    staff.groups.clear()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_phonebook", "change_phonebook"])
    )
    client.force_login(staff)

    assert client.get(import_url(book)).status_code == 403


def test_the_preview_flags_a_book_the_import_would_make_too_large(admin_client, book):
    rows = "".join(
        f"Colleague number {i},Team {i % 5},+31 20 {i:07d},,06-{i:08d}\n" for i in range(9000)
    )

    response = upload(admin_client, book, "name,group,number 1,label 1,number 2\n" + rows)

    body = response.content.decode()
    assert 'id="size-warning"' in body
    assert "Too large for some models" in body or "Too large: phones refuse" in body
    assert not book.contacts.exists()


def test_the_preview_of_a_small_file_raises_no_size_flag(admin_client, book):
    response = upload(admin_client, book, GOOD)

    assert "Size of the phonebook after the import" in response.content.decode()
    assert 'id="size-warning"' not in response.content.decode()


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(admin_client, book, monkeypatch):
    monkeypatch.setattr("phonebooks.admin.MAX_UPLOAD_BYTES", 1024 * 1024)

    response = upload(admin_client, book, "name,number 1\n" + "A,1\n" * 300_000)

    assert "larger than 1 MB" in response.content.decode()
    assert not book.contacts.exists()
