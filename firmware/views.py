"""A phone's firmware download: authorised here, sent by nginx or streamed in slices.

The phone fetches the image its MAC file names, under its resource token (or with its
credentials), and only the image its own target names. With FIRMWARE_DELIVERY = "nginx"
the answer is an X-Accel-Redirect to an `internal` location of deploy/nginx.conf, which
sends the bytes (Range and HEAD included) without holding a gunicorn worker; with
"stream" (development) the worker reads the file in slices of CHUNK_BYTES, so memory stays
constant whatever the image's size, and at most FIRMWARE_MAX_DOWNLOADS stream at once on
this server (firmware.slots): the others get 503 with Retry-After, and try again later.
With "signed-url" (images in an S3 bucket) the answer is a 302 to the object's URL signed
for FIRMWARE_SIGNED_URL_SECONDS, and the store sends the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

from devices.models import AccessLog
from devices.serving import PhoneHttpRequest, not_found, phone_endpoint
from devices.serving.responses import etag_matches, service_unavailable
from firmware import slots
from firmware.models import FirmwareImage
from firmware.targets import downloadable

CONTENT_TYPE = "application/octet-stream"
CHUNK_BYTES = 256 * 1024
# One range of bytes (RFC 9110 §14.1.2): first-last, first-, or -suffix length.
RANGE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")


@phone_endpoint(auth="resource", kind="firmware")
def firmware_file(request: PhoneHttpRequest, pk: str, name: str) -> HttpResponseBase:
    device = request.phone.device
    if device is None or not downloadable(device, int(pk), name):
        return not_found()
    image = FirmwareImage.objects.filter(pk=pk).only("file", "size", "sha256").first()
    if image is None or not image.file.storage.exists(image.file.name):
        return not_found()
    etag = f'"{image.sha256}"'
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        response: HttpResponseBase = HttpResponse(status=304)
        del response["Content-Type"]
    elif settings.FIRMWARE_DELIVERY == "signed-url":
        return _signed_redirect(request, image)
    elif settings.FIRMWARE_DELIVERY == "nginx":
        response = HttpResponse(b"", content_type=CONTENT_TYPE)
        del response["Content-Length"]
        response["X-Accel-Redirect"] = settings.FIRMWARE_NGINX_PREFIX + quote(image.file.name)
    else:
        response = _streamed(request, image, etag)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _signed_redirect(request: PhoneHttpRequest, image: FirmwareImage) -> HttpResponseBase:
    """To the object, at a URL the store accepts for FIRMWARE_SIGNED_URL_SECONDS and for this
    method only (a HEAD is signed as a HEAD), so no cache may keep it."""
    storage = image.file.storage  # django-storages' S3Storage: its url() takes the method
    url = storage.url(image.file.name, http_method=request.method)
    response = HttpResponse(status=302)
    response["Location"] = url
    response["Cache-Control"] = "private, no-store"
    return response


def _streamed(request: PhoneHttpRequest, image: FirmwareImage, etag: str) -> HttpResponseBase:
    response: HttpResponseBase
    size = image.size
    first, last = 0, size - 1
    status = 200
    wanted = _range(request, etag, size)
    if isinstance(wanted, str):  # unsatisfiable
        response = HttpResponse(b"", status=416, content_type=CONTENT_TYPE)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if wanted is not None:
        first, last = wanted
        status = 206
    length = last - first + 1
    if request.method == "HEAD":
        response = HttpResponse(b"", status=status, content_type=CONTENT_TYPE)
    else:
        slot = slots.acquire()
        if slot is None:
            request.phone.outcome = AccessLog.Outcome.BUSY
            busy = service_unavailable("Too many firmware downloads at once; try again later.\n")
            busy["Retry-After"] = str(settings.FIRMWARE_RETRY_AFTER_SECONDS)
            return busy
        # Django closes the generator when the response is closed (the phone went away, too),
        # and that closes the file and frees the slot.
        response = StreamingHttpResponse(
            _Slices(image, first, length, slot), status=status, content_type=CONTENT_TYPE
        )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def _range(request: PhoneHttpRequest, etag: str, size: int) -> tuple[int, int] | str | None:
    """The one range asked for, "unsatisfiable", or None for the whole file (no Range, an
    If-Range for another version, or a header we do not take: several ranges, a typo)."""
    header = request.headers.get("Range", "").strip()
    if not header or request.headers.get("If-Range", etag) != etag:
        return None
    match = RANGE.match(header)
    if match is None or match[1] == match[2] == "":
        return None
    if match[1] == "":  # the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    first = int(match[1])
    if match[2] and int(match[2]) < first:
        return None  # invalid: ignored, as RFC 9110 says
    if first >= size:
        return "unsatisfiable"
    last = int(match[2]) if match[2] else size - 1
    return first, min(last, size - 1)


class _Slices:
    """One range of an image, read in slices of CHUNK_BYTES while it is sent. Django closes it
    when the response is closed (sent, or the phone went away, or never started), which
    closes the file and frees the download slot."""

    def __init__(self, image: FirmwareImage, first: int, length: int, slot: slots.Slot) -> None:
        self._reader: Generator[bytes] = self._read(image, first, length)
        self._slot = slot

    def __iter__(self) -> Iterator[bytes]:
        return self._reader

    @staticmethod
    def _read(image: FirmwareImage, first: int, length: int) -> Generator[bytes]:
        with image.file.storage.open(image.file.name, "rb") as stream:
            stream.seek(first)
            while length > 0:
                chunk = stream.read(min(CHUNK_BYTES, length))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self._slot.release()
