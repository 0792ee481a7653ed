from __future__ import annotations

import ipaddress

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest

from devices.mac import format_mac, is_yealink_oui, mac_search_fragment
from devices.models import AccessLog, Device, SipAccount
from organisations.admin import (
    WidgetsMixin,
    overrides_widget,
    password_widget,
    warn_about_unknown_keys,
)


def search_with_mac(queryset, search_term: str, field: str = "mac"):
    """Extra rows for a term that is (part of) a MAC in any notation."""
    fragment = mac_search_fragment(search_term)
    if fragment is None:
        return queryset.none()
    return queryset.filter(Q(**{f"{field}__contains": fragment}))


class SipAccountInline(WidgetsMixin, admin.StackedInline):
    model = SipAccount
    widgets = {"password": password_widget()}
    extra = 0
    fields = [
        ("index", "is_enabled"),
        ("label", "display_name"),
        ("user_name", "auth_name", "password"),
        ("server_host", "server_port", "server_transport"),
    ]


def register_device_inline(inline: type[admin.options.InlineModelAdmin]) -> None:
    """Other apps add their inlines to the device page without this app importing them
    (call it from the other app's admin.py)."""
    if inline not in DeviceAdmin.inlines:
        DeviceAdmin.inlines = [*DeviceAdmin.inlines, inline]


def register_device_action(action) -> None:
    """Other apps add admin actions to the device list without this app importing them."""
    if action not in (DeviceAdmin.actions or []):
        DeviceAdmin.actions = [*(DeviceAdmin.actions or []), action]


@admin.register(Device)
class DeviceAdmin(WidgetsMixin, admin.ModelAdmin):
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
        "last_seen_ip",
    ]
    list_filter = ["is_active", "model", "organisation"]
    list_select_related = ["organisation"]
    search_fields = ["label", "organisation__name"]
    autocomplete_fields = ["organisation"]
    readonly_fields = [
        "last_seen_at",
        "last_seen_ip",
        "last_user_agent",
        "last_firmware",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["organisation", "mac", "model", "label", "is_active"]}),
        ("Overrides", {"fields": ["raw_overrides"], "classes": ["collapse"]}),
        (
            "Last successful request",
            {"fields": ["last_seen_at", "last_seen_ip", "last_user_agent", "last_firmware"]},
        ),
    ]

    @admin.display(description="MAC", ordering="mac")
    def mac_address(self, obj: Device) -> str:
        return format_mac(obj.mac)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results | search_with_mac(queryset, search_term), may_have_duplicates

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        warn_about_unknown_keys(request, obj.raw_overrides)
        if not is_yealink_oui(obj.mac):
            self.message_user(
                request,
                f"{format_mac(obj.mac)} does not start with a known Yealink prefix; "
                "check the MAC on the phone's label.",
                level="warning",
            )


@admin.register(SipAccount)
class SipAccountAdmin(WidgetsMixin, admin.ModelAdmin):
    widgets = {"password": password_widget()}
    list_display = ["user_name", "index", "label", "display_name", "device", "is_enabled"]
    list_filter = ["is_enabled", "device__organisation"]
    list_select_related = ["device", "device__organisation"]
    search_fields = ["user_name", "label", "display_name", "auth_name"]
    raw_id_fields = ["device"]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results | search_with_mac(queryset, search_term, "device__mac"), may_have_duplicates


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
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

    @admin.display(description="MAC", ordering="mac")
    def mac_address(self, obj: AccessLog) -> str:
        return format_mac(obj.mac) if len(obj.mac) == 12 else obj.mac

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
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

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
