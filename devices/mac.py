"""MAC addresses and the User-Agent of Yealink phones: plain functions, no HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext, ngettext

# First six hex digits of Yealink MACs. The list grows with new production runs: add here.
YEALINK_OUIS = frozenset(
    {
        "001565",
        "805ec0",
        "805e0c",
        "249ad8",
        "3497d7",
        "44dbd2",
        "644f56",
        "b061a9",
        "c4fc22",
        "ec1da9",
        "f01653",
        "e434d7",  # one source only
    }
)

_FORMS = (
    re.compile(r"^[0-9a-f]{12}$"),
    re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"),
    re.compile(r"^[0-9a-f]{2}(-[0-9a-f]{2}){5}$"),
    re.compile(r"^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$"),
)
_SEPARATORS = re.compile(r"[:\-.]")
_HEX = frozenset("0123456789abcdef")
EXAMPLE_MACS = ("80:5E:C0:00:00:01", "80-5e-c0-00-00-01", "805e.c000.0001", "805ec0000001")


class InvalidMac(ValueError):
    """Raised with a message that says what is wrong with the text given as a MAC."""


def normalise_mac(value: str) -> str:
    """Any usual notation -> 12 lower-case hex digits; InvalidMac says why when it can't."""
    text = value.strip().lower()
    if any(form.match(text) for form in _FORMS):
        mac = _SEPARATORS.sub("", text)
        _check_unicast(mac)
        return mac
    raise InvalidMac(_explain(text))


def _explain(text: str) -> str:
    digits = _SEPARATORS.sub("", text)
    bad = sorted({char for char in digits if char not in _HEX})
    if not text:
        return gettext("A MAC address is required.")
    if bad:
        shown = ", ".join(repr(char) for char in bad[:5])
        return ngettext(
            "%(chars)s is not a hexadecimal digit; write the MAC as %(examples)s.",
            "%(chars)s are not hexadecimal digits; write the MAC as %(examples)s.",
            len(bad),
        ) % {"chars": shown, "examples": examples()}
    if len(digits) != 12:
        return gettext(
            "A MAC has 12 hexadecimal digits, this has %(count)d; write it as %(examples)s."
        ) % {"count": len(digits), "examples": examples()}
    return gettext("Unusual grouping of the digits; write the MAC as %(examples)s.") % {
        "examples": examples()
    }


def examples() -> str:
    """The notations a MAC may be written in, as a list in the user's language."""
    return gettext("%(notations)s or %(last)s") % {
        "notations": ", ".join(EXAMPLE_MACS[:-1]),
        "last": EXAMPLE_MACS[-1],
    }


def _check_unicast(mac: str) -> None:
    if mac in ("000000000000", "ffffffffffff") or int(mac[1], 16) & 1:
        raise InvalidMac(
            gettext("%(mac)s is a broadcast, multicast or empty address, never a phone's MAC.")
            % {"mac": format_mac(mac)}
        )


def format_mac(mac: str) -> str:
    """12 hex digits -> 80:5e:c0:00:00:01, the notation of the User-Agent."""
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def is_yealink_oui(mac: str) -> bool:
    return mac[:6] in YEALINK_OUIS


def mac_search_fragment(term: str) -> str | None:
    """A search term in any MAC notation (or part of one) -> hex digits to look for."""
    digits = _SEPARATORS.sub("", term.strip().lower())
    if len(digits) >= 2 and set(digits) <= _HEX:
        return digits
    return None


_UA_MAC = re.compile(r"^(?:[0-9a-f]{12}|[0-9a-f]{2}(?::[0-9a-f]{2}){5})$", re.IGNORECASE)
_UA_FIRMWARE = re.compile(r"^\d{1,4}(?:\.\d{1,4}){2,3}$")


@dataclass(frozen=True)
class UserAgent:
    """What a phone says about itself: `Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37`."""

    raw: str
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    mac: str | None = None

    @property
    def model_code(self) -> int | None:
        """The firmware's first number names the common file (`28.x` -> y000000000028.cfg)."""
        if not self.firmware:
            return None
        return int(self.firmware.split(".", 1)[0])

    @property
    def legacy_key_names(self) -> bool:
        """Firmware before V81 (`28.80.0.x` and older) reads the provisioning keys without
        their `static.` prefix (yealink.md §3); unknown firmware gets the V81 names."""
        parts = self.firmware.split(".")
        return len(parts) > 1 and int(parts[1]) < 81


def parse_user_agent(raw: str) -> UserAgent:
    tokens = raw.split()
    if not tokens:
        return UserAgent(raw=raw)
    mac = None
    if len(tokens) > 1 and _UA_MAC.match(tokens[-1]):
        mac = _SEPARATORS.sub("", tokens.pop().lower())
    fw_index = next((i for i, t in enumerate(tokens) if _UA_FIRMWARE.match(t)), None)
    firmware = tokens[fw_index] if fw_index is not None else ""
    model_tokens = tokens[1:fw_index] if fw_index is not None else tokens[1:2]
    return UserAgent(
        raw=raw, vendor=tokens[0], model=_model_name(model_tokens), firmware=firmware, mac=mac
    )


def _model_name(tokens: list[str]) -> str:
    name = " ".join(tokens)
    for prefix in ("SIP-", "SIP "):
        if name.upper().startswith(prefix):
            name = name[len(prefix) :]
    return name.strip()[:32]
