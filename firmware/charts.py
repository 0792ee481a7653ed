"""A rollout's progress over time, drawn here as SVG: no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from firmware.models import RolloutPhone, RolloutSample

Phone = RolloutPhone.State
# Drawn from the bottom up: the phones back first.
SERIES = [
    (Phone.UPDATED, "#2e7d32"),
    (Phone.OFFERED, "#1565c0"),
    (Phone.FAILED, "#c62828"),
    (Phone.ABSENT, "#9e9e9e"),
    (Phone.WAITING, "#e0e0e0"),
    (Phone.LEFT, "#f3e5f5"),
]
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 200, 44, 24


def progress_svg(samples: Sequence[RolloutSample]) -> SafeString:
    """Stacked areas of the phones per state at each sample, over the rollout's time."""
    if not samples:
        return format_html("<p>{}</p>", gettext("No progress yet: the rollout has not started."))
    start, end = samples[0].at, samples[-1].at
    span = max((end - start).total_seconds(), 1.0)
    total = max(sum(sample.counts.values()) for sample in samples) or 1
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - 8

    def x(sample: RolloutSample) -> float:
        return LEFT + plot_w * (sample.at - start).total_seconds() / span

    def y(phones: float) -> float:
        return 8 + plot_h * (1 - phones / total)

    below = [0.0] * len(samples)
    areas = []
    for state, colour in SERIES:
        above = [
            low + sample.counts.get(state, 0) for low, sample in zip(below, samples, strict=True)
        ]
        top = [f"{x(s):.1f},{y(v):.1f}" for s, v in zip(samples, above, strict=True)]
        bottom = [f"{x(s):.1f},{y(v):.1f}" for s, v in zip(samples, below, strict=True)][::-1]
        if len(samples) == 1:  # one point: a bar across the width
            top = [f"{LEFT},{y(above[0]):.1f}", f"{LEFT + plot_w},{y(above[0]):.1f}"]
            bottom = [f"{LEFT + plot_w},{y(below[0]):.1f}", f"{LEFT},{y(below[0]):.1f}"]
        areas.append((" ".join(top + bottom), colour, RolloutPhone.State(state).label))
        below = above
    polygons = format_html_join(
        "",
        '<polygon points="{}" fill="{}"><title>{}</title></polygon>',
        areas,
    )
    legend = format_html_join(
        "",
        '<span style="display:inline-block;margin-right:1em">'
        '<span style="display:inline-block;width:.8em;height:.8em;background:{}"></span> {}'
        "</span>",
        ((colour, RolloutPhone.State(state).label) for state, colour in SERIES),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        'aria-label="{label}">'
        '<text x="0" y="14" font-size="11">{total}</text>'
        '<text x="0" y="{zero_y}" font-size="11">0</text>'
        "{polygons}"
        '<text x="{left}" y="{label_y}" font-size="11">{start}</text>'
        '<text x="{right}" y="{label_y}" font-size="11" text-anchor="end">{end}</text>'
        "</svg><div>{legend}</div>",
        w=WIDTH,
        label=gettext("Phones per state over time"),
        h=HEIGHT,
        total=total,
        zero_y=HEIGHT - BOTTOM,
        polygons=polygons,
        left=LEFT,
        right=WIDTH - 8,
        label_y=HEIGHT - 6,
        start=f"{timezone.localtime(start):%Y-%m-%d %H:%M}",
        end=f"{timezone.localtime(end):%Y-%m-%d %H:%M}",
        legend=legend,
    )
