"""The API's `unassigned` resources (docs/architecture.md, "The REST API").

`/api/v1/unassigned-phones[/{id}]`: MACs that asked with their organisation's valid
credentials but are not among its phones (they got 404, no password prompt). Listed and
dismissed (DELETE) as in the admin; `POST …/{id}/assign` adds the MAC as a phone of that
organisation, as the admin's "Add this phone" does: its model from its User-Agent unless the
body names one, and the same refusal in the same words when another organisation has the MAC
meanwhile (recorded for the provider, devices.foreign_macs).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from api import history
from api.base import ScopedViewSet
from devices import foreign_macs
from devices.models import Device, ForeignMacAttempt, UnassignedPhone
from devices.phone_models import get_model
from organisations.models import Organisation
from organisations.scoping import is_provider


class UnassignedPhoneSerializer(serializers.ModelSerializer[UnassignedPhone]):
    """A MAC that asked with its organisation's credentials and is not one of its phones."""

    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = UnassignedPhone
        fields = [
            "id",
            "organisation",
            "mac",
            "model",
            "firmware",
            "user_agent",
            "ip",
            "first_seen_at",
            "last_seen_at",
            "requests",
        ]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer[Any]):
    """What the admin's add form asks beyond what the phone told: its model when its
    User-Agent named none we know, and a label."""

    model = serializers.CharField(
        required=False, help_text="Default: the model its User-Agent named."
    )
    label = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.label
        required=False, allow_blank=True, max_length=100
    )


class AssignedPhoneSerializer(serializers.ModelSerializer[Device]):
    """The phone an assignment added (all of it: `/api/v1/devices/{mac}`)."""

    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Device
        fields = ["mac", "organisation", "model", "label", "active", "created_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "organisation", str, description="Only this organisation's (its slug)."
            )
        ]
    ),
)
class UnassignedPhoneViewSet(
    ScopedViewSet[UnassignedPhone],  # first: its perform_destroy (history) before the mixin's
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    """Staff look and dismiss; the phones put themselves here."""

    queryset = UnassignedPhone.objects.select_related("organisation")
    serializer_class = UnassignedPhoneSerializer
    registry_actions = {"assign": "add"}

    @property
    def scope_model(self) -> type[Model] | None:
        """Assigning adds a phone: those may who may add phones."""
        return Device if getattr(self, "action", None) == "assign" else None

    def get_queryset(self) -> QuerySet[UnassignedPhone]:
        # A MAC the organisation added since (in bulk, which saves no model) is assigned now;
        # only its own, as in the admin (another's would tell that someone has the MAC).
        added = Device.objects.filter(mac=OuterRef("mac"), organisation=OuterRef("organisation"))
        queryset = super().get_queryset().exclude(Exists(added))
        slug = self.request.query_params.get("organisation")
        if self.action == "list" and slug:
            queryset = queryset.filter(organisation__slug=slug)
        return queryset.order_by("-last_seen_at", "-id")

    @extend_schema(request=AssignSerializer, responses={201: AssignedPhoneSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        unassigned = self.get_object()
        asked = AssignSerializer(data=request.data or {})
        asked.is_valid(raise_exception=True)
        device = self._new_phone(unassigned, asked.validated_data)
        with transaction.atomic():
            device.save()  # takes the MAC off the unassigned list
            history.record(self.client, device, history.ADDITION)
        return Response(AssignedPhoneSerializer(device).data, status=status.HTTP_201_CREATED)

    def _new_phone(self, unassigned: UnassignedPhone, asked: dict[str, Any]) -> Device:
        organisation = unassigned.organisation
        model = asked.get("model") or (unassigned.model if get_model(unassigned.model) else "")
        if not is_provider(self.client):
            self._staff_mac_check(unassigned)
        device = Device(
            organisation=organisation, mac=unassigned.mac, model=model, label=asked.get("label", "")
        )
        try:
            device.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return device

    def _staff_mac_check(self, unassigned: UnassignedPhone) -> None:
        """As devices.admin.staff_mac_check: another organisation's MAC cannot be added (said
        without whose, and recorded), and nothing while adding is paused for them."""
        organisation, mac = unassigned.organisation, unassigned.mac
        owner = Device.objects.filter(mac=mac).values_list("organisation_id", flat=True).first()
        try:
            foreign_macs.refuse_taken(
                organisation,
                mac,
                owner,
                lambda: foreign_macs.record(
                    self.request._request, organisation, [mac], ForeignMacAttempt.Source.API
                ),
            )
        except DjangoValidationError as exc:
            detail = serializers.ErrorDetail(exc.messages[0], str(exc.code))
            raise serializers.ValidationError({"mac": [detail]}) from None


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("unassigned-phones", UnassignedPhoneViewSet, basename="unassigned-phone")
