"""What every resource of the API is built from: scoped querysets, the registry's
permissions, the model's own validation, history, all-or-nothing writes."""

from __future__ import annotations

import copy
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import SAFE_METHODS

from api import history
from api.permissions import RegistryPermission, client_of
from organisations.scoping import ApiClient, scope_queryset

M = TypeVar("M", bound=models.Model)


class ModelCleanSerializer(serializers.ModelSerializer[M], Generic[M]):
    """Runs the model's own `full_clean()` (its validators and `clean()`), as the admin's
    forms do, so an API client reads the admin's messages; errors name the API's fields.

    `clean_exclude`: model fields not to check here (set by the view, or checked apart)."""

    clean_exclude: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model: type[M] = self.Meta.model
        probe = copy.copy(self.instance) if self.instance is not None else model()
        concrete = {field.name for field in model._meta.concrete_fields if not field.many_to_many}
        for name, value in attrs.items():
            if name in concrete or name.endswith("_id"):
                setattr(probe, name, value)
        self.prepare_probe(probe, attrs)
        try:
            probe.full_clean(exclude=[*self.clean_exclude, *self.excluded_from_clean(attrs)])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(self._renamed(exc)) from exc
        return attrs

    def prepare_probe(self, probe: M, attrs: dict[str, Any]) -> None:
        """Set on the probe what `clean()` needs beyond the fields (an organisation)."""

    def excluded_from_clean(self, attrs: dict[str, Any]) -> list[str]:
        """Fields not to check: model fields the serializer does not write."""
        written = {field.source for field in self._writable_fields}
        model: type[M] = self.Meta.model
        return [
            field.name
            for field in model._meta.concrete_fields
            if field.name not in written and field.attname not in written
        ]

    def _renamed(self, exc: DjangoValidationError) -> Any:
        names = {field.source: name for name, field in self.fields.items() if field.source != "*"}
        detail = serializers.as_serializer_error(exc)
        return {names.get(key, key): value for key, value in detail.items()}


class ScopedViewSet(viewsets.GenericViewSet[M], Generic[M]):
    """The rows the token may see (404 for others'), what it may do with them (403), each
    write in one transaction and in the admin's history."""

    permission_classes = [RegistryPermission]
    # Actions that are not one transaction (an RPS sync records each step as it goes).
    non_atomic_actions: tuple[str, ...] = ()

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """A write is one transaction from its validation to its last row: what was checked
        is what is written, and a unique row another request made meanwhile is a 409
        (api.errors), not a 500 or half a write."""
        action = getattr(self, "action_map", {}).get(str(request.method).lower())
        if request.method in SAFE_METHODS or action in self.non_atomic_actions:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # DRF's mixins (listed first, as usual) define perform_* too: theirs would win and a
        # write would go unrecorded. Refused when the class is made, not found in a review.
        super().__init_subclass__(**kwargs)
        for name in ("perform_create", "perform_update", "perform_destroy"):
            owner = next(klass for klass in cls.__mro__ if name in vars(klass))
            if not issubclass(owner, ScopedViewSet):
                raise TypeError(
                    f"{cls.__name__}.{name} is {owner.__name__}'s, which records no history: "
                    "put ScopedViewSet before DRF's mixins, or define it on the viewset."
                )

    def get_queryset(self) -> QuerySet[M]:
        return scope_queryset(super().get_queryset(), self.request.user)

    @property
    def client(self) -> ApiClient:
        return client_of(self.request)

    def perform_create(self, serializer: serializers.BaseSerializer[M]) -> None:
        with transaction.atomic():
            obj = serializer.save()
            history.record(self.client, obj, history.ADDITION)

    def perform_update(self, serializer: serializers.BaseSerializer[M]) -> None:
        data = getattr(serializer, "validated_data", {})
        before = _stored(serializer.instance)
        with transaction.atomic():
            obj = serializer.save()
            after = _stored(obj)
            # What changed, not what was sent: a body that repeats the stored values is
            # "saved unchanged" in the history. A nested list (not a column) counts as sent.
            changed = [name for name, value in after.items() if before.get(name) != value]
            nested = [name for name in data if name not in after]
            history.record(self.client, obj, history.CHANGE, fields=[*changed, *nested])

    def perform_destroy(self, instance: M) -> None:
        with transaction.atomic():
            history.record(self.client, instance, history.DELETION)
            instance.delete()


def _stored(obj: models.Model | None) -> dict[str, Any]:
    """An object's column values by field name, but for when it was saved (`auto_now`)."""
    if obj is None:
        return {}
    return {
        field.name: field.value_from_object(obj)
        for field in obj._meta.concrete_fields
        if not getattr(field, "auto_now", False)
    }


class ScopedModelViewSet(
    ScopedViewSet[M],  # first: its perform_* (one transaction, history) win over the mixins'
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    Generic[M],
):
    """A resource with every method: list, create, retrieve, PUT, PATCH, DELETE."""
