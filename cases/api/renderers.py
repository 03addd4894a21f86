"""CSV for spreadsheets: the JSON field names as the header row, one row per object.

List values are joined with "; ", nested objects become `parent.child` columns, and any text cell that a
spreadsheet would read as a formula (= + - @, tab, carriage return) is prefixed with a single quote, so a
hostile excerpt or title cannot run in a partner's spreadsheet. The same functions serve `?format=csv`
pages and the streamed export (cases/api/export.py).
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

LIST_SEPARATOR = "; "
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_text(item) for item in value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def escape_cell(value: Any) -> str:
    """A cell's text: empty for null, lowercase booleans, lists joined, formulas defused."""
    text = _text(value)
    # Numbers are ours (ids, counts), never text someone typed: -1 stays a number.
    if text.startswith(FORMULA_TRIGGERS) and not isinstance(value, int | float):
        text = "'" + text
    return text


def csv_columns(serializer: serializers.Serializer) -> list[str]:
    """Header names: the serializer's fields, nested serializers spelled `parent.child`."""
    columns = []
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer):
            columns.extend(f"{name}.{child}" for child in csv_columns(field))
        else:
            columns.append(name)
    return columns


def csv_row(columns: list[str], item: Mapping[str, Any]) -> list[str]:
    row = []
    for column in columns:
        value: Any = item
        for part in column.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        row.append(escape_cell(value))
    return row


class _Line:
    """A write-only file for csv.writer that hands back what was written (for streaming)."""

    def write(self, text: str) -> str:
        return text


def csv_lines(columns: list[str], items: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The header, then one CSV line per item; nothing is held beyond the current line."""
    writer = csv.writer(_Line())
    yield writer.writerow(columns)
    for item in items:
        yield writer.writerow(csv_row(columns, item))


class CSVRenderer(BaseRenderer):
    """`?format=csv` (or `Accept: text/csv`) on lists and details. A list renders its page's `results`; the
    `next`/`previous` links travel in the `Link` header (see pagination.py)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        renderer_context = renderer_context or {}
        if data is None:
            return b""
        items = data["results"] if isinstance(data, Mapping) and "results" in data else data
        if isinstance(items, Mapping):
            items = [items]
        view = renderer_context.get("view")
        columns = csv_columns(view.get_serializer()) if hasattr(view, "get_serializer") else None
        if columns is None:
            columns = list(items[0]) if items else []
        return "".join(csv_lines(columns, items)).encode(self.charset)
