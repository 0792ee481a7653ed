"""The API's `organisations` resources (docs/architecture.md, "The REST API").

`/api/v1/organisations[/{slug}]`: the provider's customers, as the admin's organisation page
has them. Provider tokens list, create, change and delete; an organisation token sees its own
organisation only, read-only (the registry: staff may only view it), and none of the fields the
admin keeps from organisation staff (the provisioning secrets, the provider's profile and raw
overrides). Secrets are write-only; the provisioning password is answered once, on creation.

`/api/v1/organisations/{slug}/rps-sync`: GET the organisation's state in Yealink RPS, POST to
sync it now, as the admin's "Sync with RPS" does. Organisation staff may sync their own phones
in the admin (the phone list's action, with the right to change phones), so an organisation
token that may write may sync its own organisation; a read-only token only looks. Staff read
RPS's problems in plain words (rps.wording), the provider also what RPS said.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Model, ProtectedError, QuerySet, RestrictedError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from api.base import ScopedModelViewSet
from api.errors import PROBLEM, counted, problem_response
from api.fields import NamedChoiceField
from api.schema import PROBLEM_SCHEMA
from api.settings_fields import PhoneSettingsSerializer, WithSettingsSerializer
from devices import credentials
from devices.models import Device
from devices.status import annotate_phone_counts
from organisations.admin import OrganisationAdmin
from organisations.config_syntax import mask_override_lines, unmask_override_lines
from organisations.models import Organisation, SettingsProfile, SipTransport
from organisations.scoping import ApiClient, is_provider
from organisations.time_zones import offset_of
from rps import wording
from rps.client import RpsConfigError
from rps.models import RpsDeviceState, RpsServerState
from rps.standing import organisation_problems, wanted_devices
from rps.summary import STATES, UNAVAILABLE, Kind, Problem, SyncSummary
from rps.sync import run_while_waited_for

logger = logging.getLogger("rps")

# What the admin keeps from organisation staff is what the API keeps from their tokens.
PROVIDER_ONLY = tuple(OrganisationAdmin.provider_only_fields)


class PhoneCountsSerializer(serializers.Serializer[Organisation]):
    """Its phones by status, as the admin's list counts them (devices.status)."""

    total = serializers.IntegerField(source="phone_count", read_only=True)
    never = serializers.IntegerField(source="never_count", read_only=True)
    stale = serializers.IntegerField(source="stale_count", read_only=True)
    failing = serializers.IntegerField(source="failing_count", read_only=True)


class MaskedOverridesField(serializers.CharField):
    """Raw overrides shown with every secret's value masked, as the config preview shows
    them to the provider before a reveal; a masked line sent back keeps its stored value."""

    def to_representation(self, value: Any) -> str:
        return mask_override_lines(str(value)) if value else ""


class OrganisationSerializer(WithSettingsSerializer[Organisation]):
    """An organisation as its page in the admin has it. Secrets (the provisioning and web
    passwords) are write-only; `profile`, `raw_overrides`, `organisation_credentials` and
    `password_grace_days` are the provider's (absent for organisation tokens)."""

    active = serializers.BooleanField(source="is_active", required=False)
    sip_server = serializers.CharField(source="sip_server_host", max_length=253)
    sip_port = serializers.IntegerField(
        source="sip_server_port", required=False, min_value=1, max_value=65535
    )
    sip_transport = NamedChoiceField(SipTransport, required=False)
    profile = serializers.SlugRelatedField(
        slug_field="name",
        queryset=SettingsProfile.objects.all(),
        allow_null=True,
        required=False,
        help_text="The provider's settings profile, by name (provider tokens only).",
    )
    settings = PhoneSettingsSerializer(source="*", required=False)
    raw_overrides = MaskedOverridesField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Yealink `key = value` lines (provider tokens only); secrets are answered "
        "masked, and a masked line sent back as it was keeps its value.",
    )
    phone_counts = PhoneCountsSerializer(source="*", read_only=True)

    class Meta:
        model = Organisation
        fields = [
            "name",
            "slug",
            "active",
            "provisioning_username",
            "provisioning_password",
            "organisation_credentials",
            "enrol_unknown_phones",
            "password_grace_days",
            "sip_server",
            "sip_port",
            "sip_transport",
            "time_zone",
            "time_zone_name",
            "language",
            "ntp_server",
            "provisioning_interval_minutes",
            "profile",
            "settings",
            "phone_admin_password",
            "phone_user_password",
            "phone_var_password",
            "raw_overrides",
            "phone_counts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {
            # The model's own checks (full_clean) say it, in the admin's words.
            "slug": {"validators": []},
            "provisioning_username": {"validators": []},
            "provisioning_password": {
                "write_only": True,
                "required": False,
                "help_text": "Generated when not given; answered once, on creation.",
            },
            "phone_admin_password": {"write_only": True},
            "phone_user_password": {"write_only": True},
            "phone_var_password": {"write_only": True},
        }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        client = self._client()
        if client is not None and not is_provider(client):
            for name in PROVIDER_ONLY:
                fields.pop(name, None)
        return fields

    def _client(self) -> ApiClient | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user if isinstance(user, ApiClient) else None

    def validate_raw_overrides(self, value: str) -> str:
        stored = self.instance.raw_overrides if self.instance is not None else ""
        try:
            return unmask_override_lines(value, stored)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("provisioning_password"):
            attrs["provisioning_password"] = credentials.new_password()
        attrs = super().validate(attrs)
        zone = attrs.get("time_zone_name", getattr(self.instance, "time_zone_name", ""))
        offset = offset_of(zone) if zone else None
        if offset is not None:  # as Organisation.clean() sets it on the admin's instance
            attrs["time_zone"] = offset
        return attrs


class OrganisationCreatedSerializer(OrganisationSerializer):
    """The answer to a creation: the only one that holds the provisioning password."""

    provisioning_password = serializers.CharField(
        read_only=True, help_text="The phones' shared provisioning password: shown this once."
    )


# --- Yealink RPS -------------------------------------------------------------------------

SYNC_DEVICE_COUNTS = (
    "registered",
    "updated",
    "moved",
    "removed",
    "unchanged",
    "failed",
    "owned_by_other",
)


class RpsProblemSerializer(serializers.Serializer[Problem]):
    mac = serializers.CharField(help_text="12 hex digits, or empty for the organisation.")
    kind = serializers.ChoiceField(choices=[kind.value for kind in Kind])
    message = serializers.CharField(help_text="In plain words.")
    detail = serializers.CharField(
        required=False, help_text="What RPS or the network said (provider tokens only)."
    )


SERVER_FIELDS = (
    "server_name",
    "rps_id",
    "pushed_at",
    "last_attempt_at",
    "last_error",
    "last_error_detail",
)


class RpsServerSerializer(serializers.Serializer[RpsServerState]):
    server_name = serializers.CharField()
    rps_id = serializers.CharField()
    pushed_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    last_error_detail = serializers.CharField()


class RpsPhonesSerializer(serializers.Serializer[Any]):
    """Its phones' stored RPS state, by status; `not_synced`: active phones with none yet."""

    registered = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed = serializers.IntegerField()
    owned_by_other = serializers.IntegerField()
    removed = serializers.IntegerField()
    not_synced = serializers.IntegerField()


class RpsStateSerializer(serializers.Serializer[Any]):
    organisation = serializers.SlugField()
    phones = RpsPhonesSerializer()
    server = RpsServerSerializer(
        allow_null=True, required=False, help_text="Its RPS server (provider tokens only)."
    )
    problems = RpsProblemSerializer(many=True)


class RpsSyncSerializer(serializers.Serializer[Any]):
    """What the sync did: as `manage.py rps_sync --json` says it, for one organisation."""

    organisation = serializers.SlugField()
    state = serializers.ChoiceField(choices=list(STATES.values()))
    ok = serializers.BooleanField()
    headline = serializers.CharField()
    servers = inline_serializer(
        "RpsSyncServers",
        {
            name: serializers.IntegerField()
            for name in ("created", "updated", "unchanged", "removed")
        },
    )
    devices = inline_serializer(
        "RpsSyncDevices", {name: serializers.IntegerField() for name in SYNC_DEVICE_COUNTS}
    )
    problems = RpsProblemSerializer(many=True, help_text="What needs someone, each once.")
    notices = RpsProblemSerializer(many=True)
    actions = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Provider tokens only."
    )
    calls = serializers.IntegerField()
    write_calls = serializers.IntegerField()
    seconds = serializers.FloatField()
    rps = RpsStateSerializer(help_text="The organisation's state in RPS after the sync.")


def rps_state(organisation: Organisation, *, provider: bool) -> dict[str, Any]:
    """What the stored state says of the organisation in RPS (rps.models, rps.standing)."""
    counts = dict(
        RpsDeviceState.objects.filter(device__organisation=organisation)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    phones = {status: counts.get(status, 0) for status in RpsDeviceState.Status.values}
    unsynced = wanted_devices().filter(organisation=organisation, rps_state__isnull=True)
    phones["not_synced"] = unsynced.count()
    state: dict[str, Any] = {
        "organisation": organisation.slug,
        "phones": phones,
        "problems": _problems(organisation_problems(organisation, None), provider),
    }
    if provider:
        server = RpsServerState.objects.filter(organisation=organisation).first()
        state["server"] = None if server is None else _server(server)
    return state


def _server(server: RpsServerState) -> dict[str, Any]:
    return {name: getattr(server, name) for name in SERVER_FIELDS}


def _problems(problems: list[Problem], provider: bool) -> list[dict[str, str]]:
    shown = []
    for problem in problems:
        item = {"mac": problem.mac, "kind": str(problem.kind), "message": problem.message}
        if provider:
            item["detail"] = problem.detail
        shown.append(item)
    return shown


def run_rps_sync(organisation: Organisation, client: ApiClient) -> Response:
    """One run for this organisation, within the admin's time for each call to RPS."""
    provider = is_provider(client)
    try:
        summary = run_while_waited_for(client, [organisation])
    except RpsConfigError as exc:
        detail = str(exc) if provider else wording.NOT_SET_UP
        return problem_response(503, "rps_not_set_up", detail)
    result = _sync_result(organisation, summary, provider)
    stop = next((p for p in summary.errors if p.kind in UNAVAILABLE), None)
    if stop is not None:
        return problem_response(502, str(stop.kind), stop.said(provider), sync=result)
    return Response(result)


def _sync_result(
    organisation: Organisation, summary: SyncSummary, provider: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "organisation": organisation.slug,
        "state": STATES[summary.exit_status],
        "ok": summary.ok,
        "headline": summary.headline(),
        "servers": {
            name: getattr(summary, f"servers_{name}")
            for name in ("created", "updated", "unchanged", "removed")
        },
        "devices": {name: getattr(summary, f"devices_{name}") for name in SYNC_DEVICE_COUNTS},
        "problems": _problems(summary.errors, provider),
        "notices": _problems(summary.notices, provider),
        "calls": summary.calls,
        "write_calls": summary.write_calls,
        "seconds": summary.seconds,
        "rps": rps_state(organisation, provider=provider),
    }
    if provider:
        result["actions"] = summary.actions
    return result


class OrganisationInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "organisation_in_use"
    default_detail = _("The organisation is still in use.")


@extend_schema_view(
    create=extend_schema(responses={201: OrganisationCreatedSerializer}),
)
class OrganisationViewSet(ScopedModelViewSet[Organisation]):
    """Organisations by slug. An organisation token sees its own, read-only."""

    queryset = Organisation.objects.all()
    serializer_class = OrganisationSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    registry_actions = {"rps_sync": "change"}
    non_atomic_actions = ("rps_sync",)  # each step of a sync is recorded as it is done

    def get_queryset(self) -> QuerySet[Organisation]:
        return annotate_phone_counts(super().get_queryset()).select_related("profile")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        created = serializer.instance
        assert created is not None
        body = dict(serializer.data)
        body["provisioning_password"] = created.provisioning_password  # this once
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The organisation's state in Yealink RPS (no sync)",
        responses={200: RpsStateSerializer},
    )
    @action(detail=True, methods=["get"], url_path="rps-sync")
    def rps_state(self, request: Request, slug: str | None = None) -> Response:
        organisation = self.get_object()
        return Response(rps_state(organisation, provider=is_provider(self.client)))

    @extend_schema(
        summary="Sync the organisation with Yealink RPS now",
        request=None,
        responses={
            200: RpsSyncSerializer,
            (502, PROBLEM): OpenApiResponse(
                PROBLEM_SCHEMA,
                description="RPS could not be reached, or refused our key: `code` is "
                "rps_unreachable or rps_refused_access, `sync` what was done before.",
            ),
            (503, PROBLEM): OpenApiResponse(
                PROBLEM_SCHEMA,
                description="Syncing with RPS is not set up on this server (rps_not_set_up).",
            ),
        },
    )
    @rps_state.mapping.post
    def rps_sync(self, request: Request, slug: str | None = None) -> Response:
        organisation = self.get_object()
        return run_rps_sync(organisation, self.client)

    @property
    def scope_model(self) -> type[Model] | None:
        """Whom a sync is allowed: those who may change the phones (the admin's action)."""
        return Device if getattr(self, "action", None) == "rps_sync" else None

    def perform_create(self, serializer: serializers.BaseSerializer[Organisation]) -> None:
        super().perform_create(serializer)
        serializer.instance = self._counted(serializer.instance)

    def perform_update(self, serializer: serializers.BaseSerializer[Organisation]) -> None:
        super().perform_update(serializer)
        serializer.instance = self._counted(serializer.instance)

    def perform_destroy(self, instance: Organisation) -> None:
        try:
            super().perform_destroy(instance)
        except (ProtectedError, RestrictedError) as exc:
            raise OrganisationInUse(in_use(instance, exc)) from exc

    def _counted(self, organisation: Organisation | None) -> Organisation | None:
        """Read again with its phone counts (the answer shows them)."""
        if organisation is None:
            return None
        return self.get_queryset().get(pk=organisation.pk)


def in_use(organisation: Organisation, exc: ProtectedError | RestrictedError) -> str:
    """What keeps it: "… still has 3 phones, 1 organisation staff member"."""
    blocking = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    counts = Counter(type(obj) for obj in blocking)
    parts = [
        counted(count, model)
        for model, count in sorted(counts.items(), key=lambda item: str(item[0]._meta))
    ]
    return gettext(
        "%(organisation)s cannot be deleted: it still has %(objects)s. Delete or move those "
        "first, or deactivate the organisation instead."
    ) % {"organisation": organisation.name, "objects": ", ".join(parts)}


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("organisations", OrganisationViewSet, basename="organisation")
