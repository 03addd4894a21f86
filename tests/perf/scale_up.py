"""A bigger PostgreSQL benchmark database from a generated one, by copying its data set in SQL (issue 14's
1,000,000 recommendations on PostgreSQL).

    BENCH_SCALE_FROM=bench300k DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench1m \\
        BENCH_RECOMMENDATIONS=1000000 .venv/bin/python tests/perf/scale_up.py

`generate_data` writes about 250 recommendations a second (its Python builds every row): 1,000,000 would take
over an hour. Here the target database is created from the source (`CREATE DATABASE … TEMPLATE`, a file
copy), then the source's documents, recommendations, theme links, translations, evidence, evidence links,
assessments and cited evidence are copied by `INSERT … SELECT` until there are BENCH_RECOMMENDATIONS
recommendations (the last copy partial). Every copy gets its own ids (the source's id plus a multiple of the
table's largest id) and its own unique values (a `-c<n>` suffix on codes, slugs and symbols, a `#c<n>`
fragment on evidence URLs); everything else — statuses, review states, dates, authors, organisations,
texts — is the source's, so the distributions are the generated ones. People are not copied. The copies
are written with triggers off (the rows repeat the source's, already checked), then the database is migrated,
the maintained status counts are recounted (`check_status_counts --fix`) and the public version bumped. The
bench's own check (`postgres.ensure`: the count and the bench organisation) then accepts the database.
Loopback only; the target must not exist yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness, postgres
from tests.perf.harness import log

# In the order they are written (foreign keys to assessments, state claims and corrections, are deferred).
TABLES = [
    "cases_document",
    "cases_evidence",
    "cases_recommendation",
    "cases_recommendation_themes",
    "cases_recommendationtranslation",
    "cases_evidence_recommendations",
    "cases_assessment",
    "cases_assessment_evidence",
]
# Foreign-key columns pointing into a copied table.
REFERENCES = {
    "document_id": "cases_document",
    "recommendation_id": "cases_recommendation",
    "state_claim_id": "cases_assessment",
    "corrects_id": "cases_assessment",
    "assessment_id": "cases_assessment",
    "evidence_id": "cases_evidence",
}
# Which source rows a copy takes: those of the selected recommendations (temporary tables sel_*).
SOURCE_ROWS = {
    "cases_document": "id IN (SELECT id FROM sel_document)",
    "cases_evidence": "id IN (SELECT id FROM sel_evidence)",
    "cases_recommendation": "id IN (SELECT id FROM sel_recommendation)",
    "cases_recommendation_themes": "recommendation_id IN (SELECT id FROM sel_recommendation)",
    "cases_recommendationtranslation": "recommendation_id IN (SELECT id FROM sel_recommendation)",
    "cases_evidence_recommendations": "recommendation_id IN (SELECT id FROM sel_recommendation)",
    "cases_assessment": "id IN (SELECT id FROM sel_assessment)",
    "cases_assessment_evidence": "assessment_id IN (SELECT id FROM sel_assessment)",
}


def unique_value(table: str, column: str, n: int) -> str | None:
    """The expression giving copy n its own value of a unique column, or None."""
    suffix = f"'-c{n}'"
    return {
        ("cases_document", "slug"): f"slug || {suffix}",
        ("cases_document", "symbol"): f"CASE WHEN symbol = '' THEN '' ELSE symbol || {suffix} END",
        ("cases_recommendation", "code"): f"code || {suffix}",
        ("cases_recommendation", "external_id"): (
            f"CASE WHEN external_id = '' THEN '' ELSE external_id || {suffix} END"
        ),
        ("cases_evidence", "url"): f"url || '#c{n}'",
    }.get((table, column))


def main() -> int:
    import psycopg

    target_url = postgres.database_url()
    source = os.environ.get("BENCH_SCALE_FROM", "")
    wanted = harness.env_int("BENCH_RECOMMENDATIONS", 1_000_000)
    if not target_url or not source:
        raise SystemExit(
            "scale_up: set DATABASE_URL (the new database) and BENCH_SCALE_FROM (a generated one)"
        )
    parts = urllib.parse.urlsplit(target_url)
    if (parts.hostname or "127.0.0.1") not in postgres.LOOPBACK:
        raise SystemExit(f"scale_up: loopback only, not {parts.hostname}")
    target = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres", query=""))
    started = time.monotonic()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target]).fetchone():
            raise SystemExit(f"scale_up: {target} exists already; drop it first")
        log(f"creating {target} from {source} (a file copy)")
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    with psycopg.connect(target_url) as conn:
        base = conn.execute("SELECT count(*), max(id) FROM cases_recommendation").fetchone()
        count, highest = base
        if wanted <= count:
            raise SystemExit(f"scale_up: {source} has {count:,} recommendations already")
        offsets = {t: conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608
        columns = {
            t: [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND is_generated = 'NEVER' ORDER BY ordinal_position",
                    [t],
                )
            ]
            for t in TABLES
        }
        # Triggers off while copying (`replica`): the deferred foreign-key checks queued one event per row
        # and column (15 million for the assessments of one copy: 20 minutes a copy), and the status counts'
        # row triggers are replaced by one recount at the end (the copies only repeat checked rows).
        conn.execute("SET session_replication_role = replica")
        # The secondary indexes are dropped while copying and built again after: maintained row by row, their
        # random inserts outgrew the buffer cache and made one copy's assessments take over ten minutes.
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisunique AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [TABLES],
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.commit()
        n = 0
        while count < wanted:
            n += 1
            take = min(base[0], wanted - count)
            log(f"copy {n}: {take:,} recommendations")
            conn.execute("SET CONSTRAINTS ALL DEFERRED")
            conn.execute(
                "DROP TABLE IF EXISTS sel_recommendation, sel_document, sel_assessment, sel_evidence"
            )
            conn.execute(
                "CREATE TEMP TABLE sel_recommendation AS SELECT id FROM cases_recommendation "
                "WHERE id <= %s ORDER BY id LIMIT %s",
                [highest, take],
            )
            conn.execute(
                "CREATE TEMP TABLE sel_document AS SELECT DISTINCT document_id AS id FROM cases_recommendation "
                "WHERE id IN (SELECT id FROM sel_recommendation)"
            )
            conn.execute(
                "CREATE TEMP TABLE sel_assessment AS SELECT id FROM cases_assessment "
                "WHERE recommendation_id IN (SELECT id FROM sel_recommendation)"
            )
            conn.execute(
                "CREATE TEMP TABLE sel_evidence AS SELECT evidence_id AS id FROM cases_evidence_recommendations "
                "WHERE recommendation_id IN (SELECT id FROM sel_recommendation) UNION "
                "SELECT evidence_id FROM cases_assessment_evidence "
                "WHERE assessment_id IN (SELECT id FROM sel_assessment)"
            )
            for table in TABLES:
                cells = []
                for column in columns[table]:
                    if column == "id":
                        cells.append(f"id + {offsets[table] * n}")
                    elif column in REFERENCES and REFERENCES[column] in offsets:
                        cells.append(f"{column} + {offsets[REFERENCES[column]] * n}")
                    else:
                        cells.append(unique_value(table, column, n) or column)
                names = ", ".join(f'"{c}"' for c in columns[table])
                copied = conn.execute(
                    f"INSERT INTO {table} ({names}) SELECT {', '.join(cells)} FROM {table} "  # noqa: S608
                    f"WHERE {SOURCE_ROWS[table]}"
                ).rowcount
                log(f"  {table}: {copied:,} rows")
            conn.commit()
            count += take
        log(f"building {len(indexes)} indexes again")
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _name, definition in indexes:
            conn.execute(definition)
        conn.commit()
        for table in TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("RESET session_replication_role")
        log("ANALYZE")
        conn.execute("ANALYZE")
        total = conn.execute("SELECT count(*) FROM cases_recommendation").fetchone()[0]
    log("migrating, then recounting the maintained status counts")
    manage = [sys.executable, str(harness.ROOT / "manage.py")]
    env = {**harness.server_env(harness.Config.from_env()), "DATABASE_URL": target_url}
    subprocess.run([*manage, "migrate", "-v0"], env={**os.environ, **env}, check=True)
    subprocess.run([*manage, "check_status_counts", "--fix"], env={**os.environ, **env}, check=True)
    with psycopg.connect(target_url, autocommit=True) as conn:
        # The public pages' validators change with the data (cases 0018's triggers were off).
        conn.execute("UPDATE cases_publicversion SET version = version + 1")
    log(f"{target}: {total:,} recommendations in {time.monotonic() - started:.0f} s")
    return 0 if total == wanted else 1


if __name__ == "__main__":
    sys.exit(main())
