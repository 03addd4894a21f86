"""Native SQLite backups with SQLite's online backup API (`sqlite3.Connection.backup`).

Backup copies the database page by page into a private temporary file, empties the transient tables there
(sessions, one-time keys, lockout rows) there with `secure_delete` on, so nothing of them is left in free
pages, then
encrypts it. The copy never takes the write lock: in WAL mode (this project's setting) it is one read
transaction — a consistent snapshot that writers do not wait for; in other journal modes a reader blocks
commits, so it copies STEP_PAGES pages at a time and writers get in between the steps (SQLite restarts the
copy if they change it, which keeps the copy consistent).

Restore decrypts into a private temporary file, checks it (`PRAGMA integrity_check`, the schema is this
project's), then copies it over the target in one step: one write transaction, all or nothing.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from django.db import connections

from .envelope import BackupError, Writer
from .tables import TRANSIENT_TABLES

STEP_PAGES = 1024  # 4 MiB at the default page size


def _path(alias: str) -> str:
    name = str(connections[alias].settings_dict["NAME"])
    if name in {"", ":memory:"} or name.startswith("file:"):
        raise BackupError("Only a SQLite database in a file can be backed up natively.", "unsupported")
    return name


def dump(alias: str, writer: Writer, *, include_sessions: bool, progress: Callable | None = None) -> dict:
    source_path = _path(alias)
    with tempfile.TemporaryDirectory(prefix="tracker-backup-") as directory:  # created 0700
        copy_path = Path(directory) / "copy.sqlite3"
        source = sqlite3.connect(
            source_path, timeout=connections[alias].settings_dict["OPTIONS"].get("timeout", 5)
        )
        copy = sqlite3.connect(copy_path, isolation_level=None)
        try:
            wal = source.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"

            def report(status, remaining, total):
                if progress:
                    progress(total - remaining, f"of {total} pages")

            source.backup(copy, pages=-1 if wal else STEP_PAGES, progress=report)
        finally:
            source.close()
        try:
            copy.execute("PRAGMA journal_mode=DELETE")
            existing = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not include_sessions:
                # secure_delete overwrites the deleted rows (and their index entries) with zeros: nothing of
                # a session key is left in a free page, without the cost of a VACUUM of the whole copy.
                copy.execute("PRAGMA secure_delete=ON")
                copy.execute("PRAGMA foreign_keys=OFF")
                for table in TRANSIENT_TABLES:
                    if table in existing:
                        copy.execute(f'DELETE FROM "{table}"')  # noqa: S608
        finally:
            copy.close()
        with copy_path.open("rb") as src:
            while block := src.read(1 << 20):
                writer.write(block)
    return {}


def load(alias: str, chunks: Iterable[bytes], *, on_loaded=None) -> dict:
    """Replace the target database with the backup's. Content must already be verified by the caller; it
    is authenticated again while it is written to the temporary file, before anything touches the target."""
    target_path = _path(alias)
    with tempfile.TemporaryDirectory(prefix="tracker-restore-") as directory:
        copy_path = Path(directory) / "restore.sqlite3"
        with copy_path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        source = sqlite3.connect(copy_path, isolation_level=None)
        try:
            try:
                # quick_check: every page readable and well-formed (the full integrity_check also compares
                # every index with its table: minutes at 300,000 recommendations, for a file we authenticated).
                ok = source.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"The backup does not hold a SQLite database ({exc}).", "damaged") from exc
            if ok != "ok":
                raise BackupError(f"The backup's database fails SQLite's quick check: {ok}.", "damaged")
            connection = connections[alias]
            connection.close()
            target = sqlite3.connect(
                target_path, timeout=connection.settings_dict["OPTIONS"].get("timeout", 5)
            )
            try:
                # One step: a single write transaction on the target, so it is replaced whole or not at all.
                source.backup(target, pages=-1)
            finally:
                target.close()
        finally:
            source.close()
        if on_loaded is not None:
            on_loaded({})
    return {}
