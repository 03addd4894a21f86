"""The recommendation export on SQLite: the database writes each CSV line (`SELECT <line> FROM (…)`).

As on PostgreSQL (csv_copy.py), every cell is an SQL expression with the serializer's rule (csv_sql.py); SQLite
has no COPY, so the SELECT returns one column, the whole line — each field quoted as `csv.writer` quotes it
(QUOTE_MINIMAL: exactly when it holds `,`, `"`, `\\r` or `\\n`, quotes doubled), joined by commas, ended by
`\\r\\n` and cast to a BLOB (UTF-8 bytes: nothing to decode or encode). Python only joins a chunk of lines
and yields it, so the stream keeps moving (gunicorn's `StreamingHeartbeat`). The bytes are csv_rows.py's
and the serializer's, which tests/test_export_fast.py checks.

Two rare cells are left to Python, csv_rows.py's own code registered on each SQLite connection (as Django
registers its functions; csv_rows.sqlite_functions) and called only for those rows: the link of a code that
reverse() percent-encodes (most codes need nothing, and SQLite has no way to write a character's UTF-8 bytes
in hex short of a recursive query) and a datetime not stored the way Django stores one in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from . import csv_sql
from .csv_sql import SPECIAL
from .renderers import FORMULA_TRIGGERS, LIST_SEPARATOR

CRLF = "\r\n"  # csv.writer's line end


def literal(text: str) -> str:
    """A Python string as an SQL string literal (our own constants: URL prefixes, separators, patterns; any
    character, tab and newline included); `%` doubled, as Django's SQLite cursor reads `%%` as `%`."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def one_of(characters) -> str:
    """A GLOB character class: `-` first, where it is itself and not a range."""
    assert not {"]", "^"} & set(characters)
    return "[" + "".join(sorted(characters, key=lambda character: character != "-")) + "]"


DIGIT = "[0-9]"
SECONDS = f"{DIGIT * 4}-{DIGIT * 2}-{DIGIT * 2} {DIGIT * 2}:{DIGIT * 2}:{DIGIT * 2}"
# Django's SQLite storage of an aware datetime in UTC (csv_rows.SQLITE_UTC), the case written here.
STORED_UTC = (literal(SECONDS), literal(f"{SECONDS}.{DIGIT * 6}"))
# Whether a field needs quotes (csv_sql.SPECIAL): one pattern a character for a long text (SQLite looks for
# `*x*` with strcspn(), ten times as fast as `*[…]*`, which tries the set at each character), one for all
# on a short one (fewer calls).
NEEDS_QUOTES = tuple(literal(f"*{character}*") for character in SPECIAL)
NEEDS_QUOTES_SHORT = (literal(f"*{one_of(SPECIAL)}*"),)
FORMULA = literal(f"{one_of(FORMULA_TRIGGERS)}*")
# What reverse() leaves of a code (csv_rows.PLAIN_CODE): a code that ltrim() of these does not empty is
# quoted (ltrim is twice as fast as GLOB '*[^…]*').
PLAIN_CODE = literal("0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.~")
QUOTE = literal('"')
DOUBLED_QUOTE = literal('""')
APOSTROPHE = literal("'")


class SQLite:
    """csv_sql's cells in SQLite's SQL, each a CSV field already quoted, never NULL (they are joined)."""

    literal = staticmethod(literal)

    @staticmethod
    def text(expression: str, needs_quotes: tuple[str, ...] = NEEDS_QUOTES) -> str:
        """`csv_rows.text_cell` (NULL and '' empty, a formula prefixed by '), then quoted: the `'` changes
        nothing to the quoting, so both look at the value itself."""
        quoted = f"replace({expression}, {QUOTE}, {DOUBLED_QUOTE})"
        special = " OR ".join(f"{expression} GLOB {pattern}" for pattern in needs_quotes)
        return (
            f"CASE WHEN {expression} IS NULL THEN '' "  # no function called for NULL (most translations)
            f"WHEN {special} THEN {QUOTE} || CASE WHEN {expression} GLOB {FORMULA} "
            f"THEN {APOSTROPHE} ELSE '' END || {quoted} || {QUOTE} "
            f"WHEN {expression} GLOB {FORMULA} THEN {APOSTROPHE} || {expression} "
            f"ELSE {expression} END"
        )

    def short_text(self, expression: str) -> str:
        """`text` for a column of a few dozen characters at most (codes, slugs, paragraph numbers)."""
        return self.text(expression, NEEDS_QUOTES_SHORT)

    def once(self, expression: str) -> str:
        """`text` of an expression costly to repeat (a subquery): computed once, in a subquery without FROM
        (which SQLite does not flatten into the expressions that read it)."""
        return f"(SELECT {self.text('v.x')} FROM (SELECT {expression} AS x) v)"  # noqa: S608

    @staticmethod
    def when(condition: str, cell: str) -> str:
        return f"CASE WHEN {condition} THEN {cell} ELSE '' END"

    def themes(self, slug: str, source: str) -> str:
        """The slugs `; `-joined in slug order (the serializer's prefetch order). SQLite 3.40's group_concat
        takes no ORDER BY; it joins in the order of an ordered subquery, which an aggregate query does not
        flatten (tests/test_export_fast.py checks the order). The cell's rule reads the aggregate several
        times; SQLite computes it once."""
        ordered = f"SELECT {slug} AS slug {source} ORDER BY 1"
        joined = f"group_concat(o.slug, {literal(LIST_SEPARATOR)})"
        return f"(SELECT {self.text(joined)} FROM ({ordered}) o)"  # noqa: S608

    @staticmethod
    def date(expression: str) -> str:
        return f"ifnull({expression}, '')"  # stored as its ISO text

    @staticmethod
    def number_text(expression: str) -> str:
        return expression  # `||` writes an integer in decimal

    @staticmethod
    def timestamp(expression: str) -> str:
        """csv_rows.DatetimeCells in UTC: the stored text with a `T` and a `Z`, microseconds only when there
        are some; anything else as DatetimeCells writes it (export_datetime)."""
        seconds, microseconds = STORED_UTC
        return (
            f"CASE WHEN {expression} GLOB {microseconds} AND substr({expression}, 20) <> '.000000' "
            f"OR {expression} GLOB {seconds} THEN replace({expression}, ' ', 'T') || 'Z' "
            f"WHEN {expression} IS NULL THEN '' ELSE export_datetime({expression}) END"
        )

    @staticmethod
    def plain_link(prefix: str, suffix: str) -> bool:
        """A template whose filled link is a field as it is: its prefix no formula, no character to quote."""
        return (
            bool(prefix[:1])
            and prefix[:1] not in FORMULA_TRIGGERS
            and not set(SPECIAL) & set(prefix + suffix)
        )

    def recommendation_link(self, template: str, code: str) -> str:
        return (
            f"CASE WHEN ifnull({code}, '') = '' THEN '' "
            f"WHEN ltrim({code}, {PLAIN_CODE}) <> '' "
            f"THEN {self.once(f'export_link({literal(template)}, {code})')} "
            f"ELSE {csv_sql.link(self, template, code)} END"
        )

    @staticmethod
    def line(cells: list[str]) -> str:
        separator = f" || {literal(',')} || "
        return f"CAST({separator.join(cells)} || {literal(CRLF)} AS BLOB)"

    @staticmethod
    def select(line: str, inner: str) -> str:
        aliases = ", ".join(f"c{i}" for i in range(csv_sql.WIDTH))
        return f"WITH s({aliases}) AS ({inner}) SELECT {line} FROM s"  # noqa: S608


def line_chunks(
    connection, rows: QuerySet, recommendation_url: str, claim_url: str, chunk_size: int
) -> Iterator[bytes]:
    """The export's lines, `chunk_size` at a time, each chunk one bytes object."""
    sql, params = csv_sql.select(SQLite(), rows, recommendation_url, claim_url, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while lines := cursor.fetchmany(chunk_size):
            yield b"".join([line for (line,) in lines])
