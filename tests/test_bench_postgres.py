"""`make bench` on PostgreSQL (tests/perf/postgres.py): loopback only, a database holding other data refused,
and the export's floor (`psql \\copy`) reading the same rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import make_document, make_recommendation
from tests.perf import harness, postgres

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own path")


def config(n: int = 300) -> harness.Config:
    return harness.Config(recommendations=n, seed=1, db_path=Path("/nonexistent"), port=1)


def test_only_a_postgresql_url_selects_postgresql(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    assert postgres.database_url() is None
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
    assert postgres.database_url() == "postgres://postgres@127.0.0.1:5432/bench"
    monkeypatch.delenv("DATABASE_URL")
    assert postgres.database_url() is None


def test_a_server_elsewhere_is_refused():
    with pytest.raises(SystemExit, match=r"loopback only, not db\.example\.org"):
        postgres.ensure(config(), "postgres://postgres@db.example.org:5432/bench")


def _url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_database_holding_other_data_is_refused():
    make_recommendation(make_document(), "R-1", "1")
    with pytest.raises(SystemExit, match="holds 1 recommendations, not a generated set of 300"):
        postgres.ensure(config(300), _url())


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not shutil.which("psql"), reason="psql is not installed")
def test_the_export_floor_copies_every_row():
    document = make_document()
    for n in range(3):
        make_recommendation(document, f"R-{n}", str(n), text='A, "quoted" text')
    seconds, rows = postgres.copy_export_once(
        shutil.which("psql"), _url(), "SELECT r.code, r.text FROM cases_recommendation r ORDER BY r.code"
    )
    assert rows == 3
    assert seconds > 0
    with pytest.raises(RuntimeError, match="psql"):
        postgres.copy_export_once(shutil.which("psql"), _url(), "SELECT nothing FROM no_such_table")
