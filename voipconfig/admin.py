"""Where admin pages that several apps contribute to are put together.

An app's own pages are registered in its own admin.py. The organisation and phone pages show
what other apps know about them (phone counts, media choices, RPS state), and an app never
changes another app's ModelAdmin: those pages are composed here, where every part is in
sight. This module may import every app; no app imports it.
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tasks_db.models import DBTaskResult

from devices.admin import DeviceAdmin, phone_counts
from devices.models import Device
from devices.status import annotate_phone_counts
from media_assets.admin import DeviceMediaInline, OrganisationMediaInline
from organisations.admin import OrganisationAdmin, ScopedModelAdmin
from organisations.models import Organisation
from rps.admin import (
    RpsDeviceStateInline,
    RpsServerStateInline,
    rps_state_column,
    sync_devices_with_rps,
    sync_organisations_with_rps,
)

# The first page: figures and pictures above the list of models (voipconfig/dashboard.py).
admin.site.index_template = "admin/dashboard.html"


@admin.register(Organisation)
class OrganisationPage(OrganisationAdmin):
    list_display = [*OrganisationAdmin.list_display, phone_counts]
    inlines = [*OrganisationAdmin.inlines, OrganisationMediaInline, RpsServerStateInline]
    actions = [sync_organisations_with_rps]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        # What the phone counts column reads, in the list's one query.
        return annotate_phone_counts(super().get_queryset(request))


@admin.register(Device)
class DevicePage(DeviceAdmin):
    list_display = [*DeviceAdmin.list_display, rps_state_column]
    list_select_related = [*DeviceAdmin.list_select_related, "rps_state"]
    inlines = [*DeviceAdmin.inlines, DeviceMediaInline, RpsDeviceStateInline]
    actions = [*DeviceAdmin.actions, sync_devices_with_rps]


@admin.register(AccessAttempt)
class LoginLockoutPage(ScopedModelAdmin[AccessAttempt]):
    """django-axes' record of wrong admin passwords, per user name, address and browser: the
    provider's alone. A user name and address with LOGIN_FAILURE_LIMIT of them within the
    lockout time are locked out; unlocking removes the record."""

    list_display = [
        "attempt_time",
        "username",
        "ip_address",
        "failures_since_start",
        "locked_out",
        "user_agent",
    ]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    readonly_fields = ["attempt_time", "username", "ip_address", "failures_since_start"]
    readonly_fields += ["user_agent", "path_info"]
    fields = tuple(readonly_fields)
    actions = ["unlock"]

    @admin.display(description=_("locked out"), boolean=True)
    def locked_out(self, obj: Any) -> bool:
        recent = obj.attempt_time >= timezone.now() - settings.AXES_COOLOFF_TIME
        return bool(recent and obj.failures_since_start >= settings.AXES_FAILURE_LIMIT)

    @admin.action(description=_("Unlock: forget these failed logins"), permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        logins = sorted(
            {
                gettext("%(username)s from %(address)s")
                % {"username": a.username, "address": a.ip_address}
                for a in queryset
            }
        )
        queryset.delete()
        message = gettext("Unlocked: %(logins)s.") % {"logins": ", ".join(logins)}
        self.message_user(request, message, messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "Unlock" says what deleting them means
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The task queue's own rows (django-tasks-db) say only "rps.tasks.sync_with_rps" and a job's
# id: the Jobs page says what each one does and how it went, each organisation its own.
admin.site.unregister(DBTaskResult)
