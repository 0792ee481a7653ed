"""Yealink config file syntax: `key = value` lines, and what may go into a value.

Plain functions that know nothing of HTTP or models; the models' validators and the
renderer in `devices.config` use them.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# A value is one line: any of these in it would end the line early on the phone.
LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# Yealink refuses these in labels, display names and auth names.
FORBIDDEN_NAME_CHARS = frozenset(":;<>[]?%")
NUMERIC_SEGMENT = re.compile(r"(?<![^.])\d+(?![^.])")
KNOWN_KEYS_FILE = Path(__file__).resolve().parent / "data" / "yealink-keys.tsv"


# Keys a config file may hold several times, each line for something else: the web UI
# password once per user (`admin:...`, `user:...`), `ringtone.url` and `wallpaper_upload.url`
# once per file (Yealink's admin guides; Wazo's and FusionPBX's templates repeat them).
# In a config mapping each line is a *slot*, `key@what` (`@` is no key character), so a
# later layer replaces the same user's password and adds another user's.
REPEATABLE_KEYS = {
    "static.security.user_password": "user",
    "security.user_password": "user",
    "ringtone.url": "value",
    "wallpaper_upload.url": "value",
}
SLOT = "@"


def slot(key: str, value: str) -> str:
    """Where `key = value` goes in a config mapping: the key itself, or for a repeatable key
    `key@<user>` / `key@<value>`."""
    kind = REPEATABLE_KEYS.get(key.lower())
    if kind is None:
        return key
    what = value.split(":", 1)[0] if kind == "user" else value
    return f"{key}{SLOT}{what}"


def key_of(slot_name: str) -> str:
    """The key a slot is written as."""
    return slot_name.split(SLOT, 1)[0]


# Firmware before V81 reads these keys by their older names (yealink.md §3; Wazo's v80
# templates and FusionPBX's older ones use them, all in yealink-keys.tsv).
LEGACY_NAMES = {
    "static.auto_provision.server.url": "auto_provision.server.url",
    "static.auto_provision.server.username": "auto_provision.server.username",
    "static.auto_provision.server.password": "auto_provision.server.password",
    "static.auto_provision.repeat.enable": "auto_provision.repeat.enable",
    "static.auto_provision.repeat.minutes": "auto_provision.repeat.minutes",
    "static.auto_provision.pnp_enable": "auto_provision.pnp_enable",
    "static.security.user_password": "security.user_password",
    "static.security.trust_certificates": "security.trust_certificates",
    "static.trusted_certificates.url": "trusted_certificates.url",
    "static.firmware.url": "firmware.url",
}
LEGACY_PREFIXES = {"static.network.vlan.": "network.vlan.", "static.network.lldp.": "network.lldp."}
_CURRENT_NAMES = {old: new for new, old in LEGACY_NAMES.items()}
_CURRENT_PREFIXES = {old: new for new, old in LEGACY_PREFIXES.items()}


@lru_cache(maxsize=16384)
def fold(place: str) -> str:
    """The one name of a key (or of a slot's key) whatever its spelling: in lower case, and by
    its V81 name where older firmware reads it by another. Yealink's own parser's case rules
    are unconfirmed (yealink.md §3), so two spellings of one key are one key everywhere we
    compare keys: which keys staff may set, which layer wins, what is masked."""
    key, sep, what = place.partition(SLOT)
    key = key.lower()
    current = _renamed(key, _CURRENT_NAMES, _CURRENT_PREFIXES) or key
    return current + sep + what


def legacy_of(key: str) -> str | None:
    """A V81 key's name for firmware before V81, if it has another (`key` folded)."""
    return _renamed(key, LEGACY_NAMES, LEGACY_PREFIXES)


def _renamed(key: str, names: dict[str, str], prefixes: dict[str, str]) -> str | None:
    """`key` by the other generation's name: a name of its own, else its prefix's."""
    found = names.get(key)
    if found is None:
        found = next(
            (new + key[len(old) :] for old, new in prefixes.items() if key.startswith(old)),
            None,
        )
    return found


def parse_overrides(text: str, *, lenient: bool = False) -> dict[str, str]:
    """Parse raw `key = value` overrides; raise ValidationError naming each bad line.

    The result maps slots to values (`slot`): a repeatable key may come once per user or
    file, any other key once.

    With lenient=True bad lines are skipped instead: rendering a phone's file must not fail
    on a row that was changed behind the validators' back.
    """
    result: dict[str, str] = {}
    first_seen: dict[str, tuple[int, str]] = {}  # folded slot -> (its line, its key there)
    errors: list[ValidationError] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        try:
            parsed = _parse_override_line(line)
        except ValueError as exc:
            errors.append(
                ValidationError(
                    _("Line %(number)s: %(problem)s"),
                    code="invalid_override",
                    params={"number": number, "problem": str(exc)},
                )
            )
            continue
        if parsed is None:
            continue
        key, value = parsed
        place = slot(key, value)
        seen = first_seen.get(fold(place))
        if seen is not None:
            errors.append(_duplicate(number, key, place, *seen))
            continue
        first_seen[fold(place)] = (number, key)
        result[place] = value
    if errors and not lenient:
        raise ValidationError(errors)
    return result


def _duplicate(number: int, key: str, place: str, first: int, first_key: str) -> ValidationError:
    what = place.split(SLOT, 1)[1] if SLOT in place else ""
    spelled = first_key != key
    if what and spelled:
        message = _(
            "Line %(number)s: %(key)s is already set for %(what)s on line %(first)s "
            "(as %(first_key)s)."
        )
    elif what:
        message = _("Line %(number)s: %(key)s is already set for %(what)s on line %(first)s.")
    elif spelled:
        message = _("Line %(number)s: %(key)s is already set on line %(first)s (as %(first_key)s).")
    else:
        message = _("Line %(number)s: %(key)s is already set on line %(first)s.")
    return ValidationError(
        message,
        code="duplicate_override",
        params={
            "number": number,
            "key": key,
            "what": what,
            "first": first,
            "first_key": first_key,
        },
    )


def retire_overrides(before: str, after: str, retired: str) -> str:
    """The keys of raw overrides taken out (`before` -> `after`), added to those taken out
    earlier, less those set again: the phone gets them blanked (`devices.config`). Each is
    kept by its folded name (`fold`): set again in any spelling, it is no longer retired.

    Repeatable keys are left out: their lines hold a user or file, and a blank one would
    mean nothing to the phone; our own layers write the web passwords every time anyway.
    """

    def plain(text: str) -> set[str]:
        return {fold(place) for place in parse_overrides(text, lenient=True) if SLOT not in place}

    now = plain(after)
    kept = [key for key in dict.fromkeys(map(fold, retired.split())) if key not in now]
    taken_out = sorted(plain(before) - now - set(kept))
    return " ".join([*kept, *taken_out])


def _parse_override_line(line: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    key, sep, value = stripped.partition("=")
    key, value = key.strip(), value.strip()
    if not sep:
        raise ValueError(
            gettext("%(text)s is not of the form 'key = value'.")
            % {"text": repr(_shorten(stripped))}
        )
    if not KEY_PATTERN.match(key):
        raise ValueError(
            gettext("%(key)s is not a valid key (letters, digits, '.', '_' and '-' only).")
            % {"key": repr(_shorten(key))}
        )
    if LINE_BREAKS.search(value):
        raise ValueError(gettext("the value of %(key)s contains a line break.") % {"key": key})
    if CONTROL_CHARS.search(value):
        raise ValueError(
            gettext("the value of %(key)s contains a control character.") % {"key": key}
        )
    return key, value


def is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes superscripts and the digits of other
    scripts, which `int` refuses or reads as numbers the user did not mean."""
    return text.isascii() and text.isdigit()


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Keys only the provider may override: where phones fetch their config and firmware, whom
# they trust, and the phones' own admin passwords. An override of the provisioning URL would
# send the organisation's credentials elsewhere.
PROVIDER_ONLY_PREFIXES = (
    "static.auto_provision.",
    "static.firmware.",
    "static.trusted_certificates.",
    "static.security.",
    # Activation-code provisioning: other servers' URLs and credentials.
    "static.autoprovision.",
    "autoprovision.",
    # The same keys by the names firmware before V81 reads.
    "auto_provision.",
    "firmware.",
    "trusted_certificates.",
    "security.",
)


def is_provider_only(key: str) -> bool:
    """A key only provider staff may set, in any case and by either generation's name."""
    return key.lower().startswith(PROVIDER_ONLY_PREFIXES)


def provider_only_keys(text: str) -> list[str]:
    """The keys of raw overrides that only provider staff may set."""
    keys = (key_of(place) for place in parse_overrides(text, lenient=True))
    return [key for key in keys if is_provider_only(key)]


# --- secrets: which keys hold one, and what of a value is one ------------------------------

NULL = "%NULL%"  # blanks a value on the phone
MASK = "********"

# The one list of what marks a secret's key, matched against the key's words (in lower case,
# split at `.`, `_` and digits: `static.network.802_1x.md5_password` is "static network x md
# password"). tests/organisations/test_provider_secrets.py holds it against every key of
# yealink-keys.tsv: each secret recognised, no other key near one taken for one.
SECRET_KEY_PATTERNS = (
    r"\b(passwords?|passwd|pwd)\b",
    r"\bsecrets?\b",
    r"\btokens?\b",
    r"\bcredentials?\b",
    r"\bpin\b",  # hoteling, door phone, phone lock and DECT base PINs
    r"\b(aes|psk)\b",  # encryption keys (`aes_key_16.com`, `com_aes`), WPA pre-shared keys
    r"\b(api|encode|pri|private|secret) key\b",  # a key that opens or encrypts, not one pressed
    r"^(static )?autoprovision code$",  # activation codes
)
# ... unless the key's last word says it is about a secret rather than one: a switch, a
# length, a mode, or where to fetch it (a URL's credentials are masked in any value).
ABOUT_A_SECRET = r"\b(enable|length|prefix|mode|type|delete|url)$"
_SECRET_WORDS = re.compile("|".join(SECRET_KEY_PATTERNS))
_ABOUT_A_SECRET = re.compile(ABOUT_A_SECRET)
_URL_USER_INFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^\s/?#@]+@")
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&#\s]+)=([^&#\s]+)")


@lru_cache(maxsize=16384)
def is_secret_key(key: str) -> bool:
    """A key whose value is a secret (a password, PIN, token, encryption key), in any case."""
    words = " ".join(word for word in re.split(r"[._\d]+", key.lower()) if word)
    return _SECRET_WORDS.search(words) is not None and _ABOUT_A_SECRET.search(words) is None


def without_url_credentials(value: str) -> str:
    """`value` with the credentials of every URL in it masked: the user information
    (`http://user:password@host/`) and each query parameter a secret's name names (`?token=`)."""
    if "://" not in value:
        return value
    value = _URL_USER_INFO.sub(rf"\1{MASK}@", value)
    return _QUERY_PARAMETER.sub(
        lambda found: f"{found[1]}{found[2]}={MASK}" if is_secret_key(found[2]) else found[0],
        value,
    )


def masked_value(key: str, value: str) -> str:
    """What a value shows of itself to whoever may not see secrets: a secret's value masked
    (which user a web password is for stays readable, a blanked one shows as blanked), and
    any URL's credentials."""
    if not is_secret_key(key):
        return without_url_credentials(value)
    if value == NULL:
        return value
    if fold(key).endswith("security.user_password") and ":" in value:
        return value.split(":", 1)[0] + f":{MASK}"
    return MASK


def mask_override_lines(text: str) -> str:
    """Override lines as organisation staff see them in a form: each value masked as
    `masked_value` masks it (the provider may have written the line). Posted back,
    `unmask_override_lines` gives each masked line its value again."""
    return "\n".join(_masked_line(line) for line in text.replace("\r\n", "\n").split("\n"))


def unmask_override_lines(typed: str, stored: str) -> str:
    """The override lines staff typed, each line they left as it was shown with its stored
    value again. A masked value anywhere else (moved to another key, edited) is refused:
    what it stands for cannot be known."""
    hidden: dict[tuple[str, str], str] = {}  # (folded key, value as shown) -> stored value
    for line in stored.replace("\r\n", "\n").split("\n"):
        parsed = _parsed_or_none(line)
        if parsed is not None and masked_value(*parsed) != parsed[1]:
            hidden[(fold(parsed[0]), masked_value(*parsed))] = parsed[1]
    lines: list[str] = []
    errors: list[ValidationError] = []
    for number, line in enumerate(typed.replace("\r\n", "\n").split("\n"), start=1):
        parsed = _parsed_or_none(line)
        if parsed is None or MASK not in parsed[1]:
            lines.append(line)
            continue
        key, value = parsed
        original = hidden.get((fold(key), value))
        if original is None:
            errors.append(
                ValidationError(
                    _(
                        "Line %(number)s: %(mask)s stands for a value kept hidden, and only its "
                        "own line left as it was keeps it. Type the value itself."
                    ),
                    code="masked_value",
                    params={"number": number, "mask": MASK},
                )
            )
        lines.append(line if original is None else f"{key} = {original}")
    if errors:
        raise ValidationError(errors)
    return "\n".join(lines)


def _masked_line(line: str) -> str:
    parsed = _parsed_or_none(line)
    if parsed is None or masked_value(*parsed) == parsed[1]:
        return line
    return f"{parsed[0]} = {masked_value(*parsed)}"


def _parsed_or_none(line: str) -> tuple[str, str] | None:
    try:
        return _parse_override_line(line)
    except ValueError:
        return None


FACTORY_PASSWORDS = frozenset({"admin", "user", "var", "1234", "0000", ""})


def split_provider_lines(text: str) -> tuple[str, str]:
    """(the lines organisation staff may see and edit, the provider's lines) of overrides:
    staff never see a provider-only line (it may hold a web password), and saving their
    part keeps the provider's."""
    theirs: list[str] = []
    providers: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        parsed = _parsed_or_none(line)
        reserved = parsed is not None and is_provider_only(parsed[0])
        (providers if reserved else theirs).append(line)
    return "\n".join(theirs).strip("\n"), "\n".join(providers)


def validate_overrides(text: str) -> None:
    parsed = parse_overrides(text)
    for place, value in parsed.items():
        if fold(key_of(place)).endswith("security.user_password"):
            user, _sep, password = value.partition(":")
            if password.strip().lower() in FACTORY_PASSWORDS:
                raise ValidationError(
                    _(
                        "%(key)s sets the %(user)s password to a factory default or to "
                        "nothing; phones must never keep those. Choose another."
                    ),
                    code="factory_password",
                    params={"key": key_of(place), "user": user or gettext("web UI")},
                )


def validate_single_line(value: str) -> None:
    if LINE_BREAKS.search(value) or CONTROL_CHARS.search(value):
        raise ValidationError(
            _("Must be one line without control characters: the phone reads one value per line."),
            code="multi_line",
        )


def validate_yealink_name(value: str) -> None:
    validate_single_line(value)
    bad = sorted(FORBIDDEN_NAME_CHARS.intersection(value))
    if bad:
        raise ValidationError(
            _("Yealink phones refuse these characters here: %(chars)s"),
            code="forbidden_chars",
            params={"chars": " ".join(bad)},
        )


def validate_credential(value: str) -> None:
    """Provisioning user names and passwords: printable ASCII, no spaces, max 32 (Yealink)."""
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValidationError(
            _(
                "Use printable ASCII characters without spaces: phones send these in HTTP "
                "authentication, where anything else is ambiguous."
            ),
            code="credential_charset",
        )


def validate_username(value: str) -> None:
    validate_credential(value)
    if ":" in value or '"' in value:
        raise ValidationError(
            _('A user name cannot contain ":" or \'"\' (they break HTTP authentication).'),
            code="credential_charset",
        )


def generic_key(key: str) -> str:
    """`account.1.sip_server.2.address` -> `account.N.sip_server.N.address`."""
    return NUMERIC_SEGMENT.sub("N", key)


@cache
def known_keys() -> frozenset[str]:
    lines = KNOWN_KEYS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.split("\t", 1)[0].lower() for line in lines if line and not line.startswith("#")
    )


def unknown_keys(keys: list[str] | dict[str, str]) -> list[str]:
    """Keys that no public Yealink template uses: likely typos the phone would ignore."""
    known = known_keys()
    names = dict.fromkeys(key_of(place) for place in keys)
    return [key for key in names if generic_key(key).lower() not in known]


def render_lines(config: dict[str, str]) -> str:
    """A Yealink config file from an ordered mapping of keys (slots) to values."""
    values = [str(value) for value in config.values()]
    if LINE_BREAKS.search("".join(values)):  # validated on save; still, never break a line
        values = [LINE_BREAKS.sub(" ", value) for value in values]
    keys = [key_of(place) if SLOT in place else place for place in config]
    lines = ["#!version:1.0.0.1", *map(" = ".join, zip(keys, values, strict=True))]
    return "\n".join(lines) + "\n"
