"""One error format for every answer that is not a success: RFC 9457 problem details.

    HTTP/1.1 400 Bad Request
    Content-Type: application/problem+json

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "Some fields are not valid: see errors.", "code": "invalid",
     "errors": [{"pointer": "/sip_accounts/0/password", "code": "blank",
                 "message": "This field may not be blank."}]}

`code` is stable, to script against; `detail` and each `message` are for people (the same
messages the admin shows). `errors[].pointer` is a JSON pointer into the request's body.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Model
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

PROBLEM = "application/problem+json"

logger = logging.getLogger(__name__)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER."""
    if isinstance(exc, DjangoValidationError):  # a model's clean() reached outside a serializer
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    if isinstance(exc, RequestDataTooBig):  # Django's limit, met as DRF reads the body
        logger.warning(
            "API request body over DATA_UPLOAD_MAX_MEMORY_SIZE (%s bytes): %s",
            settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            exc,
        )
        exc = BodyTooLarge()
    if isinstance(exc, IntegrityError):  # a unique row another request wrote meanwhile
        exc = Conflict()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a fault: Django's 500 (logged; no detail of it in the answer)
    if isinstance(exc, exceptions.ValidationError):
        body = problem(
            response.status_code,
            "invalid",
            gettext("Some fields are not valid: see errors."),
            errors=flatten(exc.detail),
        )
    else:
        body = problem(response.status_code, _code(exc), _detail(exc, response))
    response.data = body
    response.content_type = PROBLEM
    return response


def problem(
    status: int, code: str, detail: str, *, errors: list[dict[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status: int, code: str, detail: str, **extra: Any) -> Response:
    return Response(problem(status, code, detail, **extra), status=status, content_type=PROBLEM)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def problem_outside_drf(status: int, code: str, detail: str) -> JsonResponse:
    """For what answers an API request before DRF's views (the project's middleware)."""
    return JsonResponse(problem(status, code, detail), status=status, content_type=PROBLEM)


def counted(count: int, model: type[Model]) -> str:
    """ "3 phones", for a message: a count and the model's name (in the request's language)."""
    name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    return pgettext("a count of objects", "%(count)d %(name)s") % {"count": count, "name": name}


def flatten(detail: Any, pointer: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list, each with the JSON pointer of its field."""
    if isinstance(detail, dict):
        found: list[dict[str, str]] = []
        for key, value in detail.items():
            where = pointer if key in ("non_field_errors", "__all__") else f"{pointer}/{key}"
            found += flatten(value, where)
        return found
    if isinstance(detail, list):
        if detail and all(isinstance(item, (dict, list)) for item in detail):
            found = []
            for index, item in enumerate(detail):  # one entry per item of a list field
                found += flatten(item, f"{pointer}/{index}")
            return found
        found = []
        for item in detail:
            found += flatten(item, pointer)
        return found
    return [
        {
            "pointer": pointer,
            "code": str(getattr(detail, "code", None) or "invalid"),
            "message": str(detail),
        }
    ]


def _code(exc: Exception) -> str:
    if isinstance(exc, Http404):
        return "not_found"
    if isinstance(exc, DjangoPermissionDenied):
        return "permission_denied"
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            return codes
        return exc.default_code
    return "error"


def _detail(exc: Exception, response: Response) -> str:
    if isinstance(exc, Http404):
        return str(exceptions.NotFound.default_detail)  # DRF's words, in DRF's Dutch
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    return str(detail) if detail else HTTPStatus(response.status_code).phrase


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"
    default_detail = _(
        "Another request changed the same objects at the same time: nothing of this one "
        "was written. Read them again and retry."
    )


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "body_too_large"
    # No setting's name here: the log has it (handle).
    default_detail = _(
        "The request body is larger than this server accepts: send fewer items at a time."
    )


class NoSuchRoute(APIView):
    """A path under /api/v1/ that no resource has: 404 for every method and everyone (no
    token needed to learn that a route does not exist; the schema lists them all)."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes: list[type] = []
    schema = None  # not an operation of the schema

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound(gettext("No such resource: GET /api/v1/schema/ lists them all."))
