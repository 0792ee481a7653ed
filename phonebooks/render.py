"""A phonebook as the XML a Yealink phone reads (yealink.md §4), built with lxml.

One function renders a book in a family's flavour; the view, the admin's size check, the
benchmark and the tests all call it. Contacts are read as plain tuples in one query, so a
book of 10,000 contacts costs the same number of queries as a book of ten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from lxml import etree

from phonebooks.families import FAMILIES, Family, Flavour
from phonebooks.models import Contact, Phonebook
from phonebooks.numbers import dialable

# What the phone shows beside a number: never translated (phones get no language), so not
# the choices' labels, which the admin shows in the reader's language.
LABELS = {
    Contact.Label.OFFICE.value: "Office",
    Contact.Label.MOBILE.value: "Mobile",
    Contact.Label.OTHER.value: "Other",
}
# Characters XML 1.0 cannot carry at all. The models' validators keep them out; a row
# written behind their back must still not break a whole book (or become a 500).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FIELDS = ("name", "group", "number_1", "label_1", "number_2", "label_2", "number_3", "label_3")


class Row(NamedTuple):
    name: str
    group: str
    number_1: str
    label_1: str
    number_2: str
    label_2: str
    number_3: str
    label_3: str

    def numbers(self) -> list[tuple[str, str]]:
        """(label text, number as written into the XML) for each number there is to dial, in
        slot order. An empty one is left out: the phone would show it as a blank number."""
        pairs = (
            (self.label_1, self.number_1),
            (self.label_2, self.number_2),
            (self.label_3, self.number_3),
        )
        numbers = ((LABELS.get(label, "Other"), _text(dialable(number))) for label, number in pairs)
        return [(label, number) for label, number in numbers if number]


def contact_rows(phonebook: Phonebook) -> list[Row]:
    """The book's contacts in the stated order, in one query."""
    rows = Contact.objects.filter(phonebook=phonebook).order_by("position", "name", "pk")
    return [Row(*values) for values in rows.values_list(*_FIELDS)]


def render_phonebook(phonebook: Phonebook, family: Family, rows: list[Row] | None = None) -> bytes:
    """The book as UTF-8 XML bytes in the family's flavour."""
    if rows is None:
        rows = contact_rows(phonebook)
    build = _directory if family.flavour is Flavour.DIRECTORY else _grouped
    root = build(_text(phonebook.title or phonebook.name), rows)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rendered_size(phonebook: Phonebook, rows: list[Row] | None = None) -> int:
    """Bytes of the largest flavour: what the size check compares to the phones' limits."""
    if rows is None:
        rows = contact_rows(phonebook)
    flavours = {family.flavour: family for family in FAMILIES.values()}
    return max(len(render_phonebook(phonebook, family, rows)) for family in flavours.values())


def projected_size(phonebook: Phonebook, contacts: Iterable[Contact]) -> int:
    """The size the book would have with these (unsaved or changed) contacts."""
    ordered = sorted(contacts, key=lambda contact: (contact.position, contact.name))
    rows = [Row(*(getattr(contact, name) for name in _FIELDS)) for contact in ordered]
    return rendered_size(phonebook, rows)


def refresh_size(phonebook: Phonebook) -> int:
    """Store the book's size; called whenever its contacts or title change, so the admin's
    list shows sizes without rendering every book on every page view."""
    phonebook.size_bytes = rendered_size(phonebook)
    Phonebook.objects.filter(pk=phonebook.pk).update(size_bytes=phonebook.size_bytes)
    return phonebook.size_bytes


def _directory(title: str, rows: Iterable[Row]) -> etree._Element:
    root = etree.Element("YealinkIPPhoneDirectory")
    etree.SubElement(root, "Title").text = title
    for row in rows:
        entry = etree.SubElement(root, "DirectoryEntry")
        etree.SubElement(entry, "Name").text = _text(row.name)
        for label, number in row.numbers():
            etree.SubElement(entry, "Telephone", label=label).text = number
    return root


def _grouped(title: str, rows: Iterable[Row]) -> etree._Element:
    """Groups by name, then the contacts without a group in a menu named after the book."""
    root = etree.Element("YealinkIPPhoneBook")
    etree.SubElement(root, "Title").text = title
    for group, members in _by_group(rows, title):
        menu = etree.SubElement(root, "Menu", Name=_text(group))
        for row in members:
            etree.SubElement(menu, "Unit", _unit_attributes(row))
    return root


def _unit_attributes(row: Row) -> dict[str, str]:
    """Name, then Phone1… for the numbers there are: the firmware adds a number for every
    PhoneN attribute present, so an empty Phone2="" would show as a blank number."""
    phones = {f"Phone{slot}": number for slot, (_, number) in enumerate(row.numbers(), 1)}
    return {"Name": _text(row.name), **phones}


def _by_group(rows: Iterable[Row], ungrouped_name: str) -> list[tuple[str, list[Row]]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group.strip(), []).append(row)
    named = sorted((name for name in groups if name), key=str.casefold)
    ordered = [(name, groups[name]) for name in named]
    if "" in groups:
        ordered.append((ungrouped_name, groups[""]))
    return ordered


def _text(value: str) -> str:
    # isprintable() (in C) is true for nearly every name and implies XML-safe text, so the
    # regular expression only runs on the rare odd one.
    return value if value.isprintable() else _NOT_XML.sub("", value)
