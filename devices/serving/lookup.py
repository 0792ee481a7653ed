"""The lookups every phone request makes, as statements built once per process.

Every phone request starts by finding its device, and the ORM spends more time building
such a query than the database spends answering it. A `Prebuilt` query makes the SQL and
its column converters once, from the model's own fields (so a new field needs no change
here); each request only runs it and turns the rows into model instances as the ORM would.

The organisation is not joined in: a few organisations serve thousands of phones, so each
process keeps them per config version (`cache.organisation`), passwords already decrypted;
the cache attaches them. Nothing here knows of the cache.
"""

from __future__ import annotations

from functools import cache

from django.db import connections, router
from django.db.models import Model

from devices.models import Device, SipAccount


class Prebuilt:
    """`SELECT <the model's columns> FROM <its table> WHERE <field> = %s [ORDER BY ...]`."""

    def __init__(
        self, model: type[Model], where: str, *, defer: tuple[str, ...] = (), order_by=()
    ) -> None:
        self.model, self.where, self.defer, self.order_by = model, where, defer, order_by
        self._built: dict[str, tuple[str, list]] = {}

    def all(self, value) -> list[Model]:
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

    def fields(self, alias: str) -> list:
        """(field, column, converters) of each column the statement selects."""
        return self._statement(alias)[1]

    def _statement(self, alias: str) -> tuple[str, list]:
        if alias not in self._built:
            connection = connections[alias]
            quote = connection.ops.quote_name
            meta = self.model._meta
            fields = []
            for field in meta.concrete_fields:
                if field.name in self.defer:
                    continue
                col = field.get_col(meta.db_table)
                converters = connection.ops.get_db_converters(col)
                converters += field.get_db_converters(connection)
                fields.append((field, col, converters))
            columns = ", ".join(quote(field.column) for field, _, _ in fields)
            order = ", ".join(quote(meta.get_field(name).column) for name in self.order_by)
            # Only names from the model's metadata go into the text; the value is a parameter.
            sql = (
                f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608
                f"WHERE {quote(meta.get_field(self.where).column)} = %s"
                + (f" ORDER BY {order}" if order else "")
            )
            self._built[alias] = (sql, fields)
        return self._built[alias]


def _converted(fields: list, row: tuple, connection) -> list:
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
    for row in rows:
        device = devices.get(row[pk])
        if device is None:
            values = _converted(device_fields, row[:split], connection)
            device = devices[row[pk]] = Device.from_db(alias, names, values)
            setattr(device, ACCOUNTS, [])
        if row[account_pk] is not None:  # else the LEFT JOIN's row of a device without any
            values = _converted(account_fields, row[split:], connection)
            getattr(device, ACCOUNTS).append(SipAccount.from_db(alias, account_names, values))
    for device in devices.values():
        getattr(device, ACCOUNTS).sort(key=lambda account: account.index)
    return sorted(devices.values(), key=lambda device: device.mac != mac)  # its device first


@cache
def _organisation_statement(alias: str) -> tuple[str, list, list]:
    quote = connections[alias].ops.quote_name
    device_fields = DEVICE_BY_MAC.fields(alias)
    account_fields = ACCOUNTS_OF_DEVICE.fields(alias)
    columns = [f"d.{quote(field.column)}" for field, _, _ in device_fields]
    columns += [f"a.{quote(field.column)}" for field, _, _ in account_fields]
    device, account = Device._meta, SipAccount._meta
    table, pk = quote(device.db_table), quote(device.pk.column)
    organisation = quote(device.get_field("organisation").column)
    # Only names from the models' metadata go into the text; the values are parameters.
    select = (
        f"SELECT {', '.join(columns)} FROM {table} d "  # noqa: S608
        f"LEFT JOIN {quote(account.db_table)} a "
        f"ON a.{quote(account.get_field('device').column)} = d.{pk}"
    )
    # The second part runs only when the count, a constant to the planner, allows it.
    sql = (
        f"WITH phone AS (SELECT {pk} AS id, {organisation} AS organisation "  # noqa: S608
        f"FROM {table} WHERE {quote(device.get_field('mac').column)} = %s) "
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
    kept = getattr(device, ACCOUNTS, None)
    return _with_device(ACCOUNTS_OF_DEVICE.all(device.pk) if kept is None else kept, device)


def _with_device(accounts: list[SipAccount], device: Device) -> list[SipAccount]:
    for account in accounts:
        SipAccount.device.field.set_cached_value(account, device)
    return accounts
