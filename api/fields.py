"""Serializer fields every resource shares."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from api.permissions import client_of
from devices.mac import InvalidMac, normalise_mac
from devices.models import Device
from organisations.models import Organisation
from organisations.scoping import ApiClient, scope_queryset


def field_client(field: serializers.Field[Any, Any, Any, Any]) -> ApiClient:
    """The token a field is serialising for."""
    return client_of(field.context["request"])


class NamedChoiceField(serializers.ChoiceField):
    """An integer choice by its member's lower-case name (`tls` for SipTransport.TLS,
    `speed_dial`): the numbers are Yealink's, the names what a script reads and writes."""

    def __init__(self, choices: type[IntEnum], **kwargs: Any) -> None:
        self.by_name = {member.name.lower(): int(member) for member in choices}
        self.by_value = {value: name for name, value in self.by_name.items()}
        super().__init__(choices=list(self.by_name), **kwargs)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        return self.by_name[str(super().to_internal_value(data))]

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return None if value is None else self.by_value.get(int(value), str(value))


class OrganisationSlugField(serializers.SlugRelatedField[Organisation]):
    """An organisation by its slug, among those the token sees: another organisation's slug
    reads as one that does not exist."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", queryset=Organisation.objects.all(), **kwargs)

    def get_queryset(self) -> QuerySet[Organisation]:
        return scope_queryset(Organisation.objects.all(), field_client(self))


class DeviceMacField(serializers.SlugRelatedField[Device]):
    """A phone by its MAC in any usual notation, among the token's phones; shown as 12
    lower-case hex digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="mac", queryset=Device.objects.all(), **kwargs)

    def get_queryset(self) -> QuerySet[Device]:
        return scope_queryset(Device.objects.all(), field_client(self))

    def to_internal_value(self, data: Any) -> Device:
        try:
            mac = normalise_mac(str(data))
        except InvalidMac as exc:
            raise serializers.ValidationError(str(exc), code="invalid_mac") from None
        return super().to_internal_value(mac)
