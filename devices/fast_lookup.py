"""The device of a MAC with its organisation, in one statement built once per process.

Every phone request starts here, and the ORM spends more time building this query than the
database spends answering it. The SQL and its column converters are made once from the
models' own fields (so a new field needs no change here); each request only runs it and
turns the row into model instances as the ORM would.
"""

from __future__ import annotations

from functools import cache

from django.db import connections, router

from devices.models import Device
from organisations.models import Organisation


def device_with_organisation(mac: str) -> Device | None:
    alias = router.db_for_read(Device)
    connection = connections[alias]
    sql, device_fields, organisation_fields = _statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [mac])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(device_fields)
    device = _instance(Device, alias, device_fields, row[:split])
    organisation = _instance(Organisation, alias, organisation_fields, row[split:])
    Device.organisation.field.set_cached_value(device, organisation)
    return device


def _instance(model, alias: str, fields: list, values: tuple):
    connection = connections[alias]
    converted = []
    for (_field, col, converters), value in zip(fields, values, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(alias, [field.attname for field, _, _ in fields], converted)


@cache
def _statement(alias: str) -> tuple[str, list, list]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    device_fields = _fields(Device, "d", connection)
    organisation_fields = _fields(Organisation, "o", connection)
    columns = [f"d.{quote(field.column)}" for field, _, _ in device_fields]
    columns += [f"o.{quote(field.column)}" for field, _, _ in organisation_fields]
    link = Device._meta.get_field("organisation").column
    # Only names from the models' metadata go into the text; the MAC is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Device._meta.db_table)} d "  # noqa: S608
        f"INNER JOIN {quote(Organisation._meta.db_table)} o "
        f"ON o.{quote(Organisation._meta.pk.column)} = d.{quote(link)} "
        f"WHERE d.{quote(Device._meta.get_field('mac').column)} = %s"
    )
    return sql, device_fields, organisation_fields


def _fields(model, alias: str, connection) -> list:
    fields = []
    for field in model._meta.concrete_fields:
        col = field.get_col(alias)
        converters = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        fields.append((field, col, converters))
    return fields
