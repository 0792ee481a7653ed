"""Which phonebooks a phone may read, and the keys that point its MAC file at them.

The stated order: a book's `position` (lowest first), then its name, then its id. A phone
allowed more than BOOKS_PER_PHONE books gets the first ones in that order; the admin lists
the phones that miss a book (`phones_missing_books`).
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from devices.models import Device
from organisations.models import Organisation
from phonebooks.families import Family, family_for_model
from phonebooks.models import BOOKS_PER_PHONE, Phonebook

ORDER = ("position", "name", "pk")
# A slot without a book is blanked, so a book taken away disappears from the phone too
# (the phone keeps keys the file no longer mentions).
BLANK = "%NULL%"


def readable_books(device: Device) -> QuerySet[Phonebook]:
    """Every book the device may read, in the stated order (one query)."""
    chosen = Phonebook.devices.through.objects.filter(phonebook=OuterRef("pk"), device=device)
    return (
        Phonebook.objects.filter(organisation_id=device.organisation_id)
        .filter(Q(audience=Phonebook.Audience.ALL) | Q(Exists(chosen)))
        .order_by(*ORDER)
    )


def readable_book(device: Device, pk: int) -> Phonebook | None:
    """The book if this device may read it; None for a book that does not exist, is another
    organisation's or is not for this phone: the caller cannot tell these apart."""
    return readable_books(device).filter(pk=pk).first()


def phonebook_url(phonebook: Phonebook, family: Family) -> str:
    return f"{settings.PROVISIONING_URL}pb-{family.slug}-{phonebook.pk}.xml"


def phonebook_keys(device: Device) -> list[tuple[str, str]]:
    """The MAC file's remote phonebook keys (a device contributor, one query)."""
    family = family_for_model(device.model)
    books = list(readable_books(device).only("pk", "title", "name")[:BOOKS_PER_PHONE])
    pairs = [("features.remote_phonebook.enable", "1" if books else "0")]
    for index in range(1, BOOKS_PER_PHONE + 1):
        book = books[index - 1] if index <= len(books) else None
        url = phonebook_url(book, family) if book else BLANK
        name = (book.title or book.name) if book else BLANK
        pairs.append((f"remote_phonebook.data.{index}.url", url))
        pairs.append((f"remote_phonebook.data.{index}.name", name))
    return pairs


def phones_missing_books(organisation: Organisation) -> dict[Device, list[Phonebook]]:
    """Phones allowed more than BOOKS_PER_PHONE books, with the books they do not get.

    Three queries for the whole organisation, however many phones it has.
    """
    books = list(Phonebook.objects.filter(organisation=organisation).order_by(*ORDER))
    if len(books) <= BOOKS_PER_PHONE:
        return {}
    chosen: dict[int, set[int]] = defaultdict(set)
    pairs = Phonebook.devices.through.objects.filter(phonebook__organisation=organisation)
    for book_id, device_id in pairs.values_list("phonebook_id", "device_id"):
        chosen[device_id].add(book_id)
    missing: dict[Device, list[Phonebook]] = {}
    for device in Device.objects.filter(organisation=organisation).order_by("mac"):
        readable = [
            book
            for book in books
            if book.audience == Phonebook.Audience.ALL or book.pk in chosen[device.pk]
        ]
        if len(readable) > BOOKS_PER_PHONE:
            missing[device] = readable[BOOKS_PER_PHONE:]
    return missing
