"""What a token may do: the scoping registry decides, as it does for staff in the admin.

A provider token may do everything provider staff may; an organisation token what its
organisation's staff may do with their own rows (`staff_actions` of the model's
registration); a read-only token only look."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from organisations.scoping import ApiClient, is_provider, may_edit, scoped_model

if TYPE_CHECKING:  # rest_framework.views imports the settings that name this module
    from rest_framework.views import APIView

ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def client_of(request: Request) -> ApiClient:
    client: object = request.user  # typed as a User; ours is an ApiClient
    if not isinstance(client, ApiClient):
        raise exceptions.NotAuthenticated(
            gettext("Send an API token: `Authorization: Bearer <token>`."), code="not_authenticated"
        )
    return client


def registry_action(request: Request, view: APIView) -> str:
    """The registry's action (view, add, change, delete) a request is: by its method, or as
    the view says for its own actions (`registry_actions`, by DRF action name)."""
    named: dict[str, str] = getattr(view, "registry_actions", {})
    action = getattr(view, "action", None)
    if action in named:
        return named[action]
    return ACTIONS.get(request.method or "", "change")


def scoped_model_of(view: APIView) -> type[Model] | None:
    model: type[Model] | None = getattr(view, "scope_model", None)
    if model is None:
        queryset = getattr(view, "queryset", None)
        model = queryset.model if queryset is not None else None
    return model


class RegistryPermission(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        client = client_of(request)
        organisation = client.organisation
        if organisation is not None and not organisation.is_active:
            raise exceptions.PermissionDenied(
                gettext("This token's organisation is deactivated."), code="organisation_inactive"
            )
        action = registry_action(request, view)
        if action != "view" and client.read_only:
            raise exceptions.PermissionDenied(
                gettext("This token is read-only: it may not create, change or delete."),
                code="read_only_token",
            )
        if is_provider(client):
            return True
        if getattr(view, "provider_only", False):
            raise exceptions.PermissionDenied(
                gettext("Only a provider token may do this."), code="provider_only"
            )
        model = scoped_model_of(view)
        scope = scoped_model(model) if model is not None else None
        if scope is None or scope.path is None or action not in scope.staff_actions:
            raise exceptions.PermissionDenied(
                gettext("An organisation token may not do this."), code="not_permitted"
            )
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if registry_action(request, view) == "view":
            return True
        if not may_edit(client_of(request), obj):  # a shared row: visible, not theirs to change
            raise exceptions.PermissionDenied(
                gettext("This is shared by every organisation: only the provider changes it."),
                code="shared_object",
            )
        return True
