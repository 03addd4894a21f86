"""From a file to canonical rows: sniff the file, pick the format, find the columns, apply `--set` and
`--filter`. Each row is a `Row`: its number in the file, field → raw value, and field → the column it came
from (so a rejection names the column the curator sees)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from django.utils.translation import gettext as _

from . import mapped, tracker_csv, uhri_json, uhri_xlsx, upr
from .encoding import BadFile, sniff
from .normalise import FIELDS, MULTI_VALUE, clean, header_key, values

FORMATS: dict[str, ModuleType] = {m.NAME: m for m in (uhri_xlsx, uhri_json, upr, tracker_csv, mapped)}
# Tried in this order when the format is "auto": the most specific header first.
_AUTO_ORDER = (uhri_xlsx, tracker_csv, upr)
SET_COLUMN = "--set"


@dataclass
class Options:
    """What the curator chose: the command's options, and the fields of the web form later."""

    format: str = "auto"
    mapping: dict[str, str] = field(default_factory=dict)  # FIELD → column (--map)
    fixed: dict[str, str] = field(default_factory=dict)  # FIELD → value for every row (--set)
    filters: dict[str, str] = field(default_factory=dict)  # FIELD → value a row must have (--filter)
    encoding: str | None = None
    # (kind, source value as written) → our value; "" drops it. Kinds: theme (a theme slug), response, body.
    value_map: dict[tuple[str, str], str] = field(default_factory=dict)
    batch_size: int = 500

    def check(self) -> None:
        if self.format != "auto" and self.format not in FORMATS:
            raise BadFile(
                _("Unknown format “%(f)s”; choose one of: auto, %(all)s.")
                % {"f": self.format, "all": ", ".join(FORMATS)}
            )
        for option, names in (("--map", self.mapping), ("--set", self.fixed), ("--filter", self.filters)):
            for name in names:
                if name not in FIELDS:
                    raise BadFile(
                        _("%(opt)s %(name)s: unknown field; the fields are: %(all)s.")
                        % {"opt": option, "name": name, "all": ", ".join(FIELDS)}
                    )
        if self.batch_size < 1:
            raise BadFile(_("The batch size must be at least 1."))

    def value(self, kind: str, raw: str) -> str | None:
        """Our value for a source value the curator mapped (--value KIND:SOURCE=OURS), or None."""
        if not hasattr(self, "_values"):
            self._values = {(k, header_key(s)): t for (k, s), t in self.value_map.items()}
        return self._values.get((kind, header_key(raw)))


@dataclass
class Row:
    number: int
    values: dict[str, object]
    columns: dict[str, str]


Progress = Callable[[int, float], None]


class Source:
    """One file, opened and understood: `format`, `encoding`, the columns it uses and ignores. Iterating
    yields the rows that pass the filters, reading the file once, streaming."""

    def __init__(self, path: Path, options: Options):
        options.check()
        self.path = Path(path)
        self.options = options
        if not self.path.is_file():
            raise BadFile(_("No such file: %(p)s") % {"p": self.path})
        sniffed = sniff(self.path, options.encoding)
        self.kind = sniffed.kind
        self.encoding = sniffed.encoding or "xlsx"
        self.encoding_detected = sniffed.detected
        self.rows_read = 0
        self.rows_filtered = 0
        self.columns: dict[str, str] = {}
        self.ignored: list[str] = []
        if self.kind == "json":
            self._open_json()
        else:
            self._open_table()

    # Opening ---------------------------------------------------------------------------------------------

    def _open_json(self) -> None:
        chosen = self.options.format
        if chosen not in ("auto", uhri_json.NAME):
            raise BadFile(
                _("This is a JSON file, not the format “%(f)s”; JSON is read as UHRI's export.")
                % {"f": chosen}
            )
        self.module = uhri_json
        self.format = uhri_json.NAME
        self.columns = {f: k for k, f in uhri_json.KEYS.items()}
        for name, column in self.options.mapping.items():
            self.columns[name] = column
        self._rows = self._json_rows()

    def _open_table(self) -> None:
        from .tables import Table, csv_rows, xlsx_rows

        chosen = self.options.format
        if chosen == uhri_json.NAME:
            raise BadFile(_("This is not a JSON file: it cannot be UHRI's JSON export."))
        if self.kind == "xlsx":
            table = Table(xlsx_rows(self.path))
        else:
            if chosen == uhri_xlsx.NAME:
                raise BadFile(
                    _("This is a text (CSV) file, not an XLSX workbook: it cannot be UHRI's XLSX export.")
                )
            table = Table(csv_rows(self.path, self.encoding))
        self.header_row = table.header_row
        by_key = {header_key(h): h for h in table.header if h}
        for name, column in self.options.mapping.items():
            if header_key(column) not in by_key:
                raise BadFile(
                    _("--map %(name)s=%(col)s: the file has no column “%(col)s”; its columns are: %(all)s.")
                    % {"name": name, "col": column, "all": ", ".join(table.header)}
                )
        if chosen == "auto":
            module = self._guess(by_key)
        else:
            module = FORMATS[chosen]
            missing = [f for f in module.SIGNATURE if not self._resolve(module, by_key).get(f)]
            if missing:
                raise BadFile(
                    _(
                        "This file is not in the format “%(f)s”: no column for %(missing)s. Its columns are: %(all)s."
                    )
                    % {"f": chosen, "missing": ", ".join(missing), "all": ", ".join(table.header)}
                )
        self.module = module
        self.format = module.NAME
        self.columns = self._resolve(module, by_key)
        used = set(self.columns.values())
        self.ignored = [h for h in table.header if h and h not in used]
        if "text" not in self.columns:
            raise BadFile(
                _(
                    "No column holds the recommendations' text; map it with --map text=COLUMN. Its columns are: %(all)s."
                )
                % {"all": ", ".join(table.header)}
            )
        self._rows = self._table_rows(table)

    def _resolve(self, module: ModuleType, by_key: dict[str, str]) -> dict[str, str]:
        columns = {}
        for name, synonyms in module.COLUMNS.items():
            for synonym in synonyms:
                if header_key(synonym) in by_key:
                    columns[name] = by_key[header_key(synonym)]
                    break
        # A mapped column serves one field only: --map paragraph=code takes `code` away from tracker-csv's.
        mapped_columns = {header_key(c) for c in self.options.mapping.values()}
        columns = {n: c for n, c in columns.items() if header_key(c) not in mapped_columns}
        for name, column in self.options.mapping.items():
            columns[name] = by_key[header_key(column)]
        return columns

    def _guess(self, by_key: dict[str, str]) -> ModuleType:
        for module in _AUTO_ORDER:
            if all(self._resolve(module, by_key).get(f) for f in module.SIGNATURE):
                return module
        if self.options.mapping:
            return mapped
        raise BadFile(
            _(
                "No column we recognise: this is not a UHRI export, a UPR table or our CSV export. Map the "
                "columns with --map FIELD=COLUMN. Its columns are: %(all)s."
            )
            % {"all": ", ".join(by_key.values())}
        )

    # Reading -----------------------------------------------------------------------------------------------

    def _table_rows(self, table) -> Iterator[tuple[int, dict[str, object]]]:
        for number, cells in table:
            yield number, {name: cells.get(column) for name, column in self.columns.items()}

    def _json_rows(self) -> Iterator[tuple[int, dict[str, object]]]:
        for number, record in uhri_json.records(self.path, self.encoding):
            yield number, {name: record.get(key) for name, key in self.columns.items()}

    def __iter__(self) -> Iterator[Row]:
        defaults = {**self.module.DEFAULTS, **self.options.fixed}
        filters = {name: clean(v).casefold() for name, v in self.options.filters.items()}
        for number, raw in self._rows:
            self.rows_read += 1
            columns = dict(self.columns)
            for name, value in defaults.items():
                if clean(raw.get(name)) == "" and not (isinstance(raw.get(name), list) and raw.get(name)):
                    raw[name] = value
                    columns[name] = SET_COLUMN
            if filters and not all(_matches(raw.get(n), v, n) for n, v in filters.items()):
                self.rows_filtered += 1
                continue
            yield Row(number, raw, columns)

    def read_all(self, progress: Progress | None = None, every: int = 1000) -> Iterator[Row]:
        """The rows, calling `progress(rows_read, seconds)` every `every` rows and at the end."""
        start = time.monotonic()
        for row in self:
            if progress and self.rows_read % every == 0:
                progress(self.rows_read, time.monotonic() - start)
            yield row
        if progress:
            progress(self.rows_read, time.monotonic() - start)


def _matches(raw: object, wanted: str, name: str) -> bool:
    if name in MULTI_VALUE:
        return any(v.casefold() == wanted for v in values(raw))
    return clean(raw).casefold() == wanted
