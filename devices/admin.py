from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from devices import csv_io, status
from devices.config import (
    PROVIDER_SECRETS,
    mask_secrets,
    render_common_config,
    render_device_config,
)
from devices.mac import format_mac, is_yealink_oui, mac_search_fragment, parse_user_agent
from devices.models import AccessLog, Device, SipAccount
from organisations.admin import (
    ScopedInline,
    ScopedModelAdmin,
    WidgetsMixin,
    overrides_widget,
    password_widget,
    warn_about_unknown_keys,
)
from organisations.config_syntax import provider_only_keys
from organisations.csv_files import CsvFileError, decode, sign_upload, unsign_upload
from organisations.models import Organisation
from organisations.scoping import is_provider, scope_queryset, staff_organisation

M = TypeVar("M", bound=Model)


def search_with_mac(queryset: QuerySet[M], search_term: str, field: str = "mac") -> QuerySet[M]:
    """Extra rows for a term that is (part of) a MAC in any notation."""
    fragment = mac_search_fragment(search_term)
    if fragment is None:
        return queryset.none()
    return queryset.filter(Q(**{f"{field}__contains": fragment}))


class SipAccountInline(ScopedInline, WidgetsMixin, admin.StackedInline[SipAccount, Device]):
    model = SipAccount
    widgets = {"password": password_widget()}
    extra = 0
    fields = [
        ("index", "is_enabled"),
        ("label", "display_name"),
        ("user_name", "auth_name", "password"),
        ("server_host", "server_port", "server_transport"),
    ]


class PhoneStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [
            ("never", "never provisioned"),
            ("stale", "stale (no request for twice the interval)"),
            ("failing", "failing (recent wrong credentials)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        conditions: dict[str | None, Callable[[], Q]] = {
            "never": lambda: status.NEVER_PROVISIONED,
            "stale": status.stale,
            "failing": status.failing,
        }
        condition = conditions.get(self.value())
        return queryset if condition is None else queryset.filter(condition())


CSV_SALT = "devices.csv-import"


class DeviceAdmin(WidgetsMixin, ScopedModelAdmin[Device]):
    widgets = {"raw_overrides": overrides_widget(4)}
    inlines = [SipAccountInline]
    list_display = [
        "mac_address",
        "label",
        "organisation",
        "model",
        "is_active",
        "last_seen_at",
        "last_firmware",
        "reported_model",
        "last_seen_ip",
    ]
    list_filter = [PhoneStatusFilter, "is_active", "model", "organisation"]
    list_select_related = ["organisation"]
    search_fields = ["label", "organisation__name"]
    search_help_text = "A MAC in any notation (or part of one), a label or an organisation."
    autocomplete_fields = ["organisation"]
    actions = ["export_csv"]
    readonly_fields = [
        "config_preview",
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
        ("Overrides", {"fields": ["raw_overrides"], "classes": ["collapse"]}),
        (
            "Last successful request",
            {"fields": ["last_seen_at", "last_seen_ip", "last_user_agent", "last_firmware"]},
        ),
    ]
    change_list_template = "admin/devices/device/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        return super().get_queryset(request).defer("last_config")

    @admin.display(description="MAC", ordering="mac")
    def mac_address(self, obj: Device) -> str:
        return format_mac(obj.mac)

    @admin.display(description="model reported")
    def reported_model(self, obj: Device) -> str:
        return parse_user_agent(obj.last_user_agent).model if obj.last_user_agent else "—"

    @admin.display(description="configuration")
    def config_preview(self, obj: Device) -> str:
        if obj._state.adding:
            return "—"
        url = reverse("admin:devices_device_config", args=[obj.pk])
        return format_html('<a href="{}">Preview what the phone gets</a>', url)

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
            def clean_raw_overrides(self) -> str:
                text: str = self.cleaned_data.get("raw_overrides", "")
                reserved = provider_only_keys(text)
                if reserved:
                    raise forms.ValidationError(
                        "Only your provider may set these keys: %(keys)s",
                        params={"keys": ", ".join(reserved)},
                        code="provider_only",
                    )
                return text

        return StaffDeviceForm

    def save_model(self, request: HttpRequest, obj: Device, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warn_about_unknown_keys(request, obj.raw_overrides)
        if not is_yealink_oui(obj.mac):
            self.message_user(
                request,
                f"{format_mac(obj.mac)} does not start with a known Yealink prefix; "
                "check the MAC on the phone's label.",
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
        model = device.phone_model
        common = render_common_config(device.organisation, model.code if model else None)
        mac_file = render_device_config(device)
        if reveal:
            self.log_change(request, device, "Revealed the passwords in the config preview.")
        shown: Callable[[str], str]
        if not reveal:
            shown = mask_secrets
        elif is_provider(request.user):
            shown = str
        else:  # organisation staff see their SIP passwords, never the organisation's secrets
            shown = partial(mask_secrets, only=PROVIDER_SECRETS)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": device,
            "title": f"Configuration of {device}",
            "common_name": model.common_file if model else "y000000000000.cfg",
            "common": shown(common),
            "mac_file": shown(mac_file),
            "reveal": reveal,
            "can_reveal": self.has_change_permission(request, device),
            "diff": _diff(shown(device.last_config), shown(mac_file))
            if device.last_config
            else None,
        }
        return TemplateResponse(request, "admin/devices/device/config_preview.html", context)

    # --- CSV --------------------------------------------------------------------------------

    @admin.action(description="Export selected phones as CSV")
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
            "title": "Import phones",
        }
        if request.method != "POST":
            return TemplateResponse(request, "admin/devices/device/import.html", context)
        try:
            text = self._uploaded_text(request)
        except CsvFileError as exc:
            context["file_error"] = str(exc)
            return TemplateResponse(request, "admin/devices/device/import.html", context)
        plan = csv_io.plan_import(
            text, staff_organisation(request.user), self._organisations(request)
        )
        if "confirm" in request.POST and not plan.errors:
            csv_io.apply(plan)
            self.message_user(
                request,
                f"Imported: {plan.count('create')} created, {plan.count('update')} updated, "
                f"{plan.count('unchanged')} unchanged.",
            )
            return HttpResponseRedirect(reverse("admin:devices_device_changelist"))
        context.update(plan=plan, token=sign_upload(text, CSV_SALT))
        return TemplateResponse(request, "admin/devices/device/import.html", context)

    def _uploaded_text(self, request: HttpRequest) -> str:
        if "token" in request.POST:
            return unsign_upload(request.POST["token"], CSV_SALT)
        upload = request.FILES.get("file")
        if upload is None:
            raise CsvFileError("Choose a CSV file to import.")
        return decode(upload.read())

    def _organisations(self, request: HttpRequest) -> Iterable[Organisation]:
        if not is_provider(request.user):
            return []
        return scope_queryset(Organisation.objects.all(), request.user)


def _csv_response(queryset: QuerySet[Device]) -> HttpResponse:
    devices = (
        queryset.select_related("organisation").prefetch_related("sip_accounts").order_by("mac")
    )
    response = HttpResponse(csv_io.export(devices), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="phones.csv"'
    return response


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "last downloaded", "now", lineterm=""
    )
    return "\n".join(lines)


@admin.display(description="phones (never / stale / failing)")
def phone_counts(obj: Organisation) -> str:
    """A column of the organisation list: the counts `status.annotate_phone_counts` adds."""
    total, never, stale, failing = (
        int(getattr(obj, f"{name}_count")) for name in ("phone", "never", "stale", "failing")
    )
    return f"{total} ({never} / {stale} / {failing})"


@admin.register(SipAccount)
class SipAccountAdmin(WidgetsMixin, ScopedModelAdmin[SipAccount]):
    widgets = {"password": password_widget()}
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
    search_help_text = "A MAC in any notation (or part of one), or an IP address."
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AccessLogChangeList

    @admin.display(description="MAC", ordering="mac")
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
