"""The lookups every phone request makes, as statements built once per process.

Every phone request starts by finding its device, and the ORM spends more time building
such a query than the database spends answering it. A `Prebuilt` query makes the SQL and
its column converters once, from the model's own fields (so a new field needs no change
here); each request only runs it and turns the rows into model instances as the ORM would.

A device read with its whole organisation gets the organisation's line keys too, as plain
rows (`KeyRow`), in one more statement; `release` drops accounts and keys once the phone's
MAC file is kept.

The organisation is not joined in: a few organisations serve thousands of phones, so each
process keeps them per config version (`cache.organisation`), passwords already decrypted;
the cache attaches them. Nothing here knows of the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Generic, NamedTuple, TypeVar

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col

from devices.models import Device, Handset, LineKey, SipAccount

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Col, BaseDatabaseWrapper], Any]
# What a statement selects, column by column: the field, its column, how to read its value.
Column = tuple[Field[Any, Any], Col, list[Converter]]


class Prebuilt(Generic[M]):
    """`SELECT <the model's columns> FROM <its table> WHERE <field> = %s [ORDER BY ...]`."""

    def __init__(
        self,
        model: type[M],
        where: str,
        *,
        defer: tuple[str, ...] = (),
        order_by: tuple[str, ...] = (),
    ) -> None:
        self.model, self.where, self.defer, self.order_by = model, where, defer, order_by
        self._built: dict[str, tuple[str, list[Column]]] = {}

    def all(self, value: int | str) -> list[M]:
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        sql, fields = self._statement(alias)
        with connection.cursor() as cursor:
            cursor.execute(sql, [value])
            rows = cursor.fetchall()
        names = [field.attname for field, _, _ in fields]
        return [
            self.model.from_db(alias, names, _converted(fields, row, connection)) for row in rows
        ]

    def fields(self, alias: str) -> list[Column]:
        """(field, column, converters) of each column the statement selects."""
        return self._statement(alias)[1]

    def _statement(self, alias: str) -> tuple[str, list[Column]]:
        if alias not in self._built:
            connection = connections[alias]
            quote = connection.ops.quote_name
            meta = self.model._meta
            fields: list[Column] = []
            for field in meta.concrete_fields:
                if field.name in self.defer:
                    continue
                col = field.get_col(meta.db_table)
                converters = connection.ops.get_db_converters(col)
                converters += field.get_db_converters(connection)  # type: ignore[attr-defined]  # missing from django-stubs
                fields.append((field, col, converters))
            columns = ", ".join(quote(column_of(self.model, field.name)) for field, _, _ in fields)
            order = ", ".join(quote(column_of(self.model, name)) for name in self.order_by)
            # Only names from the model's metadata go into the text; the value is a parameter.
            sql = (
                f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608
                f"WHERE {quote(column_of(self.model, self.where))} = %s"
                + (f" ORDER BY {order}" if order else "")
            )
            self._built[alias] = (sql, fields)
        return self._built[alias]


def field_of(model: type[Model], name: str) -> Field[Any, Any]:
    """One of the model's concrete fields (a column of its table)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise LookupError(f"{model.__name__}.{name} has no column")
    return field


def column_of(model: type[Model], name: str) -> str:
    return str(field_of(model, name).column)


def _converted(
    fields: list[Column], row: Sequence[Any], connection: BaseDatabaseWrapper
) -> list[Any]:
    values = []
    for (_field, col, converters), value in zip(fields, row, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        values.append(value)
    return values


# The copy of the MAC file as last served is for the admin; decrypting it on every phone
# request would cost more than the rest of the lookup.
DEVICE_BY_MAC = Prebuilt(Device, "mac", defer=("last_config",))  # its columns, joined below
ACCOUNTS_OF_DEVICE = Prebuilt(SipAccount, "device", order_by=("index",))
ACCOUNTS = "_phone_accounts"  # where a device loaded here keeps its accounts
LINE_KEYS = "_phone_line_keys"  # where a device loaded with its organisation keeps its keys
HANDSETS_OF_DEVICE = Prebuilt(Handset, "device", order_by=("index",))


def phones_of_organisation(mac: str, limit: int) -> list[Device]:
    """The device of `mac` first, and after it, when its organisation has at most `limit`
    devices, all the others: each with its accounts, in one statement.

    The phones of one customer boot together (a power cut, the 30-minute round), and each
    request of a round may land on another process: loaded one by one, every process would
    read every phone again. An organisation too large to keep whole is read phone by phone.
    """
    alias = router.db_for_read(Device)
    connection = connections[alias]
    sql, device_fields, account_fields = _organisation_statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [mac, limit + 1, limit])
        rows = cursor.fetchall()
    split = len(device_fields)
    names = [field.attname for field, _, _ in device_fields]
    account_names = [field.attname for field, _, _ in account_fields]
    pk = names.index(Device._meta.pk.attname)
    account_pk = split + account_names.index(SipAccount._meta.pk.attname)
    devices: dict[int, Device] = {}
    accounts: dict[int, list[SipAccount]] = {}
    for row in rows:
        if row[pk] not in devices:
            values = _converted(device_fields, row[:split], connection)
            devices[row[pk]] = Device.from_db(alias, names, values)
            accounts[row[pk]] = []
        if row[account_pk] is not None:  # else the LEFT JOIN's row of a device without any
            values = _converted(account_fields, row[split:], connection)
            accounts[row[pk]].append(SipAccount.from_db(alias, account_names, values))
    for key, device in devices.items():
        setattr(device, ACCOUNTS, sorted(accounts[key], key=lambda account: account.index))
    if len(devices) > 1:  # the whole organisation: its line keys in one more statement
        keys: dict[int, list[KeyRow]] = {key: [] for key in devices}
        organisation = next(iter(devices.values())).organisation_id
        for line_key in _line_keys(alias, "organisation", organisation):
            # A phone added since the statement above is not among them: it is read later.
            if line_key.device_id in keys:
                keys[line_key.device_id].append(line_key)
        for key, device in devices.items():
            setattr(device, LINE_KEYS, keys[key])
    return sorted(devices.values(), key=lambda device: device.mac != mac)  # its device first


class KeyRow(NamedTuple):
    """A phone's own line key as rendering reads it: a row, not a model instance (an
    organisation read whole brings thousands, and each process keeps them)."""

    device_id: int
    module: int
    position: int
    type: int
    value: str
    label: str
    line: int | None
    extension: str


def _line_keys(alias: str, where: str, value: int) -> list[KeyRow]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = ", ".join(f"k.{quote(column_of(LineKey, name))}" for name in KeyRow._fields)
    # Only names from the models' metadata go into the text; the value is a parameter.
    sql = (
        f"SELECT {columns} FROM {quote(LineKey._meta.db_table)} k "  # noqa: S608
        f"JOIN {quote(Device._meta.db_table)} d "
        f"ON k.{quote(column_of(LineKey, 'device'))} = d.{quote(column_of(Device, 'id'))} "
        f"WHERE d.{quote(column_of(Device, where))} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        return [KeyRow(*row) for row in cursor.fetchall()]


def line_keys(device: Device) -> list[KeyRow]:
    """The phone's own line keys (not its key profile's)."""
    if device._state.adding:
        return []
    kept: list[KeyRow] | None = getattr(device, LINE_KEYS, None)
    if kept is None:
        kept = _line_keys(router.db_for_read(LineKey), "id", device.pk)
    return kept


def release(device: Device) -> None:
    """Forget what a device loaded here holds for rendering its MAC file (its accounts and
    line keys), once the file is rendered and kept: a process keeps thousands of devices,
    and these would be read again (one statement each) only to render another file."""
    for name in (ACCOUNTS, LINE_KEYS):
        device.__dict__.pop(name, None)


def handsets(device: Device) -> list[Handset]:
    """The DECT handsets of a base or manager."""
    return [] if device._state.adding else HANDSETS_OF_DEVICE.all(device.pk)


@cache
def _organisation_statement(alias: str) -> tuple[str, list[Column], list[Column]]:
    quote = connections[alias].ops.quote_name
    device_fields = DEVICE_BY_MAC.fields(alias)
    account_fields = ACCOUNTS_OF_DEVICE.fields(alias)
    columns = [f"d.{quote(column_of(Device, field.name))}" for field, _, _ in device_fields]
    columns += [f"a.{quote(column_of(SipAccount, field.name))}" for field, _, _ in account_fields]
    device, account = Device._meta, SipAccount._meta
    table, pk = quote(device.db_table), quote(column_of(Device, device.pk.name))
    organisation = quote(column_of(Device, "organisation"))
    # Only names from the models' metadata go into the text; the values are parameters.
    select = (
        f"SELECT {', '.join(columns)} FROM {table} d "  # noqa: S608
        f"LEFT JOIN {quote(account.db_table)} a "
        f"ON a.{quote(column_of(SipAccount, 'device'))} = d.{pk}"
    )
    # The second part runs only when the count, a constant to the planner, allows it.
    sql = (
        f"WITH phone AS (SELECT {pk} AS id, {organisation} AS organisation "  # noqa: S608
        f"FROM {table} WHERE {quote(column_of(Device, 'mac'))} = %s) "
        f"{select} WHERE d.{pk} = (SELECT id FROM phone) "
        f"UNION ALL {select} "
        f"WHERE d.{organisation} = (SELECT organisation FROM phone) "
        f"AND d.{pk} <> (SELECT id FROM phone) "
        f"AND (SELECT count(*) FROM (SELECT 1 FROM {table} "
        f"WHERE {organisation} = (SELECT organisation FROM phone) LIMIT %s) few) <= %s"
    )
    return sql, device_fields, account_fields


def sip_accounts(device: Device) -> list[SipAccount]:
    """The device's accounts by line, each knowing its device (no query to reach it)."""
    kept: list[SipAccount] | None = getattr(device, ACCOUNTS, None)
    return _with_device(ACCOUNTS_OF_DEVICE.all(device.pk) if kept is None else kept, device)


def _with_device(accounts: list[SipAccount], device: Device) -> list[SipAccount]:
    for account in accounts:
        SipAccount.device.field.set_cached_value(account, device)
    return accounts
