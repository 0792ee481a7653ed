"""Answers for when the database is down or overloaded: 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from devices.serving import Fault, service_unavailable

logger = logging.getLogger(__name__)
# While the database is down every page fails the same way: logged once, then counted.
_unavailable = Fault(logger, "database unavailable (admin)")


class DatabaseUnavailableMiddleware:
    """Turns a lost or refused database connection into 503 for every page (the phone
    endpoints handle it themselves, before this). Django closes the broken connection at
    the end of the request and opens a new one on the next, so service resumes by itself
    when the database is back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if _unavailable.ongoing and response.status_code != 503:
            _unavailable.ended()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        _unavailable.happened(f"{request.method} {request.path}: {exception}", exc_info=True)
        return service_unavailable(
            "Service temporarily unavailable: the database cannot be reached.\n"
        )
