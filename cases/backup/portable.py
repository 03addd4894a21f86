"""The portable format: JSON lines of table rows, for moving an installation between SQLite and PostgreSQL.

Content (inside the encrypted envelope): for each table, in dependency order, a line
`{"table": ..., "columns": [...]}`, then its rows in primary-key order, up to 2,000 per line (a JSON array
of row arrays), then `{"end": ..., "rows": n}`; last, `{"trailer": true, "tables": {table: rows}}`. Many-to-many link tables and
history tables are tables like the others. Values are written as both databases accept them in an INSERT:
datetimes as naive UTC text, dates in ISO form, JSON as its text, booleans as true/false or 1/0.

Backup reads every table from one snapshot (PostgreSQL: REPEATABLE READ, READ ONLY; SQLite: one deferred
read transaction, which in WAL mode never blocks writers) with one query per table: no per-row look-ups.
Restore inserts raw rows (COPY on PostgreSQL, executemany on SQLite): no model `save()`, no signals, no
history rows, no `auto_now`; the data comes back exactly as it was. It runs in one transaction that first
empties every table, so the target ends up either exactly as the backup or unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
from collections.abc import Callable, Iterable, Iterator

from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import IntegrityError, connections, transaction

from .envelope import BackupError, Writer
from .tables import TRANSIENT_TABLES, backed_up_models

BATCH = 2000
Progress = Callable[[int, str], None]

_PLAIN = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "ForeignKey",
    "OneToOneField",
    "CharField",
    "TextField",
    "SlugField",
    "EmailField",
    "URLField",
    "FilePathField",
    "FileField",
    "ImageField",
    "GenericIPAddressField",
    "IPAddressField",
    "BooleanField",
    "NullBooleanField",
    "FloatField",
}


def _datetime(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return str(value)


def _encoder(field) -> Callable | None:
    kind = field.get_internal_type()
    if kind in _PLAIN:
        return None
    if kind == "DateTimeField":
        return _datetime
    if kind in {"DateField", "TimeField"}:
        return lambda v: v.isoformat()
    if kind == "JSONField":
        return lambda v: json.dumps(v, cls=field.encoder, ensure_ascii=False, sort_keys=True)
    if kind == "DecimalField":
        return str
    if kind == "UUIDField":
        return lambda v: v.hex
    if kind == "BinaryField":
        return lambda v: base64.b64encode(bytes(v)).decode()
    raise BackupError(
        f"The portable format cannot hold {field.model._meta.label}.{field.name} ({kind}).", "unsupported"
    )


def _rows(model, alias: str, fields: list) -> Iterator[list]:
    encoders = [(i, enc) for i, enc in enumerate(_encoder(f) for f in fields) if enc is not None]
    queryset = (
        model._base_manager.using(alias)
        .order_by(model._meta.pk.attname)
        .values_list(*[f.attname for f in fields])
    )
    for row in queryset.iterator(chunk_size=BATCH):
        if encoders:
            row = list(row)
            for i, encode in encoders:
                if row[i] is not None:
                    row[i] = encode(row[i])
        yield row


@contextlib.contextmanager
def snapshot(alias: str):
    """One consistent, read-only view of the whole database that never holds up a writer."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET LOCAL statement_timeout = 0")
            yield
    elif connection.vendor == "sqlite":
        # Not transaction.atomic(): this project's SQLite transactions are IMMEDIATE, i.e. take the write
        # lock, which froze the site for the whole backup (issue 15, finding 3). A DEFERRED transaction that
        # only reads holds a WAL read snapshot: writers carry on.
        if connection.in_atomic_block:
            raise BackupError("A backup cannot run inside a transaction.", "invalid")
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                cursor.execute("COMMIT")
    else:
        raise BackupError(f"Unsupported database {connection.vendor}.", "unsupported")


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Stored by SQLite exactly as the other database accepts them in an INSERT or COPY (datetimes as naive UTC
# text, dates in ISO form, JSON as its text, UUIDs as hex, booleans as 0/1): read raw, not through the ORM.
_SQLITE_RAW = _PLAIN | {"DateTimeField", "DateField", "TimeField", "JSONField", "UUIDField"}
_SQLITE_CONVERTED = {"DateTimeField", "DateField", "TimeField", "BooleanField", "NullBooleanField"}


def _line(record) -> bytes:
    return (_ENCODE(record) + "\n").encode()


def _batches(model, alias: str, fields: list) -> Iterator[list]:
    """The table's rows in primary-key order, in lists of up to BATCH rows, encoded for the file."""
    connection = connections[alias]
    if connection.vendor == "sqlite" and all(f.get_internal_type() in _SQLITE_RAW for f in fields):
        # One plain SELECT: the ORM's per-value converters (parsing every datetime only for us to format it
        # again) cost more than everything else together at 300,000 recommendations.
        quote = connection.ops.quote_name
        # `+column` (a no-op in SQLite) has no declared type, so Django's sqlite3 converters (datetime,
        # bool) leave the stored value alone.
        names = ", ".join(
            ("+" if f.get_internal_type() in _SQLITE_CONVERTED else "") + quote(f.column) for f in fields
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {names} FROM {quote(model._meta.db_table)} ORDER BY {quote(model._meta.pk.column)}"  # noqa: S608
            )
            while rows := cursor.fetchmany(BATCH):
                yield rows
        return
    batch = []
    for row in _rows(model, alias, fields):
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def dump(alias: str, writer: Writer, *, include_sessions: bool, progress: Progress | None = None) -> dict:
    """Write every row of every backed-up table; return {table: rows}. Rows go in lines of up to BATCH rows
    (a JSON array of rows), so encoding and parsing run in C, a batch at a time."""
    counts: dict[str, int] = {}
    total = 0
    with snapshot(alias):
        for model in backed_up_models(include_sessions=include_sessions):
            fields = list(model._meta.concrete_fields)
            table = model._meta.db_table
            writer.write(_line({"table": table, "columns": [f.column for f in fields]}))
            n = 0
            for batch in _batches(model, alias, fields):
                writer.write(_line(batch))
                n += len(batch)
                total += len(batch)
                if progress and n % (BATCH * 50) == 0:
                    progress(total, table)
            writer.write(_line({"end": table, "rows": n}))
            counts[table] = n
    writer.write(_line({"trailer": True, "tables": counts}))
    return counts


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _records(chunks: Iterable[bytes]) -> Iterator:
    for raw in lines(chunks):
        try:
            yield json.loads(raw)
        except ValueError as exc:
            raise BackupError("The backup's content is damaged (a line is not JSON).", "damaged") from exc


def _target_tables(alias: str) -> dict[str, list[str]]:
    return {
        m._meta.db_table: [f.column for f in m._meta.concrete_fields]
        for m in backed_up_models(include_sessions=True)
    }


def check(alias: str, chunks: Iterable[bytes]) -> dict[str, int]:
    """Read the whole content and check its structure against this installation's tables. Returns counts."""
    known = _target_tables(alias)
    counts: dict[str, int] = {}
    table = None
    rows = width = 0
    trailer = None
    for record in _records(chunks):
        if trailer is not None:
            raise BackupError("The backup's content continues after its trailer.", "damaged")
        if isinstance(record, list):
            if table is None or any(not isinstance(row, list) or len(row) != width for row in record):
                raise BackupError("The backup's content is damaged (a row outside its table).", "damaged")
            rows += len(record)
        elif isinstance(record, dict) and "table" in record:
            table, rows = record["table"], 0
            if table not in known:
                raise BackupError(
                    f"The backup holds a table this installation does not have: {table}.", "schema"
                )
            if record.get("columns") != known[table]:
                raise BackupError(
                    f"The backup's columns of {table} differ from this installation's.", "schema"
                )
            width = len(known[table])
        elif isinstance(record, dict) and "end" in record:
            if record["end"] != table or record.get("rows") != rows:
                raise BackupError(f"The backup's content is damaged (row count of {table}).", "damaged")
            counts[table], table = rows, None
        elif isinstance(record, dict) and record.get("trailer"):
            trailer = record
        else:
            raise BackupError("The backup's content is damaged (an unknown line).", "damaged")
    if trailer is None or table is not None:
        raise BackupError("The backup's content is incomplete.", "truncated")
    if trailer.get("tables") != counts:
        raise BackupError("The backup's content does not match its own table of contents.", "damaged")
    return counts


def load(alias: str, chunks: Iterable[bytes], *, progress: Progress | None = None, on_loaded=None) -> dict:
    """Replace every table's rows with the backup's, in one transaction. Call `check` on the same content
    first: this function trusts the structure (the envelope still refuses any chunk that does not
    authenticate, which rolls the transaction back)."""
    from cases import public_version
    from cases.status_counts import recount

    connection = connections[alias]
    models = backed_up_models(include_sessions=True)
    counts: dict[str, int] = {}
    cache_size = -2000
    try:
        with transaction.atomic(using=alias):
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL statement_timeout = 0")
                else:
                    # Millions of rows go into tables with several indexes: a 256 MiB page cache (instead of
                    # 2 MiB) keeps the indexes' pages in memory (restored to the default afterwards).
                    cursor.execute("PRAGMA cache_size")
                    cache_size = cursor.fetchone()[0]
                    cursor.execute("PRAGMA cache_size = -262144")
                # Raw statements: model guards (append-only audit rows, frozen published evidence) are about
                # the application changing the record, not about a restore replacing it whole.
                tables = [m._meta.db_table for m in models]
                for sql in connection.ops.sql_flush(no_style(), tables, allow_cascade=True):
                    cursor.execute(sql)
                table, columns, total = None, [], 0
                for record in _records(chunks):
                    if isinstance(record, list):
                        _insert(cursor, connection, table, columns, record)
                        total += len(record)
                        if progress and total % (BATCH * 50) == 0:
                            progress(total, table)
                    elif "table" in record:
                        table, columns = record["table"], record["columns"]
                    elif "end" in record:
                        counts[table] = record["rows"]
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(sql)
            # The derived counts: the triggers counted the rows as they went in, onto whatever the flush
            # left (a PostgreSQL TRUNCATE fires no row trigger); a recount makes them exact.
            recount(alias)
            # The public record's version is not in the backup (a restored one could repeat an ETag that a
            # reader holds for other content): bumped past the target's own, so every public page is new.
            public_version.bump(alias)
            with connection.cursor() as cursor:
                # Foreign keys are deferred (Django declares them DEFERRABLE INITIALLY DEFERRED): PostgreSQL
                # checks them here; SQLite counts violations as rows go in and refuses the COMMIT. Either
                # way a dangling reference rolls everything back and is reported as such below.
                if connection.vendor == "postgresql":
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                else:
                    cursor.execute("PRAGMA foreign_keys")
                    if not cursor.fetchone()[0]:
                        connection.check_constraints(table_names=tables)
            if on_loaded is not None:
                on_loaded(counts)
    except IntegrityError as exc:
        raise BackupError(
            f"The backup's rows do not fit together (a dangling reference): {exc}", "damaged"
        ) from exc
    finally:
        if connection.vendor == "sqlite" and connection.connection is not None:
            connection.connection.execute(f"PRAGMA cache_size = {int(cache_size)}")
    ContentType.objects.clear_cache()
    return counts


def _insert(cursor, connection, table: str, columns: list[str], rows: list[list]) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    if connection.vendor == "postgresql":
        # COPY: an order of magnitude faster than INSERTs; text values are parsed as the column's type.
        with cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)  # noqa: S608


__all__ = ["TRANSIENT_TABLES", "check", "dump", "lines", "load", "snapshot"]
