"""Complete, verifiable backups: every row of every model (password hashes and key hashes included).

Format: a gzip file of JSON lines. The first line is a header (format, version, time, the migration state);
then one line per object in Django's serialisation; the last line is a trailer with the number of objects
and the SHA-256 of every byte before it. `restore` reads the whole file once to verify it before it touches
the database, then loads it in one transaction — a damaged or truncated file changes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = "accountability-tracker-backup"
VERSION = 1
# Recreated by `migrate` and referred to by natural keys; sessions are deliberately not carried over.
EXCLUDED = {"contenttypes.contenttype", "auth.permission", "sessions.session"}
CHUNK = 2000

Progress = Callable[[int, str], None]


class BackupError(Exception):
    """The backup file is damaged, truncated, of another format, or from another schema."""


def backed_up_models() -> list:
    # Many-to-many rows travel with their parent object, so auto-created through tables are not listed.
    models = [
        m
        for m in apps.get_models()
        if m._meta.label_lower not in EXCLUDED and not m._meta.proxy and m._meta.managed
    ]
    # Parents before children, as dumpdata orders them for natural keys.
    return serializers.sort_dependencies([(None, models)], allow_cycles=True)


def _migration_state() -> list[list[str]]:
    return sorted(
        [app, name] for app, name in MigrationRecorder(connections[DEFAULT_DB_ALIAS]).applied_migrations()
    )


def _objects(progress: Progress | None) -> Iterator[dict]:
    count = 0
    for model in backed_up_models():
        queryset = model._default_manager.order_by("pk")
        for obj in serializers.serialize(
            "python", queryset.iterator(chunk_size=CHUNK), use_natural_foreign_keys=True
        ):
            yield obj
            count += 1
            if progress and count % CHUNK == 0:
                progress(count, model._meta.label)


def write_backup(path: str | Path, progress: Progress | None = None) -> int:
    """Write every row to `path`; return the number of objects. Written to a temporary name first, so an
    interrupted backup never leaves a file that looks complete. One transaction gives a consistent snapshot."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    count = 0
    with transaction.atomic(), gzip.open(tmp, "wb") as out:

        def emit(record: dict) -> None:
            line = (json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode()
            digest.update(line)
            out.write(line)

        emit(
            {
                "format": FORMAT,
                "version": VERSION,
                "created_at": timezone.now().isoformat(),
                "migrations": _migration_state(),
            }
        )
        for obj in _objects(progress):
            emit(obj)
            count += 1
        out.write(
            (json.dumps({"trailer": True, "objects": count, "sha256": digest.hexdigest()}) + "\n").encode()
        )
    tmp.replace(path)
    return count


def _lines(path: Path) -> Iterator[bytes]:
    try:
        with gzip.open(path, "rb") as src:
            yield from src
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"The backup file is damaged or truncated ({exc}).") from exc


def verify_backup(path: str | Path) -> dict:
    """Read the whole file and check its header, object count and checksum. Returns the header."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    digest = hashlib.sha256()
    header = trailer = None
    count = 0
    for line in _lines(path):
        if trailer is not None:
            raise BackupError("The backup file has data after its trailer.")
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BackupError("The backup file has a damaged line.") from exc
        if header is None:
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise BackupError("This is not an Accountability Tracker backup.")
            if record.get("version") != VERSION:
                raise BackupError(f"Unsupported backup version {record.get('version')!r}.")
            header = record
            digest.update(line)
        elif isinstance(record, dict) and record.get("trailer"):
            trailer = record
        else:
            digest.update(line)
            count += 1
    if header is None:
        raise BackupError("The backup file is empty.")
    if trailer is None:
        raise BackupError("The backup file is truncated: it has no trailer.")
    if trailer.get("objects") != count or trailer.get("sha256") != digest.hexdigest():
        raise BackupError("The backup file's checksum does not match its content: it is damaged.")
    if header["migrations"] != _migration_state():
        raise BackupError(
            "The backup was made with another database schema; migrate to the same version first."
        )
    return header | {"objects": count}


def restore_backup(path: str | Path, progress: Progress | None = None) -> int:
    """Replace all data with the backup's, in one transaction, after verifying the whole file."""
    header = verify_backup(path)
    connection = connections[DEFAULT_DB_ALIAS]
    models = backed_up_models()
    loaded = 0
    with transaction.atomic():
        with connection.constraint_checks_disabled():
            for model in reversed(models):
                model._base_manager.all()._raw_delete(DEFAULT_DB_ALIAS)
            records = (json.loads(line) for line in _lines(Path(path)))
            next(records)  # header
            batch: list[dict] = []
            for record in records:
                if record.get("trailer"):
                    break
                batch.append(record)
                if len(batch) >= CHUNK:
                    loaded += _load(batch)
                    batch = []
                    if progress:
                        progress(loaded, "")
            loaded += _load(batch)
        connection.check_constraints(table_names=[m._meta.db_table for m in models])
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
    if loaded != header["objects"]:
        raise BackupError("Restored a different number of objects than the backup holds.")
    return loaded


def _load(batch: list[dict]) -> int:
    for deserialized in serializers.deserialize("python", batch, handle_forward_references=True):
        # Raw saves: no signals, no auto_now, no history rows — the data comes back exactly as it was.
        deserialized.save()
    return len(batch)
