"""The admin's first page: the figures a provider or an organisation's staff look at, each
linking to the list it counts, and drawn here as SVG (no script, nothing fetched).

Requests per hour come from `AccessLogHour`, counted as the access log is written, never
from the access log itself; the rest are counts over the phones (an index or two each).
Everything is scoped: organisation staff see their organisation's figures only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from devices import status
from devices.models import AccessLog, AccessLogHour, Device, UnassignedPhone
from organisations.scoping import AnyUser, is_provider, scope_queryset, staff_organisation
from rps.models import RpsDeviceState

Outcome = AccessLog.Outcome
# What the phones' requests failed with: refused credentials or tokens, unknown MACs, bad
# requests (a 404 for a file a phone may not have, or a busy server, is no failure of it).
FAILED = [
    Outcome.MAC_UNKNOWN,
    Outcome.WRONG_CREDENTIALS,
    Outcome.WRONG_TOKEN,
    Outcome.BAD_REQUEST,
    Outcome.MAC_MISMATCH,
    Outcome.REPLAYED,
    Outcome.ORGANISATION_REFUSED,
    Outcome.THROTTLED,
    Outcome.UNAVAILABLE,
]
GREEN, AMBER, RED, GREY, BLUE = "#2e7d32", "#ef6c00", "#c62828", "#9e9e9e", "#1565c0"


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    url: str
    colour: str = BLUE


def _url(name: str, **query: object) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def phone_status(user: AnyUser, now: datetime) -> list[Figure]:
    """The active phones by the status the phone list shows (devices.status), one GROUP BY."""
    phones = scope_queryset(Device.objects.filter(is_active=True), user)
    rows = status.annotate_status(phones).values(status.ANNOTATION).annotate(n=Count("pk"))
    counts = {row[status.ANNOTATION]: row["n"] for row in rows.order_by()}
    colours = {status.OK: GREEN, status.STALE: AMBER, status.FAILING: RED, status.NEVER: GREY}
    return [
        Figure(
            status.LABELS[value],
            counts.get(value, 0),
            _url("admin:devices_device_changelist", is_active__exact=1, status=value),
            colours[value],
        )
        for value in (status.OK, status.STALE, status.FAILING, status.NEVER)
    ]


def requests_by_hour(user: AnyUser, now: datetime, hours: int) -> list[tuple[datetime, int, int]]:
    """(hour, requests, failed) for each of the last `hours` hours, oldest first."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = _hours(user).filter(hour__gte=start, hour__lt=end)
    totals = rows.values("hour").annotate(
        total=Sum("requests"), failed=Sum("requests", filter=Q(outcome__in=FAILED))
    )
    by_hour = {row["hour"]: (row["total"], row["failed"] or 0) for row in totals}
    shown = [start + timedelta(hours=n) for n in range(hours)]
    return [(hour, *by_hour.get(hour, (0, 0))) for hour in shown]


def requests_by_day(user: AnyUser, now: datetime, days: int) -> list[tuple[datetime, int, int]]:
    """(day, requests, failed) for each of the last `days` days (in the site's time zone)."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    sums: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for hour, requests, failed in requests_by_hour(
        user, now, int((now - start).total_seconds() // 3600) + 1
    ):
        day = timezone.localtime(hour).replace(hour=0, minute=0, second=0, microsecond=0)
        if day >= start:
            sums[day][0] += requests
            sums[day][1] += failed
    days_shown = [start + timedelta(days=n) for n in range(days)]
    return [(day, sums[day][0], sums[day][1]) for day in days_shown]


def _hours(user: AnyUser) -> Any:
    hours = AccessLogHour.objects.all()
    if not is_provider(user):
        organisation = staff_organisation(user)
        hours = hours.filter(organisation=organisation) if organisation else hours.none()
    return hours


def distribution(user: AnyUser, field: str, limit: int = 8) -> list[Figure]:
    """The active phones per value of `field` (model, reported firmware), the largest first;
    the rest summed as "others"."""
    phones = scope_queryset(Device.objects.filter(is_active=True), user)
    rows = list(phones.values(field).annotate(n=Count("pk")).order_by("-n", field))
    figures = [
        Figure(
            row[field] or gettext("not reported"),
            row["n"],
            _url("admin:devices_device_changelist", **{field: row[field]})
            if row[field]
            else _url("admin:devices_device_changelist"),
        )
        for row in rows[:limit]
    ]
    rest = sum(row["n"] for row in rows[limit:])
    if rest:
        figures.append(
            Figure(gettext("others"), rest, _url("admin:devices_device_changelist"), GREY)
        )
    return figures


RPS_COLOURS = {
    RpsDeviceState.Status.REGISTERED: GREEN,
    RpsDeviceState.Status.PENDING: AMBER,
    RpsDeviceState.Status.FAILED: RED,
    RpsDeviceState.Status.OWNED_BY_OTHER: RED,
    RpsDeviceState.Status.REMOVED: GREY,
}


def rps_states(user: AnyUser) -> list[Figure]:
    states = scope_queryset(RpsDeviceState.objects.all(), user)
    counts = dict(states.values_list("status").annotate(n=Count("pk")))
    return [
        Figure(
            str(state.label),
            counts.get(state.value, 0),
            _url("admin:rps_rpsdevicestate_changelist", status__exact=state.value),
            RPS_COLOURS[state],
        )
        for state in RpsDeviceState.Status
        if counts.get(state.value) or state == RpsDeviceState.Status.REGISTERED
    ]


def unassigned(user: AnyUser) -> Figure:
    phones = scope_queryset(UnassignedPhone.objects.all(), user)
    return Figure(
        gettext("unassigned phones"),
        phones.count(),
        _url("admin:devices_unassignedphone_changelist"),
        AMBER,
    )


def figures(user: AnyUser) -> dict[str, Any]:
    now = timezone.now()
    hours = requests_by_hour(user, now, 24)
    days = requests_by_day(user, now, 7)
    log = "admin:devices_accesslog_changelist"
    phones = phone_status(user, now)
    return {
        "status": phones,
        "phones": sum(figure.value for figure in phones),
        "status_svg": bars_svg(phones),
        "hours_svg": columns_svg(
            [
                (f"{timezone.localtime(hour):%H}", r, f, _range_url(log, hour, 1))
                for hour, r, f in hours
            ],
            gettext("Requests per hour, last 24 hours"),
        ),
        "days_svg": columns_svg(
            [(date_format(day, "D d"), r, f, _range_url(log, day, 24)) for day, r, f in days],
            gettext("Requests per day, last 7 days"),
        ),
        "requests_24h": sum(r for _, r, _ in hours),
        "failed_24h": sum(f for _, _, f in hours),
        "models_svg": bars_svg(distribution(user, "model")),
        "firmware_svg": bars_svg(distribution(user, "last_firmware")),
        "rps_svg": bars_svg(rps_states(user)),
        "unassigned": unassigned(user),
    }


def _range_url(name: str, start: datetime, hours: int) -> str:
    end = start + timedelta(hours=hours)
    local = timezone.localtime
    return _url(
        name,
        created_at__gte=f"{local(start):%Y-%m-%d %H:%M:%S}",
        created_at__lt=f"{local(end):%Y-%m-%d %H:%M:%S}",
    )


# --- drawing ---------------------------------------------------------------------------------


def bars_svg(figures: list[Figure], width: int = 320) -> SafeString:
    """One horizontal bar per figure, its length to scale, each a link to its list."""
    if not figures:
        return format_html("<p>{}</p>", gettext("Nothing to show yet."))
    top = max(figure.value for figure in figures) or 1
    # Room for 22 characters of a label ("nooit geprovisioned"); a longer one is cut, whole
    # in the bar's title.
    label_w, bar_w, row_h = 140, width - 140 - 50, 20
    rows = format_html_join(
        "",
        '<a href="{}"><title>{}: {}</title>'
        '<text x="0" y="{}" font-size="12">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="14" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="12">{}</text></a>',
        (
            (
                figure.url,
                figure.label,
                figure.value,
                index * row_h + 12,
                figure.label if len(figure.label) <= 22 else figure.label[:21] + "…",
                label_w,
                index * row_h + 1,
                max(1, round(bar_w * figure.value / top)) if figure.value else 0,
                figure.colour,
                label_w + (round(bar_w * figure.value / top) if figure.value else 0) + 4,
                index * row_h + 12,
                figure.value,
            )
            for index, figure in enumerate(figures)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">{}</svg>',
        width,
        len(figures) * row_h,
        rows,
    )


def columns_svg(columns: list[tuple[str, int, int, str]], title: str) -> SafeString:
    """A column per period: its requests (blue) with its failures (red) at the foot."""
    width, height, foot = 24 * max(len(columns), 1) + 40, 140, 18
    top = max((requests for _, requests, _, _ in columns), default=0) or 1
    step = (width - 40) / max(len(columns), 1)

    def h(value: int) -> float:
        return (height - foot - 14) * value / top

    def column(index: int, label: str, requests: int, failed: int, url: str) -> tuple[str, ...]:
        x = f"{36 + index * step:.1f}"
        return (
            url,
            _column_title(label, requests, failed),
            x,
            f"{height - foot - h(requests):.1f}",
            f"{step - 3:.1f}",
            f"{h(requests):.1f}",
            BLUE,
            x,
            f"{height - foot - h(failed):.1f}",
            f"{step - 3:.1f}",
            f"{h(failed):.1f}",
            RED,
            f"{36 + index * step + (step - 3) / 2:.1f}",
            str(height - 4),
            label,
        )

    bars = format_html_join(
        "",
        '<a href="{}"><title>{}</title>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text></a>',
        (column(index, *values) for index, values in enumerate(columns)),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" '
        'aria-label="{}"><text x="0" y="12" font-size="11">{}</text>'
        '<text x="0" y="{}" font-size="11">0</text>{}</svg>',
        width,
        height,
        title,
        top,
        height - foot,
        bars,
    )


def _column_title(label: str, requests: int, failed: int) -> str:
    """What a column says when pointed at: its period, its requests and its failures."""
    return ngettext(
        "%(period)s: %(requests)d request, %(failed)d failed",
        "%(period)s: %(requests)d requests, %(failed)d failed",
        requests,
    ) % {"period": label, "requests": requests, "failed": failed}
