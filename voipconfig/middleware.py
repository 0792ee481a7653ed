"""Answers for when the database is down or overloaded (503 with Retry-After, never a 500),
and what staff are told when the shared cache could not announce their change."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext, ngettext

from api.errors import is_api, problem_outside_drf
from devices.serving import Fault, service_unavailable, shared

logger = logging.getLogger(__name__)
# While the database is down every page fails the same way: logged once, then counted.
_unavailable = Fault(logger, "database unavailable (admin)")


class NulCharacterMiddleware:
    """Refuses a query string holding a NUL character (`%00`): no one means one, and the
    admin's lists filter on any field a query string names, which PostgreSQL answered with
    an error (it holds no NUL in text), a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if "%00" in request.META.get("QUERY_STRING", ""):
            if is_api(request):
                return problem_outside_drf(
                    400, "nul_character", "The address holds a NUL character (%00)."
                )
            return HttpResponseBadRequest(
                "Bad request: the address holds a NUL character (%00).\n",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


# The paths people read: the admin, the API and the language switch. Everything else is what
# phones fetch, which is never translated.
LOCALISED_PATHS = ("/admin/", "/api/", "/i18n/")


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware (the language from the switch's cookie, else the browser's
    Accept-Language, else LANGUAGE_CODE), for the paths people read only. A phone's request
    costs no Accept-Language parsing and carries no Content-Language or Vary: Accept-Language,
    and runs in the default language even when the worker's previous request was Dutch
    (Django keeps the active language per thread)."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(LOCALISED_PATHS):
            super().process_request(request)
        else:
            translation.deactivate()

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(LOCALISED_PATHS):
            return super().process_response(request, response)
        return response


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
        if is_api(request):
            response = problem_outside_drf(
                503,
                "database_unavailable",
                gettext("The database cannot be reached: try again soon."),
            )
            response["Retry-After"] = "10"
            return response
        return service_unavailable(
            gettext("Service temporarily unavailable: the database cannot be reached.") + "\n"
        )


class SharedCacheMiddleware:
    """Each request meets the shared cache in one scope: after a failed call it skips the
    others (a hung Redis costs it one timeout). A config change made in it that other
    processes could not be told of is saved all the same; staff are told when phones get
    it. After MessageMiddleware, so the message goes with the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with shared.one_request() as scope:
            response = self.get_response(request)
        if scope.unannounced and _is_staff(request):
            messages.warning(request, _unannounced_message(), fail_silently=True)
        return response


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def _unannounced_message() -> str:
    seconds = settings.CONFIG_CACHE_MAX_AGE_SECONDS
    return ngettext(
        "The change is saved. Phones get it within %(seconds)d second rather than at once: "
        "the shared cache cannot be reached right now.",
        "The change is saved. Phones get it within %(seconds)d seconds rather than at once: "
        "the shared cache cannot be reached right now.",
        seconds,
    ) % {"seconds": seconds}
