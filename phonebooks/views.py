"""The phone side: `pb-<type>-<id>.xml` for the phones allowed to read the book."""

from __future__ import annotations

import hashlib
from functools import partial

from django.http import HttpRequest, HttpResponse

from devices import config_cache
from devices.models import AccessLog
from devices.phone import not_found, phone_endpoint
from phonebooks.delivery import readable_book
from phonebooks.families import get_family
from phonebooks.render import render_phonebook

# Larger ids cannot exist, and the database would refuse to compare with them.
_MAX_ID = 2**63 - 1


def _book_id(pk: str) -> int | None:
    number = int(pk) if len(pk) <= 19 else None
    return number if number is not None and number <= _MAX_ID else None


@phone_endpoint(auth="optional")
def phonebook_xml(request: HttpRequest, family: str, pk: str) -> HttpResponse:
    device = request.phone.device
    kind = get_family(family)
    book_id = _book_id(pk)
    book = None
    if kind is not None and device is not None and book_id is not None:
        book = readable_book(device, book_id)
    if book is None:
        # One answer for an unknown type, a missing book, another organisation's book and
        # a book this phone may not read: nobody learns which books exist.
        response = not_found()
        response.access_outcome = AccessLog.Outcome.NOT_FOUND
        return response
    # The same book goes to every phone of the organisation: rendered once per config
    # version (contacts are a config source, see apps.py), whichever phone asks.
    body, etag = config_cache.memo(
        f"phonebook:{book.pk}:{kind.slug}", partial(_rendered, book, kind)
    )
    return xml_response(request, body, etag)


def _rendered(book, kind) -> tuple[bytes, str]:
    body = render_phonebook(book, kind)
    return body, f'"{hashlib.md5(body).hexdigest()}"'


def xml_response(request: HttpRequest, body: bytes, etag: str) -> HttpResponse:
    """The book with an ETag. Phones send no If-None-Match and always get the body; other
    clients that do get a 304 while the book is unchanged."""
    wanted = _etags(request.headers.get("If-None-Match", ""))
    if etag in wanted or "*" in wanted:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/xml")
        response["Content-Length"] = str(len(body))
    response["ETag"] = etag
    # Names and numbers of a customer's contacts: no shared cache may keep them.
    response["Cache-Control"] = "private, no-cache"
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
