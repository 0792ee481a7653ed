from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, Model, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from media_assets.ca import certificate_url
from media_assets.config import softkey_url
from media_assets.forms import CaCertificateForm, RingtoneForm, SoftkeyFileForm, WallpaperForm
from media_assets.models import (
    CaCertificate,
    DeviceMedia,
    MediaFile,
    OrganisationMedia,
    Ringtone,
    SoftkeyFile,
    Wallpaper,
)
from media_assets.validation import EXAMPLE_SOFTKEY_XML, human_size
from organisations.admin import (
    ScopedInline,
    ScopedModelAdmin,
    WidgetsMixin,
    overrides_widget,
)
from organisations.models import Organisation
from organisations.scoping import is_provider

MediaT = TypeVar("MediaT", bound=MediaFile)
AdminT = TypeVar("AdminT", bound=Model)
ChoiceT = TypeVar("ChoiceT", bound=Model)  # a media inline's model: OrganisationMedia, DeviceMedia
ParentT = TypeVar("ParentT", bound=Model)  # the model of the page it is on


class GlobalFilter(admin.SimpleListFilter):
    title = _("scope")
    parameter_name = "global"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [("yes", gettext("Global")), ("no", gettext("An organisation's"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(organisation__isnull=self.value() == "yes")
        return queryset


class ShowsDetail(ScopedModelAdmin[AdminT]):
    """Tells the admin's form whether the user is provider staff, who read a refused file's
    detail (see media_assets.forms)."""

    def get_form(
        self, request: HttpRequest, obj: AdminT | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[AdminT]]:
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"show_detail": is_provider(request.user)})


class MediaFileAdmin(ShowsDetail[MediaT]):
    """Shared by wallpapers and ringtones: lists never load the bytes; the change page links
    to the file itself (staff only) to look at or listen to it. Organisation staff manage
    their own files and see the global ones read-only."""

    list_select_related = ["organisation"]
    list_filter = [GlobalFilter, "organisation"]
    search_fields = ["name", "organisation__name"]
    autocomplete_fields = ["organisation"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MediaT]:
        return super().get_queryset(request).defer("content")

    @admin.display(description=_("organisation"), ordering="organisation__name")
    def owner(self, obj: MediaT) -> str:
        return obj.owner if obj.organisation_id else gettext("— global —")

    @admin.display(description=_("size"), ordering="size")
    def file_size(self, obj: MediaT) -> str:
        return obj.human_size

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_file"
        view = self.admin_site.admin_view(self.file_view)
        return [path("<path:object_id>/file/", view, name=name), *super().get_urls()]

    def file_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, object_id)  # another organisation's: 404
        if not self.has_view_permission(request, obj):
            raise Http404
        response = HttpResponse(bytes(obj.content), content_type=obj.content_type)
        response["Content-Disposition"] = f'inline; filename="{obj.name}"'
        return response

    def file_url(self, obj: MediaT) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_file", args=[obj.pk])


@admin.register(Wallpaper)
class WallpaperAdmin(MediaFileAdmin[Wallpaper]):
    form = WallpaperForm
    list_display = ["name", "owner", "dimensions", "file_size", "updated_at"]
    readonly_fields = ["preview", "dimensions", "file_size", "content_type", "sha256", "fitted"]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "upload"]}),
        (_("Stored file"), {"fields": [*readonly_fields]}),
    ]

    @admin.display(description=_("pixels"))
    def dimensions(self, obj: Wallpaper) -> str:
        return f"{obj.width}x{obj.height}" if obj.width else "—"

    @admin.display(description=_("fitted to screens"))
    def fitted(self, obj: Wallpaper) -> str:
        """Made on the first request from a model of each screen size, then kept."""
        sizes = obj.renditions.order_by("width", "height").values_list("width", "height", "size")
        listed = [f"{w}x{h} ({human_size(size)})" for w, h, size in sizes] if obj.pk else []
        return ", ".join(listed) or gettext(
            "none yet (made on the first request of each screen size)"
        )

    @admin.display(description=_("preview"))
    def preview(self, obj: Wallpaper) -> str:
        if not obj.pk:
            return "—"
        return format_html(
            '<img src="{}" alt="{}" style="max-width: 480px; max-height: 272px">',
            self.file_url(obj),
            obj.name,
        )


@admin.register(Ringtone)
class RingtoneAdmin(MediaFileAdmin[Ringtone]):
    form = RingtoneForm
    list_display = ["name", "owner", "codec", "duration", "file_size", "updated_at"]
    readonly_fields = ["listen", "codec", "duration", "file_size", "sha256"]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "upload"]}),
        (_("Stored file"), {"fields": [*readonly_fields]}),
    ]

    @admin.display(description=_("duration"), ordering="duration_ms")
    def duration(self, obj: Ringtone) -> str:
        return gettext("%(seconds)s s") % {"seconds": f"{obj.duration_ms / 1000:.1f}"}

    @admin.display(description=_("listen"))
    def listen(self, obj: Ringtone) -> str:
        if not obj.pk:
            return "—"
        return format_html('<audio controls preload="none" src="{}"></audio>', self.file_url(obj))


@admin.register(SoftkeyFile)
class SoftkeyFileAdmin(WidgetsMixin, ShowsDetail[SoftkeyFile]):
    # Global, for the provider only: organisation staff have no permission on it.
    form = SoftkeyFileForm
    widgets = {"content": overrides_widget(14)}
    list_display = ["__str__", "call_state", "url", "updated_at"]
    search_fields = ["name", "call_state"]
    readonly_fields = ["call_state", "url"]
    fields = ["name", "content", "call_state", "url"]

    @admin.display(description=_("URL"))
    def url(self, obj: SoftkeyFile) -> str:
        return softkey_url(obj.name) if obj.name else "—"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        return {"content": EXAMPLE_SOFTKEY_XML, **super().get_changeform_initial_data(request)}


@admin.action(description=_("Make the selected certificate current"))
def make_current(
    modeladmin: admin.ModelAdmin[CaCertificate],
    request: HttpRequest,
    queryset: QuerySet[CaCertificate],
) -> None:
    if queryset.count() != 1:
        modeladmin.message_user(request, gettext("Select exactly one certificate."), messages.ERROR)
        return
    certificate = queryset.get()
    certificate.is_active = True
    certificate.save(update_fields=["is_active"])
    modeladmin.message_user(
        request,
        gettext("%(certificate)s is now served at %(url)s.")
        % {"certificate": certificate, "url": certificate_url()},
    )


@admin.register(CaCertificate)
class CaCertificateAdmin(ShowsDetail[CaCertificate]):
    # Global, for the provider only: organisation staff have no permission on it.
    form = CaCertificateForm
    actions = [make_current]
    list_display = ["label", "is_active", "subject", "not_valid_after", "is_ca", "fingerprint"]
    list_filter = ["is_active", "is_ca"]
    search_fields = ["label", "subject", "issuer", "sha256"]
    readonly_fields = [
        "url",
        "subject",
        "issuer",
        "not_valid_before",
        "not_valid_after",
        "is_ca",
        "sha256",
        "pem",
    ]
    fieldsets = [
        (None, {"fields": ["label", "is_active", "upload"]}),
        (_("Certificate"), {"fields": [*readonly_fields]}),
    ]

    @admin.display(description=_("URL"))
    def url(self, obj: CaCertificate) -> str:
        return certificate_url()

    @admin.display(description=_("SHA-256"))
    def fingerprint(self, obj: CaCertificate) -> str:
        return obj.sha256[:16] + "…"

    def save_model(
        self,
        request: HttpRequest,
        obj: CaCertificate,
        form: forms.ModelForm[CaCertificate],
        change: bool,
    ) -> None:
        super().save_model(request, obj, form, change)
        for warning in certificate_warnings(obj):
            self.message_user(request, warning, messages.WARNING)


def certificate_warnings(certificate: CaCertificate) -> list[str]:
    """Saved all the same (an admin may know better), but worth a second look."""
    now = timezone.now()
    warnings = []
    if certificate.not_valid_after < now:
        warnings.append(
            gettext("%(certificate)s expired on %(date)s.")
            % {"certificate": certificate, "date": f"{certificate.not_valid_after:%Y-%m-%d}"}
        )
    elif certificate.not_valid_before > now:
        warnings.append(
            gettext("%(certificate)s is not valid before %(date)s.")
            % {"certificate": certificate, "date": f"{certificate.not_valid_before:%Y-%m-%d}"}
        )
    if not certificate.is_ca:
        warnings.append(
            gettext(
                "%(certificate)s is not marked as a CA (basicConstraints CA:TRUE); phones may "
                "not accept it as a trust anchor."
            )
            % {"certificate": certificate}
        )
    return warnings


# The file fields of OrganisationMedia and DeviceMedia, and what they choose from.
CHOICE_MODELS: dict[str, type[Wallpaper] | type[Ringtone]] = {
    "wallpaper": Wallpaper,
    "ringtone": Ringtone,
}


class MediaChoiceInline(ScopedInline, admin.StackedInline[ChoiceT, ParentT]):
    """Wallpaper and ringtone dropdowns list only the organisation's own files and the global
    ones; Model.clean() refuses any other (a forged POST, or a file moved since)."""

    extra = 1
    max_num = 1
    can_delete = True
    organisation: Organisation | None = None  # of the page being shown (get_formset)

    def get_formset(
        self, request: HttpRequest, obj: ParentT | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet[ChoiceT, ParentT, forms.ModelForm[ChoiceT]]]:
        self.organisation = self.organisation_of(obj)
        return super().get_formset(request, obj, **kwargs)

    def organisation_of(self, obj: ParentT | None) -> Organisation | None:
        raise NotImplementedError

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        model = CHOICE_MODELS.get(db_field.name)
        if model is not None:
            owners = Q(organisation__isnull=True)
            if self.organisation is not None:
                owners |= Q(organisation=self.organisation)
            queryset = model.objects.filter(owners).defer("content")
            kwargs["queryset"] = queryset.order_by("name", "organisation")
            kwargs["form_class"] = MediaChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MediaChoiceField(forms.ModelChoiceField[MediaFile]):
    def label_from_instance(self, obj: MediaFile) -> str:
        if obj.organisation_id:
            return obj.name
        return gettext("%(name)s (global)") % {"name": obj.name}


class OrganisationMediaInline(MediaChoiceInline[OrganisationMedia, Organisation]):
    model = OrganisationMedia
    verbose_name = _("wallpaper, ringtone and softkeys of its phones")
    verbose_name_plural = _("media")
    fields = ["wallpaper", "ringtone", "custom_softkeys_enabled"]

    def organisation_of(self, obj: Organisation | None) -> Organisation | None:
        return obj if obj is not None and obj.pk else None


class DeviceMediaInline(MediaChoiceInline[DeviceMedia, Device]):
    model = DeviceMedia
    verbose_name = _("this phone's own wallpaper and ringtone")
    verbose_name_plural = _("media")
    fields = ["wallpaper", "ringtone"]

    def organisation_of(self, obj: Device | None) -> Organisation | None:
        return obj.organisation if obj is not None and obj.pk else None
