"""CSV import and export of phones with their SIP accounts: plain functions, no HTTP.

One row per SIP account; a phone without accounts is one row with the account columns empty.
The import is planned first (every bad row reported with its line number) and written only
when the whole file is good, in one transaction. Phones are matched on their MAC and accounts
on their line, so importing the same file twice changes nothing the second time.

Exports leave the password column empty: an empty password on import keeps the account's
current one, so an export imports back unchanged without the file ever carrying a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from devices.mac import InvalidMac, format_mac, normalise_mac
from devices.models import Device, SipAccount
from organisations.csv_files import RowError, read_dicts, write_csv
from organisations.models import Organisation, SipTransport

HEADER = [
    "organisation",
    "mac",
    "model",
    "label",
    "active",
    "line",
    "user name",
    "auth name",
    "password",
    "display name",
    "account label",
    "server",
    "port",
    "transport",
]
DEVICE_COLUMNS = {"model": "model", "label": "label", "active": "is_active"}
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
TRUE, FALSE = {"", "1", "yes", "y", "true", "ja", "active"}, {"0", "no", "n", "false", "nee"}
TRANSPORTS = {label.lower(): value for value, label in SipTransport.choices}


@dataclass
class DevicePlan:
    """What importing a file would do. Nothing may be written while `errors` is not empty."""

    devices: list[tuple[str, Device, list[str]]] = field(
        default_factory=list
    )  # action, obj, changed
    accounts: list[tuple[str, SipAccount, list[str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for a, _, _ in self.devices + self.accounts if a == action)

    @property
    def changes(self) -> int:
        return self.count("create") + self.count("update")

    # For templates, which cannot pass arguments.
    count_create = property(lambda self: self.count("create"))
    count_update = property(lambda self: self.count("update"))
    count_unchanged = property(lambda self: self.count("unchanged"))


class _Planner:
    def __init__(self, organisation: Organisation | None, organisations: dict[str, Organisation]):
        self.own = organisation  # set for organisation staff: everything goes there
        self.organisations = organisations
        self.plan = DevicePlan()
        self.devices: dict[str, Device] = {}
        self.device_rows: dict[str, int] = {}
        self.seen_lines: dict[tuple[str, int], int] = {}

    def run(self, text: str) -> DevicePlan:
        header, rows = read_dicts(text)
        missing = {"mac", "model"} - set(header)
        if self.own is None and "organisation" not in header:
            missing.add("organisation")
        if missing:
            self.plan.errors.append(RowError(1, f"missing column(s): {', '.join(sorted(missing))}"))
            return self.plan
        parsed = [(line, row, self._mac(line, row)) for line, row in rows]
        macs = {mac for _, _, mac in parsed if mac}
        existing = Device.objects.select_related("organisation").filter(mac__in=macs)
        self.existing = {device.mac: device for device in existing}
        accounts = SipAccount.objects.filter(device__in=self.existing.values())
        self.existing_accounts = {(a.device_id, a.index): a for a in accounts}
        for line, row, mac in parsed:
            if mac:
                self._row(line, row, mac)
        return self.plan

    def _mac(self, line: int, row: dict[str, str]) -> str | None:
        try:
            return normalise_mac(row.get("mac", ""))
        except InvalidMac as exc:
            self.plan.errors.append(RowError(line, str(exc)))
            return None

    def _row(self, line: int, row: dict[str, str], mac: str) -> None:
        try:
            device = self.devices.get(mac) or self._device(line, row, mac)
            if device is None:
                return
            self._check_same_device(line, row, device)
            if row.get("line", ""):
                self._account(line, row, device)
        except ValidationError as exc:
            self.plan.errors.append(RowError(line, _message(exc)))

    def _organisation(self, row: dict[str, str]) -> Organisation:
        slug = row.get("organisation", "")
        if self.own is not None:
            if slug and slug != self.own.slug:
                raise ValidationError(f"organisation {slug!r} is not yours ({self.own.slug}).")
            return self.own
        if slug not in self.organisations:
            raise ValidationError(f"no organisation with the slug {slug!r}.")
        return self.organisations[slug]

    def _device(self, line: int, row: dict[str, str], mac: str) -> Device | None:
        organisation = self._organisation(row)
        device = self.existing.get(mac)
        if device is not None and device.organisation_id != organisation.pk:
            raise ValidationError(
                f"{format_mac(mac)} is already registered to another organisation."
            )
        action = "update" if device else "create"
        device = device or Device(organisation=organisation, mac=mac)
        changed = _assign(device, _device_values(row))
        device.full_clean(validate_unique=False)
        self.devices[mac] = device
        self.device_rows[mac] = line
        self.plan.devices.append(
            (action if changed or action == "create" else "unchanged", device, changed)
        )
        return device

    def _check_same_device(self, line: int, row: dict[str, str], device: Device) -> None:
        first = self.device_rows[device.mac]
        if first == line:
            return
        values = _device_values(row)
        for column, name in DEVICE_COLUMNS.items():
            if row.get(column, "") and values[name] != getattr(device, name):
                raise ValidationError(f"{column} differs from line {first} for the same MAC.")

    def _account(self, line: int, row: dict[str, str], device: Device) -> None:
        index = _line_number(row["line"])
        key = (device.mac, index)
        if key in self.seen_lines:
            raise ValidationError(
                f"line {index} of this phone is already on line {self.seen_lines[key]}."
            )
        self.seen_lines[key] = line
        account = self.existing_accounts.get((device.pk, index)) if device.pk else None
        action = "update" if account else "create"
        account = account or SipAccount(device=device, index=index)
        values = _account_values(row)
        if not values["password"]:
            if action == "create":
                raise ValidationError(f"a password is needed for the new account on line {index}.")
            values.pop("password")  # empty keeps the current one
        changed = _assign(account, values)
        account.full_clean(exclude=["device"], validate_unique=False)
        self.plan.accounts.append(
            (action if changed or action == "create" else "unchanged", account, changed)
        )


def _device_values(row: dict[str, str]) -> dict[str, object]:
    active = row.get("active", "").lower()
    if active not in TRUE | FALSE:
        raise ValidationError(f"active must be yes or no, not {row.get('active')!r}.")
    return {
        "model": row.get("model", ""),
        "label": row.get("label", ""),
        "is_active": active in TRUE,
    }


def _account_values(row: dict[str, str]) -> dict[str, object]:
    cells = {name: row.get(column, "") for column, name in ACCOUNT_FIELDS.items()}
    port = cells["server_port"]
    if port and not port.isdigit():
        raise ValidationError(f"port must be a number, not {port!r}.")
    transport = cells["server_transport"].lower()
    if transport and transport not in TRANSPORTS and transport not in {"0", "1", "2", "3"}:
        raise ValidationError(f"transport must be UDP, TCP, TLS or DNS SRV, not {transport!r}.")
    values: dict[str, object] = dict(cells)
    values["server_port"] = int(port) if port else None
    values["server_transport"] = (
        None
        if not transport
        else TRANSPORTS.get(transport, int(transport) if transport.isdigit() else None)
    )
    return values


def _line_number(text: str) -> int:
    if not text.isdigit():
        raise ValidationError(f"line must be a number from 1 to 16, not {text!r}.")
    return int(text)


def _assign(obj: Device | SipAccount, values: dict[str, object]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def plan_import(
    text: str, organisation: Organisation | None, organisations: Iterable[Organisation] = ()
) -> DevicePlan:
    """Plan a file. `organisation` is the staff member's own; providers pass all they may use."""
    return _Planner(organisation, {org.slug: org for org in organisations}).run(text)


@transaction.atomic
def apply(plan: DevicePlan) -> None:
    if plan.errors:
        raise ValueError("a plan with errors is never applied")
    for action, device, _ in plan.devices:
        if action != "unchanged":
            device.save()
    for action, account, _ in plan.accounts:
        if action != "unchanged":
            account.save()  # Django takes the new device's primary key from account.device


def export(devices: Iterable[Device]) -> str:
    rows: list[list[str]] = []
    for device in devices:
        common = [device.organisation.slug, format_mac(device.mac), device.model, device.label]
        common.append("yes" if device.is_active else "no")
        accounts: list[SipAccount | None] = [*device.sip_accounts.all()] or [None]
        rows.extend(common + _account_cells(account) for account in accounts)
    return write_csv(HEADER, rows)


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
