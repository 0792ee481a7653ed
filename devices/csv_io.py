"""CSV import and export of phones with their SIP accounts and line keys: plain functions, no
HTTP.

Rows. One row per SIP account and one per line key; a phone with neither is one row with those
columns empty. A row carries an account when its `line` is set, a key when its `key` is set:
both, one or neither (exports write them on rows of their own). The phone's own columns
(model, label, ...) come from its first row; its later rows leave them empty or repeat them.

Matching. Phones are matched on their MAC, accounts on their line, keys on (key module, key),
so importing the same file twice changes nothing the second time.

Optional columns. Only the organisation (for providers), mac and model are needed. Where the
key columns, `key profile`, `expansion module` or `expansion modules` are not in the header,
what they hold is left alone: a file of the account columns only imports as it always did.
Where one of those phone columns is in the header, an empty cell on the phone's first row
means none (no key profile, no expansion module, 0 modules).

Keys. `key module` 0 or empty is the phone itself, 1.. an expansion module; `key` counts over
all pages (1 is the first key); `key type` is a KeyType label (any case: line, BLF, speed
dial, ...) or its number; `key account` is the line the key uses (empty: line 1).

What the file leaves out. Accounts and keys of a phone that the file does not list are left
alone, never deleted. To blank a key, import it with the type `none`: this also hides the key
profile's key in that place. A file that changes a phone's model or modules is refused while
the phone has a key, not in the file, that would no longer fit.

Validation. The import is planned first and written only when the whole file is good, in one
transaction. Each phone, account and key is checked with the models' own rules (full_clean:
Device.clean, SipAccount.clean, LineKey.clean with DssKey.misfit) against the phone as the
file leaves it, and every problem is reported with the line number of its row: all of a
row's problems at once (not only its first), each named by the column it comes from.

Other organisations' MACs. For organisation staff a row whose MAC another organisation has
says only that it cannot be added; a file with too many of them, or any new MAC while adding
phones is paused for the organisation, is refused whole (devices.foreign_macs says why).

Exports leave the password column empty: an empty password on import keeps the account's
current one, so an export imports back unchanged without the file ever carrying a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext, ngettext_lazy

from devices import foreign_macs, serving
from devices.mac import InvalidMac, format_mac, normalise_mac
from devices.models import Device, KeyProfile, KeyType, LineKey, SipAccount, key_place
from devices.phone_models import EXPANSION_MODULES, MODEL_CHOICES
from organisations.config_syntax import is_number
from organisations.csv_files import RowError, normalise_header, read_dicts, write_csv
from organisations.models import Organisation, SipTransport

P = ParamSpec("P")
T = TypeVar("T")

HEADER = [
    "organisation",
    "mac",
    "model",
    "label",
    "active",
    "key profile",
    "expansion module",
    "expansion modules",
    "line",
    "user name",
    "auth name",
    "password",
    "display name",
    "account label",
    "server",
    "port",
    "transport",
    "key module",
    "key",
    "key type",
    "key value",
    "key label",
    "key account",
    "key extension",
]
COLUMN_NAMES = {normalise_header(name): name for name in HEADER}
# The phone's columns that a later row of the same MAC must repeat unchanged, if it fills them.
DEVICE_COLUMNS = {
    "model": "model",
    "label": "label",
    "active": "is_active",
    "keyprofile": "key_profile",
    "expansionmodule": "expansion_module",
    "expansionmodules": "expansion_module_count",
}
# The models' fields by the column they come from, to name a field's problem as the file does.
DEVICE_FIELD_COLUMNS = {
    "organisation": "organisation",
    "mac": "mac",
    "model": "model",
    "label": "label",
    "is_active": "active",
    "key_profile": "key profile",
    "expansion_module": "expansion module",
    "expansion_module_count": "expansion modules",
}
# A phone of another shape may no longer have room for keys the file does not list.
SHAPE_FIELDS = {"model", "expansion_module", "expansion_module_count"}
ACCOUNT_FIELDS = {
    "username": "user_name",
    "authname": "auth_name",
    "password": "password",
    "displayname": "display_name",
    "accountlabel": "label",
    "server": "server_host",
    "port": "server_port",
    "transport": "server_transport",
}
KEY_FIELDS = {
    "keymodule": "module",
    "key": "position",
    "keytype": "type",
    "keyvalue": "value",
    "keylabel": "label",
    "keyaccount": "line",
    "keyextension": "extension",
}
KEY_FIELD_COLUMNS = {name: COLUMN_NAMES[column] for column, name in KEY_FIELDS.items()}
ACCOUNT_FIELD_COLUMNS = {
    "index": "line",
    **{name: COLUMN_NAMES[column] for column, name in ACCOUNT_FIELDS.items()},
}
TRUE, FALSE = {"", "1", "yes", "y", "true", "ja", "active"}, {"0", "no", "n", "false", "nee"}
TRANSPORTS = {label.lower(): value for value, label in SipTransport.choices}
MODULE_TYPES = {name.lower(): name for name in EXPANSION_MODULES}
PHONE_MODELS = {name.lower(): name for name, _ in MODEL_CHOICES}
# More digits than any number a column takes (ports, lines, keys) could need.
MAX_DIGITS = 9


def _simple(name: str) -> str:
    return "".join(char for char in name.lower() if char.isalnum())


# The file's names of the key types: English in every language, as the columns are (the
# admin shows the types' labels in the user's language).
KEY_TYPE_LABELS: dict[int, str] = {
    KeyType.NONE: "none",
    KeyType.LINE: "line",
    KeyType.BLF: "BLF",
    KeyType.SPEED_DIAL: "speed dial",
    KeyType.CALL_PARK: "call park",
    KeyType.PICKUP: "directed pickup",
    KeyType.GROUP_PICKUP: "group pickup",
    KeyType.INTERCOM: "intercom",
    KeyType.TRANSFER: "transfer",
    KeyType.DTMF: "DTMF",
    KeyType.XML_PHONEBOOK: "XML phonebook",
}
# "speed dial", "Speed_Dial", "SPEED_DIAL" and "13" are all the speed dial.
KEY_TYPES: dict[str, KeyType] = {
    **{_simple(key_type.name): key_type for key_type in KeyType},
    **{_simple(label): KeyType(value) for value, label in KEY_TYPE_LABELS.items()},
    **{str(key_type.value): key_type for key_type in KeyType},
}


@dataclass
class DevicePlan:
    """What importing a file would do. Nothing may be written while `errors` is not empty.

    `devices`, `accounts` and `keys` hold (action, object, changed field names)."""

    devices: list[tuple[str, Device, list[str]]] = field(default_factory=list)
    accounts: list[tuple[str, SipAccount, list[str]]] = field(default_factory=list)
    keys: list[tuple[str, LineKey, list[str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # For organisation staff: the file's MACs that another organisation has (each row with
    # one says only that it cannot be added), and why the file is refused whole, if it is.
    foreign_macs: list[str] = field(default_factory=list)
    refusal: str = ""

    def count(self, action: str, kind: str | None = None) -> int:
        """Phones, accounts and keys planned with that action, or those of one kind."""
        kinds = [kind] if kind else ["devices", "accounts", "keys"]
        return sum(1 for k in kinds for a, _, _ in getattr(self, k) if a == action)

    @property
    def changes(self) -> int:
        return self.count("create") + self.count("update")

    def summary(self, done: bool = False) -> str:
        """'200 phones to create, 400 accounts to create, 3 phones unchanged.': each kind
        counted apart (never phones and accounts summed), kinds and actions of none left out."""
        parts = self._counts(("create", "update", "unchanged"), done)
        return ", ".join(parts) + "." if parts else gettext("The file holds no phones.")

    def changes_summary(self) -> str:
        """What confirming writes: '200 phones to create, 400 accounts to create'."""
        return ", ".join(self._counts(("create", "update"), done=False))

    def rows(self) -> list[tuple[str, Device, int | None, LineKey | None, list[str]]]:
        """The preview's rows: (action, phone, line, key, the columns that change)."""
        return [
            *((a, d, None, None, _columns(c, DEVICE_FIELD_COLUMNS)) for a, d, c in self.devices),
            *(
                (a, s.device, s.index, None, _columns(c, ACCOUNT_FIELD_COLUMNS))
                for a, s, c in self.accounts
            ),
            *((a, k.device, None, k, _columns(c, KEY_FIELD_COLUMNS)) for a, k, c in self.keys),
        ]

    @property
    def error_lines(self) -> int:
        """How many rows have a problem (a row may have several)."""
        return len({error.line for error in self.errors})

    def _counts(self, actions: tuple[str, ...], done: bool) -> list[str]:
        words = DONE if done else TO_DO
        counts = [
            (self.count(action, kind), words[kind, action])
            for action in actions
            for kind in ("devices", "accounts", "keys")
        ]
        return [str(words % {"count": n}) for n, words in counts if n]


# How many of each kind (devices, accounts, keys) each action plans or did.
TO_DO = {
    ("devices", "create"): ngettext_lazy(
        "%(count)d phone to create", "%(count)d phones to create", "count"
    ),
    ("devices", "update"): ngettext_lazy(
        "%(count)d phone to update", "%(count)d phones to update", "count"
    ),
    ("devices", "unchanged"): ngettext_lazy(
        "%(count)d phone unchanged", "%(count)d phones unchanged", "count"
    ),
    ("accounts", "create"): ngettext_lazy(
        "%(count)d account to create", "%(count)d accounts to create", "count"
    ),
    ("accounts", "update"): ngettext_lazy(
        "%(count)d account to update", "%(count)d accounts to update", "count"
    ),
    ("accounts", "unchanged"): ngettext_lazy(
        "%(count)d account unchanged", "%(count)d accounts unchanged", "count"
    ),
    ("keys", "create"): ngettext_lazy(
        "%(count)d key to create", "%(count)d keys to create", "count"
    ),
    ("keys", "update"): ngettext_lazy(
        "%(count)d key to update", "%(count)d keys to update", "count"
    ),
    ("keys", "unchanged"): ngettext_lazy(
        "%(count)d key unchanged", "%(count)d keys unchanged", "count"
    ),
}
DONE = {
    **TO_DO,
    ("devices", "create"): ngettext_lazy(
        "%(count)d phone created", "%(count)d phones created", "count"
    ),
    ("devices", "update"): ngettext_lazy(
        "%(count)d phone updated", "%(count)d phones updated", "count"
    ),
    ("accounts", "create"): ngettext_lazy(
        "%(count)d account created", "%(count)d accounts created", "count"
    ),
    ("accounts", "update"): ngettext_lazy(
        "%(count)d account updated", "%(count)d accounts updated", "count"
    ),
    ("keys", "create"): ngettext_lazy("%(count)d key created", "%(count)d keys created", "count"),
    ("keys", "update"): ngettext_lazy("%(count)d key updated", "%(count)d keys updated", "count"),
}


class _Problems:
    """Every problem of one phone, account or key of a row, not only the first: a cell that
    cannot be read is noted and left out, and the model's own checks then run on the rest."""

    def __init__(self, columns: dict[str, str], needed: Iterable[str] = ()) -> None:
        self.columns = columns  # field name -> the column it comes from
        self.needed = set(needed)  # fields the model's clean() cannot do without
        self.messages: list[str] = []
        self.unread: set[str] = set()  # fields whose cell could not be read

    def add(self, error: ValidationError) -> None:
        self.messages += _messages(error, self.columns)

    def read(self, name: str, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The cell's value; when it cannot be read, its problem is noted and _Unread raised
        (`values` leaves the field out)."""
        try:
            return parse(*args, **kwargs)
        except ValidationError as exc:
            self.add(exc)
            self.unread.add(name)
            raise _Unread from exc

    def values(self, readers: dict[str, Callable[[], object]]) -> dict[str, object]:
        """The fields whose cells could be read, each problem of the others noted."""
        values = {}
        for name, reader in readers.items():
            with suppress(_Unread):
                values[name] = self.read(name, reader)
        return values

    def full_clean(self, obj: models.Model, exclude: Iterable[str] = ()) -> None:
        """The model's own checks of the fields that could be read; its checks across fields
        (clean) only when those it needs could be read."""
        excluded = [*exclude, *self.unread]
        try:
            if self.unread & self.needed:
                obj.clean_fields(exclude=excluded)
            else:
                obj.full_clean(exclude=excluded, validate_unique=False)
        except ValidationError as exc:
            self.add(exc)


class _Unread(Exception):
    """A cell that could not be read; its problem is noted already."""


class _Planner:
    def __init__(self, organisation: Organisation | None, organisations: dict[str, Organisation]):
        self.own = organisation  # set for organisation staff: everything goes there
        self.organisations = organisations
        self.plan = DevicePlan()
        self.devices: dict[str, Device] = {}
        self.device_rows: dict[str, int] = {}
        self.seen_lines: dict[tuple[str, int], int] = {}
        self.seen_keys: dict[tuple[str, int, int], int] = {}
        self.key_profiles: dict[int, dict[str, KeyProfile]] = {}
        self.columns: set[str] = set()

    def run(self, text: str) -> DevicePlan:
        header, rows = read_dicts(text)
        self.columns = set(header)
        if self._missing_columns():
            return self.plan
        parsed = [(line, row, self._mac(line, row)) for line, row in rows]
        macs = {mac for _, _, mac in parsed if mac}
        self._load(macs)
        if self.own is not None and self._refused(self.own, macs):
            self.plan.errors = []  # nothing named: the file as a whole is refused
            return self.plan
        for line, row, mac in parsed:
            if mac:
                self._row(line, row, mac)
        self._check_unlisted_keys()
        self.plan.errors.sort(key=lambda error: error.line)  # a row's problems together
        return self.plan

    def _missing_columns(self) -> bool:
        missing = {"mac", "model"} - self.columns
        if self.own is None and "organisation" not in self.columns:
            missing.add("organisation")
        if missing:
            message = ngettext_lazy(
                "missing column: %(columns)s", "missing columns: %(columns)s", "count"
            ) % {"columns": ", ".join(sorted(missing)), "count": len(missing)}
            self.plan.errors.append(RowError(1, str(message)))
        return bool(missing)

    def _load(self, macs: set[str]) -> None:
        existing = Device.objects.select_related("organisation", "key_profile")
        self.existing = {device.mac: device for device in existing.filter(mac__in=macs)}
        devices = self.existing.values()
        accounts = SipAccount.objects.filter(device__in=devices)
        self.existing_accounts = {(a.device_id, a.index): a for a in accounts}
        keys = LineKey.objects.filter(device__in=devices)
        self.existing_keys = {(k.device_id, k.module, k.position): k for k in keys}

    def _refused(self, own: Organisation, macs: set[str]) -> bool:
        """Decided before any row is planned, from the MACs alone: a refused file takes as
        long whichever of its MACs are taken."""
        ours = {mac for mac, device in self.existing.items() if device.organisation_id == own.pk}
        self.plan.foreign_macs = sorted(set(self.existing) - ours)
        if macs - ours and foreign_macs.is_paused(own):  # taken or not: the same answer,
            self.plan.refusal = foreign_macs.paused(own)  # however many are taken
        elif len(self.plan.foreign_macs) > settings.FOREIGN_MACS_PER_IMPORT:
            self.plan.refusal = foreign_macs.refused_whole()
        return bool(self.plan.refusal)

    def _mac(self, line: int, row: dict[str, str]) -> str | None:
        try:
            return normalise_mac(row.get("mac", ""))
        except InvalidMac as exc:
            self.plan.errors.append(RowError(line, str(exc)))
            return None

    def _row(self, line: int, row: dict[str, str], mac: str) -> None:
        """Every problem of the row: its phone's, its account's and its key's."""
        problems = _Problems(DEVICE_FIELD_COLUMNS)
        device = self._device_of(line, row, mac, problems)
        messages = problems.messages
        if row.get("line", ""):
            messages += self._account(line, row, device)
        if any(row.get(column, "") for column in KEY_FIELDS):
            messages += self._key(line, row, device)
        self.plan.errors += [RowError(line, message) for message in messages]

    def _device_of(
        self, line: int, row: dict[str, str], mac: str, problems: _Problems
    ) -> Device | None:
        device = self.devices.get(mac)
        if device is None:
            return self._device(line, row, mac, problems)
        self._check_same_device(line, row, device, problems)
        return device

    def _organisation(self, row: dict[str, str]) -> Organisation:
        slug = row.get("organisation", "")
        if self.own is not None:
            if slug and slug != self.own.slug:
                raise ValidationError(
                    gettext("organisation %(slug)s is not yours (%(own)s).")
                    % {"slug": _shown(slug), "own": self.own.slug}
                )
            return self.own
        if slug not in self.organisations:
            raise ValidationError(
                gettext("no organisation with the slug %(slug)s.") % {"slug": _shown(slug)}
            )
        return self.organisations[slug]

    def _device(
        self, line: int, row: dict[str, str], mac: str, problems: _Problems
    ) -> Device | None:
        try:
            organisation = problems.read("organisation", self._organisation, row)
        except _Unread:
            problems.values(self._device_readers(row, None))  # its other cells all the same
            return None
        device = self.existing.get(mac)
        if device is not None and device.organisation_id != organisation.pk:
            if self.own is not None:  # staff learn only that they cannot add it
                problems.add(ValidationError(foreign_macs.cannot_add(mac)))
            else:
                problems.add(
                    ValidationError(
                        gettext("%(mac)s is already registered to %(organisation)s.")
                        % {"mac": format_mac(mac), "organisation": device.organisation.slug}
                    )
                )
            return None
        action = "update" if device else "create"
        device = device or Device(organisation=organisation, mac=mac)
        changed = _assign(device, problems.values(self._device_readers(row, organisation)))
        problems.full_clean(device)
        self.devices[mac] = device
        self.device_rows[mac] = line
        self.plan.devices.append(
            (action if changed or action == "create" else "unchanged", device, changed)
        )
        return device

    def _device_readers(
        self, row: dict[str, str], organisation: Organisation | None
    ) -> dict[str, Callable[[], object]]:
        """How to read each of the phone's cells in the file."""
        readers: dict[str, Callable[[], object]] = {
            "model": partial(_phone_model, row.get("model", "")),
            "label": partial(str, row.get("label", "")),
            "is_active": partial(_active, row.get("active", "")),
        }
        if "expansionmodule" in self.columns:
            readers["expansion_module"] = partial(_module_type, row.get("expansionmodule", ""))
        if "expansionmodules" in self.columns:
            readers["expansion_module_count"] = partial(_count, row, "expansionmodules")
        if "keyprofile" in self.columns and organisation is not None:
            name = row.get("keyprofile", "")
            readers["key_profile"] = partial(self._key_profile, organisation, name)
        return readers

    def _key_profile(self, organisation: Organisation, name: str) -> KeyProfile | None:
        if not name:
            return None
        if organisation.pk not in self.key_profiles:
            profiles = KeyProfile.objects.filter(organisation=organisation)
            self.key_profiles[organisation.pk] = {profile.name: profile for profile in profiles}
        profile = self.key_profiles[organisation.pk].get(name)
        if profile is None:
            raise ValidationError(
                gettext("%(organisation)s has no key profile named %(name)s.")
                % {"organisation": organisation.slug, "name": _shown(name)}
            )
        return profile

    def _check_same_device(
        self, line: int, row: dict[str, str], device: Device, problems: _Problems
    ) -> None:
        """A later row of the phone leaves its cells empty or repeats them unchanged."""
        first = self.device_rows[device.mac]
        filled = {name for column, name in DEVICE_COLUMNS.items() if row.get(column, "")}
        readers = self._device_readers(row, device.organisation)
        values = problems.values({name: read for name, read in readers.items() if name in filled})
        for column, name in DEVICE_COLUMNS.items():
            if name in values and values[name] != getattr(device, name):
                problems.add(
                    ValidationError(
                        gettext("%(column)s differs from line %(line)d for the same MAC.")
                        % {"column": COLUMN_NAMES[column], "line": first}
                    )
                )

    def _account(self, line: int, row: dict[str, str], device: Device | None) -> list[str]:
        problems = _Problems(ACCOUNT_FIELD_COLUMNS)
        values = problems.values(_account_readers(row))
        try:
            index = problems.read("index", _line_number, row["line"])
        except _Unread:
            return problems.messages
        if device is None:  # the phone's own problems are said: only the cells are checked
            return problems.messages
        key = (device.mac, index)
        if key in self.seen_lines:
            problems.add(
                ValidationError(
                    gettext("line %(index)d of this phone is already on line %(line)d.")
                    % {"index": index, "line": self.seen_lines[key]}
                )
            )
            return problems.messages
        self.seen_lines[key] = line
        account = self.existing_accounts.get((device.pk, index)) if device.pk else None
        action = "update" if account else "create"
        account = account or SipAccount(index=index)
        account.device = device  # checked against the phone as the file leaves it
        if not values["password"]:
            if action == "create":
                problems.add(
                    ValidationError(
                        gettext("a password is needed for the new account on line %(index)d.")
                        % {"index": index}
                    )
                )
                problems.unread.add("password")
            values.pop("password")  # empty keeps the current one
        changed = _assign(account, values)
        problems.full_clean(account, exclude=["device"])
        self.plan.accounts.append(
            (action if changed or action == "create" else "unchanged", account, changed)
        )
        return problems.messages

    def _key(self, line: int, row: dict[str, str], device: Device | None) -> list[str]:
        problems = _Problems(KEY_FIELD_COLUMNS, needed={"type"})  # what a key holds: its type
        values = problems.values(_key_readers(row))
        try:
            module, position = problems.read("position", _key_place, row)
        except _Unread:
            return problems.messages
        if device is None:
            return problems.messages
        place = (device.mac, module, position)
        if place in self.seen_keys:
            problems.add(
                ValidationError(
                    gettext("%(key)s of this phone is already on line %(line)d.")
                    % {"key": key_place(module, position), "line": self.seen_keys[place]}
                )
            )
            return problems.messages
        self.seen_keys[place] = line
        key = self.existing_keys.get((device.pk, module, position)) if device.pk else None
        action = "update" if key else "create"
        key = key or LineKey(module=module, position=position)
        key.device = device  # checked against the phone as the file leaves it
        changed = _assign(key, values)
        problems.full_clean(key, exclude=["device"])
        self.plan.keys.append(
            (action if changed or action == "create" else "unchanged", key, changed)
        )
        return problems.messages

    def _check_unlisted_keys(self) -> None:
        """A phone given another model or fewer modules must still have room for its keys."""
        reshaped = {d.pk: d for _, d, changed in self.plan.devices if SHAPE_FIELDS & set(changed)}
        for (device_id, module, position), key in self.existing_keys.items():
            device = reshaped.get(device_id)
            if device is None or (device.mac, module, position) in self.seen_keys:
                continue
            problem = key.misfit(device)
            if problem:
                self.plan.errors.append(
                    RowError(
                        self.device_rows[device.mac],
                        gettext(
                            "%(problem)s The phone has that key and this file does not list "
                            "it: delete the key in the admin first, or keep the phone as it is."
                        )
                        % {"problem": problem},
                    )
                )


def _phone_model(text: str) -> str:
    """A model's name in any case: 't54w' is the T54W."""
    name = PHONE_MODELS.get(text.lower())
    if name is None:
        known = ", ".join(PHONE_MODELS.values())
        if text:
            message = gettext("model must be one of %(known)s; not %(given)s.")
        else:
            message = gettext("model must be one of %(known)s; it is empty.")
        raise ValidationError(message % {"known": known, "given": _shown(text)})
    return name


def _active(text: str) -> bool:
    if text.lower() not in TRUE | FALSE:
        raise ValidationError(
            gettext("active must be yes or no, not %(given)s.") % {"given": _shown(text)}
        )
    return text.lower() in TRUE


def _count(row: dict[str, str], column: str) -> int:
    return _number(row, column) or 0


def _module_type(text: str) -> str:
    if text and text.lower() not in MODULE_TYPES:
        raise ValidationError(
            gettext("expansion module must be one of %(known)s, not %(given)s.")
            % {"known": ", ".join(EXPANSION_MODULES), "given": _shown(text)}
        )
    return MODULE_TYPES.get(text.lower(), "")


def _account_readers(row: dict[str, str]) -> dict[str, Callable[[], object]]:
    readers: dict[str, Callable[[], object]] = {
        name: partial(str, row.get(column, "")) for column, name in ACCOUNT_FIELDS.items()
    }
    readers["server_port"] = partial(_port, row.get("port", ""))
    readers["server_transport"] = partial(_transport, row.get("transport", ""))
    return readers


def _port(text: str) -> int | None:
    return _whole_number(text, "port") if text else None


def _transport(text: str) -> int | None:
    transport = text.lower()
    if not transport:
        return None
    if transport in TRANSPORTS:
        return TRANSPORTS[transport]
    if transport not in {str(value) for value in TRANSPORTS.values()}:
        names = [str(label) for _, label in SipTransport.choices]
        raise ValidationError(
            gettext("transport must be %(known)s or %(last)s, not %(given)s.")
            % {"known": ", ".join(names[:-1]), "last": names[-1], "given": _shown(transport)}
        )
    return int(transport)


def _key_place(row: dict[str, str]) -> tuple[int, int]:
    position = _number(row, "key")
    if position is None:
        raise ValidationError(
            gettext("key is empty: say which key these key cells are for (1, 2, ...).")
        )
    return _number(row, "keymodule") or 0, position


def _key_readers(row: dict[str, str]) -> dict[str, Callable[[], object]]:
    return {
        "type": partial(_key_type, row.get("keytype", "")),
        "value": partial(str, row.get("keyvalue", "")),
        "label": partial(str, row.get("keylabel", "")),
        "line": partial(_number, row, "keyaccount"),
        "extension": partial(str, row.get("keyextension", "")),
    }


def _key_type(text: str) -> KeyType:
    key_type = KEY_TYPES.get(_simple(text))
    if key_type is None:
        known = ", ".join(KEY_TYPE_LABELS.values())
        if text:
            message = gettext("key type must be one of %(known)s (or its number); not %(given)s.")
        else:
            message = gettext("key type must be one of %(known)s (or its number); it is empty.")
        raise ValidationError(message % {"known": known, "given": _shown(text)})
    return key_type


def _number(row: dict[str, str], column: str) -> int | None:
    text = row.get(column, "")
    if not text:
        return None
    return _whole_number(text, COLUMN_NAMES[column])


def _line_number(text: str) -> int:
    if not is_number(text):
        raise ValidationError(
            gettext("line must be a number (1 is the first line), not %(given)s.")
            % {"given": _shown(text)}
        )
    return _whole_number(text, "line")


def _whole_number(text: str, name: str) -> int:
    if not is_number(text):
        raise ValidationError(
            gettext("%(column)s must be a number, not %(given)s.")
            % {"column": name, "given": _shown(text)}
        )
    if len(text) > MAX_DIGITS:  # and Python refuses to read one of more than 4,300 digits
        raise ValidationError(
            gettext("%(column)s must be a number, not one of %(count)d digits.")
            % {"column": name, "count": len(text)}
        )
    return int(text)


def _shown(text: str, limit: int = 40) -> str:
    """A cell quoted in a message, cut short: a message never repeats a whole long cell."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _assign(obj: models.Model, values: dict[str, object]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _messages(error: ValidationError, columns: dict[str, str]) -> list[str]:
    """Each of the error's messages, a field's named by its column in the file."""
    if not hasattr(error, "error_dict"):
        return list(error.messages)
    return [
        message if name == NON_FIELD_ERRORS else f"{_column(name, columns)}: {message}"
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _column(name: str, columns: dict[str, str]) -> str:
    return columns.get(name, name.replace("_", " "))


def _columns(names: list[str], columns: dict[str, str]) -> list[str]:
    return [_column(name, columns) for name in names]


def plan_import(
    text: str, organisation: Organisation | None, organisations: Iterable[Organisation] = ()
) -> DevicePlan:
    """Plan a file. `organisation` is the staff member's own; providers pass all they may use."""
    return _Planner(organisation, {org.slug: org for org in organisations}).run(text)


@transaction.atomic
def apply(plan: DevicePlan) -> None:
    if plan.errors or plan.refusal:
        raise ValueError("a plan with errors is never applied")
    # Phones first: Django takes a new phone's primary key from account.device and key.device.
    with serving.one_change():  # one config change for the file, not one a row
        _save(plan.devices)
        _save(plan.accounts)
        _save(plan.keys)


def _save(entries: Iterable[tuple[str, models.Model, list[str]]]) -> None:
    for action, obj, _ in entries:
        if action != "unchanged":
            obj.save()


def export(devices: Iterable[Device]) -> str:
    """One row per account and one per key of each phone (one row for a phone without)."""
    phones = list(devices)
    models.prefetch_related_objects(
        phones, "organisation", "key_profile", "sip_accounts", "line_keys"
    )
    return write_csv(HEADER, (row for device in phones for row in _device_rows(device)))


def _device_rows(device: Device) -> list[list[str]]:
    common = [device.organisation.slug, format_mac(device.mac), device.model, device.label]
    common.append("yes" if device.is_active else "no")
    common.append(device.key_profile.name if device.key_profile else "")
    common += [device.expansion_module, str(device.expansion_module_count)]
    no_account, no_key = _account_cells(None), _key_cells(None)
    rows = [_account_cells(account) + no_key for account in device.sip_accounts.all()]
    rows += [no_account + _key_cells(key) for key in device.line_keys.all()]
    return [common + row for row in rows or [no_account + no_key]]


def _account_cells(account: SipAccount | None) -> list[str]:
    if account is None:
        return [""] * 9
    transport = (
        "" if account.server_transport is None else SipTransport(account.server_transport).label
    )
    return [
        str(account.index),
        account.user_name,
        account.auth_name,
        "",  # never exported; empty keeps the current password on import
        account.display_name,
        account.label,
        account.server_host,
        "" if account.server_port is None else str(account.server_port),
        transport,
    ]


def _key_cells(key: LineKey | None) -> list[str]:
    if key is None:
        return [""] * len(KEY_FIELDS)
    return [
        str(key.module),
        str(key.position),
        KEY_TYPE_LABELS.get(key.type, str(key.type)),
        key.value,
        key.label,
        "" if key.line is None else str(key.line),
        key.extension,
    ]
