"""Backups that restore into an empty database: encrypted, authenticated, consistent, quick.

Two formats, one encrypted envelope (envelope.py):

* native (the default): the database's own tools — PostgreSQL `pg_dump`/`pg_restore` (postgresql.py),
  SQLite's online backup API (sqlite.py). Schema and data, one consistent snapshot, writers never wait.
  Restores into the same kind of database.
* portable: JSON lines of every table's rows (portable.py), for moving an installation between SQLite and
  PostgreSQL. Restores into a database migrated to the same migrations.

A restore authenticates the whole file before it touches the database, refuses a target that already holds
data unless `replace=True`, and then replaces everything in one transaction. Sessions, one-time keys and
lockout rows are left out unless `include_sessions=True` (tables.TRANSIENT_TABLES). Every backup, restore
and refusal is in the audit trail (`backup.create`, `backup.restore`, `backup.refused`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from tracker.accounts.audit import record

from . import envelope, portable, postgresql, sqlite
from .envelope import BackupError, Writer
from .tables import TRANSIENT_TABLES, applied_migrations, backed_up_models, data_rows

__all__ = [
    "BackupError",
    "Summary",
    "backed_up_models",
    "restore_backup",
    "verify_backup",
    "write_backup",
]

FORMATS = ("native", "portable")
_NATIVE = {"postgresql": postgresql, "sqlite": sqlite}


@dataclass
class Summary:
    kind: str
    bytes: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    header: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _module(kind: str):
    if kind == "portable":
        return portable
    if kind in _NATIVE:
        return _NATIVE[kind]
    raise BackupError(f"Unknown backup kind {kind!r}.", "format")


def write_backup(
    path: str | Path,
    *,
    format: str = "native",
    include_sessions: bool = False,
    using: str = DEFAULT_DB_ALIAS,
    progress=None,
) -> Summary:
    """Write an encrypted backup of the database `using` to `path` (mode 0600)."""
    if format not in FORMATS:
        raise BackupError(f"Unknown format {format!r}: native or portable.", "format")
    vendor = connections[using].vendor
    kind = vendor if format == "native" else "portable"
    module = _module(kind)
    header = {
        "kind": kind,
        "vendor": vendor,
        "created_at": timezone.now().isoformat(),
        "migrations": applied_migrations(using),
        "excluded": [] if include_sessions else list(TRANSIENT_TABLES),
    }
    try:
        # pg_dump's custom format is compressed already; zlib's fastest level does well on the rest.
        with Writer(path, header, level=0 if kind == "postgresql" else 1) as writer:
            tables = module.dump(using, writer, include_sessions=include_sessions, progress=progress)
    except BackupError as exc:
        _refused(using, exc, action="backup")
        raise
    summary = Summary(kind=kind, bytes=writer.bytes_written, tables=tables, header=writer.header)
    _record_created(using, kind, summary, include_sessions)
    return summary


def _record_created(using: str, kind: str, summary: Summary, include_sessions: bool) -> None:
    record(
        "backup.create",
        format=kind,
        bytes=summary.bytes,
        rows=summary.rows if kind == "portable" else None,
        sessions=include_sessions,
    )


def verify_backup(path: str | Path, *, using: str = DEFAULT_DB_ALIAS) -> Summary:
    """Authenticate the whole file (and, for the portable format, check its structure against this
    installation's tables). Raises BackupError; changes nothing but the audit trail."""
    try:
        return _verify(path, using=using)
    except BackupError as exc:
        _refused(using, exc, action="verify")
        raise


def _verify(path: str | Path, *, using: str) -> Summary:
    header, size = envelope.verify(path)
    summary = Summary(kind=header.get("kind", "?"), bytes=size, header=header)
    if summary.kind == "portable":
        _, chunks = envelope.open_backup(path)
        summary.tables = portable.check(using, chunks)
    else:
        _module(summary.kind)
    return summary


def _known_migrations() -> set[tuple[str, str]]:
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def restore_backup(
    path: str | Path, *, using: str = DEFAULT_DB_ALIAS, replace: bool = False, progress=None
) -> Summary:
    """Replace the database `using` with the backup's content, after authenticating the whole file.

    Refused, with the database unchanged: a file that is damaged, truncated, tampered with or encrypted
    with another key; a native backup of another kind of database; a backup whose schema this code does not
    know (portable: whose migrations differ from the target's); a target that already holds data, unless
    `replace` (then it is replaced whole, in one transaction)."""
    try:
        summary = _verify(path, using=using)
        kind = summary.kind
        vendor = connections[using].vendor
        migrations = summary.header.get("migrations") or []
        if kind == "portable":
            if migrations != applied_migrations(using):
                raise BackupError(
                    "The target database is not migrated to the backup's schema: run `manage.py migrate` with "
                    "the code the backup was made with, then restore.",
                    "schema",
                )
        else:
            if kind != vendor:
                raise BackupError(
                    f"This is a native {kind} backup; the target is {vendor}. Use a portable backup "
                    "(`backup --format portable`) to move between databases.",
                    "format",
                )
            unknown = {tuple(m) for m in migrations} - _known_migrations()
            if unknown:
                raise BackupError(
                    "The backup was made by a newer version of the application (unknown migrations: "
                    f"{', '.join(sorted(f'{a}.{n}' for a, n in unknown))}); restore it with that version.",
                    "schema",
                )
        if not replace and data_rows(using):
            raise BackupError(
                "The target database already holds data; restore into an empty database, or pass --replace to "
                "replace all of its data with the backup's.",
                "not_empty",
            )

        def audited(tables: dict) -> None:
            if kind == "portable":  # inside the restore's transaction
                record("backup.restore", format=kind, rows=sum(tables.values()), replaced=replace)

        _, chunks = envelope.open_backup(path)
        if kind == "portable":
            summary.tables = portable.load(using, chunks, progress=progress, on_loaded=audited)
        else:
            from cases import public_version

            # The restored version may be one a reader already holds for other content: past the target's.
            seen = public_version.read_if_there(using)
            summary.tables = _module(kind).load(using, chunks)
            public_version.bump(using, past=seen)
            record("backup.restore", format=kind, replaced=replace)
    except BackupError as exc:
        _refused(using, exc, action="restore")
        raise
    return summary


def _refused(using: str, exc: BackupError, *, action: str) -> None:
    try:
        record("backup.refused", action=action, reason=exc.reason)
    except DatabaseError:
        # An unmigrated target has no audit table; the command still reports the refusal.
        connections[using].close()
