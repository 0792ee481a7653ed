"""Reading and writing the CSV files people bring from Excel: plain functions, no HTTP.

UTF-8 with or without a BOM, separated by commas or semicolons (Excel in much of Europe writes
semicolons). Used by every CSV import and export of the admin.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
# Excel runs a cell starting with one of these as a formula: exports put a quote in front of
# such a value, and imports take it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CsvFileError(Exception):
    """The file as a whole cannot be read; the message says what to do about it."""


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return gettext("Line %(line)s: %(message)s") % {"line": self.line, "message": self.message}


def decode_upload(upload: UploadedFile) -> str:
    """An uploaded file's text; one too large is refused before it is read into memory."""
    _check_size(upload.size or 0)
    return decode(upload.read())


def decode(data: bytes) -> str:
    """UTF-8 text, with or without a BOM; anything else is refused with a way out."""
    _check_size(len(data))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(
            gettext(
                "This file is UTF-16 (Excel's 'Unicode text'). Save it as 'CSV UTF-8' and "
                "upload it again."
            )
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            gettext(
                "This file is not UTF-8: line %(line)s has the byte 0x%(byte)s, which is how "
                "older encodings write letters such as é or ø. In Excel choose 'Save as' → "
                "'CSV UTF-8' and upload it again."
            )
            % {"line": line, "byte": f"{data[exc.start]:02X}"}
        ) from exc


def _check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise CsvFileError(
            gettext("The file is %(size)s KB; split it into files of at most %(limit)s MB.")
            % {"size": size // 1024, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)}
        )


def sniff_delimiter(text: str) -> str:
    """The separator of the header line: the header names contain none of them."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def normalise_header(name: str) -> str:
    return "".join(name.lower().split()).replace("_", "")


@dataclass
class CsvRows:
    """A file's header and rows: blank lines left out, each row with the line it starts on
    (a quoted value may run over several lines)."""

    delimiter: str
    header: list[str]
    rows: list[tuple[int, list[str]]]


def read_rows(text: str, max_rows: int | None = None, noun: str | None = None) -> CsvRows:
    """Every CSV import reads its file here, so each refuses a bad one with the same words."""
    _refuse_nul(text)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = cells
            else:
                rows.append((start, cells))
            if max_rows is not None and len(rows) > max_rows:
                raise CsvFileError(_too_many(max_rows, noun))
    except csv.Error as exc:
        raise CsvFileError(_csv_problem(line + 1, exc)) from exc
    if header is None:
        raise CsvFileError(
            gettext("The file is empty: it needs a header line and at least one row.")
        )
    return CsvRows(delimiter, header, rows)


def _too_many(max_rows: int, noun: str | None) -> str:
    """`noun`: what the caller calls its rows ("contacts"), in the user's language."""
    count = number_format(max_rows, force_grouping=True)
    if noun is None:
        return ngettext(
            "More than %(count)s row; split the file.",
            "More than %(count)s rows; split the file.",
            max_rows,
        ) % {"count": count}
    return gettext("More than %(count)s %(noun)s; split the file.") % {
        "count": count,
        "noun": noun,
    }


def _refuse_nul(text: str) -> None:
    # No text field holds one (PostgreSQL refuses it), so a row carrying it could not be saved.
    at = text.find("\x00")
    if at >= 0:
        raise CsvFileError(
            gettext(
                "Line %(line)s holds a NUL character, which no text field can hold: most often "
                "the file is not plain text. In Excel choose 'Save as' → 'CSV UTF-8' and upload "
                "it again."
            )
            % {"line": text.count(chr(10), 0, at) + 1}
        )


def _csv_problem(line: int, exc: csv.Error) -> str:
    """What the csv module's complaint means for someone who saved the file from Excel."""
    if "field larger than field limit" in str(exc):
        return gettext(
            'Line %(line)s: a value runs on for more than %(limit)s KB. Most often a quote (") '
            "opens a value and is never closed: check the quotes from that line on."
        ) % {"line": line, "limit": csv.field_size_limit() // 1024}
    return gettext("Line %(line)s is not valid CSV: check its quotes and separators.") % {
        "line": line
    }


def read_dicts(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(normalised header names, [(line number, {header: cell})])."""
    read = read_rows(text)
    header = [normalise_header(cell) for cell in read.header]
    rows = [
        (line, dict(zip(header, [unescape_formula(cell.strip()) for cell in cells], strict=False)))
        for line, cells in read.rows
    ]
    return header, rows


def escape_formula(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value


def unescape_formula(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def write_csv(header: list[str], rows: Iterable[list[str]]) -> str:
    """UTF-8 CSV with a BOM, so Excel opens it with the right characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([escape_formula(str(value)) for value in row])
    return "\ufeff" + buffer.getvalue()


def sign_upload(text: str, salt: str) -> str:
    """Carry an uploaded file from the preview to the confirmation, tamper-proof."""
    return signing.dumps(text, salt=salt, compress=True)


def unsign_upload(token: str, salt: str, max_age: int = 3600) -> str:
    try:
        return str(signing.loads(token, salt=salt, max_age=max_age))
    except signing.BadSignature as exc:
        raise CsvFileError(
            gettext("The preview expired or was altered; upload the file again.")
        ) from exc
