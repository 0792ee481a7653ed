"""Who sees what: provider staff see everything; organisation staff only their organisation's.

Each app registers, for each of its models, the lookup from the model to its organisation
(`register_scoped_model` in its AppConfig.ready()). The admin mixins in `organisations.admin`
apply it to every list, form choice, lookup, action and export; the groups' permissions are
derived from it after every migrate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db.models import Model, Q, QuerySet

from organisations.models import Organisation

M = TypeVar("M", bound=Model)


@dataclass(frozen=True, eq=False)
class ApiClient:
    """An API token at work (the `api` app authenticates it): a provider token sees what
    provider staff see, an organisation token what that organisation's staff see."""

    token_id: int
    name: str
    organisation: Organisation | None  # None: a provider token
    read_only: bool
    user: User  # whom the admin's history names for its changes (the token's own, no login)
    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    def __str__(self) -> str:
        return f"API token {self.name}"


AnyUser = User | AnonymousUser | ApiClient  # request.user
PROVIDER_GROUP = "provider"
ORGANISATION_STAFF_GROUP = "organisation staff"
ALL_ACTIONS = ("view", "add", "change", "delete")


@dataclass(frozen=True)
class ScopedModel:
    model: type[Model]
    # Lookup from the model to its Organisation; "" for Organisation itself; None for
    # provider-only models (shared by all organisations, managed by the provider).
    path: str | None
    shared: bool  # rows without an organisation belong to everyone: visible, read-only
    staff_actions: tuple[str, ...]  # what organisation staff may do with their own rows


_registry: dict[type[Model], ScopedModel] = {}


def register_scoped_model(
    model: type[Model],
    path: str | None,
    *,
    shared: bool = False,
    staff_actions: Iterable[str] = ALL_ACTIONS,
) -> None:
    actions = () if path is None else tuple(staff_actions)
    _registry[model] = ScopedModel(model, path, shared, actions)


def scoped_model(model: type[Model]) -> ScopedModel | None:
    return _registry.get(model)


def scoped_models() -> list[ScopedModel]:
    return list(_registry.values())


def is_provider(user: AnyUser) -> bool:
    if isinstance(user, ApiClient):
        return user.organisation is None
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    kept = user.__dict__  # answered once per request's user
    if "_voipconfig_is_provider" not in kept:
        kept["_voipconfig_is_provider"] = user.groups.filter(name=PROVIDER_GROUP).exists()
    return bool(kept["_voipconfig_is_provider"])


def staff_organisation(user: AnyUser) -> Organisation | None:
    """The organisation a non-provider staff member works for (None for providers)."""
    if isinstance(user, ApiClient):
        return user.organisation
    if isinstance(user, AnonymousUser) or not user.is_authenticated or is_provider(user):
        return None
    kept = user.__dict__
    if "_voipconfig_organisation" not in kept:
        link = getattr(user, "organisation_staff", None)  # none for a user without one
        kept["_voipconfig_organisation"] = link.organisation if link else None
    organisation: Organisation | None = kept["_voipconfig_organisation"]
    return organisation


def scope_queryset(queryset: QuerySet[M], user: AnyUser) -> QuerySet[M]:
    """The rows of `queryset` this user may see; none for a model nobody registered."""
    if is_provider(user):
        return queryset
    organisation = staff_organisation(user)
    scope = scoped_model(queryset.model)
    if organisation is None or scope is None or scope.path is None:
        return queryset.none()
    return queryset.filter(_condition(scope, organisation))


def _condition(scope: ScopedModel, organisation: Organisation) -> Q:
    if not scope.path:
        return Q(pk=organisation.pk)
    condition = Q(**{scope.path: organisation})
    if scope.shared:
        condition |= Q(**{f"{scope.path}__isnull": True})
    return condition


def organisation_of(obj: Model) -> Organisation | None:
    """Follow the registered path from an object to its organisation."""
    scope = scoped_model(type(obj))
    if scope is None or scope.path is None:
        return None
    target: Any = obj
    for part in scope.path.split("__") if scope.path else []:
        target = getattr(target, part, None)
        if target is None:
            return None
    return target if isinstance(target, Organisation) else None


def may_edit(user: AnyUser, obj: Model | None) -> bool:
    """Organisation staff may change their own rows, never shared or another's."""
    if obj is None or is_provider(user):
        return True
    organisation = staff_organisation(user)
    return organisation is not None and organisation_of(obj) == organisation


def sync_groups() -> None:
    """The provider group gets every permission; organisation staff what the registry says."""
    provider, _ = Group.objects.get_or_create(name=PROVIDER_GROUP)
    provider.permissions.set(Permission.objects.all())
    staff, _ = Group.objects.get_or_create(name=ORGANISATION_STAFF_GROUP)
    codenames = Q(pk__in=[])
    for scope in scoped_models():
        meta = scope.model._meta
        for action in scope.staff_actions:
            codenames |= Q(
                content_type__app_label=meta.app_label, codename=f"{action}_{meta.model_name}"
            )
    staff.permissions.set(Permission.objects.filter(codenames))
