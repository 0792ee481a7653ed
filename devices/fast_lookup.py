"""The lookups every phone request makes, as statements built once per process.

Every phone request starts by finding its device, and the ORM spends more time building
such a query than the database spends answering it. A `Prebuilt` query makes the SQL and
its column converters once, from the model's own fields (so a new field needs no change
here); each request only runs it and turns the rows into model instances as the ORM would.

The organisation is not joined in: a few organisations serve thousands of phones, so each
process keeps them per config version (devices.config_cache), passwords already decrypted.
"""

from __future__ import annotations

from functools import cache

from django.db import connections, router
from django.db.models import Model

from devices import config_cache
from devices.models import Device, SipAccount
from organisations.models import Organisation


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


def device_with_organisation(mac: str) -> Device | None:
    """The device with its organisation and its accounts, in one statement. The accounts
    come along because a phone's round asks for the MAC file next, maybe from another
    process: the device kept for the round (devices.config_cache) then holds all it needs."""
    alias = router.db_for_read(Device)
    connection = connections[alias]
    sql, device_fields, account_fields = _device_statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [mac])
        rows = cursor.fetchall()
    if not rows:
        return None
    split = len(device_fields)
    names = [field.attname for field, _, _ in device_fields]
    values = _converted(device_fields, rows[0][:split], connection)
    device = Device.from_db(alias, names, values)
    account_names = [field.attname for field, _, _ in account_fields]
    account_pk = split + account_names.index(SipAccount._meta.pk.attname)
    accounts = [
        SipAccount.from_db(
            alias, account_names, _converted(account_fields, row[split:], connection)
        )
        for row in rows
        if row[account_pk] is not None  # the LEFT JOIN's row of a device without accounts
    ]
    setattr(device, ACCOUNTS, accounts)
    Device.organisation.field.set_cached_value(device, organisation_by_pk(device.organisation_id))
    return device


@cache
def _device_statement(alias: str) -> tuple[str, list, list]:
    quote = connections[alias].ops.quote_name
    device_fields = DEVICE_BY_MAC.fields(alias)
    account_fields = ACCOUNTS_OF_DEVICE.fields(alias)
    columns = [f"d.{quote(field.column)}" for field, _, _ in device_fields]
    columns += [f"a.{quote(field.column)}" for field, _, _ in account_fields]
    account = SipAccount._meta
    # Only names from the models' metadata go into the text; the MAC is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Device._meta.db_table)} d "  # noqa: S608
        f"LEFT JOIN {quote(account.db_table)} a "
        f"ON a.{quote(account.get_field('device').column)} = d.{quote(Device._meta.pk.column)} "
        f"WHERE d.{quote(Device._meta.get_field('mac').column)} = %s "
        f"ORDER BY a.{quote(account.get_field('index').column)}"
    )
    return sql, device_fields, account_fields


def organisation_by_pk(pk: int) -> Organisation | None:
    return config_cache.memo(
        f"organisation:{pk}", lambda: Organisation.objects.filter(pk=pk).first()
    )


def sip_accounts(device: Device) -> list[SipAccount]:
    """The device's accounts by line, each knowing its device (no query to reach it)."""
    kept = getattr(device, ACCOUNTS, None)
    return _with_device(ACCOUNTS_OF_DEVICE.all(device.pk) if kept is None else kept, device)


def _with_device(accounts: list[SipAccount], device: Device) -> list[SipAccount]:
    for account in accounts:
        SipAccount.device.field.set_cached_value(account, device)
    return accounts
