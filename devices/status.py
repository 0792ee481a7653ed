"""Phone status for the admin: ok, never provisioned, stale, failing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from organisations.models import Organisation

NEVER_PROVISIONED = Q(last_seen_at__isnull=True)


OK, STALE, FAILING, NEVER = "ok", "stale", "failing", "never"
# In the reader's language, read when shown (a lazy text is a str once rendered: the dashboard
# and the phone list take them as such).
LABELS = cast(
    dict[str, str],
    {OK: _("ok"), STALE: _("stale"), FAILING: _("failing"), NEVER: _("never provisioned")},
)
ANNOTATION = "phone_status"  # what annotate_status adds


def stale(now: datetime | None = None, intervals: Iterable[int] | None = None) -> Q:
    """Seen before, but not for twice its organisation's repeat interval.

    One condition per interval in use keeps it plain SQL on every database (no interval
    arithmetic); installations use a handful of intervals. `intervals`: those in use, when
    the caller has read them already.
    """
    now = now or timezone.now()
    if intervals is None:
        intervals = intervals_in_use()
    condition = Q(pk__in=[])
    for minutes in set(intervals):
        condition |= Q(
            organisation__provisioning_interval_minutes=minutes,
            last_seen_at__lt=now - timedelta(minutes=2 * minutes),
        )
    return condition


def intervals_in_use() -> list[int]:
    return list(
        Organisation.objects.values_list("provisioning_interval_minutes", flat=True).distinct()
    )


def failing(now: datetime | None = None) -> Q:
    """Wrong credentials recently, and no success since: from the time of the phone's last
    Wrong credentials, which the access-log writer keeps on it (never a look into the log,
    whatever its size)."""
    since = (now or timezone.now()) - timedelta(hours=settings.PHONE_FAILING_WINDOW_HOURS)
    return Q(last_failure_at__gte=since) & (
        NEVER_PROVISIONED | Q(last_failure_at__gt=F("last_seen_at"))
    )


def annotate_status(
    devices: QuerySet[Device], intervals: Iterable[int] | None = None
) -> QuerySet[Device]:
    """Each phone's status as ANNOTATION (OK, STALE, FAILING or NEVER), in the list's own
    query. Failing comes first: a phone failing since it was last seen is also stale."""
    now = timezone.now()
    value = Case(
        When(failing(now), then=Value(FAILING)),
        When(NEVER_PROVISIONED, then=Value(NEVER)),
        When(stale(now, intervals), then=Value(STALE)),
        default=Value(OK),
        output_field=CharField(),
    )
    return devices.annotate(**{ANNOTATION: value})


def annotate_phone_counts(organisations: QuerySet[Organisation]) -> QuerySet[Organisation]:
    """Per organisation: phones, never provisioned, stale and failing, in the same query."""
    now = timezone.now()
    return organisations.annotate(
        phone_count=_count(Q()),
        never_count=_count(NEVER_PROVISIONED),
        stale_count=_count(stale(now)),
        failing_count=_count(failing(now)),
    )


def _count(condition: Q) -> Coalesce:
    devices = (
        Device.objects.filter(condition, organisation=OuterRef("pk"))
        .order_by()
        .values("organisation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(devices, output_field=IntegerField()), 0)
