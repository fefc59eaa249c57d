"""Reading a customer CSV for `hub customers import`: the file checked as a whole (size,
encoding, CSV syntax, header) before any row is looked at, so a file-level problem writes
nothing. The columns a file may have are named here; hub.customers.import_rows validates
each row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Bounds for one run: the file is held in memory, and a bigger export splits cleanly.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 250_000

HANDLE_KINDS = ("telegram", "whatsapp", "messenger", "instagram", "viber")
# Consent channels are identity kinds, as the rest of the hub reads them (phone: SMS, calls).
CONSENT_CHANNELS = ("email", "phone", *HANDLE_KINDS)
IDENTITY_COLUMNS = ("customer_ref", "emails", "phones", *HANDLE_KINDS)
ADDRESS_COLUMNS = ("street", "city", "region", "postal_code", "country")
CONTACT_COLUMNS = (
    "name",
    *ADDRESS_COLUMNS,
    "birthday",
    "anniversary",
    "gender",
    "locale",
    "timezone",
    "tags",
)
CONSENT_COLUMNS = (
    *(f"consent_{c}" for c in CONSENT_CHANNELS),
    "consent_source",
    "consent_recorded_at",
)
PURCHASE_COLUMNS = ("order_ref", "amount", "currency", "purchased_at", "items")
REQUIRED_PURCHASE_COLUMNS = ("order_ref", "amount", "currency", "purchased_at")
COLUMNS = (*IDENTITY_COLUMNS, *CONTACT_COLUMNS, *CONSENT_COLUMNS, *PURCHASE_COLUMNS)


class FileError(Exception):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class Reject:
    line: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CsvFile:
    """A decoded CSV file whose syntax and header have been checked."""

    name: str
    text: str
    columns: tuple[str, ...]
    row_count: int

    @classmethod
    def open(cls, path: str | Path) -> CsvFile:
        name = str(path)
        try:
            size = Path(path).stat().st_size
            if size > MAX_FILE_BYTES:
                raise FileError(
                    f"{name}: {size} bytes is more than the {MAX_FILE_BYTES} one import takes; "
                    "split the file"
                )
            data = Path(path).read_bytes()
        except OSError as exc:
            raise FileError(f"{name}: cannot read: {exc.strerror}") from None
        text = _decode(name, data)
        columns = _check_header(name, text)
        return cls(name, text, columns, sum(1 for _ in cls._records(name, text)))

    def rows(self) -> Iterator[tuple[int, dict[str, str] | Reject]]:
        """(line, cells by column) for each data row, or a Reject when the shape is wrong."""
        width = len(self.columns)
        for line, cells in self._records(self.name, self.text):
            if len(cells) != width:
                why = f"has {len(cells)} cells where the header has {width}"
                yield line, Reject(line, (why,))
            else:
                yield line, dict(zip(self.columns, cells, strict=True))

    @staticmethod
    def _records(name: str, text: str) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            next(reader, None)
            start = reader.line_num + 1
            count = 0
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue  # blank lines and all-empty rows, as spreadsheets leave at the end
                count += 1
                if count > MAX_ROWS:
                    raise FileError(f"{name}:{line}: more than {MAX_ROWS} rows; split the file")
                yield line, cells
        except csv.Error as exc:
            raise FileError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None


def _decode(name: str, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileError(f"{name}: the file is UTF-16; save it as UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileError(
            f"{name}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def _check_header(name: str, text: str) -> tuple[str, ...]:
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True), [])
    except csv.Error as exc:
        raise FileError(f"{name}:1: not valid CSV: {exc}") from None
    columns = tuple(c.strip().lower() for c in header)
    if not any(columns):
        raise FileError(f"{name}:1: the first line must be the header (column names)")
    problems = []
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        problems.append(
            "unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(map(repr, unknown))
        )
        if any(sep in c for c in unknown for sep in ";\t"):
            problems.append("columns must be separated by commas")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        problems.append("repeated column " + ", ".join(map(repr, repeated)))
    if not unknown and not any(c in IDENTITY_COLUMNS for c in columns):
        problems.append("no identity column (one of: " + ", ".join(IDENTITY_COLUMNS) + ")")
    if any(c in PURCHASE_COLUMNS for c in columns):
        missing = [c for c in REQUIRED_PURCHASE_COLUMNS if c not in columns]
        if missing:
            problems.append("purchases also need the column(s) " + ", ".join(missing))
    if problems:
        known = ", ".join(COLUMNS)
        raise FileError(f"{name}:1: " + "; ".join(problems) + f"\n(known columns: {known})")
    return columns
