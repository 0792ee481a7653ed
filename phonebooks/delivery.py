"""Which phonebooks a phone may read, and the keys that point its MAC file at them.

The stated order: a book's `position` (lowest first), then its name, then its id. A phone
allowed more than BOOKS_PER_PHONE books gets the first ones in that order; the admin lists
the phones that miss a book (`phones_missing_books`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial

from django.conf import settings

from devices.models import Device
from devices.serving import keys, memo
from organisations.models import Organisation
from phonebooks.families import Family, family_for_model
from phonebooks.models import BOOKS_PER_PHONE, Phonebook

ORDER = ("position", "name", "pk")
# A slot without a book is blanked, so a book taken away disappears from the phone too
# (the phone keeps keys the file no longer mentions).
BLANK = "%NULL%"


@dataclass(frozen=True)
class OrganisationBooks:
    """An organisation's books in the stated order, and who was chosen for the books that
    only chosen phones may read. The same for every phone of the organisation: kept per
    config version (books and their chosen phones are config sources), so serving a phone
    its books costs no query while nothing changed."""

    books: tuple[Phonebook, ...]
    chosen: dict[int, frozenset[int]]  # book pk -> device pks

    def readable(self, device: Device) -> list[Phonebook]:
        return [
            book
            for book in self.books
            if book.audience == Phonebook.Audience.ALL or device.pk in self.chosen.get(book.pk, ())
        ]


def organisation_books(organisation_id: int) -> OrganisationBooks:
    return memo(
        keys.ORGANISATION_BOOKS(organisation_id),
        partial(_load_organisation_books, organisation_id),
    )


def _load_organisation_books(organisation_id: int) -> OrganisationBooks:
    """Two queries, however many books and phones the organisation has."""
    books = tuple(
        Phonebook.objects.filter(organisation_id=organisation_id)
        .defer("size_bytes", "created_at", "updated_at")
        .order_by(*ORDER)
    )
    chosen: dict[int, set[int]] = defaultdict(set)
    pairs = Phonebook.devices.through.objects.filter(
        phonebook__organisation_id=organisation_id,
        phonebook__audience=Phonebook.Audience.CHOSEN,
    )
    for book_id, device_id in pairs.values_list("phonebook_id", "device_id"):
        chosen[book_id].add(device_id)
    return OrganisationBooks(books, {pk: frozenset(ids) for pk, ids in chosen.items()})


def readable_books(device: Device) -> list[Phonebook]:
    """Every book the device may read, in the stated order."""
    return organisation_books(device.organisation_id).readable(device)


def readable_book(device: Device, pk: int) -> Phonebook | None:
    """The book if this device may read it; None for a book that does not exist, is another
    organisation's or is not for this phone: the caller cannot tell these apart."""
    return next((book for book in readable_books(device) if book.pk == pk), None)


def phonebook_name(phonebook: Phonebook, family: Family) -> str:
    return f"pb-{family.slug}-{phonebook.pk}.xml"


def phonebook_url(phonebook: Phonebook, family: Family) -> str:
    """The book's address without a phone's token, as the admin shows it: a phone gets
    `Device.resource_url`, and this one only answers a request with the phone's credentials."""
    return settings.PROVISIONING_URL + phonebook_name(phonebook, family)


def phonebook_keys(device: Device) -> list[tuple[str, str]]:
    """The MAC file's remote phonebook keys (a device contributor; no query while the
    organisation's books are kept)."""
    family = family_for_model(device.model)
    books = readable_books(device)[:BOOKS_PER_PHONE]
    pairs = [("features.remote_phonebook.enable", "1" if books else "0")]
    for index in range(1, BOOKS_PER_PHONE + 1):
        book = books[index - 1] if index <= len(books) else None
        url = device.resource_url(phonebook_name(book, family)) if book else BLANK
        name = (book.title or book.name) if book else BLANK
        pairs.append((f"remote_phonebook.data.{index}.url", url))
        pairs.append((f"remote_phonebook.data.{index}.name", name))
    return pairs


def phones_missing_books(organisation: Organisation) -> dict[Device, list[Phonebook]]:
    """Phones allowed more than BOOKS_PER_PHONE books, with the books they do not get.

    Three queries for the whole organisation, however many phones it has.
    """
    books = _load_organisation_books(organisation.pk)
    if len(books.books) <= BOOKS_PER_PHONE:
        return {}
    missing: dict[Device, list[Phonebook]] = {}
    for device in Device.objects.filter(organisation=organisation).order_by("mac"):
        readable = books.readable(device)
        if len(readable) > BOOKS_PER_PHONE:
            missing[device] = readable[BOOKS_PER_PHONE:]
    return missing
