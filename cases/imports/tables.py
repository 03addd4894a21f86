"""Rows of a CSV or XLSX table, as (row number, cells), whatever the file looks like.

Row numbers are the spreadsheet's (the header is row 1 when it is the first line), so a curator finds a
rejected row where the preview says. Blank rows are skipped; a row that repeats the header (files glued
together, a header on every printed page) is skipped too. The first non-blank row is the header.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from .encoding import BadFile, open_text
from .normalise import header_key

# A UHRI text can be long; the csv module's default limit (128 KiB) is not.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class Table:
    """Header and data rows of one sheet or CSV file, read once, streaming."""

    def __init__(self, rows: Iterator[tuple[int, list[object]]]):
        self._rows = rows
        self.header: list[str] = []
        for number, cells in rows:
            if any(_filled(c) for c in cells):
                self.header = [str(c).strip() if c is not None else "" for c in cells]
                self.header_row = number
                break
        if not self.header:
            raise BadFile(_("The file has no header row."))
        self._header_keys = [header_key(h) for h in self.header]

    def __iter__(self) -> Iterator[tuple[int, dict[str, object]]]:
        width = len(self.header)
        for number, cells in self._rows:
            if not any(_filled(c) for c in cells):
                continue
            if [header_key(c) for c in cells[:width]] == self._header_keys:
                continue
            yield number, {self.header[i]: cells[i] for i in range(min(width, len(cells))) if self.header[i]}


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[object]]]:
    with open_text(path, encoding) as f:
        try:
            sample = f.read(64 * 1024)
        except UnicodeDecodeError as exc:
            raise _undecodable(encoding, exc) from None
        f.seek(0)
        reader = csv.reader(f, delimiter=_delimiter(sample))
        try:
            for cells in reader:
                yield reader.line_num, cells
        except UnicodeDecodeError as exc:
            raise _undecodable(encoding, exc, reader.line_num + 1) from None
        except csv.Error as exc:
            raise BadFile(
                _("Line %(n)s is not valid CSV: %(e)s") % {"n": reader.line_num, "e": exc}
            ) from None


def _delimiter(sample: str) -> str:
    """The separator is the one the header line uses most: comma, semicolon (Excel in many European
    locales) or tab. Data lines are no guide, their texts are full of commas and semicolons."""
    first = next((line for line in sample.replace("\r", "\n").split("\n") if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _undecodable(encoding: str, exc: UnicodeDecodeError, line: int | None = None) -> BadFile:
    where = _(" near line %(n)s") % {"n": line} if line else ""
    return BadFile(
        _("The file is not valid %(enc)s%(where)s; give the right encoding with --encoding.")
        % {"enc": encoding, "where": where}
    )


def xlsx_rows(path: Path, sheet: str | None = None) -> Iterator[tuple[int, list[object]]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # A file object, not the path: openpyxl judges a path by its extension, and an upload's name says nothing.
    with open(path, "rb") as f:
        try:
            # read_only streams the sheet's XML: memory stays flat however many rows.
            workbook = load_workbook(f, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise BadFile(
                _("This is not a readable XLSX workbook (%(e)s).") % {"e": type(exc).__name__}
            ) from None
        try:
            worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
            for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
                yield number, list(cells)
        finally:
            workbook.close()
