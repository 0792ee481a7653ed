"""Where admin pages that several apps contribute to are put together.

An app's own pages are registered in its own admin.py. The organisation and phone pages show
what other apps know about them (phone counts, media choices, RPS state), and an app never
changes another app's ModelAdmin: those pages are composed here, where every part is in
sight. This module may import every app; no app imports it.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from devices.admin import DeviceAdmin, phone_counts
from devices.models import Device
from devices.status import annotate_phone_counts
from media_assets.admin import DeviceMediaInline, OrganisationMediaInline
from organisations.admin import OrganisationAdmin
from organisations.models import Organisation
from rps.admin import (
    RpsDeviceStateInline,
    RpsServerStateInline,
    rps_state_column,
    sync_devices_with_rps,
    sync_organisations_with_rps,
)


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
