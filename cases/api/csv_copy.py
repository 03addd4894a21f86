"""The recommendation export on PostgreSQL: the database writes the CSV (`COPY (SELECT …) TO STDOUT`).

csv_rows.py reads tuples and writes each line in Python, a few microseconds a row; here PostgreSQL computes
every cell — the formula guard, the `; `-joined themes, the links, the timestamps as DRF writes them — and
quotes the lines itself, and Python only passes the rows on, a chunk at a time (the stream keeps yielding, so
gunicorn's `StreamingHeartbeat` still sees progress). The bytes are csv_rows.py's and the serializer's, which
tests/test_export_fast.py checks on PostgreSQL.

The cells' rules are csv_sql.py's, shared with SQLite's export (csv_lines.py); here is their PostgreSQL
spelling. The rows are the list's: the inner SELECT is the SQL of the very `values_list()` queryset
csv_rows.py reads (filters, search, ordering; a subquery with ORDER BY is not flattened by PostgreSQL, and
the outer SELECT only projects it, so the order holds). The state claim's columns follow `access.EXPORTED_STATE_CLAIM_STATES`.

Where the two CSV writers differ, the SQL makes up for it: COPY writes NULL as an empty field but an empty
string as `""` (so empty strings become NULL), and ends lines with `\\n` where `csv.writer` writes `\\r\\n`
(each COPY row arrives alone, so its last byte is replaced). Both quote a field exactly when it holds the
delimiter, a quote, `\\r` or `\\n`.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from . import csv_sql
from .renderers import FORMULA_TRIGGERS, LIST_SEPARATOR

# quote(code, safe=PATH_SAFE) in SQL: characters left as they are, the rest as %XX of their UTF-8 bytes.
PLAIN_CODE = "^[-A-Za-z0-9_.~]*$"
PATH_SAFE_CHARACTER = "^[-A-Za-z0-9_.~!$&''()*+,;=/:@]$"


def literal(text: str) -> str:
    """A Python string as an SQL string literal (for our own constants: URL prefixes, separators); `%`
    doubled, as the statement is composed with parameters."""
    return "E'" + text.replace("\\", "\\\\").replace("'", "''").replace("%", "%%") + "'"


def guard(expression: str) -> str:
    """`csv_rows.text_cell` (renderers.escape_cell for text): NULL and '' empty, a formula prefixed by '."""
    triggers = ", ".join(literal(trigger) for trigger in FORMULA_TRIGGERS)
    return (
        f"CASE WHEN left({expression}, 1) IN ({triggers}) THEN '''' || {expression} "
        f"ELSE NULLIF({expression}, '') END"
    )


def guard_once(expression: str) -> str:
    """`guard` for an expression costly to repeat (a subquery): the same rule as one regular expression."""
    triggers = "".join(sorted(FORMULA_TRIGGERS, key=lambda trigger: trigger == "-"))  # "-" last in [ ]
    return f"NULLIF(regexp_replace({expression}, {literal('^([' + triggers + '])')}, {literal(chr(39) + chr(92) + '1')}), '')"


def timestamp(expression: str) -> str:
    """DRF's ISO 8601 in UTC: `Z`, microseconds only when there are some (csv_rows.DatetimeCells)."""
    utc = f"({expression} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN date_trunc('second', {utc}) = {utc} "
        f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


def quoted_code(code: str) -> str:
    return (
        f"CASE WHEN {code} ~ '{PLAIN_CODE}' THEN {code} ELSE ("  # noqa: S608 (our own column names)
        f"SELECT string_agg(CASE WHEN q.ch ~ '{PATH_SAFE_CHARACTER}' THEN q.ch ELSE upper(regexp_replace("
        f"encode(convert_to(q.ch, 'UTF8'), 'hex'), '(..)', '%%\\1', 'g')) END, '' ORDER BY q.n) "
        f"FROM regexp_split_to_table({code}, '') WITH ORDINALITY AS q(ch, n)) END"
    )


class PostgreSQL:
    """csv_sql's cells in PostgreSQL's SQL, a column each: COPY writes NULL as an empty field, and quotes."""

    literal = staticmethod(literal)
    text = short_text = staticmethod(guard)
    timestamp = staticmethod(timestamp)

    @staticmethod
    def when(condition: str, cell: str) -> str:
        return f"CASE WHEN {condition} THEN {cell} END"

    @staticmethod
    def themes(slug: str, source: str) -> str:
        """The slugs in slug order (the serializer's prefetch order), `; `-joined, as a text cell."""
        return guard_once(f"(SELECT string_agg({slug}, {literal(LIST_SEPARATOR)} ORDER BY {slug}) {source})")

    @staticmethod
    def date(expression: str) -> str:
        return f"to_char({expression}, 'YYYY-MM-DD')"

    @staticmethod
    def number_text(expression: str) -> str:
        return f"{expression}::text"

    @staticmethod
    def plain_link(prefix: str, suffix: str) -> bool:
        return bool(prefix[:1]) and prefix[:1] not in FORMULA_TRIGGERS

    def recommendation_link(self, template: str, code: str) -> str:
        return f"CASE WHEN {code} <> '' THEN {csv_sql.link(self, template, quoted_code(code))} END"

    @staticmethod
    def line(cells: list[str]) -> str:
        return ", ".join(cells)

    @staticmethod
    def select(line: str, inner: str) -> str:
        aliases = ", ".join(f"c{i}" for i in range(csv_sql.WIDTH))
        return f"SELECT {line} FROM ({inner}) AS s({aliases})"  # noqa: S608


def copy_statement(rows: QuerySet, recommendation_url: str, claim_url: str, connection) -> str:
    """`COPY (SELECT <cells> FROM (<the rows' SQL>) s) TO STDOUT WITH (FORMAT csv)`, parameters bound."""
    select, params = csv_sql.select(PostgreSQL(), rows, recommendation_url, claim_url, connection)
    return connection.ops.compose_sql(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", params)


def copy_chunks(connection, statement: str, chunk_size: int) -> Iterator[bytes]:
    """The COPY's rows, `chunk_size` at a time, lines ended by `\\r\\n`. The statement runs as long as the
    download does, so the server's statement timeout (settings.DATABASE_STATEMENT_TIMEOUT, meant for
    queries) is lifted for it and restored after; a client that stops reading is ended by gunicorn's worker
    timeout, and leaving early cancels the COPY (psycopg). Inside a transaction (tests; requests are not
    atomic) a savepoint takes the cancelled COPY and the lifted timeout back."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        savepoint = connection.savepoint() if connection.in_atomic_block else None
        cursor.execute("SET statement_timeout = 0")
        # The planner's estimate (a subquery per cell and row) switches JIT compilation on, which took
        # 1.5 s of a 3 s export of 20,000 rows before the first row; the expressions are cheap to interpret.
        cursor.execute("SET jit = off")
        try:
            with cursor.cursor.copy(statement) as copy:
                lines: list = []
                for row in copy:
                    lines.append(row[:-1])
                    if len(lines) >= chunk_size:
                        yield b"\r\n".join(lines) + b"\r\n"
                        lines = []
                if lines:
                    yield b"\r\n".join(lines) + b"\r\n"
        finally:
            if savepoint is not None:
                connection.savepoint_rollback(savepoint)
            else:
                cursor.execute("RESET statement_timeout")
                cursor.execute("RESET jit")
