"""Every answer a phone endpoint gives, built here once.

Files: plain text (boot, common and MAC files), XML (phonebooks) and stored files (media, the
CA certificate), each with Content-Length, HEAD without a body, and, where the file has an
ETag, `304` to an `If-None-Match` that names it (RFC 9110: Content-Length is the full body's
for HEAD and 304 alike).

Refusals: 400, 401 (with one challenge per offered scheme), 404, 405, 429 and 503, in plain
text that tells an outsider nothing about why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.utils.http import parse_etags

from devices.serving import http_auth
from devices.serving.files import Body, load_bytes

TEXT = "text/plain; charset=utf-8"
XML = "application/xml"
CHUNK_SIZE = 64 * 1024


# --- files ------------------------------------------------------------------------------------


def text_file(request: HttpRequest, body: str) -> HttpResponseBase:
    """A config or boot file. These carry credentials: no proxy or browser may keep them."""
    return _in_memory(request, body.encode("utf-8"), TEXT, None, "no-store")


def xml_file(request: HttpRequest, body: bytes, etag: str) -> HttpResponseBase:
    """A phonebook. Phones send no If-None-Match and always get the body; other clients get
    a 304 while it is unchanged. Names and numbers of a customer's contacts: no shared cache
    may keep them."""
    return _in_memory(request, body, XML, etag, "private, no-cache")


def _in_memory(
    request: HttpRequest, data: bytes, content_type: str, etag: str | None, cache_control: str
) -> HttpResponseBase:
    def whole() -> HttpResponse:
        return HttpResponse(data, content_type=content_type)

    return _file(request, len(data), content_type, whole, etag=etag, cache_control=cache_control)


def stored_file(request: HttpRequest, body: Body, cache_control: str) -> HttpResponseBase:
    """A file kept in the database: its bytes are read (or taken from the kept ones) only for
    a GET that is not answered 304, and streamed in slices of that one buffer, so a 5 MB
    wallpaper is held once, not copied into a response."""

    def streamed() -> StreamingHttpResponse:
        return StreamingHttpResponse(_slices(load_bytes(body)), content_type=body.content_type)

    return _file(
        request,
        body.size,
        body.content_type,
        streamed,
        etag=f'"{body.sha256}"',
        cache_control=cache_control,
    )


def _file(
    request: HttpRequest,
    size: int,
    content_type: str,
    with_body: Callable[[], HttpResponseBase],
    *,
    etag: str | None,
    cache_control: str,
) -> HttpResponseBase:
    response: HttpResponseBase
    if etag is not None and etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
        del response["Content-Type"]
    elif request.method == "HEAD":
        response = HttpResponse(b"", content_type=content_type)
    else:
        response = with_body()
    response["Content-Length"] = str(size)
    if etag is not None:
        response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match asks for: W/"x" matches "x"; * matches anything."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return etag in {tag.removeprefix("W/") for tag in parse_etags(header)}


def _slices(data: bytes | memoryview) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        yield view[start : start + CHUNK_SIZE]


# --- refusals ---------------------------------------------------------------------------------


class ChallengeResponse(HttpResponse):
    """A 401 with each WWW-Authenticate challenge on its own header line.

    Django keeps one value per header name, and simple clients misread two challenges
    folded into one line. The WSGI and ASGI handlers both send `response.items()`, so the
    further challenges are added there.
    """

    status_code = 401

    def __init__(self, challenges: list[str]) -> None:
        super().__init__("Authentication required\n", content_type=TEXT)
        self.challenges = challenges
        self["WWW-Authenticate"] = challenges[0]

    def items(self) -> Iterator[tuple[str, str]]:
        yield from super().items()
        for challenge in self.challenges[1:]:
            yield "WWW-Authenticate", challenge


def challenge(stale: bool = False, schemes: list[str] | None = None) -> ChallengeResponse:
    return ChallengeResponse(http_auth.challenges(stale=stale, schemes=schemes))


def bad_request() -> HttpResponse:
    return HttpResponse("Bad request\n", status=400, content_type=TEXT)


def not_found() -> HttpResponse:
    return HttpResponse("Not found\n", status=404, content_type=TEXT)


def method_not_allowed() -> HttpResponse:
    """Phones only ever GET (and clients may HEAD) their files."""
    return HttpResponseNotAllowed(["GET", "HEAD"])


def too_many_failures() -> HttpResponse:
    """429: over a throttle limit; the window tells when counting starts afresh."""
    response = HttpResponse(
        "Too many failed attempts; try again later.\n", status=429, content_type=TEXT
    )
    response["Retry-After"] = str(settings.THROTTLE_WINDOW_SECONDS)
    return response


def service_unavailable(
    text: str = "Service temporarily unavailable\n", content_type: str = TEXT
) -> HttpResponse:
    """503 with Retry-After: the database is down or overloaded, or the access log cannot be
    written. Also the answer of the admin and of /healthz then."""
    response = HttpResponse(text, status=503, content_type=content_type)
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    # Whoever answers 503 logs why, once per fault (devices.serving.faults); Django's own
    # line per response would be one per phone request all the same.
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by log_response
    return response
