"""The API's `access_log` resources (docs/architecture.md, "The REST API").

`/api/v1/access-log[/{id}]`: every phone request that carried credentials or asked for a
file, newest first, read-only. The table holds millions of rows, so pages go by cursor (no
count, no offset) and each filter is one the table's indexes serve (AccessLog.Meta.indexes,
and the indexes of `created_at` and `mac`). An organisation token reads its own rows only.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.routers import SimpleRouter

from api.base import ScopedViewSet
from api.pagination import NewestFirst
from devices.mac import InvalidMac, normalise_mac
from devices.models import AccessLog, Device
from organisations.models import Organisation

OUTCOMES = AccessLog.Outcome.values


class AccessLogSerializer(serializers.ModelSerializer[AccessLog]):
    """One phone request: who asked for what, and what it got."""

    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    device: serializers.SlugRelatedField[Device] = serializers.SlugRelatedField(
        slug_field="mac", read_only=True, help_text="The phone's MAC, when it was one of ours."
    )

    class Meta:
        model = AccessLog
        fields = [
            "id",
            "created_at",
            "ip",
            "user_agent",
            "path",
            "mac",
            "username",
            "organisation",
            "device",
            "outcome",
            "status_code",
        ]
        read_only_fields = fields

    def to_representation(self, instance: AccessLog) -> dict[str, Any]:
        shown = super().to_representation(instance)
        device = instance.device
        if device is not None and device.organisation_id != instance.organisation_id:
            # A row written before another organisation's phone was kept out of this
            # organisation's rows (devices.serving.endpoint): it names no phone.
            shown["device"] = None
        return shown


FILTERS = [
    OpenApiParameter("mac", str, description="A phone's MAC, in any notation."),
    OpenApiParameter("outcome", str, enum=OUTCOMES, description="One outcome."),
    OpenApiParameter("organisation", str, description="An organisation's slug."),
    OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="From this time on (ISO 8601), inclusive."
    ),
    OpenApiParameter(
        "until", OpenApiTypes.DATETIME, description="Before this time (ISO 8601), exclusive."
    ),
    OpenApiParameter("status_code", int, description="The HTTP status the phone got."),
]


@extend_schema_view(list=extend_schema(parameters=FILTERS))
class AccessLogViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet[AccessLog]):
    """Newest first, by cursor: `next` carries the position."""

    queryset = AccessLog.objects.select_related("organisation", "device")
    serializer_class = AccessLogSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[AccessLog]:
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        return queryset.filter(**filters(self.request.query_params))


def filters(params: Any) -> dict[str, Any]:
    """The lookups of the query's filters; a bad value is a 400 that says what it takes."""
    found: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, read in READERS.items():
        text = params.get(name)
        if text in (None, ""):
            continue
        try:
            lookup, value = read(text.strip())
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        found[lookup] = value
    if errors:
        raise serializers.ValidationError(errors)
    return found


def _mac(text: str) -> tuple[str, str]:
    try:
        return "mac", normalise_mac(text)
    except InvalidMac as exc:
        raise ValueError(str(exc)) from exc


def _outcome(text: str) -> tuple[str, str]:
    if text not in OUTCOMES:
        raise ValueError(
            gettext("Unknown outcome %(value)s; use one of: %(outcomes)s.")
            % {"value": repr(text), "outcomes": ", ".join(OUTCOMES)}
        )
    return "outcome", text


def _organisation(text: str) -> tuple[str, str]:
    # Another organisation's slug finds nothing for an organisation token, as an unknown one
    # does: the answer says nothing of who exists.
    return "organisation__slug", text


def _moment(text: str) -> datetime:
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise ValueError(
            gettext(
                "%(value)s is not an ISO 8601 time; use e.g. 2025-03-01T08:00:00Z or 2025-03-01."
            )
            % {"value": repr(text)}
        )
    try:  # the database compares in UTC: a time that has none (year 1 east of it) is no time
        aware = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
        return aware.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(
            gettext("%(value)s is out of the range of times.") % {"value": repr(text)}
        ) from exc


def _since(text: str) -> tuple[str, datetime]:
    return "created_at__gte", _moment(text)


def _until(text: str) -> tuple[str, datetime]:
    return "created_at__lt", _moment(text)


def _status_code(text: str) -> tuple[str, int]:
    if not text.isdigit() or not 100 <= int(text) <= 599:
        raise ValueError(
            gettext("%(value)s is not an HTTP status code (100 to 599).") % {"value": repr(text)}
        )
    return "status_code", int(text)


READERS = {
    "mac": _mac,
    "outcome": _outcome,
    "organisation": _organisation,
    "since": _since,
    "until": _until,
    "status_code": _status_code,
}


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("access-log", AccessLogViewSet, basename="access-log")
