"""The admin's Jobs: what the worker is doing and has done, each organisation its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from jobs.models import Job
from organisations.admin import ScopedModelAdmin
from organisations.scoping import is_provider

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _ListDisplayT

# What staff do not read: the provider's detail, and the organisation (always their own).
PROVIDER_ONLY_FIELDS = ("organisation", "detail")
FIELDS = (
    "title",
    "state",
    "progress",
    "step",
    "summary",
    "detail",
    "organisation",
    "started_by_name",
    "created_at",
    "started_at",
    "finished_at",
)
REFRESH_SECONDS = 2


@admin.register(Job)
class JobAdmin(ScopedModelAdmin[Job]):
    list_display = [
        "title",
        "state",
        "progress",
        "organisation",
        "started_by_name",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "kind", "organisation"]
    list_select_related = ["organisation", "started_by"]
    search_fields = ["title", "summary"]
    fields = readonly_fields = FIELDS
    change_form_template = "admin/jobs/job/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False  # the worker alone writes a job

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[Job]:
        return _shown(request, list(super().get_list_display(request)))

    def get_fields(self, request: HttpRequest, obj: Job | None = None) -> _FieldGroups:
        return _shown(request, list(super().get_fields(request, obj)))

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> list[str]:
        return _shown(request, list(FIELDS))

    @admin.display(description=_("progress"))
    def progress(self, obj: Job) -> str:
        if not obj.total:
            return "—" if obj.is_finished else pgettext("job", "starting")
        done = obj.total if obj.state == Job.State.DONE else obj.done
        return format_html(
            '<progress max="{}" value="{}"></progress> {}',
            obj.total,
            done,
            gettext("%(done)s of %(total)s")
            % {
                "done": number_format(done, force_grouping=True),
                "total": number_format(obj.total, force_grouping=True),
            },
        )

    # A name, not a link: organisation staff may not open user pages.
    @admin.display(description=_("started by"), ordering="started_by__username")
    def started_by_name(self, obj: Job) -> str:
        return obj.started_by.get_username() if obj.started_by else "—"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "refresh_seconds": REFRESH_SECONDS}
        return super().change_view(request, object_id, form_url, context)


def _shown(request: HttpRequest, names: list[Any]) -> list[Any]:
    if is_provider(request.user):
        return names
    return [name for name in names if name not in PROVIDER_ONLY_FIELDS]
