"""What the stored state says needs someone. Read after every run, over everything the run
covers (even what it did not get to), so a problem that persists is reported, and keeps the
exit status at 1, on every run while it does: not only on the run that found it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from devices.models import Device
from organisations.models import Organisation
from rps.models import RpsDeviceState, RpsServerState
from rps.summary import Kind, Problem

Status = RpsDeviceState.Status
_PHONE_KINDS = {Status.OWNED_BY_OTHER: Kind.OWNED_BY_OTHER, Status.FAILED: Kind.PHONE_REFUSED}


def organisation_problems(organisation: Organisation, macs: set[str] | None) -> list[Problem]:
    """Its server's refusal and its active phones that RPS refused or another customer owns.
    An inactive organisation has none: its phones are the removals' (`removal_problems`)."""
    if not organisation.is_active:
        return []
    problems = [
        Problem(organisation.slug, "", s.last_error, s.last_error_detail, Kind.SERVER_REFUSED)
        for s in RpsServerState.objects.filter(organisation=organisation).exclude(last_error="")
    ]
    states = RpsDeviceState.objects.filter(
        device__organisation=organisation, device__is_active=True, status__in=_PHONE_KINDS
    )
    if macs is not None:
        states = states.filter(mac__in=macs)
    for state in states.order_by("mac"):
        kind = _PHONE_KINDS[Status(state.status)]
        problems.append(
            Problem(organisation.slug, state.mac, state.last_error, state.last_error_detail, kind)
        )
    return problems


def removal_problems(selected: list[Organisation] | None, macs: set[str] | None) -> list[Problem]:
    """The phones we want out of RPS that RPS refused to remove."""
    return [
        Problem(
            state.organisation.slug if state.organisation else "",
            state.mac,
            state.last_error,
            state.last_error_detail,
            Kind.REMOVAL_REFUSED,
        )
        for state in unwanted_states(selected, macs)
        if state.status == Status.FAILED
    ]


def unwanted_states(
    selected: list[Organisation] | None, macs: set[str] | None
) -> list[RpsDeviceState]:
    """The rows of MACs RPS may have from us that we no longer want there: deleted or
    deactivated phones and the phones of inactive organisations (of `selected` when given)."""
    unwanted = Q(device__isnull=True) | Q(device__is_active=False)
    states = RpsDeviceState.objects.exclude(status=Status.REMOVED).filter(
        unwanted | Q(device__organisation__is_active=False)
    )
    if selected is not None:
        states = states.filter(Q(organisation__in=selected) | Q(device__organisation__in=selected))
    if macs is not None:
        states = states.filter(mac__in=macs)
    found = list(states.select_related("organisation").order_by("mac"))
    # A deleted phone's MAC may be back as a new phone: the sync of its organisation
    # links the row to it; it is not ours to remove.
    back = wanted_macs([state.mac for state in found if state.device_id is None])
    return [state for state in found if state.mac not in back]


def wanted_macs(macs: list[str]) -> set[str]:
    """Those of the MACs that belong to an active phone of an active organisation."""
    wanted: set[str] = set()
    for chunk in _chunks(macs, 500):
        wanted.update(wanted_devices().filter(mac__in=chunk).values_list("mac", flat=True))
    return wanted


def wanted_devices() -> QuerySet[Device]:
    return Device.objects.filter(is_active=True, organisation__is_active=True)


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
