from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from devices.admin import badge, search_with_mac
from devices.mac import format_mac
from devices.models import Device
from organisations.admin import ScopedInline, ScopedModelAdmin
from organisations.models import Organisation
from organisations.scoping import is_provider
from rps import wording
from rps.models import RpsDeviceState, RpsServerState
from rps.tasks import queue_sync

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _ListDisplayT

logger = logging.getLogger("rps")
M = TypeVar("M", bound=Model)
T = TypeVar("T")
Status = RpsDeviceState.Status
# Where the phone was registered before it came to the staff's organisation is another
# organisation's; what RPS said is the provider's.
PROVIDER_ONLY_FIELDS = ("organisation", "server_rps_id", "last_error_detail")


# What RPS has for a phone: (badge kind, badge text, the whole label on hover). A state with
# what its last attempt said (pending, failed) is not here: `_state` words it.
STATES = {
    "unsynced": ("pending", _("Pending"), _("Pending (not synced yet)")),
    "absent": ("none", _("Not in RPS"), _("Not in RPS")),
    "removing": ("pending", _("Removing"), _("Registered, removal pending")),
    "moving": ("pending", _("Moving"), _("Registered, move pending")),
    Status.REGISTERED: ("ok", _("Registered"), _("Registered")),
    Status.OWNED_BY_OTHER: ("failing", _("Other owner"), Status.OWNED_BY_OTHER.label),
}


def _state(device: Device) -> tuple[str, str, str]:
    """(badge kind, badge text, label); from the phone and its state row only."""
    try:
        state = device.rps_state
    except ObjectDoesNotExist:
        state = None
    wanted = device.is_active and device.organisation.is_active
    if state is None or state.status == Status.REMOVED:
        return _shown("unsynced" if wanted else "absent")
    if state.status == Status.REGISTERED:
        if not wanted:
            return _shown("removing")
        if state.organisation_id != device.organisation_id:
            return _shown("moving")
        return _shown(Status.REGISTERED)
    if state.status == Status.OWNED_BY_OTHER:
        return _shown(Status.OWNED_BY_OTHER)
    label = state.get_status_display()
    if state.last_error:
        label = pgettext("RPS state", "%(status)s: %(error)s") % {
            "status": label,
            "error": wording.said(state.last_error),
        }
    if state.status == Status.FAILED:
        return "failing", gettext("Failed"), label
    return "pending", gettext("Pending"), label


def _shown(key: str) -> tuple[str, str, str]:
    kind, text, label = STATES[key]
    return kind, str(text), str(label)


def rps_state_label(device: Device) -> str:
    """What RPS has for the phone, in words."""
    return _state(device)[2]


@admin.display(description=_("RPS"))
def rps_state_column(device: Device) -> str:
    """A small badge (devices/phone_list.css); the list reads the state by select_related."""
    return badge(*_state(device))


def _run_sync(
    modeladmin: admin.ModelAdmin[M],
    request: HttpRequest,
    organisations: Iterable[Organisation],
    macs: set[str] | None = None,
) -> HttpResponse:
    """Queues the sync for the worker and shows its job's page at once: no call to RPS in
    the request. The page says how far it is, then how it went (staff in plain words)."""
    assert isinstance(request.user, User)  # the admin's user, logged in
    job = queue_sync(request.user, organisations, macs)
    modeladmin.message_user(
        request, gettext("The sync with RPS has started; this page follows it."), messages.INFO
    )
    return HttpResponseRedirect(job.get_absolute_url())


@admin.action(description=_("Sync with RPS"), permissions=["change"])
def sync_organisations_with_rps(
    modeladmin: admin.ModelAdmin[Organisation],
    request: HttpRequest,
    queryset: QuerySet[Organisation],
) -> HttpResponse:
    return _run_sync(modeladmin, request, queryset)


@admin.action(
    description=_("Sync with RPS (re-checks phones owned by others)"), permissions=["change"]
)
def sync_devices_with_rps(
    modeladmin: admin.ModelAdmin[Device], request: HttpRequest, queryset: QuerySet[Device]
) -> HttpResponse:
    devices = list(queryset.select_related("organisation"))
    organisations = {device.organisation_id: device.organisation for device in devices}
    return _run_sync(
        modeladmin, request, organisations.values(), {device.mac for device in devices}
    )


@admin.action(description=_("Sync with RPS"), permissions=["view"])
def sync_states_with_rps(
    modeladmin: admin.ModelAdmin[RpsDeviceState],
    request: HttpRequest,
    queryset: QuerySet[RpsDeviceState],
) -> HttpResponse | None:
    if not request.user.has_perm("devices.change_device"):
        modeladmin.message_user(
            request, gettext("Syncing needs the right to change phones."), messages.ERROR
        )
        return None
    states = list(queryset.select_related("organisation", "device__organisation"))
    organisations = {s.device.organisation_id: s.device.organisation for s in states if s.device}
    if is_provider(request.user):  # staff sync their own organisation only
        organisations.update({s.organisation.pk: s.organisation for s in states if s.organisation})
    return _run_sync(modeladmin, request, organisations.values(), {state.mac for state in states})


class ErrorColumn:
    """`last_error` as stored (plain words in English), in the reader's language."""

    @admin.display(description=_("last error"))
    def error(self, obj: RpsDeviceState | RpsServerState) -> str:
        return wording.said(obj.last_error)


class ReadOnlyAdmin(ErrorColumn, ScopedModelAdmin[M]):
    """Only the sync writes these rows; deleting one makes the next sync look again."""

    readonly_fields = ["error"]

    def has_add_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(RpsServerState)
class RpsServerStateAdmin(ReadOnlyAdmin[RpsServerState]):
    list_display = [
        "server_name",
        "organisation",
        "rps_id",
        "pushed_at",
        "last_attempt_at",
        "error",
    ]
    list_filter = ["organisation"]
    list_select_related = ["organisation"]
    search_fields = ["server_name", "organisation__name", "organisation__slug", "rps_id"]
    # The fingerprint is a keyed hash, but there is nothing an admin could learn from it.
    fields = [
        "organisation",
        "server_name",
        "rps_id",
        "pushed_at",
        "last_attempt_at",
        "error",
        "last_error_detail",
    ]


@admin.register(RpsDeviceState)
class RpsDeviceStateAdmin(ReadOnlyAdmin[RpsDeviceState]):
    list_display = [
        "mac_address",
        "device",
        "organisation",
        "status",
        "pushed_at",
        "last_attempt_at",
        "error",
    ]
    list_filter = ["status", "organisation"]
    list_select_related = ["device", "organisation"]
    search_fields = ["mac"]  # shows the box; get_search_results matches any MAC notation
    search_help_text = _("A MAC in any notation, or part of one.")
    actions = [sync_states_with_rps]
    fields = [  # not the fingerprint (see RpsServerStateAdmin)
        "mac",
        "device",
        "organisation",
        "server_rps_id",
        "rps_id",
        "status",
        "pushed_at",
        "last_attempt_at",
        "error",
        "last_error_detail",
    ]

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[RpsDeviceState]:
        shown = list(super().get_list_display(request))
        return shown if is_provider(request.user) else _for_staff(shown)

    def get_fields(self, request: HttpRequest, obj: RpsDeviceState | None = None) -> _FieldGroups:
        fields = list(super().get_fields(request, obj))
        return fields if is_provider(request.user) else _for_staff(fields)

    @admin.display(description=_("MAC"), ordering="mac")
    def mac_address(self, obj: RpsDeviceState) -> str:
        return format_mac(obj.mac)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RpsDeviceState], search_term: str
    ) -> tuple[QuerySet[RpsDeviceState], bool]:
        if not search_term.strip():
            return queryset, False
        return search_with_mac(queryset, search_term), False


# Tuples, so that one value serves as both `fields` and `readonly_fields` (the sync alone
# writes these rows).
DEVICE_STATE_FIELDS = (
    "status",
    "organisation",
    "server_rps_id",
    "rps_id",
    "pushed_at",
    "last_attempt_at",
    "error",
    "last_error_detail",
)
SERVER_STATE_FIELDS = (
    "server_name",
    "rps_id",
    "phones",
    "pushed_at",
    "last_attempt_at",
    "error",
    "last_error_detail",
)


class RpsDeviceStateInline(ErrorColumn, ScopedInline, admin.TabularInline[RpsDeviceState, Device]):
    model = RpsDeviceState
    fk_name = "device"
    verbose_name = verbose_name_plural = _("Yealink RPS")
    template = "admin/rps/device_state_inline.html"
    fields = readonly_fields = DEVICE_STATE_FIELDS
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Device | None = None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: Device | None = None) -> tuple[str, ...]:
        if is_provider(request.user):
            return DEVICE_STATE_FIELDS
        return tuple(_for_staff(list(DEVICE_STATE_FIELDS)))

    def get_readonly_fields(self, request: HttpRequest, obj: Device | None = None) -> list[str]:
        return list(self.get_fields(request, obj))


class RpsServerStateInline(
    ErrorColumn, ScopedInline, admin.StackedInline[RpsServerState, Organisation]
):
    """The organisation's RPS server and how its phones stand there, on its page."""

    model = RpsServerState
    fk_name = "organisation"
    verbose_name = verbose_name_plural = _("Yealink RPS")
    fields = readonly_fields = SERVER_STATE_FIELDS
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Organisation | None = None) -> bool:
        return False

    @admin.display(description=_("phones"))
    def phones(self, obj: RpsServerState) -> str:
        counts = dict(
            RpsDeviceState.objects.filter(device__organisation=obj.organisation_id)
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        return ", ".join(f"{counts.get(s, 0)} {label.lower()}" for s, label in Status.choices)


def _for_staff(names: list[T]) -> list[T]:
    return [name for name in names if name not in PROVIDER_ONLY_FIELDS]
