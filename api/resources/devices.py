"""The API's `devices` resources (docs/architecture.md, "The REST API").

GET/POST               /api/v1/devices
GET/PUT/PATCH/DELETE   /api/v1/devices/{mac}          (a MAC in any notation)
GET                    /api/v1/devices/{mac}/config   (its MAC file, masked)
POST                   /api/v1/devices/bulk           (up to 1,000, all or nothing)
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from api import history
from api.base import ScopedModelViewSet
from api.resources import devices_bulk
from api.resources.devices_serializers import NESTED, DeviceSerializer, Lookups, with_status
from devices.config import preview
from devices.mac import InvalidMac, normalise_mac
from devices.models import Device, SipAccount
from organisations.scoping import is_provider

MAC_PARAMETER = OpenApiParameter(
    "mac",
    str,
    OpenApiParameter.PATH,
    description="The MAC in any notation: 805ec0000001, 80:5E:C0:00:00:01, 80-5e-c0-00-00-01, "
    "805e.c000.0001.",
)


class ConfigLineSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(help_text="`key = value`, as the file has it.")
    layer = serializers.CharField(help_text="Where the value comes from (phone, account, ...).")


class ConfigFileSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    content = serializers.CharField()


class DeviceConfigSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="`<mac>.cfg`.")
    content = serializers.CharField(
        help_text="The MAC file the phone gets, rendered by the code that serves it; secrets "
        "masked as the admin's preview masks them for this token's audience."
    )
    lines = ConfigLineSerializer(many=True, help_text="Each line after the header, its layer.")
    legacy_key_names = serializers.BooleanField(
        help_text="The phone's firmware (as it last reported) reads the older key names."
    )
    common = ConfigFileSerializer(help_text="The common file its model's phones get.")


UNREAD_SECRETS = (
    "provisioning_password",
    "previous_provisioning_password",
    "phone_admin_password",
    "phone_user_password",
    "phone_var_password",
    "organisation__provisioning_password",
    "organisation__previous_provisioning_password",
    "organisation__phone_admin_password",
    "organisation__phone_user_password",
    "organisation__phone_var_password",
    "organisation__raw_overrides",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[MAC_PARAMETER]),
    update=extend_schema(parameters=[MAC_PARAMETER]),
    partial_update=extend_schema(parameters=[MAC_PARAMETER]),
    destroy=extend_schema(parameters=[MAC_PARAMETER]),
)
class DeviceViewSet(ScopedModelViewSet[Device]):
    """Phones with their settings, SIP accounts, line keys and DECT handsets."""

    queryset = Device.objects.all()
    serializer_class = DeviceSerializer
    lookup_field = "mac"
    lookup_value_regex = "[^/]+"
    registry_actions = {"config": "view", "bulk": "add"}

    def get_queryset(self) -> QuerySet[Device]:
        devices = super().get_queryset().defer("last_config").order_by("organisation", "mac")
        devices = devices.select_related(
            "organisation", "key_profile", "profile", "rps_state", "rps_state__organisation"
        )
        if self.request.method in ("GET", "HEAD"):
            # Secrets no answer shows: not read, so not decrypted (a Fernet decryption each,
            # for every phone of a page, and for its organisation's copy beside it).
            devices = devices.defer(*UNREAD_SECRETS).prefetch_related(
                Prefetch("sip_accounts", queryset=SipAccount.objects.defer("password"))
            )
        return with_status(devices.prefetch_related(*NESTED))

    def get_object(self) -> Device:
        try:
            mac = normalise_mac(str(self.kwargs[self.lookup_field]))
        except InvalidMac as exc:  # no phone has it: as any other MAC not found
            raise exceptions.NotFound() from exc
        device = self.get_queryset().filter(mac=mac).first()
        if device is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, device)
        return device

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["lookups"] = Lookups(self.request, self.client)
        return context

    def perform_create(self, serializer: serializers.BaseSerializer[Device]) -> None:
        self._save(serializer, history.ADDITION)

    def perform_update(self, serializer: serializers.BaseSerializer[Device]) -> None:
        self._save(serializer, history.CHANGE)

    def _save(self, serializer: serializers.BaseSerializer[Device], flag: int) -> None:
        assert isinstance(serializer, DeviceSerializer)
        with transaction.atomic():
            device = serializer.save()
            history.record(self.client, device, flag, serializer.changed_fields)

    @extend_schema(parameters=[MAC_PARAMETER], responses=DeviceConfigSerializer)
    @action(detail=True, methods=["get"])
    def config(self, request: Request, mac: str | None = None) -> Response:
        """What the phone gets as its MAC file, masked like the admin's preview."""
        device = self.get_object()
        return Response(config_of(device, provider=is_provider(self.client)))

    @extend_schema(
        request=devices_bulk.BulkDevicesSerializer, responses=devices_bulk.BulkResultSerializer
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Create or update up to 1,000 phones with their accounts, all or nothing;
        the same body twice changes nothing the second time."""
        return Response(devices_bulk.write(request, self.client, request.data))


def config_of(device: Device, *, provider: bool) -> dict[str, Any]:
    """The admin's config preview (DeviceAdmin.config_view) as JSON, never revealed."""
    shown = preview(device, provider=provider, reveal=False)
    return {
        "name": f"{device.mac}.cfg",
        "content": shown.mac_file,
        "lines": [
            {"text": text, "layer": layer}
            for text, layer in shown.lines(shown.mac_shown, shown.mac_file)
        ],
        "legacy_key_names": shown.legacy_key_names,
        "common": {"name": shown.common_name, "content": shown.common_file},
    }


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("devices", DeviceViewSet, basename="device")
