"""Media as the phones ask for it: wallpapers and ringtones by file name at the root of the
provisioning URL, softkey XML under /xml/_global/, the CA certificate at /ca.crt.

A request costs a constant number of queries: the metadata of the one file (with its fitted
rendition, for a wallpaper, in the same query), then its bytes, and only for a GET that is
not answered 304. The bytes are streamed in slices of the one buffer the database driver
returned, so a 5 MB wallpaper is held once, not copied into a response.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, FilteredRelation, Model, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import parse_etags

from devices import config_cache
from devices.models import AccessLog
from devices.phone import PhoneRequest, not_found, phone_endpoint
from devices.phone_models import get_model
from media_assets.ca import CA_CERTIFICATE_CONTENT_TYPE
from media_assets.models import (
    MEDIA_FIELDS,
    CaCertificate,
    Ringtone,
    SoftkeyFile,
    Wallpaper,
    WallpaperRendition,
)
from media_assets.renditions import fit_to_screen

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
XML_CONTENT_TYPE = "application/xml; charset=utf-8"
RENDITION_FIELDS = ("id", "size", "sha256", "content_type", "source_sha256")


@dataclass(frozen=True)
class Body:
    """What to send: the row whose `content` column holds the bytes, and their metadata."""

    model: type[Model]
    pk: int
    size: int
    sha256: str
    content_type: str
    data: bytes | None = None  # already in memory (a rendition just made)


@phone_endpoint(auth="optional")
def media_file(request: HttpRequest, name: str) -> HttpResponse:
    phone: PhoneRequest = request.phone
    organisation_id = phone.organisation.pk
    if name.lower().endswith(".wav"):
        key, find = f"{organisation_id}:{name}", partial(_ringtone, organisation_id, name)
    else:
        screen = screen_size(phone)
        key = f"{organisation_id}:{name}:{screen}"
        find = partial(_wallpaper, organisation_id, name, screen)
    # Every phone of the organisation asks for the same few: which row answers is kept per
    # config version (media files are config sources), the bytes by their hash.
    body = config_cache.memo(f"media-file:{key}", find)
    if body is None:
        return missing()
    # Not for shared caches: only known phones may have these.
    return file_response(request, body, cache_control="private, no-cache")


@phone_endpoint(auth="public")
def softkey_file(request: HttpRequest, name: str) -> HttpResponse:
    # Every phone asks for the same few files: kept per config version (devices.config_cache).
    body = config_cache.memo(f"softkey:{name}", partial(_softkey_body, name))
    return missing() if body is None else file_response(request, body, cache_control="no-cache")


def _softkey_body(name: str) -> Body | None:
    softkey = SoftkeyFile.objects.filter(name=name).only("content").first()
    if softkey is None:
        return None
    data = softkey.content.encode("utf-8")
    return Body(SoftkeyFile, softkey.pk, len(data), _sha256(data), XML_CONTENT_TYPE, data)


@phone_endpoint(auth="public")
def ca_certificate(request: HttpRequest) -> HttpResponse:
    body = config_cache.memo("ca-certificate", _certificate_body)
    return missing() if body is None else file_response(request, body, cache_control="no-cache")


def _certificate_body() -> Body | None:
    certificate = CaCertificate.objects.filter(is_active=True).only("pem", "sha256").first()
    if certificate is None:
        return None
    data = certificate.pem.encode("ascii")
    content_type = CA_CERTIFICATE_CONTENT_TYPE
    return Body(CaCertificate, certificate.pk, len(data), certificate.sha256, content_type, data)


def missing() -> HttpResponse:
    response = not_found()
    response.access_outcome = AccessLog.Outcome.NOT_FOUND
    return response


def screen_size(phone: PhoneRequest) -> tuple[int, int] | None:
    """The screen of the model that asks: as its User-Agent says, else as the admin set it."""
    model = get_model(phone.user_agent.model)
    if model is None and phone.device is not None:
        model = phone.device.phone_model
    return model.screen if model else None


def find_media(model: type[Wallpaper] | type[Ringtone], organisation_id: int, name: str):
    """The organisation's file of that name, else the global one; never another's."""
    return (
        model.objects.filter(Q(organisation=organisation_id) | Q(organisation__isnull=True))
        .filter(name=name)
        .order_by(F("organisation").asc(nulls_last=True))
    )


def _ringtone(organisation_id: int, name: str) -> Body | None:
    ringtone = find_media(Ringtone, organisation_id, name).only(*MEDIA_FIELDS).first()
    return _original(ringtone) if ringtone else None


def _wallpaper(organisation_id: int, name: str, screen: tuple[int, int] | None) -> Body | None:
    found = find_media(Wallpaper, organisation_id, name).only(*MEDIA_FIELDS, "width", "height")
    if screen is None:
        wallpaper = found.first()
        return _original(wallpaper) if wallpaper else None
    width, height = screen
    # The rendition for this screen comes in the same query (a LEFT JOIN), if there is one.
    fitted = FilteredRelation(
        "renditions", condition=Q(renditions__width=width, renditions__height=height)
    )
    wallpaper = (
        found.annotate(fitted=fitted)
        .annotate(**{f"r_{field}": F(f"fitted__{field}") for field in RENDITION_FIELDS})
        .first()
    )
    if wallpaper is None:
        return None
    if (wallpaper.width, wallpaper.height) == screen:
        return _original(wallpaper)
    if wallpaper.r_id is not None and wallpaper.r_source_sha256 == wallpaper.sha256:
        return Body(
            WallpaperRendition,
            wallpaper.r_id,
            wallpaper.r_size,
            wallpaper.r_sha256,
            wallpaper.r_content_type,
        )
    return _new_rendition(wallpaper, width, height)


def _original(item: Wallpaper | Ringtone) -> Body:
    return Body(type(item), item.pk, item.size, item.sha256, item.content_type)


def _new_rendition(wallpaper: Wallpaper, width: int, height: int) -> Body:
    """Fit the wallpaper to this screen size once, and keep it for every later request."""
    try:
        fitted = fit_to_screen(load_bytes(_original(wallpaper)), width, height)
    except (OSError, ValueError):
        # It passed validation when uploaded; if Pillow now fails, the original still works.
        logger.exception("Could not fit wallpaper %s to %sx%s", wallpaper.pk, width, height)
        return _original(wallpaper)
    with transaction.atomic():
        # A rendition of replaced bytes may linger if a request raced the upload.
        wallpaper.renditions.filter(width=width, height=height).exclude(
            source_sha256=wallpaper.sha256
        ).delete()
        rendition, _ = WallpaperRendition.objects.get_or_create(
            wallpaper=wallpaper,
            width=width,
            height=height,
            defaults={
                "source_sha256": wallpaper.sha256,
                "content": fitted.content,
                "size": len(fitted.content),
                "sha256": fitted.sha256,
                "content_type": wallpaper.content_type,
            },
        )
    _kept_bytes.keep(rendition.sha256, rendition.content)
    return Body(
        WallpaperRendition, rendition.pk, rendition.size, rendition.sha256, rendition.content_type
    )


def load_bytes(body: Body) -> bytes | memoryview:
    """The bytes column of that one row (PostgreSQL's driver may give a memoryview)."""
    if body.data is not None:
        return body.data
    data = _kept_bytes.get(body.sha256)
    if data is None:
        data = body.model.objects.filter(pk=body.pk).values_list("content", flat=True).get()
        _kept_bytes.keep(body.sha256, data)
    return data


class KeptBytes:
    """Small files' bytes by content hash, per process, within a budget of memory.

    The key is the SHA-256 of the bytes, so a kept copy can never be out of date: a changed
    file has another hash. Files over `max_file` are never kept (they are streamed from the
    row, see the module doc), and the least recently used go first.
    """

    def __init__(self, budget: int, max_file: int) -> None:
        self.budget, self.max_file = budget, max_file
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, sha256: str) -> bytes | None:
        data = self._items.get(sha256)
        if data is not None:
            self._items.move_to_end(sha256)
        return data

    def keep(self, sha256: str, data: bytes | memoryview) -> None:
        if len(data) > self.max_file or sha256 in self._items:
            return
        self._items[sha256] = bytes(data)
        self._size += len(data)
        while self._size > self.budget:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)


_kept_bytes = KeptBytes(settings.MEDIA_CACHE_BYTES, settings.MEDIA_CACHE_MAX_FILE_BYTES)


def file_response(request: HttpRequest, body: Body, cache_control: str) -> HttpResponse:
    """200 with the bytes (or none, for HEAD), or 304 when If-None-Match names our ETag.

    Content-Length is always the full body's, as RFC 9110 allows for HEAD and 304.
    """
    etag = f'"{body.sha256}"'
    if _etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    elif request.method == "HEAD":
        response = HttpResponse(b"", content_type=body.content_type)
    else:
        response = StreamingHttpResponse(_slices(load_bytes(body)), content_type=body.content_type)
    response["Content-Length"] = str(body.size)
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison, as If-None-Match asks for: W/"x" matches "x".
    return etag in {tag.removeprefix("W/") for tag in parse_etags(header)}


def _slices(data: bytes | memoryview) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        yield view[start : start + CHUNK_SIZE]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
