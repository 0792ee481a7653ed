"""The API's `media` resources (docs/architecture.md, "The REST API").

    /api/v1/wallpapers, /api/v1/ringtones          list; create by multipart upload
    /api/v1/wallpapers/{id}, /api/v1/ringtones/{id}  retrieve, PATCH (name, file), DELETE
    /api/v1/organisations/{slug}/choices           GET, PUT, PATCH
    /api/v1/devices/{mac}/choices                  GET, PUT, PATCH

An upload goes through the admin's own form (`media_assets.forms`), so it is refused for the
same reasons with the same messages (size, format, damage, name), and stored as the admin
stores it. Answers carry metadata, never the bytes. Files without an organisation are the
provider's, shared by everyone: organisation tokens see them and may not change them.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Model, Prefetch, ProtectedError, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from api import history
from api.base import ModelCleanSerializer, ScopedViewSet
from api.fields import OrganisationSlugField, field_client
from devices.mac import InvalidMac, normalise_mac
from devices.models import Device
from media_assets.forms import RingtoneForm, UploadForm, WallpaperForm
from media_assets.models import (
    DeviceMedia,
    MediaFile,
    OrganisationMedia,
    Ringtone,
    Wallpaper,
    WallpaperRendition,
)
from media_assets.urls import MEDIA_FILE
from organisations.models import Organisation
from organisations.scoping import scope_queryset

# --- wallpapers and ringtones --------------------------------------------------------------


class MediaSerializer(serializers.ModelSerializer[MediaFile]):
    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Slug; null for the provider's files, which every organisation may use.",
    )
    phone_url = serializers.SerializerMethodField(
        help_text="Where phones fetch it (each phone under its own token), if they can."
    )

    class Meta:
        fields: ClassVar[list[str]] = [
            "id",
            "name",
            "organisation",
            "size",
            "content_type",
            "sha256",
            "phone_url",
            "created_at",
            "updated_at",
        ]

    def get_phone_url(self, obj: MediaFile) -> str | None:
        return settings.PROVISIONING_URL + obj.name if re.match(MEDIA_FILE, obj.name) else None


class FittedSerializer(serializers.ModelSerializer[WallpaperRendition]):
    class Meta:
        model = WallpaperRendition
        fields: ClassVar[list[str]] = ["width", "height", "size"]


class WallpaperSerializer(MediaSerializer):
    fitted = FittedSerializer(
        source="renditions",
        many=True,
        read_only=True,
        help_text="Copies fitted to screen sizes, made on the first request of each size.",
    )

    class Meta(MediaSerializer.Meta):
        model = Wallpaper
        fields = [*MediaSerializer.Meta.fields, "width", "height", "fitted"]


class RingtoneSerializer(MediaSerializer):
    class Meta(MediaSerializer.Meta):
        model = Ringtone
        fields = [*MediaSerializer.Meta.fields, "codec", "duration_ms"]


class MediaChangeSerializer(serializers.Serializer[MediaFile]):
    """A new name or new bytes, judged by the admin's upload form."""

    name = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The name the phone asks for; empty: the uploaded file's name.",
    )
    file = serializers.FileField(required=False, allow_empty_file=True, use_url=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        form = self._admin_form(attrs)
        if not form.is_valid():
            raise serializers.ValidationError(_form_errors(form))
        self.form = form
        return attrs

    def _admin_form(self, attrs: dict[str, Any]) -> UploadForm[Any]:
        instance = self.instance
        organisation = self.owner_of(attrs)
        data = {
            "organisation": organisation.pk if organisation else "",
            "name": attrs.get("name", instance.name if instance else ""),
        }
        files = {"upload": attrs["file"]} if attrs.get("file") else {}
        form_class: type[UploadForm[Any]] = self.context["form_class"]
        return form_class(data=data, files=files, instance=instance)

    def owner_of(self, attrs: dict[str, Any]) -> Organisation | None:
        return self.instance.organisation if self.instance else None

    def create(self, validated_data: dict[str, Any]) -> MediaFile:
        saved: MediaFile = self.form.save()
        return saved

    def update(self, instance: MediaFile, validated_data: dict[str, Any]) -> MediaFile:
        return self.create(validated_data)


class MediaUploadSerializer(MediaChangeSerializer):
    organisation = OrganisationSlugField(
        required=False,
        allow_null=True,
        help_text="Slug. Empty: a provider token uploads a file for everyone; an "
        "organisation token always uploads into its own.",
    )
    file = serializers.FileField(allow_empty_file=True, use_url=False)

    def owner_of(self, attrs: dict[str, Any]) -> Organisation | None:
        return attrs.get("organisation") or field_client(self).organisation


def _form_errors(form: UploadForm[Any]) -> dict[str, list[serializers.ErrorDetail]]:
    """The form's messages and codes under the API's names (`upload` is `file` here)."""
    names = {"upload": "file", "__all__": "non_field_errors"}
    return {
        names.get(field, field): [
            serializers.ErrorDetail(message, code=error.code or "invalid")
            for error in errors
            for message in error.messages
        ]
        for field, errors in form.errors.as_data().items()
    }


class InUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "in_use"
    default_detail = _("It is chosen for an organisation or a phone: choose another there first.")


class MediaViewSet(
    ScopedViewSet[MediaFile],  # first: its perform_* (history, one transaction) win
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    form_class: ClassVar[type[UploadForm[Any]]]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[MediaFile]:
        return super().get_queryset().defer("content").select_related("organisation")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "form_class": self.form_class}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = MediaUploadSerializer(data=request.data, context=self.get_serializer_context())
        upload.is_valid(raise_exception=True)
        self.perform_create(upload)
        return Response(self._shown(upload.instance), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        change = MediaChangeSerializer(
            self.get_object(), data=request.data, context=self.get_serializer_context()
        )
        change.is_valid(raise_exception=True)
        self.perform_update(change)
        return Response(self._shown(change.instance))

    def _shown(self, obj: MediaFile | None) -> Any:
        assert obj is not None
        return self.get_serializer(self.get_queryset().get(pk=obj.pk)).data

    def perform_destroy(self, instance: MediaFile) -> None:
        try:
            super().perform_destroy(instance)
        except ProtectedError:
            raise InUse() from None


def media_schema(shown: type[serializers.Serializer[Any]]) -> Any:
    """The schema of a media resource: an upload in, `shown` out."""
    return extend_schema_view(
        create=extend_schema(
            request={"multipart/form-data": MediaUploadSerializer}, responses={201: shown}
        ),
        partial_update=extend_schema(
            request={
                "multipart/form-data": MediaChangeSerializer,
                "application/json": MediaChangeSerializer,
            },
            responses={200: shown},
        ),
    )


@media_schema(WallpaperSerializer)
class WallpaperViewSet(MediaViewSet):
    """Background images: PNG, JPEG or BMP within the phones' limits; fitted to each screen
    size when a phone of that size first asks."""

    queryset = Wallpaper.objects.all()
    serializer_class = WallpaperSerializer
    form_class = WallpaperForm

    def get_queryset(self) -> QuerySet[MediaFile]:
        fitted = WallpaperRendition.objects.only("wallpaper_id", "width", "height", "size")
        fitted = fitted.order_by("width", "height")
        wallpapers: QuerySet[Any] = super().get_queryset()
        return wallpapers.prefetch_related(Prefetch("renditions", queryset=fitted))


@media_schema(RingtoneSerializer)
class RingtoneViewSet(MediaViewSet):
    """Ring tones: WAV, PCM or G.711, mono, 8 kHz, within 512 KB."""

    queryset = Ringtone.objects.all()
    serializer_class = RingtoneSerializer
    form_class = RingtoneForm


# --- what an organisation and a phone chose ------------------------------------------------


class MediaChoiceField(serializers.PrimaryKeyRelatedField[MediaFile]):
    """A wallpaper or ringtone by id, among those the token sees (its own and the shared
    ones): another organisation's reads as one that does not exist. A provider token sees
    all, and the model's clean() refuses another organisation's, as the admin does."""

    def __init__(self, model: type[Wallpaper] | type[Ringtone], **kwargs: Any) -> None:
        self.model = model
        super().__init__(queryset=model.objects.all(), allow_null=True, required=False, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        files = self.model.objects.defer("content")
        return scope_queryset(files, field_client(self))


class OrganisationChoicesSerializer(ModelCleanSerializer[OrganisationMedia]):
    organisation: serializers.SlugRelatedField[Organisation] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    wallpaper = MediaChoiceField(Wallpaper, help_text="Id of a wallpaper; null: none.")
    ringtone = MediaChoiceField(Ringtone, help_text="Id of a ringtone; null: none.")

    class Meta:
        model = OrganisationMedia
        fields: ClassVar[list[str]] = [
            "organisation",
            "wallpaper",
            "ringtone",
            "custom_softkeys_enabled",
        ]


class DeviceChoicesSerializer(ModelCleanSerializer[DeviceMedia]):
    device: serializers.SlugRelatedField[Device] = serializers.SlugRelatedField(
        slug_field="mac", read_only=True
    )
    wallpaper = MediaChoiceField(
        Wallpaper, help_text="Id of a wallpaper; null: the organisation's."
    )
    ringtone = MediaChoiceField(Ringtone, help_text="Id of a ringtone; null: the organisation's.")

    class Meta:
        model = DeviceMedia
        fields: ClassVar[list[str]] = ["device", "wallpaper", "ringtone"]


C = TypeVar("C", bound=Model)
# Not retrieve/update/partial_update: the router would build a detail URL (…/choices/{id})
# for those.
SINGLETON = {"get": "show", "put": "change", "patch": "change_partly"}


class ChoicesViewSet(ScopedViewSet[C]):
    """One object, no id: what an organisation or a phone chose. SimpleRouter gives a
    prefix without a lookup only its list route (GET, POST); this resource answers GET,
    PUT and PATCH there."""

    @classmethod
    def as_view(cls, actions: dict[str, Any] | None = None, **initkwargs: Any) -> Any:
        if actions is not None and actions.get("get") == "list":
            actions, initkwargs = SINGLETON, {**initkwargs, "detail": True}
        return super().as_view(actions, **initkwargs)

    owner_field: ClassVar[str]  # the choice's organisation or device

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Never routed as such: its presence makes the router build the collection's URL,
        which as_view() then gives GET, PUT and PATCH."""
        return self.show(request)

    def show(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def change(
        self, request: Request, *args: Any, partial: bool = False, **kwargs: Any
    ) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data)

    def change_partly(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.change(request, partial=True)

    def perform_update(self, serializer: serializers.BaseSerializer[C]) -> None:
        """Shown in the history of the organisation's or phone's own page, where the admin
        edits these choices."""
        data = getattr(serializer, "validated_data", {})
        with transaction.atomic():
            choice = serializer.save()
            owner = getattr(choice, self.owner_field)
            history.record(self.client, owner, history.CHANGE, fields=data.keys())


@extend_schema(parameters=[OpenApiParameter("slug", OpenApiTypes.STR, "path")])
class OrganisationChoicesViewSet(ChoicesViewSet[OrganisationMedia]):
    """The wallpaper, ringtone and softkeys of an organisation's phones."""

    queryset = OrganisationMedia.objects.all()
    scope_model = OrganisationMedia
    serializer_class = OrganisationChoicesSerializer
    owner_field = "organisation"

    def owner(self) -> Organisation:
        organisations = scope_queryset(Organisation.objects.all(), self.client)
        return get_object_or_404(organisations, slug=self.kwargs["slug"])

    def get_object(self) -> OrganisationMedia:
        organisation = self.owner()
        chosen = OrganisationMedia.objects.select_related("organisation")
        choice = chosen.filter(organisation=organisation).first()
        choice = choice or OrganisationMedia(organisation=organisation)
        self.check_object_permissions(self.request, choice)
        return choice


@extend_schema(
    parameters=[OpenApiParameter("mac", OpenApiTypes.STR, "path", description="MAC, any notation.")]
)
class DeviceChoicesViewSet(ChoicesViewSet[DeviceMedia]):
    """A phone's own wallpaper and ringtone, over its organisation's."""

    queryset = DeviceMedia.objects.all()
    scope_model = DeviceMedia
    serializer_class = DeviceChoicesSerializer
    owner_field = "device"

    def owner(self) -> Device:
        try:
            mac = normalise_mac(self.kwargs["mac"])
        except InvalidMac:
            raise exceptions.NotFound() from None
        devices = scope_queryset(Device.objects.select_related("organisation"), self.client)
        return get_object_or_404(devices, mac=mac)

    def get_object(self) -> DeviceMedia:
        device = self.owner()
        choice = DeviceMedia.objects.filter(device=device).first() or DeviceMedia(device=device)
        choice.device = device  # with its organisation, for clean() and the permission
        self.check_object_permissions(self.request, choice)
        return choice


def register(router: SimpleRouter) -> None:
    """Add this module's viewsets to the API's router."""
    router.register("wallpapers", WallpaperViewSet, basename="wallpaper")
    router.register("ringtones", RingtoneViewSet, basename="ringtone")
    router.register(
        r"organisations/(?P<slug>[-\w]+)/choices",
        OrganisationChoicesViewSet,
        basename="organisation-choices",
    )
    router.register(
        r"devices/(?P<mac>[^/]+)/choices", DeviceChoicesViewSet, basename="device-choices"
    )
