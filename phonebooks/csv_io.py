"""CSV import and export of a phonebook's contacts: plain functions, no HTTP.

The import is planned first (what would be created, updated, left alone or removed, and every
bad row with its line number) and written only when the whole file is good, in one
transaction. A contact is matched on its name and group, so importing the same file twice
changes nothing the second time.

Files are UTF-8 with or without a BOM, separated by commas or semicolons (Excel in much of
Europe writes semicolons); the export writes the same format, so it imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Field
from django.utils.translation import gettext, pgettext

from devices import serving
from organisations.csv_files import (
    MAX_UPLOAD_BYTES,
    CsvFileError,
    RowError,
    decode,
    escape_formula,
    unescape_formula,
)
from organisations.csv_files import read_rows as read_csv
from phonebooks.models import Contact, Phonebook
from phonebooks.render import refresh_size

MAX_ROWS = 20_000
COLUMNS = ["name", "group", "number 1", "label 1", "number 2", "label 2", "number 3", "label 3"]
COLUMNS += ["order"]
_FIELD_OF_COLUMN = {
    "name": "name",
    "group": "group",
    "number1": "number_1",
    "label1": "label_1",
    "number2": "number_2",
    "label2": "label_2",
    "number3": "number_3",
    "label3": "label_3",
    "order": "position",
    # Spellings people are likely to type.
    "number": "number_1",
    "phone": "number_1",
    "phone1": "number_1",
    "phone2": "number_2",
    "phone3": "number_3",
    "position": "position",
}
_LABEL_DEFAULTS = {
    "label_1": Contact.Label.OFFICE,
    "label_2": Contact.Label.MOBILE,
    "label_3": Contact.Label.OTHER,
}
_COMPARED = ["number_1", "label_1", "number_2", "label_2", "number_3", "label_3", "position"]


@dataclass(frozen=True)
class FieldError:
    """One problem of one row, by the contact's field (None: the row as a whole), so a
    caller other than the CSV import (the API) can point at the field."""

    line: int
    field: str | None
    message: str


Problems = list[tuple[str | None, str]]


@dataclass
class ImportPlan:
    """What importing a file would do. Nothing may be written while `errors` is not empty."""

    create: list[Contact] = field(default_factory=list)
    update: list[tuple[Contact, list[str]]] = field(default_factory=list)
    unchanged: list[Contact] = field(default_factory=list)
    delete: list[Contact] = field(default_factory=list)
    kept: list[Contact] = field(default_factory=list)  # in the book, not in the file
    errors: list[RowError] = field(default_factory=list)
    field_errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    delimiter: str = ","

    def reject(self, line: int, problems: Problems) -> None:
        """A bad row: one error for the CSV's preview, and one per field."""
        self.errors.append(RowError(line, "; ".join(_labelled(f, m) for f, m in problems)))
        self.field_errors += [FieldError(line, f, message) for f, message in problems]

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)

    def resulting_contacts(self) -> list[Contact]:
        """The book's contacts as they would be after the import."""
        updated = [contact for contact, _ in self.update]
        return [*self.create, *updated, *self.unchanged, *self.kept]


def read_rows(text: str) -> tuple[str, list[str | None], list[tuple[int, list[str]]], list[str]]:
    """(delimiter, field of each column or None, [(line number, cells)], warnings)."""
    read = read_csv(text, max_rows=MAX_ROWS, noun="contacts")
    fields, warnings = _header_fields(read.header)
    return read.delimiter, fields, read.rows, warnings


def _header_fields(header: list[str]) -> tuple[list[str | None], list[str]]:
    fields: list[str | None] = []
    warnings: list[str] = []
    for name in header:
        key = "".join(name.split()).replace("_", "").replace("-", "").lower()
        fields.append(_FIELD_OF_COLUMN.get(key))
        if fields[-1] is None:
            warnings.append(
                gettext("Column %(column)r is not used and was ignored.") % {"column": name.strip()}
            )
    named = [f for f in fields if f]
    if "name" not in named:
        raise CsvFileError(
            gettext(
                "The first line must be a header naming the columns, for example: "
                "%(columns)s (only name is required, the order of columns is free)."
            )
            % {"columns": ", ".join(COLUMNS)}
        )
    twice = sorted({f for f in named if named.count(f) > 1})
    if twice:
        raise CsvFileError(
            gettext("The header names these columns more than once: %(columns)s.")
            % {"columns": ", ".join(twice)}
        )
    return fields, warnings


def plan_import(phonebook: Phonebook, data: bytes, *, delete_missing: bool = False) -> ImportPlan:
    """What importing `data` into the book would do; writes nothing."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise CsvFileError(
            gettext("The file is larger than %(size)d MB.")
            % {"size": MAX_UPLOAD_BYTES // 1024 // 1024}
        )
    delimiter, fields, rows, warnings = read_rows(decode(data))
    plan = ImportPlan(delimiter=delimiter, warnings=warnings)
    values = ((line, _row_values(line, fields, cells, plan)) for line, cells in rows)
    good = ((line, row) for line, row in values if row is not None)
    return plan_rows(phonebook, good, plan, delete_missing=delete_missing)


def on_line(line: int) -> str:
    return gettext("on line %(line)d") % {"line": line}


def plan_rows(
    phonebook: Phonebook,
    rows: Iterable[tuple[int, dict[str, str]]],
    plan: ImportPlan | None = None,
    *,
    delete_missing: bool = False,
    where: Callable[[int], str] = on_line,
) -> ImportPlan:
    """What writing these rows (field name -> text, as a CSV row gives them, numbered by
    `line`) into the book would do; writes nothing. The CSV import and the API's bulk
    replace both plan here, so they follow the same rules with the same messages; `where`
    names an earlier row in the message about a contact given twice."""
    plan = plan if plan is not None else ImportPlan()
    existing = {(c.name, c.group): c for c in Contact.objects.filter(phonebook=phonebook)}
    seen: dict[tuple[str, str], int] = {}
    for line, values in rows:
        values.setdefault("name", "")
        values.setdefault("group", "")
        key = (values["name"], values["group"])
        if key in seen:
            message = gettext("%(contact)s is %(where)s already.") % {
                "contact": _describe(key),
                "where": where(seen[key]),
            }
            plan.reject(line, [(None, message)])
            continue
        seen[key] = line
        _plan_row(phonebook, line, values, existing.get(key), plan)
    missing = [contact for key, contact in existing.items() if key not in seen]
    if delete_missing:
        plan.delete = missing
    else:
        plan.kept = missing
    return plan


def _row_values(
    line: int, fields: list[str | None], cells: list[str], plan: ImportPlan
) -> dict[str, str] | None:
    if len(cells) > len(fields) and any(cell.strip() for cell in cells[len(fields) :]):
        message = gettext(
            "%(values)d values, but the header names %(columns)d columns "
            "(a separator inside a value needs quotes)."
        ) % {"values": len(cells), "columns": len(fields)}
        plan.reject(line, [(None, message)])
        return None
    values = {f: cell.strip() for f, cell in zip(fields, cells, strict=False) if f is not None}
    values.setdefault("group", "")
    for name in ("name", "group"):
        values[name] = unescape_formula(values.get(name, ""))
    return values


def _plan_row(
    phonebook: Phonebook,
    line: int,
    values: dict[str, str],
    current: Contact | None,
    plan: ImportPlan,
) -> None:
    contact = Contact(phonebook=phonebook, name=values["name"], group=values["group"])
    problems = _fill(contact, values, current)
    try:
        contact.full_clean(exclude=["phonebook"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        problems += _messages(exc)
    if problems:
        plan.reject(line, problems)
    elif current is None:
        plan.create.append(contact)
    else:
        changed = [f for f in _COMPARED if getattr(current, f) != getattr(contact, f)]
        for f in changed:
            setattr(current, f, getattr(contact, f))
        if changed:
            plan.update.append((current, changed))
        else:
            plan.unchanged.append(current)


def _fill(contact: Contact, values: dict[str, str], current: Contact | None) -> Problems:
    """Set numbers, labels and order from the row; return what is wrong with them."""
    problems: Problems = []
    for index in (1, 2, 3):
        setattr(contact, f"number_{index}", values.get(f"number_{index}", ""))
        label_field = f"label_{index}"
        label = values.get(label_field, "").lower() or _LABEL_DEFAULTS[label_field]
        if label not in Contact.Label.values:
            problems.append(
                (
                    label_field,
                    gettext("%(label)r is not one of office, mobile, other")
                    % {"label": values[label_field]},
                )
            )
            label = _LABEL_DEFAULTS[label_field]
        setattr(contact, label_field, label)
    order = values.get("position", "")
    if not order:
        contact.position = current.position if current else 0
    elif order.isascii() and order.isdigit() and len(order) <= 10 and int(order) < 2**31:
        contact.position = int(order)
    else:
        message = gettext("%(order)r is not a whole number of 0 or more") % {"order": order}
        problems.append(("position", message))
    return problems


def _messages(exc: ValidationError) -> Problems:
    return [
        (name if name != "__all__" else None, " ".join(messages))
        for name, messages in exc.message_dict.items()
    ]


def _labelled(field_name: str | None, message: str) -> str:
    if not field_name:
        return message
    return gettext("%(field)s: %(message)s") % {
        "field": column_name(field_name),
        "message": message,
    }


def column_name(field_name: str) -> str:
    if field_name == "position":
        return pgettext("CSV column", "order")
    field = Contact._meta.get_field(field_name)
    # Errors name the contact's own fields; only relations would have no verbose name.
    return str(field.verbose_name) if isinstance(field, Field) else field_name


def _describe(key: tuple[str, str]) -> str:
    name, group = key
    if group:
        return gettext("%(name)r in group %(group)r") % {"name": name, "group": group}
    return gettext("%(name)r (no group)") % {"name": name}


def import_contacts(
    phonebook: Phonebook, data: bytes, *, delete_missing: bool = False
) -> ImportPlan:
    """Plan again and, when the whole file is good, write it in one transaction.

    A plan with errors writes nothing.
    """
    return write_planned(
        phonebook, lambda: plan_import(phonebook, data, delete_missing=delete_missing)
    )


def write_planned(phonebook: Phonebook, make_plan: Callable[[], ImportPlan]) -> ImportPlan:
    """Plan with the book locked, so two imports into one book cannot interleave, and write
    the plan in one transaction when it has no errors."""
    with transaction.atomic():
        Phonebook.objects.select_for_update().filter(pk=phonebook.pk).first()
        plan = make_plan()
        if plan.errors:
            return plan
        Contact.objects.bulk_create(plan.create, batch_size=500)
        if plan.update:
            Contact.objects.bulk_update([c for c, _ in plan.update], _COMPARED, batch_size=500)
        if plan.delete:
            Contact.objects.filter(pk__in=[c.pk for c in plan.delete]).delete()
        refresh_size(phonebook)
        serving.changed()  # bulk writes send no signals
    return plan


def export_csv(phonebook: Phonebook, delimiter: str = ",") -> str:
    """The book's contacts as CSV with a BOM (so Excel reads UTF-8), importable back."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    contacts = Contact.objects.filter(phonebook=phonebook).order_by("position", "name", "pk")
    for contact in contacts.iterator(chunk_size=2000):
        writer.writerow(_export_row(contact))
    return out.getvalue()


def _export_row(contact: Contact) -> list[str]:
    return [
        escape_formula(contact.name),
        escape_formula(contact.group),
        contact.number_1,
        contact.label_1,
        contact.number_2,
        contact.label_2,
        contact.number_3,
        contact.label_3,
        str(contact.position),
    ]
