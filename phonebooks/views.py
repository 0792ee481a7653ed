"""The phone side: `pb-<type>-<id>.xml` for the phones allowed to read the book."""

from __future__ import annotations

import hashlib
from functools import partial

from django.http import HttpResponseBase

from devices.serving import PhoneHttpRequest, keys, memo, not_found, phone_endpoint, xml_file
from phonebooks.delivery import readable_book
from phonebooks.families import Family, get_family
from phonebooks.models import Phonebook
from phonebooks.render import render_phonebook

# Larger ids cannot exist, and the database would refuse to compare with them.
_MAX_ID = 2**63 - 1


def _book_id(pk: str) -> int | None:
    number = int(pk) if len(pk) <= 19 else None
    return number if number is not None and number <= _MAX_ID else None


@phone_endpoint(auth="resource", kind="phonebook")
def phonebook_xml(request: PhoneHttpRequest, family: str, pk: str) -> HttpResponseBase:
    device = request.phone.device
    kind = get_family(family)
    book_id = _book_id(pk)
    book = None
    if kind is not None and device is not None and book_id is not None:
        book = readable_book(device, book_id)
    if kind is None or book is None:
        # One answer for an unknown type, a missing book, another organisation's book and
        # a book this phone may not read: nobody learns which books exist.
        return not_found()
    # The same book goes to every phone of the organisation: rendered once per config
    # version (contacts are a config source), whichever phone asks.
    body, etag = memo(keys.PHONEBOOK(book.pk, kind.slug), partial(_rendered, book, kind))
    return xml_file(request, body, etag)


def _rendered(book: Phonebook, kind: Family) -> tuple[bytes, str]:
    body = render_phonebook(book, kind)
    return body, f'"{hashlib.md5(body).hexdigest()}"'
