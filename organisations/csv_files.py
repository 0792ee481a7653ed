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
        return f"Line {self.line}: {self.message}"


def decode(data: bytes) -> str:
    """UTF-8 text, with or without a BOM; anything else is refused with a way out."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise CsvFileError(
            f"The file is {len(data) // 1024} KB; split it into files of at most "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(
            "This file is UTF-16 (Excel's 'Unicode text'). Save it as 'CSV UTF-8' and upload "
            "it again."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f"This file is not UTF-8: line {line} has the byte 0x{data[exc.start]:02X}, which "
            "is how older encodings write letters such as é or ø. In Excel choose 'Save as' → "
            "'CSV UTF-8' and upload it again."
        ) from exc


def sniff_delimiter(text: str) -> str:
    """The separator of the header line: the header names contain none of them."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def normalise_header(name: str) -> str:
    return "".join(name.lower().split()).replace("_", "")


def read_dicts(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(normalised header names, [(line number, {header: cell})]); blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [normalise_header(cell) for cell in cells]
                continue
            values = [unescape_formula(cell.strip()) for cell in cells]
            rows.append((reader.line_num, dict(zip(header, values, strict=False))))
    except csv.Error as exc:
        raise CsvFileError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).") from exc
    if header is None:
        raise CsvFileError("The file is empty: it needs a header line and at least one row.")
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
        raise CsvFileError("The preview expired or was altered; upload the file again.") from exc
