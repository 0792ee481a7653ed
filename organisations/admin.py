from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest

from organisations.config_syntax import parse_overrides, unknown_keys
from organisations.models import Organisation


def warn_about_unknown_keys(request: HttpRequest, overrides: str) -> None:
    """An override naming a key no public template uses is probably a typo the phone ignores."""
    unknown = unknown_keys(parse_overrides(overrides, lenient=True))
    if unknown:
        messages.warning(
            request,
            "These override keys are not in the list of known Yealink keys; check them for "
            f"typos (a phone silently ignores an unknown key): {', '.join(unknown)}",
        )


class WidgetsMixin:
    """`widgets = {field name: widget}` on a ModelAdmin or inline, as on a ModelForm's Meta."""

    widgets: dict[str, forms.Widget] = {}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.widgets:
            kwargs["widget"] = self.widgets[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def password_widget() -> forms.Widget:
    # Shown as dots, but kept in the form: the admin edits it, and it must exist in clear
    # for Digest authentication and for RPS.
    return forms.PasswordInput(render_value=True)


def overrides_widget(rows: int = 6) -> forms.Widget:
    return forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField"})


def register_organisation_inline(inline: type[admin.options.InlineModelAdmin]) -> None:
    """Other apps add their inlines to the organisation page without this app importing them
    (call it from the other app's admin.py)."""
    if inline not in OrganisationAdmin.inlines:
        OrganisationAdmin.inlines = [*OrganisationAdmin.inlines, inline]


def register_organisation_action(action) -> None:
    """Other apps add admin actions to the organisation list without this app importing them."""
    if action not in (OrganisationAdmin.actions or []):
        OrganisationAdmin.actions = [*(OrganisationAdmin.actions or []), action]


@admin.register(Organisation)
class OrganisationAdmin(WidgetsMixin, admin.ModelAdmin):
    widgets = {"provisioning_password": password_widget(), "raw_overrides": overrides_widget()}
    list_display = [
        "name",
        "slug",
        "is_active",
        "provisioning_username",
        "sip_server_host",
        "provisioning_interval_minutes",
        "device_count",
    ]
    list_filter = ["is_active", "language", "sip_transport"]
    search_fields = ["name", "slug", "provisioning_username"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        ("Provisioning", {"fields": ["provisioning_username", "provisioning_password"]}),
        ("SIP", {"fields": ["sip_server_host", "sip_server_port", "sip_transport"]}),
        (
            "Phone settings",
            {
                "fields": [
                    "time_zone",
                    "time_zone_name",
                    "language",
                    "ntp_server",
                    "provisioning_interval_minutes",
                    "raw_overrides",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(device_count=Count("devices"))

    @admin.display(description="phones", ordering="device_count")
    def device_count(self, obj: Organisation) -> int:
        return obj.device_count

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        warn_about_unknown_keys(request, obj.raw_overrides)
