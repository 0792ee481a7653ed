from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from devices.models import Device
from firmware import rollouts
from firmware.charts import progress_svg
from firmware.forms import SCOPE_FIELDS, FirmwareImageForm, FirmwareTargetForm, RolloutForm
from firmware.models import FirmwareImage, FirmwareTarget, Rollout, RolloutPhone
from media_assets.validation import human_size
from organisations.admin import ScopedModelAdmin
from organisations.scoping import is_provider

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


@admin.register(FirmwareImage)
class FirmwareImageAdmin(ScopedModelAdmin[FirmwareImage]):
    # The provider's: organisation staff have no permission on it.
    form = FirmwareImageForm
    list_display = ["version", "kind", "models", "file_name", "file_size", "sha", "uploaded_at"]
    list_filter = ["kind", "model_code"]
    search_fields = ["version", "file_name", "sha256", "notes"]
    readonly_fields = ["model_code", "file_name", "file_size", "sha256", "uploaded_by"]

    @admin.display(description=_("models"))
    def models(self, obj: FirmwareImage) -> str:
        return ", ".join(obj.model_names)

    @admin.display(description=_("size"), ordering="size")
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
    list_display = ["model", "version", "scope_column"]
    list_filter = ["model"]
    search_fields = ["model", "image__version", "organisation__name", "device__mac"]

    @admin.display(description=_("scope"))
    def scope_column(self, target: FirmwareTarget) -> str:
        return target.scope

    autocomplete_fields = ["organisation", "device"]
    list_select_related = ["image", "profile", "organisation", "device"]
    fieldsets = [
        (None, {"fields": ["model", "image"]}),
        (
            _("Scope"),
            {
                "description": _(
                    "Leave all three empty for every phone of the model. The most specific "
                    "target wins: the phone's, its organisation's, then (unless the "
                    "organisation holds back) a rollout's, its settings profile's, and the one "
                    "for every phone. A handset model's target reaches the DECT bases in "
                    "scope, which update their handsets over the air."
                ),
                "fields": ["profile", "organisation", "device"],
            },
        ),
    ]

    @admin.display(description=_("version"), ordering="image__version")
    def version(self, obj: FirmwareTarget) -> str:
        return obj.image.version


STATE_COLOURS = {
    Rollout.State.DRAFT: "#757575",
    Rollout.State.RUNNING: "#1565c0",
    Rollout.State.PAUSED: "#ef6c00",
    Rollout.State.HALTED: "#c62828",
    Rollout.State.COMPLETED: "#2e7d32",
    Rollout.State.ROLLED_BACK: "#6d4c41",
}
# What each button does, and in which states it is offered.
ACTIONS: dict[str, tuple[StrOrPromise, list[Rollout.State], Callable[[Rollout], int | None]]] = {
    "start": (_("Start"), [Rollout.State.DRAFT], rollouts.start),
    "pause": (_("Pause"), [Rollout.State.RUNNING], rollouts.pause),
    "resume": (_("Resume"), [Rollout.State.PAUSED, Rollout.State.HALTED], rollouts.resume),
    "roll_back": (
        _("Roll back"),
        [
            Rollout.State.RUNNING,
            Rollout.State.PAUSED,
            Rollout.State.HALTED,
            Rollout.State.COMPLETED,
        ],
        rollouts.roll_back,
    ),
}


@admin.register(Rollout)
class RolloutAdmin(ScopedModelAdmin[Rollout]):
    form = RolloutForm
    change_form_template = "admin/firmware/rollout/change_form.html"
    list_display = ["name", "version", "state_badge", "wave_of", "progress", "started_at"]
    list_filter = ["state"]
    search_fields = ["name", "image__version"]
    list_select_related = ["image"]
    filter_horizontal = ["organisations"]
    readonly_fields = [
        "state_badge",
        "wave_of",
        "started_at",
        "wave_opened_at",
        "finished_at",
        "halt_reason",
    ]
    fieldsets = [
        (None, {"fields": ["name", "image", "model_names"]}),
        (
            _("Scope"),
            {
                "fields": ["organisations", "percentage"],
                "description": _(
                    "Phones with a target of their own or of their organisation, of "
                    "organisations holding back, in another rollout under way, or already on "
                    "the version are left out. Once completed, the rollout keeps its phones on "
                    "its image (a later rollout moves them on; rolling back returns them to "
                    "their targets)."
                ),
            },
        ),
        (_("Waves"), {"fields": ["waves", "wave_minutes", "halt_share"]}),
        (_("State"), {"fields": list(readonly_fields)}),
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match is None or not match.url_name or not match.url_name.endswith("changelist"):
            return queryset
        return queryset.annotate(  # the list's progress column, in its one query
            phone_count=Count("phones"),
            back_count=Count("phones", filter=Q(phones__state=RolloutPhone.State.UPDATED)),
        )

    def has_delete_permission(self, request: HttpRequest, obj: Rollout | None = None) -> bool:
        """A started rollout is what keeps its phones on its image: deleting it would send
        them back to older targets. Only drafts and rolled-back rollouts go."""
        if obj is not None and obj.state not in (Rollout.State.DRAFT, Rollout.State.ROLLED_BACK):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Rollout | None = None) -> Any:
        if obj is not None and obj.state != Rollout.State.DRAFT:
            return [*SCOPE_FIELDS, *self.readonly_fields]  # what it moves is set at its start
        return self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: Rollout, form: forms.ModelForm[Rollout], change: bool
    ) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by_id = request.user.pk
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only what the form changed: the state, wave and times are the evaluation's, which
        # may have moved on since the page was read.
        concrete = {field.name for field in Rollout._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in concrete]
        obj.save(update_fields=[*changed, "updated_at"])

    @admin.display(description=_("version"), ordering="image__version")
    def version(self, obj: Rollout) -> str:
        return obj.image.version

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: Rollout) -> str:
        return format_html(
            '<span style="background:{};color:#fff;padding:1px 6px;border-radius:8px">{}</span>',
            STATE_COLOURS[Rollout.State(obj.state)],
            obj.get_state_display(),
        )

    @admin.display(description=_("wave"))
    def wave_of(self, obj: Rollout) -> str:
        if obj.state == Rollout.State.DRAFT:
            return "—"
        return gettext("%(wave)d of %(waves)d (%(share)d %%)") % {
            "wave": obj.wave + 1,
            "waves": len(obj.wave_shares),
            "share": obj.wave_shares[obj.wave],
        }

    @admin.display(description=_("back on the version"))
    def progress(self, obj: Rollout) -> str:
        total = getattr(obj, "phone_count", None)
        if not total:
            return "—"
        return gettext("%(back)d of %(total)d") % {
            "back": getattr(obj, "back_count", 0),
            "total": total,
        }

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/act/<str:action>/",
                view(require_POST(self.action_view)),
                name="firmware_rollout_act",
            ),
            path(
                "distribution/",
                view(self.distribution_view),
                name="firmware_rollout_distribution",
            ),
            *super().get_urls(),
        ]

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        rollout = self.get_object(request, object_id)
        if rollout is None or action not in ACTIONS:
            raise Http404(gettext("No such rollout or action."))
        if not self.has_change_permission(request, rollout):
            raise PermissionDenied
        label, _states, act = ACTIONS[action]
        try:
            result: int | None = act(rollout)
        except rollouts.RolloutError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            rollout.refresh_from_db()
            done = _done_message(label, rollout, result if action == "start" else None)
            self.log_change(request, rollout, done)
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:firmware_rollout_change", args=[rollout.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        rollout = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if rollout is not None:
            if request.method == "GET" and rollout.state in rollouts.UNDER_WAY:
                rollout = rollouts.evaluate(rollout)  # the picture as of now
            extra.update(
                actions=[
                    (name, label)
                    for name, (label, states, _act) in ACTIONS.items()
                    if rollout.state in states
                ],
                progress_svg=progress_svg(list(rollout.samples.all())),
                waves=rollouts.waves_table(rollout),
                wave_states=list(RolloutPhone.State),
                not_back=rollouts.not_back(rollout)[:200],
                not_back_count=rollouts.not_back(rollout).count(),
            )
        return super().change_view(request, object_id, form_url, extra)

    def distribution_view(self, request: HttpRequest) -> HttpResponse:
        """Which firmware the phones report, per model and per organisation."""
        if not self.has_view_permission(request) or not is_provider(request.user):
            raise PermissionDenied
        phones = Device.objects.filter(is_active=True)
        by_model = phones.values("model", "last_firmware").annotate(n=Count("pk"))
        by_organisation = phones.values(
            "organisation_id", "organisation__name", "last_firmware"
        ).annotate(n=Count("pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Firmware distribution"),
            "opts": self.opts,
            "tables": [  # (heading, rows, the first column's header)
                (gettext("Per model"), _table(by_model, "model", "model"), gettext("Model")),
                (
                    gettext("Per organisation"),
                    _table(
                        by_organisation,
                        "organisation__name",
                        "organisation__id__exact",
                        "organisation_id",
                    ),
                    gettext("Organisation"),
                ),
            ],
            "devices_url": reverse("admin:devices_device_changelist"),
        }
        return TemplateResponse(request, "admin/firmware/distribution.html", context)


def _done_message(label: StrOrPromise, rollout: Rollout, phones: int | None) -> str:
    """What the admin says after a button: the rollout's state, and its phones once started."""
    done = gettext("%(action)s: %(rollout)s is %(state)s.") % {
        "action": label,
        "rollout": rollout,
        "state": rollout.get_state_display().lower(),
    }
    if phones is None:
        return done
    waves = len(rollout.wave_shares)
    in_waves = gettext("%(phones)s in %(waves)s.") % {
        "phones": ngettext("%(count)d phone", "%(count)d phones", phones) % {"count": phones},
        "waves": ngettext("%(count)d wave", "%(count)d waves", waves) % {"count": waves},
    }
    return f"{done} {in_waves}"


def _table(rows: Any, label: str, param: str, value: str | None = None) -> list[dict[str, Any]]:
    """Rows of (label, the filter's query, total, [(version, phones, query)]), by size."""
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = row[value or label]
        group = groups.setdefault(
            key, {"label": row[label], "query": f"{param}={key}", "total": 0, "versions": []}
        )
        version = row["last_firmware"]
        query = f"{param}={key}&last_firmware={version}" if version else f"{param}={key}"
        group["versions"].append((version or gettext("not reported"), row["n"], query))
        group["total"] += row["n"]
    for group in groups.values():
        group["versions"].sort(key=lambda item: -item[1])
    return sorted(groups.values(), key=lambda group: (-group["total"], str(group["label"])))
