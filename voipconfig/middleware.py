"""Answers for when the database is down or overloaded: 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Turns a lost or refused database connection into 503 for every page (the phone
    endpoints handle it themselves, before this). Django closes the broken connection at
    the end of the request and opens a new one on the next, so service resumes by itself
    when the database is back."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable: %s %s", request.method, request.path, exc_info=True)
        response = HttpResponse(
            "Service temporarily unavailable: the database cannot be reached.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
        return response
