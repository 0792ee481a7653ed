from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from firmware.forms import FirmwareImageForm, FirmwareTargetForm
from firmware.models import FirmwareImage, FirmwareTarget
from media_assets.validation import human_size
from organisations.admin import ScopedModelAdmin


@admin.register(FirmwareImage)
class FirmwareImageAdmin(ScopedModelAdmin[FirmwareImage]):
    # The provider's: organisation staff have no permission on it.
    form = FirmwareImageForm
    list_display = ["version", "kind", "models", "file_name", "file_size", "sha", "uploaded_at"]
    list_filter = ["kind", "model_code"]
    search_fields = ["version", "file_name", "sha256", "notes"]
    readonly_fields = ["model_code", "file_name", "file_size", "sha256", "uploaded_by"]

    @admin.display(description="models")
    def models(self, obj: FirmwareImage) -> str:
        return ", ".join(obj.model_names)

    @admin.display(description="size", ordering="size")
    def file_size(self, obj: FirmwareImage) -> str:
        return human_size(obj.size) if obj.size else "—"

    @admin.display(description="SHA-256")
    def sha(self, obj: FirmwareImage) -> str:
        return obj.sha256[:16] + "…" if obj.sha256 else "—"

    def get_fields(self, request: HttpRequest, obj: FirmwareImage | None = None) -> Any:
        fields = ["kind", "model_names", "version", "notes"]
        if obj is None:
            return ["upload", *fields]
        return [*fields, *self.readonly_fields]

    def get_readonly_fields(
        self, request: HttpRequest, obj: FirmwareImage | None = None
    ) -> list[str]:
        return self.readonly_fields if obj is not None else []

    def save_model(
        self,
        request: HttpRequest,
        obj: FirmwareImage,
        form: forms.ModelForm[FirmwareImage],
        change: bool,
    ) -> None:
        if not change and request.user.is_authenticated:
            obj.uploaded_by_id = request.user.pk
        super().save_model(request, obj, form, change)


@admin.register(FirmwareTarget)
class FirmwareTargetAdmin(ScopedModelAdmin[FirmwareTarget]):
    form = FirmwareTargetForm
    list_display = ["model", "version", "scope"]
    list_filter = ["model"]
    search_fields = ["model", "image__version", "organisation__name", "device__mac"]
    autocomplete_fields = ["organisation", "device"]
    list_select_related = ["image", "profile", "organisation", "device"]
    fieldsets = [
        (None, {"fields": ["model", "image"]}),
        (
            "Scope",
            {
                "description": "Leave all three empty for every phone of the model. The most "
                "specific target wins: the phone's, its organisation's, its settings "
                "profile's, then the one for every phone.",
                "fields": ["profile", "organisation", "device"],
            },
        ),
    ]

    @admin.display(description="version", ordering="image__version")
    def version(self, obj: FirmwareTarget) -> str:
        return obj.image.version

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "image":
            kwargs["queryset"] = FirmwareImage.objects.filter(kind=FirmwareImage.Kind.PHONE)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
