"""MACs that another organisation has, as organisation staff meet them (issue 15).

A MAC is one phone, so staff can never add one that another organisation has. What they are
told must not say whose it is, or that anyone has it: "cannot be added", the same words
wherever they meet it (the CSV import, the phone form, an unassigned phone's "Add this
phone"). Each such attempt is recorded for the provider (ForeignMacAttempt, in the admin),
and the words alone would still let a script learn, a few MACs at a time, which of a list of
candidates are taken. So a file with more than FOREIGN_MACS_PER_IMPORT of them is refused
whole without naming any, and once an organisation's staff have tried
FOREIGN_MACS_PER_DAY of them within 24 hours, adding phones is paused for it: every new MAC
gets the same answer then, taken or not, so nothing more is learnt. Phones it has already
can still be changed, and the provider can add phones for it meanwhile.

The provider's own pages give the real reason (which organisation has the MAC).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from devices.mac import format_mac
from devices.models import Device, ForeignMacAttempt
from devices.serving.request import client_ip
from organisations.models import Organisation
from organisations.scoping import ApiClient

PAUSE_WINDOW = timedelta(hours=24)


def cannot_add(mac: str) -> str:
    return gettext(
        "%(mac)s cannot be added. If it is one of your phones, contact your provider."
    ) % {"mac": format_mac(mac)}


def refused_whole() -> str:
    return gettext(
        "Nothing was imported: this file has more than %(count)d MACs that cannot be added. "
        "Check the MACs against the labels on the phones, and contact your provider about the "
        "phones you cannot add."
    ) % {"count": settings.FOREIGN_MACS_PER_IMPORT}


def paused(organisation: Organisation) -> str:
    return gettext(
        "Adding phones is paused for %(organisation)s: too many MACs that cannot be added were "
        "tried in the last 24 hours. Contact your provider, who can add the phones for you. "
        "Your phones can still be changed."
    ) % {"organisation": organisation.name}


def refuse_taken(
    organisation: Organisation,
    mac: str,
    owner_id: int | None,
    tried: Callable[[], object],
    *,
    paused_now: bool | None = None,
) -> None:
    """The rule wherever organisation staff (or their API token) add one MAC: the phone
    form, the API, an unassigned phone's "Add": ValidationError when it is one of theirs
    already, when another organisation has it ("cannot be added", after `tried()` records
    the attempt), or when adding is paused for them. `owner_id`: the organisation that has
    the MAC, if any; `paused_now`: is_paused() when the caller knows it already."""
    if owner_id == organisation.pk:
        raise ValidationError(gettext("This MAC is one of your phones already."), code="unique")
    if owner_id is not None:
        tried()
    if is_paused(organisation) if paused_now is None else paused_now:
        raise ValidationError(paused(organisation), code="paused")
    if owner_id is not None:
        raise ValidationError(cannot_add(mac), code="cannot_add")


def others(macs: Collection[str], organisation: Organisation) -> list[str]:
    """Those of `macs` (normalised) that another organisation has."""
    taken = Device.objects.filter(mac__in=macs).exclude(organisation=organisation)
    return sorted(taken.values_list("mac", flat=True))


def is_paused(organisation: Organisation) -> bool:
    since = timezone.now() - PAUSE_WINDOW
    recent = ForeignMacAttempt.objects.filter(organisation=organisation, created_at__gte=since)
    tried = recent.aggregate(total=Sum("mac_count"))["total"] or 0
    return bool(tried >= settings.FOREIGN_MACS_PER_DAY)


def record(
    request: HttpRequest,
    organisation: Organisation,
    macs: Collection[str],
    source: ForeignMacAttempt.Source,
    *,
    refused_whole: bool = False,
) -> ForeignMacAttempt:
    """What the provider sees of the attempt: who (a staff user, or an API token by its
    name), from where, which MACs."""
    actor: object = request.user  # an ApiClient when the REST API asks
    user: User | None
    if isinstance(actor, ApiClient):
        user, username = actor.user, str(actor)
    else:
        user = None if isinstance(request.user, AnonymousUser) else request.user
        username = _username(request.user)
    return ForeignMacAttempt.objects.create(
        organisation=organisation,
        user=user,
        username=username,
        ip=client_ip(request),
        source=source,
        macs="\n".join(sorted(macs)),
        mac_count=len(macs),
        refused_whole=refused_whole,
    )


def _username(user: AbstractBaseUser | AnonymousUser) -> str:
    return str(user.get_username())
