"""The settings of `organisations.phone_settings` as one nested `settings` object, on each
layer that has them: settings profiles, organisations and phones (`PhoneSettings`), and SIP
accounts (`SipSettings`). One serializer per kind, so every layer reads and writes them by
the same names, and the schema describes them once.

The nested serializer's source is "*": its values are the parent's own fields, checked with
the parent's model (`WithSettingsSerializer`), whose errors on them point into `settings`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from api.base import ModelCleanSerializer
from api.fields import NamedChoiceField
from devices.models import SipAccount
from organisations.models import SipTransport
from organisations.phone_settings import (
    PHONE_SETTINGS,
    SIP_SETTINGS,
    DtmfType,
    Failover,
    SettingsProfile,
    Srtp,
)

M = TypeVar("M", bound=models.Model)


def _switch() -> serializers.BooleanField:
    """On, off, or null: as the layer above says."""
    return serializers.BooleanField(allow_null=True, required=False)


class SipSettingsSerializer(serializers.ModelSerializer[Any]):
    """The SIP settings of `organisations.phone_settings`, by their model names; null (or "")
    is "as the layer above says" (the phone, its organisation, the profile, our defaults).

    Its model is one that has them: the fields are the abstract model's, the same on every
    layer."""

    sip_server_2_transport = NamedChoiceField(SipTransport, allow_null=True, required=False)
    failover = NamedChoiceField(Failover, allow_null=True, required=False)
    srtp = NamedChoiceField(Srtp, allow_null=True, required=False)
    dtmf_type = NamedChoiceField(DtmfType, allow_null=True, required=False)
    outbound_proxy = _switch()
    mwi_subscribe = _switch()

    class Meta:
        model = SipAccount
        fields = list(SIP_SETTINGS)


class PhoneSettingsSerializer(SipSettingsSerializer):
    """The SIP settings plus the phone's network and time."""

    vlan_enabled = _switch()
    pc_vlan_enabled = _switch()
    lldp_enabled = _switch()
    cdp_enabled = _switch()

    class Meta:
        model = SettingsProfile
        fields = list(PHONE_SETTINGS)


def nest_settings(detail: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The model's errors on its settings moved under `settings`, where the body has them."""
    nested = {key: detail.pop(key) for key in list(detail) if key in names}
    if nested:
        detail["settings"] = nested
    return detail


class WithSettingsSerializer(ModelCleanSerializer[M], Generic[M]):
    """A model's serializer whose `settings` (source "*") holds the model's PhoneSettings:
    they are checked with the model's own `full_clean()`, and its errors on them point into
    `settings` (`/settings/vlan_id`)."""

    settings_names: tuple[str, ...] = PHONE_SETTINGS

    def excluded_from_clean(self, attrs: dict[str, Any]) -> list[str]:
        # Written through the nested "settings", whose source ("*") names no field.
        excluded = super().excluded_from_clean(attrs)
        return [name for name in excluded if name not in self.settings_names]

    def _renamed(self, exc: DjangoValidationError) -> Any:
        return nest_settings(super()._renamed(exc), self.settings_names)
