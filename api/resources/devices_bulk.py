"""`POST /api/v1/devices/bulk`: up to 1,000 phones with their accounts, created or updated in
one all-or-nothing transaction.

Each item is a device as `/api/v1/devices` takes it. A MAC the organisation (or, for a
provider token, anyone) has already is updated with what the item gives (as a PATCH); any
other is created (as a POST). The same body twice changes nothing the second time. As in
the CSV import (devices/csv_io.py): a MAC twice in the body is refused, and for an
organisation token another organisation's MAC says only that it cannot be added, too many of
them (or any new MAC while adding is paused) refuse the whole body, and each attempt is
recorded for the provider. Existing phones, organisations and key profiles are loaded with a
few queries for the whole body, not a few per item.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.functional import lazy
from django.utils.translation import gettext
from rest_framework import exceptions, serializers
from rest_framework.request import Request

from api import history
from api.resources.devices_serializers import DeviceSerializer, Lookups, required
from devices import foreign_macs, serving
from devices.mac import InvalidMac, format_mac, normalise_mac
from devices.models import Device, ForeignMacAttempt
from organisations.scoping import ApiClient

MAX_DEVICES = 1000
FLAGS = {"created": history.ADDITION, "updated": history.CHANGE}


class TooManyDevices(exceptions.APIException):
    status_code = 400
    default_code = "too_many_devices"
    default_detail = lazy(
        lambda: (
            gettext("At most %(count)d devices in one request: send them in parts.")
            % {"count": MAX_DEVICES}
        ),
        str,
    )()


class Refused(exceptions.APIException):
    """The whole body refused without naming a MAC (devices.foreign_macs says why)."""

    status_code = 400
    default_code = "refused"


class BulkDevicesSerializer(serializers.Serializer[Any]):
    """The body, for the schema (the items are checked one by one, each as a device)."""

    devices = DeviceSerializer(many=True, help_text=f"At most {MAX_DEVICES}.")


class BulkItemSerializer(serializers.Serializer[Any]):
    mac = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class BulkResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    devices = BulkItemSerializer(many=True, help_text="Each item's MAC, in the body's order.")


def write(request: Request, client: ApiClient, body: Any) -> dict[str, Any]:
    items = _items(body)
    lookups = Lookups(request, client, bulk=True)
    macs, errors = _macs(items)
    slugs = {item["organisation"] for item in items if isinstance(item.get("organisation"), str)}
    lookups.preload({mac for mac in macs if mac}, slugs)
    _refuse_whole(lookups, {mac for mac in macs if mac})
    # One serializer checks every item: building its fields costs more than checking one.
    checker = DeviceSerializer(context={"lookups": lookups, "request": request})
    checked = []
    for index, (item, mac) in enumerate(zip(items, macs, strict=True)):
        if mac is None:
            continue
        found = _checked(checker, item, mac, errors, index)
        if found is not None:
            checked.append(found)
    lookups.record(ForeignMacAttempt.Source.API)
    if errors:
        raise serializers.ValidationError(
            {"devices": [errors.get(i, {}) for i in range(len(items))]}
        )
    return _save(client, checker, checked)


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("devices") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise serializers.ValidationError(
            {"devices": [gettext('Send {"devices": [...]}: a list of devices.')]},
            code="not_a_list",
        )
    if len(items) > MAX_DEVICES:
        raise TooManyDevices(
            gettext(
                "At most %(count)d devices in one request; this one has %(given)d: "
                "send them in parts."
            )
            % {"count": MAX_DEVICES, "given": len(items)}
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise serializers.ValidationError(
                {"devices": {str(index): [gettext("Each device is an object.")]}},
                code="invalid",
            )
    return items


def _macs(items: list[dict[str, Any]]) -> tuple[list[str | None], dict[int, Any]]:
    """Each item's MAC, normalised; errors for the malformed and those given twice."""
    macs: list[str | None] = []
    errors: dict[int, Any] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        mac = _mac(item.get("mac"))
        if mac is None:
            errors[index] = {"mac": [_mac_problem(item.get("mac"))]}
        elif mac in first:
            again = gettext("%(mac)s is also item %(index)d.")
            errors[index] = {"mac": [again % {"mac": format_mac(mac), "index": first[mac]}]}
            mac = None
        else:
            first[mac] = index
        macs.append(mac)
    return macs, errors


def _mac(value: Any) -> str | None:
    try:
        return normalise_mac(value) if isinstance(value, str) else None
    except InvalidMac:
        return None


def _mac_problem(value: Any) -> serializers.ErrorDetail:
    if value is None:
        return required()
    try:
        normalise_mac(value if isinstance(value, str) else "")
    except InvalidMac as exc:
        return serializers.ErrorDetail(str(exc), "invalid_mac")
    words = serializers.CharField.default_error_messages["invalid"]  # DRF's
    return serializers.ErrorDetail(str(words), "invalid")  # pragma: no cover


def _refuse_whole(lookups: Lookups, macs: set[str]) -> None:
    """As the CSV import decides it: from the MACs alone, before any item is checked."""
    own = lookups.own
    if own is None:
        return
    found = {mac: lookups.device(mac) for mac in macs}
    ours = {mac for mac, device in found.items() if device and device.organisation_id == own.pk}
    taken = sorted(mac for mac, device in found.items() if device and mac not in ours)
    if macs - ours and lookups.paused:
        refusal = foreign_macs.paused(own)
    elif len(taken) > settings.FOREIGN_MACS_PER_IMPORT:
        refusal = foreign_macs.refused_whole()
    else:
        return
    lookups.foreign = taken
    lookups.record(ForeignMacAttempt.Source.API, refused_whole=True)
    raise Refused(refusal, code="paused" if lookups.paused else "refused")


def _checked(
    checker: DeviceSerializer, item: dict[str, Any], mac: str, errors: dict[int, Any], index: int
) -> tuple[Device, dict[str, Any]] | None:
    """The phone the item is for (a new one if none) and its checked values, or None with
    the item's errors."""
    lookups = checker.lookups
    existing = lookups.device(mac)
    if existing is not None and not _may_update(lookups, existing, item, errors, index):
        return None
    mine = existing if existing is not None and _is_theirs(lookups, existing) else None
    checker.instance, checker.partial = mine, mine is not None  # as for a PATCH, or a POST
    try:
        attrs = checker.run_validation(item)
    except serializers.ValidationError as exc:
        errors[index] = exc.detail
        return None
    return mine or Device(), attrs


def _is_theirs(lookups: Lookups, device: Device) -> bool:
    return lookups.own is None or device.organisation_id == lookups.own.pk


def _may_update(
    lookups: Lookups, device: Device, item: dict[str, Any], errors: dict[int, Any], index: int
) -> bool:
    """A provider's item for a MAC another organisation has is refused as the import
    refuses it (moving a phone is a PATCH of that phone)."""
    slug = item.get("organisation")
    if lookups.own is not None or not isinstance(slug, str) or slug == device.organisation.slug:
        return True
    if lookups.organisation(slug) is None:
        return True  # the serializer says that there is no such organisation
    message = gettext("%(mac)s is already registered to %(organisation)s.") % {
        "mac": format_mac(device.mac),
        "organisation": device.organisation.slug,
    }
    errors[index] = {"mac": [serializers.ErrorDetail(message, "unique")]}
    return False


def _save(
    client: ApiClient, checker: DeviceSerializer, checked: list[tuple[Device, dict[str, Any]]]
) -> dict[str, Any]:
    counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
    done = []
    with transaction.atomic(), serving.one_change():  # one config change, not one a row
        for device, attrs in checked:
            checker.write(device, attrs)
            outcome = checker.outcome
            counts[outcome] += 1
            done.append({"mac": device.mac, "outcome": outcome})
            if outcome in FLAGS:
                history.record(client, device, FLAGS[outcome], checker.changed_fields)
    return {**counts, "devices": done}
