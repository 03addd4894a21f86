"""The benchmark and the load test on PostgreSQL: DATABASE_URL=postgres://…@127.0.0.1/<name> (loopback only).

The database is created if it is missing, migrated, and generated (`generate_data`, the same data as the
SQLite file for the same size and seed) if it is empty; one holding anything else — other recommendations, or
a generated set of another size — is refused: the benchmark and the load test write to it. The export's
floor is `psql \\copy (the same join) TO STDOUT WITH CSV HEADER`, as `sqlite3 -csv` is on SQLite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.parse

from tests.perf import harness
from tests.perf.harness import log

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def database_url() -> str | None:
    """DATABASE_URL when it names PostgreSQL, else None (the benchmark's SQLite file)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def ensure(config: harness.Config, url: str, who: str = "bench") -> None:
    """Create the database if missing, migrate, generate the data if it is empty; refuse one holding other
    data (the benchmark and the load test write, so they never run on a database someone cares about)."""
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    host = parts.hostname or "127.0.0.1"
    if host not in LOOPBACK:
        raise SystemExit(f"{who}: loopback only, not {host}")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating PostgreSQL database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0, interactive=False)
    from cases.models import Organisation, Recommendation

    count = Recommendation.objects.count()
    if count == 0:
        log(f"generating {config.recommendations:,} recommendations (seed {config.seed}) in {name}")
        started = time.monotonic()
        call_command(
            "generate_data", recommendations=config.recommendations, seed=config.seed, stdout=sys.stderr
        )
        log(f"generated in {time.monotonic() - started:.0f} s")
    elif count != config.recommendations or not Organisation.objects.filter(name=harness.BENCH_ORGANISATION):
        raise SystemExit(
            f"{who}: {name} holds {count:,} recommendations, not a generated set of "
            f"{config.recommendations:,}; use an empty database"
        )
    else:
        log(f"reusing PostgreSQL database {name}")
    connection.close()


def describe() -> str:
    """'PostgreSQL 15.20, 1.23 GiB' for the table's heading (in-process, the bench's connection)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), pg_database_size(current_database())")
        version, size = cursor.fetchone()
    return f"PostgreSQL {version.split()[0]}, {size / 2**30:.2f} GiB"


def psql_cli() -> str | None:
    return shutil.which("psql")


def copy_export_once(cli: str, url: str, sql: str) -> tuple[float, int]:
    """The export's floor: `psql \\copy (sql) TO STDOUT WITH CSV HEADER`, read as the HTTP export is read.
    (seconds, rows)."""
    command = f"\\copy ({sql}) TO STDOUT WITH CSV HEADER"
    started = time.perf_counter()
    process = subprocess.Popen(
        [cli, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", command], stdout=subprocess.PIPE
    )
    lines = 0
    assert process.stdout is not None
    while chunk := process.stdout.read(65536):
        lines += chunk.count(b"\n")
    if process.wait() != 0:
        raise RuntimeError(f"psql \\copy failed ({process.returncode})")
    return time.perf_counter() - started, max(lines - 1, 0)


FLOOR = "psql \\copy"
