"""The XML a phone reads, parsed back with lxml and checked element by element."""

from __future__ import annotations

import pytest
from lxml import etree

from devices.phone_models import MODELS
from phonebooks.families import FAMILIES, Family, Flavour, family_for_model, models_without_family
from phonebooks.models import Contact
from phonebooks.render import refresh_size, render_phonebook
from tests.phonebooks.factories import make_contact, make_phonebook

DIRECTORY = FAMILIES["t4xg"]
GROUPED = FAMILIES["t5x"]
HARD_NAMES = [
    "Jansen & Zn <Verkoop>",
    "Say \"cheese\" & 'smile'",
    "Åsa Ødegård",
    "محمد",
    "王小明",
    "Pizza 🍕",
    "]]> not a CDATA end",
]


def parse(body: bytes) -> etree._Element:
    # A strict parser: anything that is not well-formed UTF-8 XML fails here.
    return etree.fromstring(body, etree.XMLParser(recover=False))


def test_the_directory_flavour_has_one_entry_per_contact_with_labelled_numbers(tenant_a):
    book = make_phonebook(tenant_a.organisation, title="Sales")
    make_contact(
        book,
        "Jansen & Zn",
        number_1="+31 20 123 4567",
        number_2="06-1234 5678",
        label_2=Contact.Label.MOBILE,
        number_3="",
        position=2,
    )
    make_contact(book, "Alpha", number_1="", number_2="*97#", label_2="other", position=1)

    root = parse(render_phonebook(book, DIRECTORY))

    assert root.tag == "YealinkIPPhoneDirectory"
    assert [child.tag for child in root] == ["Title", "DirectoryEntry", "DirectoryEntry"]
    assert root.findtext("Title") == "Sales"
    first, second = root.findall("DirectoryEntry")
    assert [child.tag for child in first] == ["Name", "Telephone"]
    assert first.findtext("Name") == "Alpha"
    assert [(t.get("label"), t.text) for t in first.findall("Telephone")] == [("Other", "*97#")]
    assert second.findtext("Name") == "Jansen & Zn"
    assert [(t.get("label"), t.text) for t in second.findall("Telephone")] == [
        ("Office", "+31201234567"),
        ("Mobile", "0612345678"),
    ]


def test_the_grouped_flavour_has_a_menu_per_group_and_a_unit_per_contact(tenant_a):
    book = make_phonebook(tenant_a.organisation, title="Everyone")
    make_contact(book, "Roland", group="Suppliers", number_1="123", number_2="", number_3="7 8")
    make_contact(book, "Bea", group="customers", number_1="456")
    make_contact(book, "Voicemail", number_1="*97")

    root = parse(render_phonebook(book, GROUPED))

    assert root.tag == "YealinkIPPhoneBook"
    assert root.findtext("Title") == "Everyone"
    menus = root.findall("Menu")
    assert [menu.get("Name") for menu in menus] == ["customers", "Suppliers", "Everyone"]
    assert [dict(unit.attrib) for unit in menus[1]] == [
        {"Name": "Roland", "Phone1": "123", "Phone2": "78"}
    ]
    assert [unit.get("Name") for menu in menus for unit in menu] == ["Bea", "Roland", "Voicemail"]
    assert all(unit.tag == "Unit" for menu in menus for unit in menu)


@pytest.mark.parametrize("family", [DIRECTORY, GROUPED], ids=["directory", "grouped"])
def test_hard_names_come_out_as_valid_utf8_xml(tenant_a, family: Family):
    book = make_phonebook(tenant_a.organisation, title="Ça & <co>")
    for name in HARD_NAMES:
        make_contact(book, name, group="Ünïcødé & <groups>")

    body = render_phonebook(book, family)

    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    body.decode("utf-8")  # strictly UTF-8
    root = parse(body)
    assert root.findtext("Title") == "Ça & <co>"
    if family.flavour is Flavour.DIRECTORY:
        names = [entry.findtext("Name", "") for entry in root.iter("DirectoryEntry")]
    else:
        menu = root.find("Menu")
        assert menu is not None
        assert menu.get("Name") == "Ünïcødé & <groups>"
        names = [unit.get("Name", "") for unit in root.iter("Unit")]
    assert sorted(names) == sorted(HARD_NAMES)
    assert b"Jansen &amp; Zn &lt;Verkoop&gt;" in body


def test_characters_xml_cannot_carry_are_left_out_instead_of_breaking_the_book(tenant_a):
    book = make_phonebook(tenant_a.organisation)
    # Written behind the validators' back, as an old import or a shell session might.
    Contact.objects.create(phonebook=book, name="Bell\x07 Co\x1b", number_1="1")

    root = parse(render_phonebook(book, DIRECTORY))

    assert root.findtext("DirectoryEntry/Name") == "Bell Co"


def test_an_empty_book_is_still_a_valid_book(tenant_a):
    book = make_phonebook(tenant_a.organisation, title="Empty")

    for family in (DIRECTORY, GROUPED):
        root = parse(render_phonebook(book, family))
        assert [child.tag for child in root] == ["Title"]


def test_the_stored_size_is_the_largest_flavour(tenant_a):
    book = make_phonebook(tenant_a.organisation)
    for index in range(20):
        make_contact(book, f"Name {index}", group=f"G{index}")

    size = refresh_size(book)

    book.refresh_from_db()
    assert book.size_bytes == size
    assert size == max(len(render_phonebook(book, family)) for family in FAMILIES.values())


def test_every_catalogue_model_has_a_family():
    assert models_without_family() == []
    assert {family_for_model(model.name).slug for model in MODELS} == set(FAMILIES)


def test_a_family_slug_is_lower_case_letters_and_digits():
    assert all(slug.isalnum() and slug == slug.lower() for slug in FAMILIES)


def test_a_model_the_catalogue_does_not_know_falls_back_to_a_directory_book():
    assert family_for_model("T99X").flavour is Flavour.DIRECTORY
