from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from api import tokens
from api.models import ApiToken
from organisations.admin import ScopedModelAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedModelAdmin[ApiToken]):
    list_display = [
        "name",
        "scope_shown",
        "read_only",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    ]
    list_filter = ["read_only", "organisation"]
    search_fields = ["name", "prefix", "organisation__name", "organisation__slug"]
    fields = ["name", "organisation", "read_only", "expires_at"]
    readonly_fields_after_creation = ["organisation", "read_only"]
    actions = ["revoke"]
    list_select_related = ["organisation"]

    @admin.display(description=_("scope"), ordering="organisation__name")
    def scope_shown(self, token: ApiToken) -> str:
        if token.organisation:
            return token.organisation.name
        return gettext("provider (every organisation)")

    @admin.display(description=_("state"))
    def state(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return gettext("revoked %(when)s") % {"when": f"{token.revoked_at:%Y-%m-%d %H:%M}"}
        if token.expires_at is not None and token.expires_at <= timezone.now():
            return gettext("expired")
        return gettext("active")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None:  # what a token may see and do is fixed when it is made
            fields += [name for name in self.readonly_fields_after_creation if name not in fields]
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, not deleted: the history keeps naming it

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if "name" in form.changed_data:  # the history names its user: the new name
                obj.user.last_name = obj.name[:150]
                obj.user.save(update_fields=["last_name"])
            return
        token, text = tokens.issue(
            obj.name,
            obj.organisation,
            read_only=obj.read_only,
            expires_at=obj.expires_at,
            created_by=request.user if request.user.is_authenticated else None,
        )
        obj.pk = token.pk
        obj.__dict__.update(token.__dict__)
        request._api_token_text = text  # type: ignore[attr-defined]  # for response_add only

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        # The token is shown in this answer only: never put in a message (a cookie) or a URL.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("API token created"),
            "token": obj,
            "text": getattr(request, "_api_token_text", ""),
        }
        response = TemplateResponse(request, "admin/api/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            tokens.revoke(token)
            self.log_change(request, token, "Revoked.")  # the history's record: stored, in English
            count += 1
        message = ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
