"""The API's profiles (docs/architecture.md, "The REST API").

GET/POST               /api/v1/key-profiles            (?organisation=<slug>)
GET/PUT/PATCH/DELETE   /api/v1/key-profiles/{id}
GET/POST               /api/v1/settings-profiles       (provider tokens only)
GET/PUT/PATCH/DELETE   /api/v1/settings-profiles/{id}  (provider tokens only)

A key profile is an organisation's named set of line keys shared by many phones, as its page
in the admin has it: its `keys`, when given, are the whole set (matched by module and
position, those not listed deleted), each checked against every phone that uses the profile
(ProfileKey.clean), so a key that does not fit one is refused in the admin's words.

A settings profile is the provider's: the settings of `organisations.phone_settings` given
to many organisations or phones at once. The registry registers it without a path to an
organisation, so organisation tokens may do nothing with it (403), as their staff in the
admin. It has no secrets and no raw overrides.

A profile still chosen (by phones, or organisations) cannot be deleted: 409.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models import Count, Model, ProtectedError, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.routers import SimpleRouter

from api import history
from api.base import ModelCleanSerializer, ScopedModelViewSet
from api.errors import counted
from api.fields import OrganisationSlugField, field_client
from api.resources.devices_serializers import (
    LINE_KEYS,
    LineKeySerializer,
    Nested,
    plan_item,
    required,
    write_with_nested,
)
from api.settings_fields import PhoneSettingsSerializer, WithSettingsSerializer
from devices.models import KeyProfile, ProfileKey
from organisations.models import Organisation
from organisations.phone_settings import SettingsProfile

# --- key profiles --------------------------------------------------------------------------


class ProfileKeySerializer(LineKeySerializer):
    """A key of a profile: as a phone's own line key."""

    class Meta(LineKeySerializer.Meta):
        model = ProfileKey  # type: ignore[assignment]


# A profile's keys are placed and named as a phone's own.
PROFILE_KEYS = dataclasses.replace(
    LINE_KEYS, name="keys", make=lambda place: ProfileKey(module=place[0], position=place[1])
)


class KeyProfileSerializer(ModelCleanSerializer[KeyProfile]):
    organisation = OrganisationSlugField(
        required=False,
        help_text="Its organisation's slug. An organisation token's profiles are its own: it "
        "may leave this out, and give no other.",
    )
    keys = ProfileKeySerializer(
        many=True,
        required=False,
        help_text="Given, the whole set: matched by (module, position), keys not listed are "
        "removed. Each must fit every phone that uses the profile.",
    )
    phone_count = serializers.IntegerField(
        source="phone_total", read_only=True, help_text="Phones that use it."
    )

    class Meta:
        model = KeyProfile
        fields = ["id", "organisation", "name", "keys", "phone_count"]
        validators: list[Any] = []  # the model's own check says a name is taken, as the admin

    _probe: KeyProfile | None = None
    changed_fields: list[str]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["organisation"] = self._organisation(attrs)
        keys = attrs.pop("keys", None)
        attrs = super().validate(attrs)
        if keys is not None:
            attrs["keys"] = self._plan(keys)
        return attrs

    def prepare_probe(self, probe: KeyProfile, attrs: dict[str, Any]) -> None:
        self._probe = probe

    def _organisation(self, attrs: dict[str, Any]) -> Organisation:
        given: Organisation | None = attrs.get("organisation")
        own = field_client(self).organisation
        if own is not None:  # the scoped field found no other
            return own
        if given is not None:
            return given
        if self.instance is None:
            raise serializers.ValidationError({"organisation": [required()]}, code="required")
        return self.instance.organisation

    def _plan(self, items: list[dict[str, Any]]) -> Nested:
        """The keys as the request leaves them, each checked against the profile's phones
        (the probe has them prefetched: one query for the whole list)."""
        probe = self._probe
        assert probe is not None  # made by the base's validate
        existing = list(self.instance.keys.all()) if self.instance is not None else []
        plan, seen, errors = Nested(), dict[tuple[int, int], int](), []
        for index, item in enumerate(items):
            errors.append(
                plan_item(PROFILE_KEYS, item, index, existing, seen, ("profile", probe), plan)
            )
        if any(errors):
            raise serializers.ValidationError({"keys": errors})
        plan.delete = [key for key in existing if (key.module, key.position) not in seen]
        return plan

    def create(self, validated_data: dict[str, Any]) -> KeyProfile:
        return self.write(KeyProfile(), validated_data)

    def update(self, instance: KeyProfile, validated_data: dict[str, Any]) -> KeyProfile:
        return self.write(instance, validated_data)

    def write(self, profile: KeyProfile, data: dict[str, Any]) -> KeyProfile:
        """Only what differs is saved: the same request twice changes nothing."""
        self.changed_fields = write_with_nested(profile, data, "profile", ("keys",))
        return profile


class InUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "in_use"
    default_detail = _("It is still chosen: choose another there first.")


def in_use(profile: Model, exc: ProtectedError) -> InUse:
    """What keeps it: "Reception is still chosen for 3 devices: ..."."""
    counts = Counter(type(obj) for obj in exc.protected_objects)
    parts = [
        counted(count, model)
        for model, count in sorted(counts.items(), key=lambda item: str(item[0]._meta))
    ]
    return InUse(
        gettext(
            "%(profile)s cannot be deleted: it is still chosen for %(objects)s. Choose "
            "another profile there first."
        )
        % {"profile": profile, "objects": ", ".join(parts)}
    )


P = TypeVar("P", bound=Model)


class ProfileViewSet(ScopedModelViewSet[P], Generic[P]):
    """What both profiles share: by id, answered with their counts, 409 while chosen."""

    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer: serializers.BaseSerializer[P]) -> None:
        super().perform_create(serializer)
        serializer.instance = self._counted(serializer.instance)

    def perform_update(self, serializer: serializers.BaseSerializer[P]) -> None:
        super().perform_update(serializer)
        serializer.instance = self._counted(serializer.instance)

    def perform_destroy(self, instance: P) -> None:
        try:
            super().perform_destroy(instance)
        except ProtectedError as exc:
            raise in_use(instance, exc) from exc

    def _counted(self, profile: P | None) -> P:
        """Read again with its counts and keys (the answer shows them)."""
        assert profile is not None
        return self.get_queryset().get(pk=profile.pk)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("organisation", OpenApiTypes.STR, description="Organisation slug.")
        ]
    )
)
class KeyProfileViewSet(ProfileViewSet[KeyProfile]):
    """Key profiles: an organisation's named sets of line keys, shared by its phones."""

    queryset = KeyProfile.objects.all()
    serializer_class = KeyProfileSerializer

    def get_queryset(self) -> QuerySet[KeyProfile]:
        profiles = super().get_queryset().select_related("organisation").prefetch_related("keys")
        if getattr(self, "action", None) in ("update", "partial_update"):
            profiles = profiles.prefetch_related("devices")  # each key is checked against them
        slug = self.request.query_params.get("organisation")
        if slug and self.action == "list":
            profiles = profiles.filter(organisation__slug=slug)
        counted = profiles.annotate(phone_total=Count("devices", distinct=True))
        return counted.order_by("organisation__slug", "name")  # a count drops Meta.ordering

    def perform_update(self, serializer: serializers.BaseSerializer[KeyProfile]) -> None:
        self._save(serializer, history.CHANGE)

    def perform_create(self, serializer: serializers.BaseSerializer[KeyProfile]) -> None:
        self._save(serializer, history.ADDITION)

    def _save(self, serializer: serializers.BaseSerializer[KeyProfile], flag: int) -> None:
        """As the base does it, with the fields that changed (not all those sent)."""
        assert isinstance(serializer, KeyProfileSerializer)
        with transaction.atomic():
            profile = serializer.save()
            history.record(self.client, profile, flag, serializer.changed_fields)
        serializer.instance = self._counted(profile)


# --- settings profiles -----------------------------------------------------------------------


class SettingsProfileSerializer(WithSettingsSerializer[SettingsProfile]):
    settings = PhoneSettingsSerializer(
        source="*",
        required=False,
        help_text="What the profile sets; null: as the layer below it (our defaults) says.",
    )
    organisation_count = serializers.IntegerField(
        source="organisation_total", read_only=True, help_text="Organisations that have it."
    )
    phone_count = serializers.IntegerField(
        source="device_total", read_only=True, help_text="Phones that have it themselves."
    )

    class Meta:
        model = SettingsProfile
        fields = [
            "id",
            "name",
            "description",
            "settings",
            "organisation_count",
            "phone_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # The model's own check says a name is taken, in the admin's words.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class SettingsProfileViewSet(ProfileViewSet[SettingsProfile]):
    """The provider's settings profiles ("Secure TLS"), for organisations and phones."""

    queryset = SettingsProfile.objects.all()
    serializer_class = SettingsProfileSerializer
    provider_only = True

    def get_queryset(self) -> QuerySet[SettingsProfile]:
        return (
            super()
            .get_queryset()
            .annotate(
                organisation_total=Count("organisations", distinct=True),
                device_total=Count("devices", distinct=True),
            )
            .order_by("name")  # a count drops Meta.ordering
        )


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("key-profiles", KeyProfileViewSet, basename="key-profile")
    router.register("settings-profiles", SettingsProfileViewSet, basename="settings-profile")
