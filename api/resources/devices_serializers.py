"""The JSON of a phone, its SIP accounts, line keys and DECT handsets, validated by the
models' own rules.

A device's `sip_accounts`, `line_keys` and `handsets`, when given, are the whole set:
accounts are matched by `line`, keys by (`module`, `position`), handsets by `index`; those
not listed are deleted. An account's password is write-only, and left out of an account
that exists it keeps the stored one. Everything is checked against the phone as the request
leaves it, with the models' `full_clean()` (Device.clean, SipAccount.clean, LineKey.clean,
Handset.clean), so the messages are the admin's; nothing is written until the whole device
is good. The phone's own settings (`settings`) and each account's (`sip_accounts[].settings`)
are those of `organisations.phone_settings`, as the organisation has them (api.settings_fields).

Lookups go through `Lookups`, which the bulk request fills with one query per table.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, Model, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from api.fields import NamedChoiceField
from api.settings_fields import (
    PhoneSettingsSerializer,
    SipSettingsSerializer,
    WithSettingsSerializer,
    nest_settings,
)
from devices import foreign_macs
from devices.admin import DeviceAdmin
from devices.mac import InvalidMac, normalise_mac
from devices.models import (
    Device,
    ForeignMacAttempt,
    Handset,
    KeyProfile,
    KeyType,
    LineKey,
    SipAccount,
    key_place,
)
from devices.status import failing, stale
from organisations.admin import WEB_PASSWORDS
from organisations.config_syntax import (
    mask_override_lines,
    provider_only_keys,
    split_provider_lines,
    unmask_override_lines,
)
from organisations.models import Organisation, SipTransport
from organisations.phone_settings import SIP_SETTINGS, SettingsProfile
from organisations.scoping import ApiClient, is_provider, scope_queryset
from rps import wording
from rps.admin import rps_state_label
from rps.models import RpsDeviceState

STATUSES = ("never", "ok", "stale", "failing")


def required() -> serializers.ErrorDetail:
    """DRF's "This field is required.", in the request's language (DRF's catalogue)."""
    return serializers.ErrorDetail(
        str(serializers.Field.default_error_messages["required"]), "required"
    )


# The admin's provider_only_fields of DeviceAdmin (its profile and web passwords).
# What the admin keeps from organisation staff is what the API keeps from their tokens.
PROVIDER_ONLY = tuple(DeviceAdmin.provider_only_fields)


class Lookups:
    """Where a request finds organisations, phones and key profiles. A single request looks
    each up as it goes; the bulk request preloads them all (`preload`), so its 1,000 items
    cost the same few queries as one."""

    def __init__(self, request: Request, client: ApiClient, *, bulk: bool = False) -> None:
        self.request = request
        self.client = client
        self.bulk = bulk
        self._organisations: dict[str, Organisation | None] = {}
        self._devices: dict[str, Device | None] = {}
        self._key_profiles: dict[int, dict[str, KeyProfile]] = {}
        self.foreign: list[str] = []  # MACs another organisation has that were tried

    @property
    def own(self) -> Organisation | None:
        return self.client.organisation

    def preload(self, macs: set[str], slugs: set[str]) -> None:
        devices = Device.objects.filter(mac__in=macs).select_related("organisation", "key_profile")
        found = {device.mac: device for device in devices.prefetch_related(*NESTED)}
        self._devices.update({mac: found.get(mac) for mac in macs})
        organisations = scope_queryset(Organisation.objects.filter(slug__in=slugs), self.client)
        by_slug = {organisation.slug: organisation for organisation in organisations}
        self._organisations.update({slug: by_slug.get(slug) for slug in slugs})
        ids = {o.pk for o in by_slug.values()} | {d.organisation_id for d in found.values()}
        if self.own is not None:
            ids.add(self.own.pk)
        self._load_key_profiles(ids)

    def organisation(self, slug: str) -> Organisation | None:
        """An organisation the token may use (another organisation's is as none)."""
        if slug not in self._organisations:
            scoped = scope_queryset(Organisation.objects.filter(slug=slug), self.client)
            self._organisations[slug] = scoped.first()
        return self._organisations[slug]

    def device(self, mac: str) -> Device | None:
        """The phone with this MAC, whichever organisation has it."""
        if mac not in self._devices:
            self._devices[mac] = (
                Device.objects.filter(mac=mac).select_related("organisation").first()
            )
        return self._devices[mac]

    def key_profile(self, organisation: Organisation, name: str) -> KeyProfile | None:
        if organisation.pk not in self._key_profiles:
            self._load_key_profiles({organisation.pk})
        return self._key_profiles[organisation.pk].get(name)

    def _load_key_profiles(self, ids: set[int]) -> None:
        profiles = KeyProfile.objects.filter(organisation_id__in=ids).prefetch_related("keys")
        for pk in ids:
            self._key_profiles.setdefault(pk, {})
        for profile in profiles:
            self._key_profiles[profile.organisation_id][profile.name] = profile

    @cached_property
    def paused(self) -> bool:
        return self.own is not None and foreign_macs.is_paused(self.own)

    def tried_foreign(self, mac: str) -> None:
        """A MAC another organisation has: recorded for the provider (the bulk request
        records its whole list once, as the CSV import does)."""
        self.foreign.append(mac)
        if not self.bulk:
            self.record(ForeignMacAttempt.Source.API)

    def record(self, source: ForeignMacAttempt.Source, *, refused_whole: bool = False) -> None:
        if self.own is None or not self.foreign:
            return
        foreign_macs.record(
            self.request._request,
            self.own,
            set(self.foreign),
            source,
            refused_whole=refused_whole,
        )
        self.foreign = []


NESTED = ("sip_accounts", "line_keys", "handsets")


@dataclass
class Nested:
    """What a device's accounts or keys become: objects to save, rows to delete."""

    save: list[Model] = field(default_factory=list)
    delete: list[Model] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> bool:
        return bool(self.save or self.delete)


class SipAccountSerializer(serializers.ModelSerializer[SipAccount]):
    line = serializers.IntegerField(source="index", min_value=0, max_value=32767)
    enabled = serializers.BooleanField(source="is_enabled", required=False)
    password = serializers.CharField(
        write_only=True,
        required=False,
        max_length=99,
        trim_whitespace=False,
        help_text="Write-only. Left out for a line the phone has, the stored one is kept.",
    )
    server = serializers.CharField(
        source="server_host", required=False, allow_blank=True, max_length=253
    )
    port = serializers.IntegerField(
        source="server_port", required=False, allow_null=True, min_value=0, max_value=2**31 - 1
    )
    transport = NamedChoiceField(
        SipTransport, source="server_transport", required=False, allow_null=True
    )
    settings = SipSettingsSerializer(
        source="*",
        required=False,
        help_text="This line's own SIP settings; each null is as the phone, then its "
        "organisation, says.",
    )

    class Meta:
        model = SipAccount
        fields = [
            "line",
            "enabled",
            "user_name",
            "auth_name",
            "password",
            "display_name",
            "label",
            "server",
            "port",
            "transport",
            "settings",
        ]


class LineKeySerializer(serializers.ModelSerializer[LineKey]):
    module = serializers.IntegerField(required=False, default=0, min_value=0, max_value=32767)
    position = serializers.IntegerField(min_value=0, max_value=32767)
    type = NamedChoiceField(KeyType, required=False, default=KeyType.BLF)
    line = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)

    class Meta:
        model = LineKey
        fields = ["module", "position", "type", "value", "label", "line", "extension"]


class HandsetSerializer(serializers.ModelSerializer[Handset]):
    """A DECT handset of a W-series base or manager (`handset.N.*`)."""

    index = serializers.IntegerField(
        min_value=0, max_value=32767, help_text="The handset's number on its base: 1, 2, ..."
    )

    class Meta:
        model = Handset
        fields = ["index", "name", "incoming_lines", "outgoing_lines", "default_line"]


RPS_SCHEMA = {
    "type": "object",
    "description": "What Yealink RPS has for the phone, as the admin's phone page shows it.",
    "properties": {
        "state": {"type": "string", "description": "In words: Registered, Pending, ..."},
        "status": {
            "type": "string",
            "nullable": True,
            "enum": [*RpsDeviceState.Status.values, None],
        },
        "rps_id": {"type": "string"},
        "pushed_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_attempt_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_error": {"type": "string"},
        "organisation": {"type": "string", "nullable": True, "description": "Provider only."},
        "server_rps_id": {"type": "string", "description": "Provider only."},
        "last_error_detail": {"type": "string", "description": "Provider only."},
    },
    "required": ["state", "status"],
}


class OrganisationSlugField(serializers.CharField):
    """The organisation by its slug (resolved, within the token's scope, in validate)."""

    def to_representation(self, value: Any) -> str:
        return str(value.slug if isinstance(value, Organisation) else value)


ACCOUNT_NAMES = {
    "index": "line",
    "is_enabled": "enabled",
    "server_host": "server",
    "server_port": "port",
    "server_transport": "transport",
}


class DeviceSerializer(WithSettingsSerializer[Device]):
    organisation = OrganisationSlugField(
        required=False,
        max_length=50,
        help_text="Its organisation's slug. An organisation token's phones are its own: it "
        "may leave this out, and give no other.",
    )
    mac = serializers.CharField(
        max_length=40,
        help_text="Any notation (80:5E:C0:00:00:01, 80-5e-c0-00-00-01, 805e.c000.0001); "
        "returned as 12 lower-case hex digits.",
    )
    active = serializers.BooleanField(source="is_active", required=False)
    key_profile = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=100,
        help_text="The name of one of its organisation's key profiles, or null.",
    )
    sip_accounts = SipAccountSerializer(
        many=True,
        required=False,
        help_text="Given, the phone's whole set: matched by line, lines not listed are removed.",
    )
    line_keys = LineKeySerializer(
        many=True,
        required=False,
        help_text="Given, the phone's own keys (beside its key profile's): matched by "
        "(module, position), keys not listed are removed.",
    )
    handsets = HandsetSerializer(
        many=True,
        required=False,
        help_text="DECT bases and managers only. Given, the whole set: matched by index, "
        "handsets not listed are removed.",
    )
    firmware = serializers.CharField(source="last_firmware", read_only=True)
    status = serializers.SerializerMethodField()
    rps = serializers.SerializerMethodField()
    profile = serializers.SlugRelatedField(
        slug_field="name",
        queryset=SettingsProfile.objects.all(),
        required=False,
        allow_null=True,
        help_text="Provider tokens only: the provider's settings profile for this phone.",
    )
    settings = PhoneSettingsSerializer(
        source="*",
        required=False,
        help_text="This phone's own settings; each null is as its profile, then its "
        "organisation, says.",
    )
    phone_admin_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=32
    )
    phone_user_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=32
    )
    phone_var_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=32
    )
    raw_overrides = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Yealink `key = value` lines for this phone only; secret values are "
        "returned masked, and a masked line sent back unchanged keeps its value. "
        "Organisation tokens neither see nor set the provider's keys.",
    )

    class Meta:
        model = Device
        fields = [
            "organisation",
            "mac",
            "model",
            "label",
            "active",
            "key_profile",
            "expansion_module",
            "expansion_module_count",
            "sip_accounts",
            "line_keys",
            "handsets",
            "last_seen_at",
            "last_seen_ip",
            "firmware",
            "status",
            "rps",
            "profile",
            "settings",
            *WEB_PASSWORDS,
            "raw_overrides",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_seen_at", "last_seen_ip", "created_at", "updated_at"]

    _probe: Device | None = None
    outcome = "unchanged"  # after save: created, updated or unchanged
    changed_fields: list[str]

    # --- who asks ----------------------------------------------------------------------

    @property
    def lookups(self) -> Lookups:
        lookups: Lookups = self.context["lookups"]
        return lookups

    @property
    def for_provider(self) -> bool:
        """True for a provider token, and for the schema (which shows every field)."""
        lookups = self.context.get("lookups")
        return lookups is None or is_provider(lookups.client)

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        fields = super().get_fields()
        if not self.for_provider:
            for name in PROVIDER_ONLY:
                fields.pop(name, None)
        return fields

    # --- reading -----------------------------------------------------------------------

    def to_representation(self, instance: Device) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if "raw_overrides" in data:
            data["raw_overrides"] = mask_override_lines(self._shown_overrides(instance))
        return data

    def _shown_overrides(self, device: Device) -> str:
        if self.for_provider:
            return device.raw_overrides
        return split_provider_lines(device.raw_overrides)[0]

    @extend_schema_field(serializers.ChoiceField(choices=STATUSES))
    def get_status(self, device: Device) -> str:
        if not hasattr(device, "api_failing"):
            device = with_status(Device.objects.filter(pk=device.pk)).get()
        if device.api_failing:  # type: ignore[attr-defined]
            return "failing"
        if device.last_seen_at is None:
            return "never"
        return "stale" if device.api_stale else "ok"  # type: ignore[attr-defined]

    @extend_schema_field(RPS_SCHEMA)
    def get_rps(self, device: Device) -> dict[str, Any]:
        try:
            state: RpsDeviceState | None = device.rps_state
        except ObjectDoesNotExist:
            state = None
        shown: dict[str, Any] = {
            "state": rps_state_label(device),
            "status": state.status if state else None,
            "rps_id": state.rps_id if state else "",
            "pushed_at": _when(state.pushed_at if state else None),
            "last_attempt_at": _when(state.last_attempt_at if state else None),
            "last_error": wording.said(state.last_error) if state else "",
        }
        if self.for_provider:
            organisation = state.organisation if state else None
            shown["organisation"] = organisation.slug if organisation else None
            shown["server_rps_id"] = state.server_rps_id if state else ""
            shown["last_error_detail"] = state.last_error_detail if state else ""
        return shown

    # --- checking ----------------------------------------------------------------------

    def validate_mac(self, value: str) -> str:
        try:
            return normalise_mac(value)
        except InvalidMac as exc:
            raise serializers.ValidationError(str(exc), code="invalid_mac") from exc

    def validate_raw_overrides(self, value: str) -> str:
        stored = self.instance.raw_overrides if self.instance is not None else ""
        theirs, providers = ("", stored) if self.for_provider else split_provider_lines(stored)
        try:
            text = unmask_override_lines(value, stored if self.for_provider else theirs)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages, code="masked_value") from exc
        if self.for_provider:
            return text
        reserved = provider_only_keys(text)
        if reserved:
            raise serializers.ValidationError(
                gettext("Only your provider may set these keys: %(keys)s")
                % {"keys": ", ".join(reserved)},
                code="provider_only",
            )
        return "\n".join(part for part in (text, providers) if part)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        organisation = self._organisation(attrs)
        attrs["organisation"] = organisation
        if "key_profile" in attrs:
            attrs["key_profile"] = self._key_profile(organisation, attrs["key_profile"])
        if "mac" in attrs:
            self._check_mac(attrs["mac"], organisation)
        errors: dict[str, Any] = {}
        try:
            attrs = super().validate(attrs)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)  # type: ignore[arg-type]
        probe = self._probe
        assert probe is not None  # made by the base's validate
        accounts = self._plan(attrs, ACCOUNTS, probe, errors)
        keys = self._plan(attrs, LINE_KEYS, probe, errors)
        handsets = self._plan(attrs, HANDSETS, probe, errors)
        if errors:
            raise serializers.ValidationError(errors)
        for name, plan in zip(NESTED, (accounts, keys, handsets), strict=True):
            if plan is not None:
                attrs[name] = plan
        return attrs

    def prepare_probe(self, probe: Device, attrs: dict[str, Any]) -> None:
        self._probe = probe

    def excluded_from_clean(self, attrs: dict[str, Any]) -> list[str]:
        # Both were found through the lookups: the fields' own checks would look them up
        # again, a query per phone. The bulk request checks MACs against the body and the
        # table itself, once.
        excluded = [*super().excluded_from_clean(attrs), "organisation", "key_profile"]
        return [*excluded, "mac"] if self.lookups.bulk else excluded

    def _organisation(self, attrs: dict[str, Any]) -> Organisation:
        slug = attrs.get("organisation")
        own = self.lookups.own
        if own is not None:  # an organisation token: its own, always
            if slug is not None and slug != own.slug:
                raise _unknown_organisation(slug)
            return own
        if slug is None:
            if self.instance is None:
                raise serializers.ValidationError({"organisation": [required()]}, code="required")
            return self.instance.organisation
        organisation = self.lookups.organisation(slug)
        if organisation is None:
            raise _unknown_organisation(slug)
        return organisation

    def _key_profile(self, organisation: Organisation, name: str | None) -> KeyProfile | None:
        if not name:
            return None
        profile = self.lookups.key_profile(organisation, name)
        if profile is None:
            raise serializers.ValidationError(
                {
                    "key_profile": [
                        gettext("%(organisation)s has no key profile named %(name)s.")
                        % {"organisation": organisation.slug, "name": repr(name)}
                    ]
                },
                code="does_not_exist",
            )
        return profile

    def _check_mac(self, mac: str, organisation: Organisation) -> None:
        """As the admin's phone form checks a MAC organisation staff give (admin.py
        staff_mac_check): never saying that, or where, another organisation has it."""
        if self.instance is not None and mac == self.instance.mac:
            return
        own = self.lookups.own
        existing = self.lookups.device(mac)
        if own is None:
            return  # the model's unique check says it is registered
        try:
            foreign_macs.refuse_taken(
                own,
                mac,
                existing.organisation_id if existing is not None else None,
                lambda: self.lookups.tried_foreign(mac),
                paused_now=self.lookups.paused,
            )
        except DjangoValidationError as exc:
            raise _mac_error(exc.messages[0], str(exc.code)) from None

    # --- accounts and keys ---------------------------------------------------------------

    def _plan(
        self, attrs: dict[str, Any], kind: NestedKind, probe: Device, errors: dict[str, Any]
    ) -> Nested | None:
        name = kind.name
        existing: list[Any] = list(getattr(self.instance, name).all()) if self.instance else []
        if name not in attrs:
            problems = [p for p in (_misfit(obj, probe) for obj in existing) if p]
            if problems:
                errors[name] = [
                    gettext(
                        "%(problem)s Give the phone's %(field)s with this change, or keep its "
                        "shape."
                    )
                    % {"problem": problem, "field": name}
                    for problem in problems
                ]
            return None
        plan, seen = Nested(), dict[Any, int]()
        parent = ("device", probe)
        found = [
            plan_item(kind, item, index, existing, seen, parent, plan)
            for index, item in enumerate(attrs[name])
        ]
        if any(found):
            errors[name] = found
        plan.delete = [obj for obj in existing if _place(obj) not in seen]
        return plan

    # --- writing -----------------------------------------------------------------------

    def create(self, validated_data: dict[str, Any]) -> Device:
        return self.write(Device(), validated_data)

    def update(self, instance: Device, validated_data: dict[str, Any]) -> Device:
        return self.write(instance, validated_data)

    def write(self, device: Device, data: dict[str, Any]) -> Device:
        """Only what differs is saved: the same request twice changes nothing."""
        adding = device._state.adding
        changed = write_with_nested(device, data, "device", NESTED)
        self.changed_fields = changed
        self.outcome = "created" if adding else "updated" if changed else "unchanged"
        return device


def write_with_nested(
    obj: Model, data: dict[str, Any], parent: str, nested: tuple[str, ...]
) -> list[str]:
    """Save what differs of `obj`, then its nested sets' plans (rows deleted first, so a
    place freed is free); the names of what changed."""
    plans: dict[str, Nested] = {name: data.pop(name) for name in nested if name in data}
    adding = obj._state.adding
    changed = [name for name, value in data.items() if _differs(obj, name, value)]
    for name in changed:
        setattr(obj, name, data[name])
    if adding or changed:
        obj.save()
    for name, plan in plans.items():
        for row in plan.delete:
            row.delete()
        for row in plan.save:
            setattr(row, parent, obj)
            row.save()
        if plan.changes:
            changed.append(name)
    return changed


@dataclass(frozen=True)
class NestedKind:
    """One kind of nested list (a phone's accounts, keys, handsets; a key profile's keys):
    where an item goes, and how a row for that place is made."""

    name: str  # the list's field: "sip_accounts"
    required: str  # the field that says where an item goes: "line"
    place: Callable[[dict[str, Any]], Any]  # an item's place (None: left out)
    place_of: Callable[[Any], Any]  # a stored row's place
    make: Callable[[Any], Model]  # a new row for a place
    named: Callable[[Any], str]  # a place as the messages say it: "Line 2"
    names: dict[str, str] = field(default_factory=dict)  # model field -> API name


def place_of_key(item: dict[str, Any]) -> tuple[int, int] | None:
    return (item.get("module", 0), item["position"]) if "position" in item else None


ACCOUNTS = NestedKind(
    "sip_accounts",
    "line",
    lambda item: item.get("index"),
    lambda account: account.index,
    lambda line: SipAccount(index=line),
    lambda line: gettext("Line %(line)s") % {"line": line},
    ACCOUNT_NAMES,
)
LINE_KEYS = NestedKind(
    "line_keys",
    "position",
    place_of_key,
    lambda key: (key.module, key.position),
    lambda place: LineKey(module=place[0], position=place[1]),
    lambda place: key_place(*place).capitalize(),
)
HANDSETS = NestedKind(
    "handsets",
    "index",
    lambda item: item.get("index"),
    lambda handset: handset.index,
    lambda number: Handset(index=number),
    lambda number: gettext("Handset %(number)s") % {"number": number},
)


def plan_item(
    kind: NestedKind,
    item: dict[str, Any],
    index: int,
    existing: list[Any],
    seen: dict[Any, int],
    parent: tuple[str, Model],
    plan: Nested,
) -> dict[str, Any]:
    """One item of a nested list: the stored row at its place, or a new one, with the
    item's values and checked; its errors, or {}. An account's password left out keeps the
    stored one (a new line must have one)."""
    place = kind.place(item)
    if place is None:  # left out of an item of a PATCH
        return {kind.required: [required()]}
    if place in seen:
        again = gettext("%(place)s is also item %(index)d of %(field)s.")
        return {
            kind.required: [
                again % {"place": kind.named(place), "index": seen[place], "field": kind.name}
            ]
        }
    seen[place] = index
    stored = next((obj for obj in existing if kind.place_of(obj) == place), None)
    if kind is ACCOUNTS and not item.get("password"):
        item.pop("password", None)
        if stored is None:
            return {"password": [required()]}
    row = stored or kind.make(place)
    return checked_item(row, item, parent, plan, kind.names, adding=stored is None)


def checked_item(
    obj: Model,
    item: dict[str, Any],
    parent: tuple[str, Model],
    plan: Nested,
    names: dict[str, str],
    *,
    adding: bool,
) -> dict[str, Any]:
    """The row (an account, a key, a handset) with the item's values, checked with the
    model's `full_clean()` against its parent as the request leaves it; its errors by the
    API's names (an account's settings under `settings`), or {}."""
    changed = [name for name, value in item.items() if _differs(obj, name, value)]
    for name in changed:
        setattr(obj, name, item[name])
    setattr(obj, parent[0], parent[1])
    try:
        obj.full_clean(exclude=[parent[0]], validate_unique=False)
    except DjangoValidationError as exc:
        detail = serializers.as_serializer_error(exc)
        renamed = {names.get(key, key): value for key, value in detail.items()}
        return nest_settings(renamed, SIP_SETTINGS) if isinstance(obj, SipAccount) else renamed
    if adding or changed:
        plan.save.append(obj)
    else:
        plan.unchanged += 1
    return {}


def _differs(obj: Model, name: str, value: Any) -> bool:
    try:
        return bool(getattr(obj, name) != value)
    except ObjectDoesNotExist:  # a relation not set yet (a new row's organisation)
        return True


def with_status(devices: QuerySet[Device]) -> QuerySet[Device]:
    """What `status` is read from (devices.status), in the list's one query."""
    now = timezone.now()
    return devices.annotate(
        api_failing=Case(When(failing(now), then=Value(True)), default=Value(False)),
        api_stale=Case(When(stale(now), then=Value(True)), default=Value(False)),
    )


def _place(obj: Any) -> Any:
    return obj.index if isinstance(obj, SipAccount | Handset) else (obj.module, obj.position)


def _misfit(obj: SipAccount | LineKey | Handset, device: Device) -> str | None:
    """Why an account, key or handset the request leaves alone no longer fits the phone."""
    if isinstance(obj, LineKey):
        return obj.misfit(device)
    if isinstance(obj, Handset):
        return _handset_misfit(obj, device)
    model = device.phone_model
    if model and obj.index > model.lines:
        text = ngettext(
            "A %(model)s has %(count)d line; line %(line)d is out.",
            "A %(model)s has %(count)d lines; line %(line)d is out.",
            model.lines,
        )
        return text % {"model": model.name, "count": model.lines, "line": obj.index}
    return None


def _handset_misfit(handset: Handset, device: Device) -> str | None:
    """Handset.clean's words, against the phone as the request leaves it (on a copy: the
    stored handset keeps its own phone)."""
    probe = copy.copy(handset)
    probe.device = device
    try:
        probe.clean()
    except DjangoValidationError as exc:
        return gettext("Handset %(number)s: %(problem)s") % {
            "number": handset.index,
            "problem": " ".join(exc.messages),
        }
    return None


def _unknown_organisation(slug: str) -> serializers.ValidationError:
    """The same words for another organisation's slug as for one nobody has."""
    words = serializers.SlugRelatedField.default_error_messages["does_not_exist"]  # DRF's
    return serializers.ValidationError(
        {"organisation": [str(words).format(slug_name="slug", value=slug)]},
        code="does_not_exist",
    )


def _mac_error(message: str, code: str) -> serializers.ValidationError:
    return serializers.ValidationError({"mac": [serializers.ErrorDetail(message, code=code)]})


def _when(value: Any) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None
