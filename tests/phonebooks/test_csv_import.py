"""CSV import and export of a phonebook's contacts (the functions; the admin has its own)."""

from __future__ import annotations

import pytest

from organisations.csv_files import CsvFileError
from phonebooks import csv_io
from phonebooks.csv_io import export_csv, import_contacts, plan_import
from phonebooks.models import Contact
from phonebooks.render import projected_size
from tests.phonebooks.factories import make_contact, make_phonebook

HEADER = "name,group,number 1,label 1,number 2,label 2,number 3,label 3,order\r\n"


@pytest.fixture
def book(tenant_a):
    return make_phonebook(tenant_a.organisation, name="Sales")


def names(book) -> list[str]:
    return list(book.contacts.order_by("name").values_list("name", flat=True))


def errors(plan) -> list[str]:
    return [str(error) for error in plan.errors]


def test_a_good_file_is_imported(book):
    data = (
        HEADER + "Jansen & Zn,Customers,+31 20 123 4567,office,06-12345678,mobile,,,3\r\n"
    ).encode()

    plan = import_contacts(book, data)

    assert errors(plan) == []
    contact = book.contacts.get()
    assert (contact.name, contact.group, contact.number_1, contact.number_2, contact.position) == (
        "Jansen & Zn",
        "Customers",
        "+31 20 123 4567",
        "06-12345678",
        3,
    )
    book.refresh_from_db()
    assert book.size_bytes > 0


def test_excels_european_export_with_bom_and_semicolons_is_read(book):
    data = "\ufeffName;Group;Number 1\r\nÅsa Ødegård;Noorwegen;+47 22 12 34 56\r\n".encode()

    plan = import_contacts(book, data)

    assert plan.delimiter == ";"
    assert names(book) == ["Åsa Ødegård"]
    assert book.contacts.get().group == "Noorwegen"


def test_a_semicolon_inside_a_comma_file_stays_in_the_value(book):
    data = b'name,number 1\n"Smith; John",123\n'

    import_contacts(book, data)

    assert names(book) == ["Smith; John"]


def test_columns_may_come_in_any_order_with_common_spellings(book):
    data = b"Phone,NAME,Position,e-mail\n123,Bea,4,bea@example.com\n"

    plan = import_contacts(book, data)

    contact = book.contacts.get()
    assert (contact.name, contact.number_1, contact.position) == ("Bea", "123", 4)
    assert plan.warnings == ["Column 'e-mail' is not used and was ignored."]


def test_a_file_that_is_not_utf8_is_refused_with_a_way_out(book):
    data = "name;number 1\nAlpha;1\nRené;2\n".encode("cp1252")

    with pytest.raises(CsvFileError, match=r"not UTF-8: line 3 .*CSV UTF-8"):
        plan_import(book, data)


def test_a_utf16_file_is_refused_with_a_way_out(book):
    with pytest.raises(CsvFileError, match="UTF-16"):
        plan_import(book, "name\tnumber 1\nA\t1\n".encode("utf-16"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"Alpha,123\n", "header"),
        (b"name,number 1,phone 1\nA,1,2\n", "more than once: number_1"),
    ],
)
def test_a_file_without_a_usable_header_is_refused(book, data, message):
    with pytest.raises(CsvFileError, match=message):
        plan_import(book, data)


def test_a_file_that_is_too_large_is_refused(book, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_UPLOAD_BYTES", 100)

    with pytest.raises(CsvFileError, match="larger than"):
        plan_import(book, HEADER.encode() + b"A,,1\n" * 30)


def test_a_file_with_too_many_rows_is_refused(book, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_ROWS", 3)

    with pytest.raises(CsvFileError, match="More than 3 contacts"):
        plan_import(book, b"name,number 1\n" + b"".join(b"N%d,1\n" % i for i in range(4)))


def test_each_bad_row_is_reported_with_its_line_number_and_reason(book):
    rows = [
        "name,group,number 1,label 1,number 2,label 2,order",  # line 1
        "Good One,,+31 20 123 4567,office,,,",  # 2
        "Letters,,020-CALL-NOW,,,,",  # 3
        "Plus inside,,00+31,,,,",  # 4
        "No number,,,,,,",  # 5
        ",,123,,,,",  # 6
        "Bad label,,123,fax,,,",  # 7
        "Bad order,,123,,,,first",  # 8
        "Good One,,999,,,,",  # 9: same name and group as line 2
        '"Two\nlines",,123,,,,',  # 10-11
        "Too many,,1,office,2,mobile,3,other,4,5",  # 12
        "Good Two,Team,+32 2 123 45 67,,,,",  # 13
        "Long " + "x" * 100 + ",,1,,,,",  # 14
    ]

    plan = plan_import(book, "\n".join(rows).encode())

    assert errors(plan) == [
        "Line 3: number 1: 'A' 'C' 'L' 'N' 'O' not allowed in a phone number; use digits, +, "
        "*, #, spaces and -.",
        "Line 4: number 1: A + can only come first in a phone number.",
        "Line 5: number 1: A contact needs at least one number.",
        "Line 6: name: This field cannot be blank.",
        "Line 7: label 1: 'fax' is not one of office, mobile, other",
        "Line 8: order: 'first' is not a whole number of 0 or more",
        "Line 9: 'Good One' (no group) is on line 2 already.",
        "Line 10: name: Must be one line without control characters: the phone reads one value "
        "per line.",
        "Line 12: 10 values, but the header names 7 columns (a separator inside a value needs "
        "quotes).",
        "Line 14: name: Ensure this value has at most 100 characters (it has 105).",
    ]
    assert [c.name for c in plan.create] == ["Good One", "Good Two"]


def test_nothing_is_imported_when_any_row_is_bad(book):
    make_contact(book, "Existing", number_1="1")
    data = b"name,number 1\nExisting,2\nNew,3\nBroken,abc\n"

    plan = import_contacts(book, data, delete_missing=True)

    assert errors(plan) == [
        "Line 4: number 1: 'a' 'b' 'c' not allowed in a phone number; use digits, +, *, #, "
        "spaces and -."
    ]
    assert list(book.contacts.values_list("name", "number_1")) == [("Existing", "1")]


def test_importing_the_same_file_twice_creates_no_duplicates(book):
    data = (HEADER + "A,,1,,,,,,\r\nB,Team,2,,,,,,\r\nB,,3,,,,,,\r\n").encode()

    first = import_contacts(book, data)
    second = import_contacts(book, data)

    assert (len(first.create), len(second.create)) == (3, 0)
    assert (len(second.update), len(second.unchanged)) == (0, 3)
    assert book.contacts.count() == 3


def test_a_known_contact_is_updated_with_the_fields_that_changed(book):
    make_contact(book, "A", group="Team", number_1="1", position=5)

    plan = import_contacts(book, b"name,group,number 1,number 2\nA,Team,1,06 1\n")

    [(_, changed)] = plan.update
    assert changed == ["number_2"]
    assert book.contacts.get().number_2 == "06 1"
    assert book.contacts.get().position == 5  # no order column: the order stays


def test_contacts_missing_from_the_file_stay_unless_asked_to_remove_them(book):
    make_contact(book, "Old")

    import_contacts(book, b"name,number 1\nNew,1\n")
    assert names(book) == ["New", "Old"]

    plan = import_contacts(book, b"name,number 1\nNew,1\n", delete_missing=True)
    assert [c.name for c in plan.delete] == ["Old"]
    assert names(book) == ["New"]


def test_another_books_contacts_are_never_matched_or_removed(book, tenant_b):
    other = make_phonebook(tenant_b.organisation)
    make_contact(other, "A", number_1="9")

    import_contacts(book, b"name,number 1\nA,1\n", delete_missing=True)

    assert other.contacts.get().number_1 == "9"
    assert book.contacts.get().number_1 == "1"


def test_the_line_number_counts_physical_lines_after_a_quoted_multi_line_value(book):
    data = b'name,number 1,x\n"A",1,"note\nover\nthree lines"\nB,bad\n'

    plan = plan_import(book, data)

    assert [error.line for error in plan.errors] == [5]


def test_the_export_imports_back_unchanged(book):
    for name in ["Jansen & Zn <Verkoop>", "Åsa Ødegård", "محمد", 'Quote "me", ok', "=1+2", "@x"]:
        make_contact(book, name, group="Ünïcode; group", number_2="06-1", label_2="other")
    make_contact(book, "Sum", group="-minus", number_3="+31 6 1", position=7)

    for delimiter in (",", ";"):
        exported = export_csv(book, delimiter).encode("utf-8")
        plan = plan_import(book, exported)
        assert errors(plan) == []
        assert (len(plan.create), len(plan.update), len(plan.unchanged)) == (0, 0, 7)


def test_the_export_starts_with_a_bom_and_defuses_formulas_for_excel(book):
    make_contact(book, "=HYPERLINK(1)", number_1="+31 20 1")

    exported = export_csv(book, ";")

    assert exported.startswith("\ufeffname;group;number 1;label 1;")
    assert "'=HYPERLINK(1);;+31 20 1;office;" in exported


def test_a_file_of_ten_thousand_contacts_is_imported_in_one_go(book):
    data = HEADER + "".join(
        f"Name {i},G{i % 9},+31 20 {i:07d},,06-{i:08d},,,,{i}\r\n" for i in range(10_000)
    )

    plan = import_contacts(book, data.encode())

    assert errors(plan) == []
    assert Contact.objects.filter(phonebook=book).count() == 10_000


def test_the_preview_predicts_the_size_the_book_will_have(book):
    make_contact(book, "Kept", group="Old")
    data = (
        HEADER + "Jansen & Zn <Verkoop>,Klanten,+31 20 1,,06 2,,,,\r\nمحمد,,1,,,,,,\r\n"
    ).encode()

    predicted = projected_size(book, plan_import(book, data).resulting_contacts())
    import_contacts(book, data)

    book.refresh_from_db()
    assert predicted == book.size_bytes
