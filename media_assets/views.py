"""Media as the phones ask for it: wallpapers and ringtones by file name at the root of the
provisioning URL, softkey XML under /xml/_global/, the CA certificate at /ca.crt.

A request costs a constant number of queries: the metadata of the one file (with its fitted
rendition, for a wallpaper, in the same query), then its bytes, and only for a GET that is
not answered 304 (`devices.serving.stored_file` streams them).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from django.db import transaction
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.http import HttpResponseBase

from devices.phone_models import get_model
from devices.serving import (
    Body,
    PhoneHttpRequest,
    PhoneRequest,
    keep_bytes,
    keys,
    load_bytes,
    memo,
    not_found,
    phone_endpoint,
    stored_file,
)
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
MediaT = TypeVar("MediaT", Wallpaper, Ringtone)

XML_CONTENT_TYPE = "application/xml; charset=utf-8"
RENDITION_FIELDS = ("id", "size", "sha256", "content_type", "source_sha256")


@phone_endpoint(auth="resource", kind="media")
def media_file(request: PhoneHttpRequest, name: str) -> HttpResponseBase:
    phone = request.phone
    if phone.device is None:
        return not_found()  # a phone's file: a request that names no phone gets none
    organisation_id = phone.device.organisation_id
    if name.lower().endswith(".wav"):
        key, find = keys.RINGTONE(organisation_id, name), partial(_ringtone, organisation_id, name)
    else:
        screen = screen_size(phone)
        key = keys.WALLPAPER(organisation_id, name, screen)
        find = partial(_wallpaper, organisation_id, name, screen)
    # Every phone of the organisation asks for the same few: which row answers is kept per
    # config version (media files are config sources), the bytes by their hash.
    body = memo(key, find)
    if body is None:
        return not_found()
    # Not for shared caches: only known phones may have these.
    return stored_file(request, body, cache_control="private, no-cache")


@phone_endpoint(auth="public", kind="softkey")
def softkey_file(request: PhoneHttpRequest, name: str) -> HttpResponseBase:
    # Every phone asks for the same few files: kept per config version.
    body = memo(keys.SOFTKEY(name), partial(_softkey_body, name))
    return not_found() if body is None else stored_file(request, body, cache_control="no-cache")


def _softkey_body(name: str) -> Body | None:
    softkey = SoftkeyFile.objects.filter(name=name).only("content").first()
    if softkey is None:
        return None
    data = softkey.content.encode("utf-8")
    return Body(SoftkeyFile, softkey.pk, len(data), _sha256(data), XML_CONTENT_TYPE, data)


@phone_endpoint(auth="public", kind="ca")
def ca_certificate(request: PhoneHttpRequest) -> HttpResponseBase:
    body = memo(keys.CA_CERTIFICATE, _certificate_body)
    return not_found() if body is None else stored_file(request, body, cache_control="no-cache")


def _certificate_body() -> Body | None:
    certificate = CaCertificate.objects.filter(is_active=True).only("pem", "sha256").first()
    if certificate is None:
        return None
    data = certificate.pem.encode("ascii")
    content_type = CA_CERTIFICATE_CONTENT_TYPE
    return Body(CaCertificate, certificate.pk, len(data), certificate.sha256, content_type, data)


def screen_size(phone: PhoneRequest) -> tuple[int, int] | None:
    """The screen of the model that asks: as its User-Agent says, else as the admin set it."""
    model = get_model(phone.user_agent.model)
    if model is None and phone.device is not None:
        model = phone.device.phone_model
    return model.screen if model else None


def find_media(model: type[MediaT], organisation_id: int, name: str) -> QuerySet[MediaT]:
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
    kept = _joined_rendition(wallpaper)
    if kept is not None and kept.source_sha256 == wallpaper.sha256:
        return Body(WallpaperRendition, kept.id, kept.size, kept.sha256, kept.content_type)
    return _new_rendition(wallpaper, width, height)


@dataclass(frozen=True)
class _Joined:
    """A rendition as the wallpaper's lookup joined it in (RENDITION_FIELDS)."""

    id: int
    size: int
    sha256: str
    content_type: str
    source_sha256: str


def _joined_rendition(wallpaper: Wallpaper) -> _Joined | None:
    # The r_* annotations are not on the model's type, so they are read by name; all of them
    # are None when no rendition of this screen size exists yet.
    columns = {field: getattr(wallpaper, f"r_{field}") for field in RENDITION_FIELDS}
    return _Joined(**columns) if columns["id"] is not None else None


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
    keep_bytes(rendition.sha256, rendition.content)
    return Body(
        WallpaperRendition, rendition.pk, rendition.size, rendition.sha256, rendition.content_type
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
