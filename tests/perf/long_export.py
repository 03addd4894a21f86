"""`bench.py --long-export`: the full CSV export of BENCH_LONG_EXPORT_ROWS recommendations (default
1,000,000) end to end through gunicorn as deployed (`-c tracker/gunicorn.conf.py`: sync workers, the
default 30 s worker timeout), as a partner downloads it. Not in CI: it takes minutes.

The database is a SQLite file of its own (test-artifacts/bench/long-export-<rows>.sqlite3, made once and
reused): migrated, then one document, three themes and the recommendations inserted by one SQL statement
each (INSERT … SELECT over a counter: the pages' generator would take an hour at this size), every third
recommendation with a theme and every tenth with a Chinese translation. The report gives the rows received
against the rows in the table, whether the file ends on a whole row, the wall time, rows per second, the
worker's memory growth, and whether gunicorn logged a worker timeout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.perf import harness
from tests.perf.harness import Http, log

ROWS = harness.env_int("BENCH_LONG_EXPORT_ROWS", 1_000_000)


def _fill(rows: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.models import Document, Recommendation, Theme
    from cases.translations.models import RecommendationTranslation

    now = timezone.now()
    with transaction.atomic():
        document = Document.objects.create(
            slug="long",
            title="A long document",
            short_name="Long",
            issuing_body="ohchr",
            published_on=now.date(),
        )
        themes = [Theme.objects.create(slug=f"theme-{n}", name=f"Theme {n}") for n in range(3)]
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        table, through = Recommendation._meta.db_table, Recommendation.themes.through._meta.db_table
        translations = RecommendationTranslation._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "  # noqa: S608
                f"INSERT INTO {table} (document_id, code, paragraph, paragraph_variant, position, text, addressee, "
                "implementation_status, state_response, status_updated_at, recommending_states, "
                "states_concerned, affected_persons, external_id, source_url, text_hash, created_at, updated_at) "
                "SELECT %s, printf('LONG-%%07d', i), printf('%%d', i), 0, i, "
                'printf(\'Recommendation %%d: release everyone arbitrarily detained, "now", and report, '
                "with figures, within a year.', i), 'state', 'not_assessed', 'no_response', NULL, '[]', '[]', "
                "'[]', '', '', '', %s, %s FROM n",
                [rows, document.pk, stamp, stamp],
            )
            cursor.execute(
                f"INSERT INTO {through} (recommendation_id, theme_id) "  # noqa: S608
                f"SELECT id, %s + (id %% 3) FROM {table} WHERE document_id = %s AND id %% 3 = 0",
                [themes[0].pk, document.pk],
            )
            cursor.execute(
                f"INSERT INTO {translations} (recommendation_id, language, text, source_note, created_at, "  # noqa: S608
                f"updated_at) SELECT id, 'zh-hans', '建议 ' || id, '', %s, %s FROM {table} "
                "WHERE document_id = %s AND id %% 10 = 0",
                [stamp, stamp, document.pk],
            )


def ensure_database(config: harness.Config, rows: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    marker = config.db_path.with_suffix(".ready")
    if config.db_path.exists() and marker.exists() and json.loads(marker.read_text()) == {"rows": rows}:
        log(f"reusing {config.db_path}")
        return
    connection.close()
    config.db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(config.db_path) + suffix).unlink(missing_ok=True)
    log(f"creating {config.db_path} with {rows:,} recommendations")
    call_command("migrate", verbosity=0, interactive=False)
    _fill(rows)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marker.write_text(json.dumps({"rows": rows}))


def measure_long_export(out=sys.stdout) -> bool:
    """Runs the export; True when the whole file arrived."""
    from tests.perf.loadtest import Server

    config = harness.Config.from_env()
    directory = Path(os.environ.get("BENCH_DIR", harness.ARTIFACTS))
    config.db_path = (directory / f"long-export-{ROWS}.sqlite3").resolve()
    env = harness.server_env(config)
    env.update(GUNICORN_BIND=f"127.0.0.1:{config.port}", GUNICORN_WORKERS=str(config.workers))
    env.pop("GUNICORN_TIMEOUT", None)  # the deployment's default (30 s)
    os.environ.pop("GUNICORN_TIMEOUT", None)
    harness.setup_django(env)
    ensure_database(config, ROWS)
    from django.db import connection

    from cases import services
    from cases.models import Recommendation

    total = Recommendation.objects.count()
    organisation = services.get_or_create_organisation("Long export partner")
    _key, secret = services.issue_api_key(organisation, clearance="partners", name="long export")
    connection.close()

    log_path = config.db_path.parent / "long-export-gunicorn.log"
    with Server(config, env, log_path) as server:
        http = Http(config.port, timeout=120)
        from tests.perf.bench import export_once

        log(f"exporting {total:,} rows through gunicorn (tracker/gunicorn.conf.py, 30 s worker timeout)")
        seconds, received, status, growth, hwm = export_once(
            http, server, "/api/v1/export/recommendations.csv", {"Authorization": f"Bearer {secret}"}
        )
        server_log = server.log_text()
    timeouts = server_log.count("WORKER TIMEOUT")
    whole = status == 200 and received == total and timeouts == 0
    print(
        f"Full CSV export through gunicorn as deployed (sync workers, 30 s worker timeout), SQLite:\n"
        f"  {received:,} of {total:,} rows in {seconds:.1f} s ({received / seconds:,.0f} rows/s), HTTP {status}, "
        f"worker RSS +{growth / 1024:.1f} MiB during the export (VmHWM {hwm / 1024:.0f} MiB), "
        f"{timeouts} worker timeouts: {'COMPLETE' if whole else 'INCOMPLETE'}\n"
        f"  {harness.machine_description()}",
        file=out,
    )
    return whole
