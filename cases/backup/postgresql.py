"""Native PostgreSQL backups with `pg_dump --format=custom` and `pg_restore`.

pg_dump reads the whole database in one REPEATABLE READ snapshot and takes only ACCESS SHARE locks (which
block schema changes, not writers): a consistent backup under load, with no lock on the site. Its output is
streamed straight into the encrypted envelope, never to disk in clear. The transient tables' rows are left
out with `--exclude-table-data` (their definitions stay).

pg_restore runs with `--clean --if-exists --single-transaction --exit-on-error`: it drops and recreates every
object of the backup in one transaction, so the target ends up exactly as the backup (schema, data,
sequences) or, on any error, unchanged. The decrypted stream goes to its standard input; a chunk that does
not authenticate kills it before it commits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable

from django.db import connections

from .envelope import BackupError, Writer
from .tables import TRANSIENT_TABLES


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client tools of the server's version "
            "(e.g. postgresql-client-15) or use --format portable.",
            "unsupported",
        )
    return path


def _environment(alias: str) -> dict[str, str]:
    """libpq's environment for the alias's database: the password never appears on a command line."""
    settings_dict = connections[alias].settings_dict
    options = settings_dict.get("OPTIONS") or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": options.get("sslmode"),
        "PGSSLROOTCERT": options.get("sslrootcert"),
        "PGCONNECT_TIMEOUT": options.get("connect_timeout"),
    }
    env.update({k: str(v) for k, v in pairs.items() if v not in (None, "")})
    return env


def dump(alias: str, writer: Writer, *, include_sessions: bool, progress: Callable | None = None) -> dict:
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
    if not include_sessions:
        command += [f"--exclude-table-data={table}" for table in TRANSIENT_TABLES]
    # stderr to a file, not a pipe: a full stderr pipe would stall the tool while we wait on stdout.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            command, stdout=subprocess.PIPE, stderr=errors, env=_environment(alias)
        )
        written = 0
        try:
            while block := process.stdout.read(1 << 20):
                writer.write(block)
                written += len(block)
                if progress:
                    progress(written, "bytes")
        finally:
            process.stdout.close()
            process.wait()
            errors.seek(0)
            error = errors.read().decode(errors="replace")
    if process.returncode != 0:
        raise BackupError(f"pg_dump failed: {error.strip()}", "tool")
    return {}


def load(alias: str, chunks: Iterable[bytes], *, on_loaded=None) -> dict:
    connection = connections[alias]
    connection.close()  # pg_restore drops and recreates tables: hold no locks or cached plans on them
    command = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={connection.settings_dict['NAME']}",
    ]
    env = _environment(alias)
    env["PGOPTIONS"] = "-c statement_timeout=0 -c client_min_messages=warning"
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        )
        try:
            for chunk in chunks:
                process.stdin.write(chunk)
            process.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit status says why
        except BaseException:
            # The stream stopped authenticating (or we were interrupted): kill pg_restore before its single
            # transaction commits.
            process.kill()
            process.wait()
            raise
        process.wait()
        errors.seek(0)
        error = errors.read().decode(errors="replace")
    if process.returncode != 0:
        raise BackupError(f"pg_restore failed, the database was not changed: {error.strip()}", "tool")
    if on_loaded is not None:
        on_loaded({})
    return {}
