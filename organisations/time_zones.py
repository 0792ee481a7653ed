"""Yealink's own time zone names (`local_time.time_zone_name`) and the offset of each.

A Yealink phone picks its daylight saving rules by this name and silently ignores one it does
not know, keeping only the offset. The list is data, in `data/yealink-time-zones.tsv`, whose
header says where it comes from.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from organisations.config_syntax import is_number

TIME_ZONES_FILE = Path(__file__).resolve().parent / "data" / "yealink-time-zones.tsv"
# Longer than any name by far: past this, looking for close names is not worth the time.
_SUGGEST_UP_TO = 100


@dataclass(frozen=True)
class Zone:
    """One row of Yealink's table: `local_time.time_zone` and `local_time.time_zone_name`."""

    offset: str
    name: str

    @property
    def label(self) -> str:
        """How Yealink's table and web interface show it: `+1 Netherlands(Amsterdam)`."""
        return f"{self.offset} {self.name}"


@cache
def zones() -> tuple[Zone, ...]:
    """Every zone of the file, in Yealink's order. A name may occur twice (Brazil(no DST))."""
    result: list[Zone] = []
    lines = TIME_ZONES_FILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(field and field == field.strip() for field in fields):
            raise ValueError(
                f"{TIME_ZONES_FILE.name}, line {number}: expected 'offset<TAB>name', got {line!r}."
            )
        result.append(Zone(offset=fields[0], name=fields[1]))
    return tuple(result)


@cache
def _offsets_by_name() -> dict[str, tuple[str, ...]]:
    offsets: dict[str, tuple[str, ...]] = {}
    for zone in zones():
        offsets[zone.name] = (*offsets.get(zone.name, ()), zone.offset)
    return offsets


def offsets_of(name: str) -> tuple[str, ...]:
    """All offsets Yealink lists for this name, in its order; empty if it is not a name."""
    return _offsets_by_name().get(name, ())


def offset_of(name: str) -> str | None:
    """The offset of this zone name, or None if the name is unknown or has several offsets."""
    offsets = offsets_of(name)
    return offsets[0] if len(offsets) == 1 else None


def zone_choices() -> list[tuple[str, str]]:
    """Choices for a form field: the name as value, `+1 Netherlands(Amsterdam)` as label.

    One choice per name, in Yealink's order; a name with several offsets shows them all
    (`-3/-2 Brazil(no DST)`). No blank choice: add ("", ...) where offset only is allowed.
    """
    return [(name, f"{'/'.join(offsets)} {name}") for name, offsets in _offsets_by_name().items()]


def validate_time_zone_offset(value: str) -> None:
    """An offset a clock can have: UTC-12 to UTC+14, in quarter hours."""
    hours, _sep, minutes = value.lstrip("+-").partition(":")
    sign = -1 if value.startswith("-") else 1
    valid = is_number(hours) and (not minutes or is_number(minutes))
    total = sign * (int(hours) * 60 + int(minutes or 0)) if valid else None
    if total is None or not -12 * 60 <= total <= 14 * 60 or (minutes and int(minutes) % 15):
        raise ValidationError(
            _(
                "%(value)s is no time zone: offsets run from -12 to +14, in quarter hours "
                "(+1, -5, +5:30, +5:45)."
            ),
            code="time_zone_offset",
            params={"value": value},
        )


def validate_time_zone_name(value: str) -> None:
    """Refuse a name Yealink phones do not know; '' (offset only, no DST rules) is fine."""
    if value == "" or value in _offsets_by_name():
        return
    suggestions = _close_names(value)
    if suggestions:
        message = _(
            '"%(value)s" is not one of Yealink\'s time zone names: the phone would ignore it '
            "and keep only the offset, without daylight saving time. Did you mean "
            "%(suggestions)s? Write the name exactly as Yealink's list has it, or leave it "
            "empty to send the offset only."
        )
    else:
        message = _(
            '"%(value)s" is not one of Yealink\'s time zone names: the phone would ignore it '
            "and keep only the offset, without daylight saving time. Pick a name from that "
            'list, such as "Netherlands(Amsterdam)". Write the name exactly as Yealink\'s '
            "list has it, or leave it empty to send the offset only."
        )
    raise ValidationError(
        message,
        code="unknown_time_zone",
        params={
            "value": value,
            "suggestions": gettext(" or ").join(f'"{s}"' for s in suggestions),
        },
    )


def _close_names(value: str, limit: int = 3) -> list[str]:
    if len(value) > _SUGGEST_UP_TO:
        return []
    # Compared without case, so "netherlands(amsterdam)" still finds its zone.
    by_folded = {name.casefold(): name for name in _offsets_by_name()}
    folded = value.casefold()
    matches = difflib.get_close_matches(folded, by_folded, n=limit, cutoff=0.6)
    if not matches:
        # A city or country on its own, or an IANA name: "Europe/Amsterdam", "Berlin".
        words = re.findall(r"[^\W\d_]{4,}", folded)
        matches = [key for key in by_folded if any(word in key for word in words)][:limit]
    return [by_folded[match] for match in matches]
