from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from devices import csv_io, foreign_macs, status, tasks
from devices.config import (
    LAYER_ORDER,
    mask_secrets,
    preview,
)
from devices.mac import (
    InvalidMac,
    format_mac,
    is_yealink_oui,
    mac_search_fragment,
    normalise_mac,
    parse_user_agent,
)
from devices.models import (
    AccessLog,
    Device,
    ForeignMacAttempt,
    Handset,
    KeyProfile,
    LineKey,
    ProfileKey,
    SipAccount,
    UnassignedPhone,
)
from devices.phone_models import EXPANSION_MODULES, PhoneModel, get_model
from organisations.admin import (
    WEB_PASSWORDS,
    KeptSecretsInlineMixin,
    KeptSecretsMixin,
    ProviderOnlyFieldsMixin,
    ScopedInline,
    ScopedModelAdmin,
    WidgetsMixin,
    overrides_widget,
    settings_fieldsets,
    warn_about_unknown_keys,
)
from organisations.config_syntax import (
    mask_override_lines,
    provider_only_keys,
    split_provider_lines,
    unmask_override_lines,
)
from organisations.csv_files import CsvFileError, decode_upload, sign_upload, unsign_upload
from organisations.models import Organisation
from organisations.phone_settings import SIP_SETTINGS
from organisations.scoping import is_provider, scope_queryset, staff_organisation

M = TypeVar("M", bound=Model)
if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _ListDisplayT
    from django.utils.functional import _StrPromise


def search_with_mac(queryset: QuerySet[M], search_term: str, field: str = "mac") -> QuerySet[M]:
    """Extra rows for a term that is (part of) a MAC in any notation."""
    fragment = mac_search_fragment(search_term)
    if fragment is None:
        return queryset.none()
    return queryset.filter(Q(**{f"{field}__contains": fragment}))


ACCOUNT_FIELDS: list[str | list[str] | tuple[str, ...]] = [
    ("index", "is_enabled"),
    ("label", "display_name"),
    ("user_name", "auth_name", "password"),
    ("server_host", "server_port", "server_transport"),
]
ACCOUNT_FIELDSETS: list[tuple[str | _StrPromise | None, _FieldOpts]] = [
    (None, {"fields": ACCOUNT_FIELDS}),
    (
        _("SIP settings of this line only (empty: the phone's, its organisation's)"),
        {"fields": list(SIP_SETTINGS), "classes": ["collapse"]},
    ),
]


class SipAccountInline(
    ScopedInline, KeptSecretsInlineMixin, admin.StackedInline[SipAccount, Device]
):
    model = SipAccount
    kept_secrets = ("password",)
    extra = 0
    fieldsets = ACCOUNT_FIELDSETS


class KeyFormSet(forms.BaseInlineFormSet[Any, Any, Any]):
    """Keys are moved by changing their numbers. Two keys that swap places would collide on
    their unique (module, key) while one is saved before the other, and so would a key moved
    to the place of one deleted: deleted keys go first, and moved keys are parked on free
    numbers before any is saved. The formset's own check still refuses two keys in one place.
    """

    def save_existing_objects(self, commit: bool = True) -> list[Model]:
        deleted = []
        if commit:
            for form in self.deleted_forms:
                if form.instance.pk is not None:
                    deleted.append(form.instance)
                    self.delete_existing(form.instance, commit=True)
            moved = [
                form.instance
                for form in self.initial_forms
                if form.instance.pk is not None
                and form not in self.deleted_forms
                and {"module", "position"} & set(form.changed_data)
            ]
            for parking, key in enumerate(moved):
                # Above any real key (the field allows 200), within a small integer.
                type(key)._default_manager.filter(pk=key.pk).update(position=30000 - parking)
        saved = super().save_existing_objects(commit)
        self.deleted_objects = [*deleted, *self.deleted_objects]  # for the change message
        return saved


KEY_FIELDS = ("module", "position", "type", "value", "label", "line", "extension")


class KeyMedia:
    js = ["devices/line_keys.js"]  # up and down on each key: it swaps places with its neighbour


class LineKeyInline(ScopedInline, admin.TabularInline[LineKey, Device]):
    model = LineKey
    formset = KeyFormSet
    fields = KEY_FIELDS
    extra = 0
    Media = KeyMedia
    verbose_name_plural = _("line keys of this phone (beside, or in place of, its key profile's)")


class HandsetInline(ScopedInline, admin.TabularInline[Handset, Device]):
    model = Handset
    fields = ["index", "name", "incoming_lines", "outgoing_lines", "default_line"]
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        model = obj.phone_model if obj is not None else None
        return bool(model and model.is_dect) and super().has_add_permission(request, obj)


def key_limits(model: PhoneModel | None) -> str:
    """What a model's keys can be, in a sentence."""
    if model is None:
        return gettext("Unknown model.")
    if model.is_dect:
        return gettext(
            "A %(model)s is a DECT base: no line keys; it takes %(handsets)d handsets and "
            "%(lines)d lines."
        ) % {"model": model.name, "handsets": model.handsets, "lines": model.lines}
    if not model.line_keys:
        return gettext("A %(model)s has no programmable line keys.") % {"model": model.name}
    values = {
        "model": model.name,
        "keys": model.line_keys,
        "pages": model.line_key_pages,
        "lines": model.lines,
    }
    if model.line_key_pages > 1:
        text = gettext(
            "A %(model)s has line keys 1 to %(keys)d over %(pages)d pages and %(lines)d lines"
        )
    else:
        text = gettext("A %(model)s has line keys 1 to %(keys)d and %(lines)d lines")
    text %= values
    if model.expansion_modules:
        modules = ", ".join(
            gettext("%(module)s (%(keys)d keys)")
            % {"module": name, "keys": EXPANSION_MODULES[name].keys}
            for name in model.expansion_modules
        )
        text += gettext("; it takes up to %(count)d modules: %(modules)s") % {
            "count": model.max_expansion_modules,
            "modules": modules,
        }
    return text + "."


class PhoneStatusFilter(admin.SimpleListFilter):
    """By the status badge's value (DeviceAdmin.get_queryset annotates it), so that the filter
    and the badge agree: a failing phone is failing, not also stale."""

    title = _("status")
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, _StrPromise]]:
        return [
            (status.OK, _("ok")),
            (status.NEVER, _("never provisioned")),
            (status.STALE, _("stale (no request for twice the interval)")),
            (status.FAILING, _("failing (recent wrong credentials)")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        if self.value() not in status.LABELS:
            return queryset
        return queryset.filter(**{status.ANNOTATION: self.value()})  # not a field: no kwarg


class ModelInUseFilter(admin.SimpleListFilter):
    """The models of the phones the user can see, not every model there is (50 of them)."""

    title = _("model")
    parameter_name = "model"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        in_use = model_admin.get_queryset(request).order_by("model").values_list("model")
        return [(name, name) for name in in_use.distinct().values_list("model", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        return queryset.filter(model=self.value()) if self.value() else queryset


def ago(moment: datetime, now: datetime | None = None) -> str:
    """'just now', '12 min ago', '3 h ago', '5 days ago', or the date for long ago."""
    seconds = ((now or timezone.now()) - moment).total_seconds()
    if seconds < 60:
        return gettext("just now")
    if seconds < 3600:
        return gettext("%(count)d min ago") % {"count": int(seconds // 60)}
    if seconds < 86400:
        return gettext("%(count)d h ago") % {"count": int(seconds // 3600)}
    if seconds < 30 * 86400:
        days = int(seconds // 86400)
        return ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}
    return f"{timezone.localtime(moment):%Y-%m-%d}"


def badge(kind: str, text: str, title: str = "") -> str:
    """A small coloured label of the phone list (its colours: devices/phone_list.css)."""
    return format_html('<span class="badge badge-{}" title="{}">{}</span>', kind, title, text)


def compact(text: str, empty: str = "—") -> str:
    """A cell cut short by the list's CSS, whole on hover."""
    if not text:
        return empty
    return format_html('<span class="compact" title="{}">{}</span>', text, text)


CSV_SALT = "devices.csv-import"


class DeviceAdmin(
    KeptSecretsMixin, ProviderOnlyFieldsMixin, WidgetsMixin, ScopedModelAdmin[Device]
):
    widgets = {"raw_overrides": overrides_widget(4)}
    kept_secrets = WEB_PASSWORDS
    inlines = [SipAccountInline, LineKeyInline, HandsetInline]
    list_display = [
        "mac_address",
        "label_column",
        "organisation_column",
        "model_column",
        "is_active",
        "status_badge",
        "last_seen",
        "firmware",
        "address",
    ]
    list_filter = [
        PhoneStatusFilter,
        "is_active",
        ModelInUseFilter,
        "last_firmware",
        "organisation",
    ]
    list_select_related = ["organisation"]
    search_fields = ["label", "organisation__name"]
    search_help_text = _("A MAC in any notation (or part of one), a label or an organisation.")
    autocomplete_fields = ["organisation"]
    actions = ["export_csv", "rotate_provisioning_passwords"]
    readonly_fields = [
        "config_preview",
        "provisioning_credentials",
        "model_limits",
        "last_seen_at",
        "last_seen_ip",
        "last_user_agent",
        "last_firmware",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["organisation", "mac", "model", "label", "is_active", "config_preview"]},
        ),
        (
            _("Keys"),
            {
                "fields": [
                    "model_limits",
                    "key_profile",
                    ("expansion_module", "expansion_module_count"),
                ]
            },
        ),
        (
            _("Provisioning credentials"),
            {
                "fields": ["provisioning_credentials"],
                "description": _(
                    "The phone's own: RPS hands them to it and its MAC file sets them, so from "
                    "its second round it authenticates as itself, and they open only its own "
                    "files. Its organisation's credentials only get a phone set up by hand to "
                    "its first MAC file (see the organisation's policy)."
                ),
            },
        ),
        (_("Settings profile"), {"fields": ["profile"]}),
        *settings_fieldsets(),
        (
            _("Security: this phone's web UI (empty: the organisation's)"),
            {"fields": WEB_PASSWORDS, "classes": ["collapse"]},
        ),
        (_("Overrides"), {"fields": ["raw_overrides"], "classes": ["collapse"]}),
        (
            _("Last successful request"),
            {"fields": ["last_seen_at", "last_seen_ip", "last_user_agent", "last_firmware"]},
        ),
    ]
    # The provider's: which profile a phone has, and its web passwords.
    provider_only_fields = ["profile", *WEB_PASSWORDS]
    change_list_template = "admin/devices/device/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        devices = super().get_queryset(request).defer("last_config")
        return status.annotate_status(devices, _intervals(request))  # in the list's one query

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[Device]:
        columns = super().get_list_display(request)
        if is_provider(request.user):
            return columns
        return [column for column in columns if column != "organisation_column"]  # they have one

    @admin.display(description=_("MAC"), ordering="mac")
    def mac_address(self, obj: Device) -> str:
        return format_mac(obj.mac)

    @admin.display(description=_("label"), ordering="label")
    def label_column(self, obj: Device) -> str:
        return compact(obj.label, "")

    @admin.display(description=_("organisation"), ordering="organisation__name")
    def organisation_column(self, obj: Device) -> str:
        return compact(obj.organisation.name)

    @admin.display(description=_("model"), ordering="model")
    def model_column(self, obj: Device) -> str:
        reported = parse_user_agent(obj.last_user_agent).model if obj.last_user_agent else ""
        if not reported or reported == obj.model:
            return obj.model
        return format_html(
            "{} {}",
            obj.model,
            badge(
                "warning",
                "≠",
                gettext("The phone says it is a %(model)s.") % {"model": reported},
            ),
        )

    @admin.display(description=_("status"), ordering=status.ANNOTATION)
    def status_badge(self, obj: Device) -> str:
        value = getattr(obj, status.ANNOTATION)
        return badge(value, status.LABELS[value])

    @admin.display(description=_("last seen"), ordering="last_seen_at")
    def last_seen(self, obj: Device) -> str:
        if obj.last_seen_at is None:
            return gettext("never")
        exact = f"{timezone.localtime(obj.last_seen_at):%Y-%m-%d %H:%M:%S %Z}"
        return format_html('<time title="{}">{}</time>', exact, ago(obj.last_seen_at))

    @admin.display(description=_("firmware"), ordering="last_firmware")
    def firmware(self, obj: Device) -> str:
        return compact(obj.last_firmware)

    @admin.display(description=_("address"), ordering="last_seen_ip")
    def address(self, obj: Device) -> str:
        return compact(obj.last_seen_ip or "")

    @admin.display(description=_("what the model has"))
    def model_limits(self, obj: Device) -> str:
        return key_limits(obj.phone_model) if obj.model else gettext("Choose a model and save.")

    @admin.display(description=_("configuration"))
    def config_preview(self, obj: Device) -> str:
        if obj._state.adding:
            return "—"
        url = reverse("admin:devices_device_config", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Preview what the phone gets"))

    @admin.display(description=_("its own"))
    def provisioning_credentials(self, obj: Device) -> str:
        if obj._state.adding:
            return gettext("Made when you save: the MAC as user name, a random password.")
        url = reverse("admin:devices_device_config", args=[obj.pk]) + "?reveal=1"
        previous = obj.previous_password()
        state = (
            gettext(
                "; the previous one is accepted until %(date)s or until the phone has used the "
                "new one"
            )
            % {"date": f"{obj.previous_password_valid_until:%Y-%m-%d}"}
            if previous
            else ""
        )
        used = (
            gettext("first used %(time)s")
            % {"time": f"{obj.own_credentials_used_at:%Y-%m-%d %H:%M}"}
            if obj.own_credentials_used_at
            else gettext("not used yet: the phone still has its organisation's")
        )
        return format_html(
            gettext(
                'User name <code>{user}</code>, a random password (<a href="{url}">reveal it in '
                "the preview</a>, recorded){state}. {used}."
            ),
            user=obj.provisioning_username,
            url=url,
            state=state,
            used=used,
        )

    @admin.action(description=_("Give selected phones new provisioning passwords"))
    def rotate_provisioning_passwords(
        self, request: HttpRequest, queryset: QuerySet[Device]
    ) -> None:
        count = 0
        for device in queryset.select_related("organisation"):
            device.rotate_provisioning_password()
            device.save()
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d phone has a new provisioning password. It keeps its old one until it "
                "has used the new one (from its next MAC file) or its organisation's grace "
                "period ends. Run 'Sync with RPS' so that a phone reset to factory settings gets "
                "the new one from RPS.",
                "%(count)d phones have new provisioning passwords. Each keeps its old one until "
                "it has used the new one (from its next MAC file) or its organisation's grace "
                "period ends. Run 'Sync with RPS' so that a phone reset to factory settings gets "
                "the new one from RPS.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Device], search_term: str
    ) -> tuple[QuerySet[Device], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results | search_with_mac(queryset, search_term), may_have_duplicates

    def get_form(
        self, request: HttpRequest, obj: Device | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Device]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        if is_provider(request.user):
            return form

        class StaffDeviceForm(form):  # type: ignore[valid-type, misc]  # a class made at run time
            # The provider's override lines are neither shown to staff nor lost when they
            # save theirs: they may hold a web password. Of the other lines, secrets show
            # masked (the provider may have written them) and keep their value when saved.
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                theirs, self.provider_lines = split_provider_lines(self.instance.raw_overrides)
                self.stored_lines = theirs
                self.initial["raw_overrides"] = mask_override_lines(theirs)

            def clean_mac(self) -> str:
                text: str = self.cleaned_data.get("mac", "")
                staff_mac_check(request, self.instance, text)
                return text

            def clean_raw_overrides(self) -> str:
                typed: str = self.cleaned_data.get("raw_overrides", "")
                text = unmask_override_lines(typed, self.stored_lines)
                reserved = provider_only_keys(text)
                if reserved:
                    raise forms.ValidationError(
                        gettext("Only your provider may set these keys: %(keys)s"),
                        params={"keys": ", ".join(reserved)},
                        code="provider_only",
                    )
                return "\n".join(part for part in (text, self.provider_lines) if part)

        return StaffDeviceForm

    def save_model(self, request: HttpRequest, obj: Device, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warn_about_unknown_keys(request, obj.raw_overrides)
        if not is_yealink_oui(obj.mac):
            self.message_user(
                request,
                gettext(
                    "%(mac)s does not start with a known Yealink prefix; check the MAC on the "
                    "phone's label."
                )
                % {"mac": format_mac(obj.mac)},
                level=messages.WARNING,
            )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="devices_device_import"),
            path("export/", view(self.export_view), name="devices_device_export"),
            path("<path:object_id>/config/", view(self.config_view), name="devices_device_config"),
            *super().get_urls(),
        ]

    # --- configuration preview ---------------------------------------------------------

    def config_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        device = self.get_object(request, object_id)  # another organisation's: 404
        if not self.has_view_permission(request, device):
            raise PermissionDenied
        reveal = request.GET.get("reveal") == "1" and self.has_change_permission(request, device)
        if reveal:
            self.log_change(request, device, "Revealed the passwords in the config preview.")
        # Organisation staff see their SIP passwords, never a secret or value of the provider's.
        shown = preview(device, provider=is_provider(request.user), reveal=reveal)
        diff = (
            _diff(
                mask_secrets(device.last_config, shown.audience, shown.mac_config),
                shown.mac_file,
            )
            if device.last_config
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": device,
            "title": gettext("Configuration of %(phone)s") % {"phone": device},
            "common_name": shown.common_name,
            "common": shown.common_file,
            "mac_file": shown.mac_file,
            "mac_lines": labelled(shown.lines(shown.mac_shown, shown.mac_file)),
            "common_lines": labelled(shown.lines(shown.common, shown.common_file)),
            "layers": [(layer_names(name), meaning) for name, meaning in LAYER_ORDER],
            "reveal": reveal,
            "can_reveal": self.has_change_permission(request, device),
            "diff": diff,
            "diff_lines": diff_lines(diff or ""),
        }
        return TemplateResponse(request, "admin/devices/device/config_preview.html", context)

    # --- CSV --------------------------------------------------------------------------------

    @admin.action(description=_("Export selected phones as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Device]) -> HttpResponse:
        return _csv_response(queryset)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _csv_response(self.get_queryset(request))

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import phones"),
        }
        if request.method != "POST":
            return TemplateResponse(request, "admin/devices/device/import.html", context)
        organisation = staff_organisation(request.user)
        try:
            text = self._uploaded_text(request)
            plan = csv_io.plan_import(text, organisation, self._organisations(request))
        except CsvFileError as exc:  # not a file of rows at all: empty, not UTF-8, ...
            context["file_error"] = str(exc)
            return TemplateResponse(request, "admin/devices/device/import.html", context)
        if organisation is not None and plan.foreign_macs:
            foreign_macs.record(
                request,
                organisation,
                plan.foreign_macs,
                ForeignMacAttempt.Source.IMPORT,
                refused_whole=bool(plan.refusal),
            )
        if "confirm" in request.POST and not plan.errors and not plan.refusal:
            rows = text.count("\n")  # at most the file's rows: a header and one per line
            if rows >= settings.JOBS_IMPORT_ROWS:  # a large file: the worker writes it
                assert isinstance(request.user, User)  # the admin's user, logged in
                job = tasks.queue_import(request.user, organisation, text, rows)
                self.message_user(request, gettext("The import has started; this page follows it."))
                return HttpResponseRedirect(job.get_absolute_url())
            csv_io.apply(plan)
            self.message_user(
                request, gettext("Imported. %(summary)s") % {"summary": plan.summary(done=True)}
            )
            return HttpResponseRedirect(reverse("admin:devices_device_changelist"))
        context.update(plan=plan, token=sign_upload(text, CSV_SALT))
        return TemplateResponse(request, "admin/devices/device/import.html", context)

    def _uploaded_text(self, request: HttpRequest) -> str:
        if "token" in request.POST:
            return unsign_upload(request.POST["token"], CSV_SALT)
        upload = request.FILES.get("file")
        if upload is None:
            raise CsvFileError(gettext("Choose a CSV file to import."))
        return decode_upload(upload)

    def _organisations(self, request: HttpRequest) -> Iterable[Organisation]:
        if not is_provider(request.user):
            return []
        return scope_queryset(Organisation.objects.all(), request.user)


def _intervals(request: HttpRequest) -> list[int]:
    """The repeat intervals in use, read once a request: the list, its counts and its filters
    each ask for the queryset."""
    intervals: list[int] | None = getattr(request, "_phone_intervals", None)
    if intervals is None:
        intervals = status.intervals_in_use()
        request._phone_intervals = intervals  # type: ignore[attr-defined]
    return intervals


def staff_mac_check(request: HttpRequest, device: Device, text: str) -> None:
    """The MAC organisation staff give a phone in the form: one of theirs already, one that
    cannot be added (another organisation's: recorded, and said in the same words as in the
    import), or none while adding phones is paused for them. The unique check's own message
    would say that some organisation has it."""
    try:
        mac = normalise_mac(text)
    except InvalidMac:
        return  # the field's own check says what is wrong with it
    organisation = staff_organisation(request.user)
    if organisation is None or mac == device.mac:
        return
    owner = Device.objects.filter(mac=mac).values_list("organisation_id", flat=True).first()
    foreign_macs.refuse_taken(
        organisation,
        mac,
        owner,
        lambda: foreign_macs.record(request, organisation, [mac], ForeignMacAttempt.Source.FORM),
    )


def _csv_response(queryset: QuerySet[Device]) -> HttpResponse:
    devices = (
        queryset.select_related("organisation").prefetch_related("sip_accounts").order_by("mac")
    )
    response = HttpResponse(csv_io.export(devices), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="phones.csv"'
    return response


# The layers of devices.config by the names the preview shows, in the reader's language.
LAYER_NAMES = {
    "default": pgettext_lazy("config layer", "default"),
    "organisation": pgettext_lazy("config layer", "organisation"),
    "phone": pgettext_lazy("config layer", "phone"),
    "account": pgettext_lazy("config layer", "account"),
    "organisation override": pgettext_lazy("config layer", "organisation override"),
    "phone override": pgettext_lazy("config layer", "phone override"),
    "firmware target": pgettext_lazy("config layer", "firmware target"),
    "phone's own credentials": pgettext_lazy("config layer", "phone's own credentials"),
    "phonebooks": pgettext_lazy("config layer", "phonebooks"),
    "media_assets": pgettext_lazy("config layer", "media_assets"),
}
# A layer named after a profile, model or key profile: the name follows (longest first).
NAMED_LAYERS = [
    ("phone's profile ", pgettext_lazy("config layer", "phone's profile %(name)s")),
    ("key profile ", pgettext_lazy("config layer", "key profile %(name)s")),
    ("profile ", pgettext_lazy("config layer", "profile %(name)s")),
    ("model ", pgettext_lazy("config layer", "model %(name)s")),
]


def layer_name(layer: str) -> str:
    """A layer's name in the reader's language; one of a contributor we do not know as is."""
    if layer in LAYER_NAMES:
        return str(LAYER_NAMES[layer])
    if layer.startswith("removed ") and layer.endswith(" override"):
        owner = layer.removeprefix("removed ").removesuffix(" override")
        return pgettext("config layer", "removed %(owner)s override") % {"owner": layer_name(owner)}
    for prefix, text in NAMED_LAYERS:
        if layer.startswith(prefix):
            return str(text) % {"name": layer.removeprefix(prefix)}
    return layer


def layer_names(names: str) -> str:
    """The legend's names of a layer, several separated by commas."""
    return ", ".join(layer_name(name) for name in names.split(", "))


def labelled(lines: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [(line, layer if layer is None else layer_name(layer)) for line, layer in lines]


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "last downloaded", "now", lineterm=""
    )
    return "\n".join(lines)


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """The diff's lines, each with its kind for the preview's colours: added, removed, header
    (the file names and @@ places) or context."""
    return [(_diff_kind(line), line) for line in diff.splitlines()]


def _diff_kind(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        return "header"
    return {"+": "added", "-": "removed"}.get(line[:1], "context")


@admin.display(description=_("phones (never / stale / failing)"))
def phone_counts(obj: Organisation) -> str:
    """A column of the organisation list: the counts `status.annotate_phone_counts` adds."""
    total, never, stale, failing = (
        int(getattr(obj, f"{name}_count")) for name in ("phone", "never", "stale", "failing")
    )
    return f"{total} ({never} / {stale} / {failing})"


class ProfileKeyInline(ScopedInline, admin.TabularInline[ProfileKey, KeyProfile]):
    model = ProfileKey
    formset = KeyFormSet
    fields = KEY_FIELDS
    extra = 0
    Media = KeyMedia


@admin.register(KeyProfile)
class KeyProfileAdmin(ScopedModelAdmin[KeyProfile]):
    list_display = ["name", "organisation", "key_count", "phone_count"]
    list_filter = ["organisation"]
    search_fields = ["name", "organisation__name"]
    autocomplete_fields = ["organisation"]
    inlines = [ProfileKeyInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[KeyProfile]:
        counted: QuerySet[KeyProfile] = (
            super()
            .get_queryset(request)
            .select_related("organisation")
            .annotate(
                key_total=Count("keys", distinct=True), phone_total=Count("devices", distinct=True)
            )
        )
        return counted

    @admin.display(description=_("keys"), ordering="key_total")
    def key_count(self, obj: Any) -> int:
        return int(obj.key_total)

    @admin.display(description=_("phones"), ordering="phone_total")
    def phone_count(self, obj: Any) -> int:
        return int(obj.phone_total)


@admin.register(SipAccount)
class SipAccountAdmin(KeptSecretsMixin, ScopedModelAdmin[SipAccount]):
    kept_secrets = ("password",)
    fieldsets = [(None, {"fields": ["device"]}), *ACCOUNT_FIELDSETS]
    list_display = ["user_name", "index", "label", "display_name", "device", "is_enabled"]
    list_filter = ["is_enabled", "device__organisation"]
    list_select_related = ["device", "device__organisation"]
    search_fields = ["user_name", "label", "display_name", "auth_name"]
    autocomplete_fields = ["device"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[SipAccount], search_term: str
    ) -> tuple[QuerySet[SipAccount], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results | search_with_mac(queryset, search_term, "device__mac"), may_have_duplicates


class EstimatedCountPaginator(Paginator[AccessLog]):
    """Counting millions of access-log rows on every page view costs seconds: count at most
    COUNT_LIMIT rows (an index-only scan), and on PostgreSQL use the planner's estimate for
    the whole table."""

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        assert isinstance(queryset, QuerySet)  # the access-log list's
        if not queryset.query.where and connection.vendor == "postgresql":
            estimate = _table_estimate(queryset.model._meta.db_table)
            if estimate > self.COUNT_LIMIT:
                return estimate
        return queryset.order_by()[: self.COUNT_LIMIT + 1].count()


def _table_estimate(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] and row[0] > 0 else 0


class AccessLogChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # With a capped count, "Show all" would try to list millions of rows.
        self.can_show_all = self.can_show_all and self.result_count <= self.list_max_show_all


@admin.register(UnassignedPhone)
class UnassignedPhoneAdmin(ScopedModelAdmin[UnassignedPhone]):
    """Phones that sent their organisation's valid credentials but are not among its phones:
    they got 404 (no password prompt). Staff add one with one click."""

    list_display = [
        "mac_address",
        "organisation",
        "model",
        "firmware",
        "ip",
        "first_seen_at",
        "last_seen_at",
        "requests",
        "add_link",
    ]
    list_filter = ["organisation"]
    list_select_related = ["organisation"]
    search_fields = ["mac"]
    readonly_fields = [field.name for field in UnassignedPhone._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[UnassignedPhone]:
        # A MAC the organisation added since (in bulk, which saves no model) is assigned now.
        # Only its own: a row leaving the list as another organisation adds the MAC would
        # tell staff that someone has it ("Add this phone" says only that it cannot be added).
        added = Device.objects.filter(mac=OuterRef("mac"), organisation=OuterRef("organisation"))
        return super().get_queryset(request).exclude(Exists(added))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # phones put themselves here

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("MAC"), ordering="mac")
    def mac_address(self, obj: UnassignedPhone) -> str:
        return format_mac(obj.mac)

    @admin.display(description="")
    def add_link(self, obj: UnassignedPhone) -> str:
        initial: dict[str, str | int] = {
            "mac": format_mac(obj.mac),
            "organisation": obj.organisation_id,
        }
        if get_model(obj.model) is not None:
            initial["model"] = obj.model
        url = reverse("admin:devices_device_add") + "?" + urlencode(initial)
        return format_html('<a class="button" href="{}">{}</a>', url, gettext("Add this phone"))


@admin.register(AccessLog)
class AccessLogAdmin(ScopedModelAdmin[AccessLog]):
    list_display = [
        "created_at",
        "outcome",
        "status_code",
        "mac_address",
        "organisation",
        "ip",
        "path",
        "user_agent",
    ]
    list_filter = ["outcome", "organisation", "created_at"]
    list_select_related = ["organisation"]
    search_fields = ["mac"]  # shows the search box; get_search_results does the work
    search_help_text = _("A MAC in any notation (or part of one), or an IP address.")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AccessLogChangeList

    @admin.display(description=_("MAC"), ordering="mac")
    def mac_address(self, obj: AccessLog) -> str:
        return format_mac(obj.mac) if len(obj.mac) == 12 else obj.mac

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccessLog], search_term: str
    ) -> tuple[QuerySet[AccessLog], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(ip=str(ipaddress.ip_address(term))), False
        except ValueError:
            pass
        fragment = mac_search_fragment(term)
        if fragment is None:
            return queryset.none(), False
        if len(fragment) == 12:
            return queryset.filter(mac=fragment), False
        return queryset.filter(mac__contains=fragment), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessLog | None = None) -> bool:
        return False


@admin.register(ForeignMacAttempt)
class ForeignMacAttemptAdmin(ScopedModelAdmin[ForeignMacAttempt]):
    """The provider's, read-only: organisation staff who tried to add MACs that another
    organisation has (they were told only that the MACs cannot be added)."""

    list_display = [
        "created_at",
        "organisation",
        "username",
        "ip",
        "source",
        "mac_count",
        "refused_whole",
    ]
    list_filter = ["source", "refused_whole", "organisation", "created_at"]
    list_select_related = ["organisation"]
    search_fields = ["username", "organisation__name"]
    search_help_text = _("A MAC in any notation (or part of one), a user name or an organisation.")
    readonly_fields = [
        "created_at",
        "organisation",
        "username",
        "user",
        "ip",
        "source",
        "refused_whole",
        "mac_count",
        "registered_to",
    ]
    fields = tuple(readonly_fields)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ForeignMacAttempt], search_term: str
    ) -> tuple[QuerySet[ForeignMacAttempt], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results | search_with_mac(queryset, search_term, "macs"), may_have_duplicates

    @admin.display(description=_("the MACs, and who has them now"))
    def registered_to(self, obj: ForeignMacAttempt) -> str:
        macs = obj.macs.split()
        owners = dict(Device.objects.filter(mac__in=macs).values_list("mac", "organisation__name"))
        return format_html_join(
            "\n",
            "<div><code>{}</code> {}</div>",
            ((format_mac(mac), owners.get(mac, gettext("(no phone now)"))) for mac in macs),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
