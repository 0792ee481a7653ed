from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count
from django.http import HttpRequest

from devices.admin import search_with_mac
from devices.mac import format_mac
from devices.models import Device
from organisations.admin import ScopedInline, ScopedModelAdmin
from organisations.models import Organisation
from organisations.scoping import is_provider
from rps.client import RpsConfigError, client_from_settings
from rps.models import RpsDeviceState, RpsServerState
from rps.sync import RpsSync

Status = RpsDeviceState.Status
MESSAGE_LINES = 10


def rps_state_label(device: Device) -> str:
    """What RPS has for the phone, in words; from the phone and its state row only."""
    try:
        state = device.rps_state
    except ObjectDoesNotExist:
        state = None
    wanted = device.is_active and device.organisation.is_active
    if state is None or state.status == Status.REMOVED:
        return "Pending (not synced yet)" if wanted else "Not in RPS"
    if state.status == Status.REGISTERED:
        if not wanted:
            return "Registered, removal pending"
        if state.organisation_id != device.organisation_id:
            return "Registered, move pending"
        return "Registered"
    if state.status == Status.OWNED_BY_OTHER:
        return "Owned by another RPS customer"
    label = state.get_status_display()
    return f"{label}: {state.last_error}" if state.last_error else label


@admin.display(description="RPS")
def rps_state_column(device: Device) -> str:
    return rps_state_label(device)


def _run_sync(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    organisations: Iterable[Organisation],
    macs: set[str] | None = None,
) -> None:
    try:
        client = client_from_settings()
    except RpsConfigError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    summary = RpsSync(client, macs=macs).run(list(organisations))
    level = messages.SUCCESS if summary.ok else messages.ERROR
    modeladmin.message_user(request, summary.headline(), level)
    for line in summary.problem_lines(summary.errors, limit=MESSAGE_LINES):
        modeladmin.message_user(request, line, messages.ERROR)
    for line in summary.problem_lines(summary.notices, limit=MESSAGE_LINES):
        modeladmin.message_user(request, line, messages.WARNING)


@admin.action(description="Sync with RPS", permissions=["change"])
def sync_organisations_with_rps(modeladmin, request: HttpRequest, queryset) -> None:
    _run_sync(modeladmin, request, queryset)


@admin.action(
    description="Sync with RPS (re-checks phones owned by others)", permissions=["change"]
)
def sync_devices_with_rps(modeladmin, request: HttpRequest, queryset) -> None:
    devices = list(queryset.select_related("organisation"))
    organisations = {device.organisation_id: device.organisation for device in devices}
    _run_sync(modeladmin, request, organisations.values(), {device.mac for device in devices})


@admin.action(description="Sync with RPS", permissions=["view"])
def sync_states_with_rps(modeladmin, request: HttpRequest, queryset) -> None:
    if not request.user.has_perm("devices.change_device"):
        modeladmin.message_user(
            request, "Syncing needs the right to change phones.", messages.ERROR
        )
        return
    states = list(queryset.select_related("organisation", "device__organisation"))
    organisations = {s.device.organisation_id: s.device.organisation for s in states if s.device}
    if is_provider(request.user):  # staff sync their own organisation only
        organisations.update({s.organisation_id: s.organisation for s in states if s.organisation})
    _run_sync(modeladmin, request, organisations.values(), {state.mac for state in states})


class ReadOnlyAdmin(ScopedModelAdmin):
    """Only the sync writes these rows; deleting one makes the next sync look again."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RpsServerState)
class RpsServerStateAdmin(ReadOnlyAdmin):
    list_display = [
        "server_name",
        "organisation",
        "rps_id",
        "pushed_at",
        "last_attempt_at",
        "last_error",
    ]
    list_filter = ["organisation"]
    list_select_related = ["organisation"]
    search_fields = ["server_name", "organisation__name", "organisation__slug", "rps_id"]
    # The fingerprint is a keyed hash, but there is nothing an admin could learn from it.
    exclude = ["fingerprint"]


@admin.register(RpsDeviceState)
class RpsDeviceStateAdmin(ReadOnlyAdmin):
    list_display = [
        "mac_address",
        "device",
        "organisation",
        "status",
        "pushed_at",
        "last_attempt_at",
        "last_error",
    ]
    list_filter = ["status", "organisation"]
    list_select_related = ["device", "organisation"]
    search_fields = ["mac"]  # shows the box; get_search_results matches any MAC notation
    search_help_text = "A MAC in any notation, or part of one."
    actions = [sync_states_with_rps]
    exclude = ["fingerprint"]

    @admin.display(description="MAC", ordering="mac")
    def mac_address(self, obj: RpsDeviceState) -> str:
        return format_mac(obj.mac)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        if not search_term.strip():
            return queryset, False
        return search_with_mac(queryset, search_term), False


class RpsDeviceStateInline(ScopedInline, admin.TabularInline):
    model = RpsDeviceState
    fk_name = "device"
    verbose_name = verbose_name_plural = "Yealink RPS"
    template = "admin/rps/device_state_inline.html"
    fields = [
        "status",
        "organisation",
        "server_rps_id",
        "rps_id",
        "pushed_at",
        "last_attempt_at",
        "last_error",
    ]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj=None):
        if is_provider(request.user):
            return self.fields
        # Where the phone was registered before it came here is another organisation's.
        return [name for name in self.fields if name not in ("organisation", "server_rps_id")]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.get_fields(request, obj)


class RpsServerStateInline(ScopedInline, admin.StackedInline):
    """The organisation's RPS server and how its phones stand there, on its page."""

    model = RpsServerState
    fk_name = "organisation"
    verbose_name = verbose_name_plural = "Yealink RPS"
    fields = ["server_name", "rps_id", "phones", "pushed_at", "last_attempt_at", "last_error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="phones")
    def phones(self, obj: RpsServerState) -> str:
        counts = dict(
            RpsDeviceState.objects.filter(device__organisation=obj.organisation_id)
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        return ", ".join(f"{counts.get(s, 0)} {label.lower()}" for s, label in Status.choices)
