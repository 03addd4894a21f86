"""Recovery as an operator does it (issue 15, finding 1 and "What to build" 3): separate processes, a second
database made empty by `migrate` (or not even that), `manage.py backup` and `manage.py restore`, on the
suite's kind of database (a SQLite file, or PostgreSQL when DATABASE_URL says so). Then every table is
compared (row counts and a content hash) and the application's invariants are checked. Also: a backup taken
while another process submits and publishes, and the portable path from SQLite to PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
CLEAN = {"status_mismatches": [], "four_eyes_violations": 0, "dangling_references": {}}
DATASET = "fixtures/ohchr-xinjiang-2022.json"

REPORT = (
    "import json; from cases.backup.checks import report; "
    "print('REPORT ' + json.dumps(report(), sort_keys=True))"
)

# Another process writing while the backup runs: a monitor submits, two curators publish in turn, through
# the services, as the web forms do.
WRITER = """
import datetime, itertools, os, time
from cases import services
from cases.models import Evidence, Recommendation
from tracker.accounts.services import create_user
org = services.default_organisation()
kw = dict(organisation=org, email='', password='correct horse battery staple', created_by=None)
monitor = create_user('load-monitor', role='monitor', **kw)
curators = [create_user(f'load-curator-{i}', role='curator', **kw) for i in range(2)]
evidence = list(Evidence.objects.order_by('pk')[:3])
recommendations = list(Recommendation.objects.order_by('pk'))
print('READY', flush=True)
deadline = time.monotonic() + float(os.environ.get('WRITER_SECONDS', '8'))
n = 0
for i in itertools.count():
    if time.monotonic() > deadline:
        break
    a = services.submit_assessment(
        recommendations[i % len(recommendations)], author=monitor, implementation_status='regressed',
        state_response='noted', basis='independent', assessed_on=datetime.date(2024, 1, 1 + i % 28),
        rationale=f'Under load {i}.', evidence=evidence[: 1 + i % 3])
    if i % 4:
        services.publish_assessment(a, reviewer=curators[i % 2])
    n += 1
print('WROTE', n, flush=True)
"""


def run(
    url: str, *args: str, timeout: int = 600, check: bool = True, **extra: str
) -> subprocess.CompletedProcess:
    env = {
        **extra,
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "BACKUP_KEY": KEY,
        "BACKUP_PASSPHRASE": "",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def report(url: str) -> dict:
    out = run(url, "shell", "--no-imports", "-c", REPORT).stdout
    line = next(line for line in out.splitlines() if line.startswith("REPORT "))
    result = json.loads(line.removeprefix("REPORT "))
    # Backups and restores add to the audit trail; every other table must match exactly.
    result["tables"].pop("accounts_auditevent")
    return result


class Databases:
    """Empty scratch databases of one kind; PostgreSQL ones are dropped at the end."""

    def __init__(self, vendor: str, tmp_path: Path, pg: dict | None = None):
        self.vendor, self.tmp_path, self.pg, self.made = vendor, tmp_path, pg, []

    def new(self, name: str) -> str:
        if self.vendor == "sqlite":
            return f"sqlite:///{self.tmp_path / (name + '.sqlite3')}"
        import psycopg

        db = f"h5bk_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(**self._params("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        self.made.append(db)
        p = self.pg
        auth = p["USER"] + (f":{p['PASSWORD']}" if p.get("PASSWORD") else "")
        return f"postgres://{auth}@{p.get('HOST') or '127.0.0.1'}:{p.get('PORT') or 5432}/{db}"

    def _params(self, dbname: str) -> dict:
        p = self.pg
        params = {"dbname": dbname, "user": p["USER"], "host": p.get("HOST") or "127.0.0.1"}
        if p.get("PORT"):
            params["port"] = p["PORT"]
        if p.get("PASSWORD"):
            params["password"] = p["PASSWORD"]
        return params

    def drop(self) -> None:
        if not self.made:
            return
        import psycopg

        with psycopg.connect(**self._params("postgres"), autocommit=True) as conn:
            for db in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _postgres_settings() -> dict | None:
    """The PostgreSQL server of the suite, or BACKUP_TEST_POSTGRES_URL, or the local default; None if none
    answers (the SQLite-to-PostgreSQL test then skips)."""
    import dj_database_url

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return settings.DATABASES["default"]
    url = os.environ.get("BACKUP_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    candidate = dj_database_url.parse(url)
    try:
        import psycopg

        with psycopg.connect(
            dbname="postgres",
            user=candidate["USER"],
            host=candidate["HOST"],
            port=candidate["PORT"] or 5432,
            password=candidate.get("PASSWORD") or None,
            connect_timeout=3,
        ):
            pass
    except Exception:
        return None
    return candidate


@pytest.fixture
def databases(tmp_path):
    engine = settings.DATABASES["default"]["ENGINE"]
    vendor = "postgresql" if engine.endswith("postgresql") else "sqlite"
    made = Databases(vendor, tmp_path, settings.DATABASES["default"] if vendor == "postgresql" else None)
    yield made
    made.drop()


@pytest.fixture
def postgres(tmp_path):
    pg = _postgres_settings()
    if pg is None:
        pytest.skip("no PostgreSQL server answers (set BACKUP_TEST_POSTGRES_URL)")
    made = Databases("postgresql", tmp_path, pg)
    yield made
    made.drop()


@pytest.mark.parametrize("fmt", ["native", "portable"])
def test_backup_of_the_data_set_restores_into_an_empty_database(databases, tmp_path, fmt):
    """Finding 1: migrate A, load the data set, back up; migrate an empty B, restore: it used to fail with
    PublishedAssessmentImmutable (SQLite) or a duplicate key on cases_historicalevidence_pkey (PostgreSQL)."""
    a = databases.new("a")
    run(a, "migrate", "-v0")
    run(a, "load_dataset", DATASET)
    before = report(a)
    assert before["invariants"] == CLEAN
    assert before["tables"]["cases_assessment"][0] > 0
    assert before["tables"]["cases_assessment_evidence"][0] > 0
    path = tmp_path / "a.backup"
    run(a, "backup", str(path), "--format", fmt)

    b = databases.new("b")
    run(b, "migrate", "-v0")
    assert "Restored" in run(b, "restore", str(path)).stdout
    after = report(b)
    assert after == before

    # Restore into the now populated B: refused, B unchanged; with --replace, replaced whole.
    refused = run(b, "restore", str(path), check=False)
    assert refused.returncode != 0 and "already holds data" in refused.stderr
    assert report(b) == before
    run(b, "restore", str(path), "--replace")
    assert report(b) == before

    if fmt == "native":
        # A native backup brings its schema: it also restores into a database nobody has migrated.
        c = databases.new("c")
        run(c, "restore", str(path))
        assert report(c) == before


def test_backup_taken_while_another_process_publishes_restores_consistent(databases, tmp_path):
    """Findings 2 and 3 across processes: backups while a writer submits and publishes; each restores into
    an empty database with stored status = recomputed status, four eyes and no dangling rows; the writer
    never fails (no "database is locked")."""
    a = databases.new("a")
    run(a, "migrate", "-v0")
    run(a, "load_dataset", DATASET)
    env = {**os.environ, "DATABASE_URL": a, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    # The writer's log goes to a file: a pipe nobody reads fills up after a few hundred audit lines, and the
    # writer then blocks inside its transaction holding SQLite's write lock (this was "database is locked" in
    # the backup's own audit row, a harness fault, not the backup's).
    log = (tmp_path / "writer.log").open("w")
    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", WRITER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        for line in writer.stdout:
            if line.strip() == "READY":
                break
        paths = [tmp_path / "native.backup", tmp_path / "portable.backup"]
        run(a, "backup", str(paths[0]))
        run(a, "backup", str(paths[1]), "--format", "portable")
        out, _ = writer.communicate(timeout=300)
    finally:
        writer.kill()
        log.close()
    assert writer.returncode == 0, (tmp_path / "writer.log").read_text()[-3000:]
    wrote = int(out.split()[-1])
    assert wrote > 0
    final = report(a)
    assert final["invariants"] == CLEAN
    for n, path in enumerate(paths):
        b = databases.new(f"b{n}")
        run(b, "migrate", "-v0")
        run(b, "restore", str(path))
        restored = report(b)
        assert restored["invariants"] == CLEAN, path.name
        # A snapshot between the start and the end of the writer's run.
        loaded = restored["tables"]["cases_assessment"][0]
        assert (
            final["tables"]["cases_assessment"][0] - wrote <= loaded <= final["tables"]["cases_assessment"][0]
        )


def test_portable_backup_moves_an_installation_from_sqlite_to_postgresql(tmp_path, postgres):
    a = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    run(a, "migrate", "-v0")
    run(a, "load_dataset", DATASET)
    before = report(a)
    path = tmp_path / "move.backup"
    run(a, "backup", str(path), "--format", "portable")
    native = tmp_path / "native.backup"
    run(a, "backup", str(native))

    b = postgres.new("moved")
    run(b, "migrate", "-v0")
    wrong = run(b, "restore", str(native), check=False)
    assert wrong.returncode != 0 and "Use a portable backup" in wrong.stderr
    run(b, "restore", str(path))
    assert report(b) == before
    # The moved installation works: a new assessment is submitted and published with fresh ids.
    run(b, "shell", "--no-imports", "-c", WRITER, WRITER_SECONDS="0.5")
    assert report(b)["invariants"] == CLEAN
