"""The import figures of `make bench` (issue 10): a generated UHRI-shaped JSON export and an XLSX export,
each imported with `manage.py import_recommendations` into a new, migrated database, then imported again
unchanged. Each import runs in its own process as an operator runs it; its wall time and peak memory (the
child's maximum resident set, from `os.wait4`) are printed beside the goals: 250,000 records in under 10
minutes, peak memory under 300 MB whatever the file size, the unchanged re-import at least 5 times faster.

    bench.py --import       # BENCH_IMPORT_RECORDS, BENCH_IMPORT_XLSX_ROWS

By default the JSON has as many records as the bench has recommendations, at most 250,000 (so the quick
`make bench` of 20,000 stays quick and `BENCH_RECOMMENDATIONS=300000` measures the goal), the XLSX at most
20,000 rows.

SQLite always; PostgreSQL too when BENCH_POSTGRES_URL names a server (a scratch database, dropped after).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from tests.perf import harness
from tests.perf.harness import log

TARGET_SECONDS = 600  # 250,000 records
TARGET_MEMORY_MB = 300
TARGET_REIMPORT_SPEEDUP = 5.0

BODIES = ["CAT", "CERD", "CEDAW", "CRC", "CESCR", "HRC", "UPR"]
THEMES = [
    "Torture and other cruel, inhuman or degrading treatment or punishment",
    "Racial discrimination",
    "Freedom of movement",
    "Freedom of religion or belief",
    "Liberty and security of the person",
]
STATES = ["France", "Japan", "Germany", "Canada", "Kenya", "Brazil", "Norway", "Chile"]
RECORDS_PER_DOCUMENT = 120


def _record(i: int, rng: random.Random) -> dict:
    body = BODIES[(i // RECORDS_PER_DOCUMENT) % len(BODIES)]
    document = i // RECORDS_PER_DOCUMENT
    upr = body == "UPR"
    return {
        "AnnotationId": f"bench-{i:07d}",
        "AnnotationType": "Recommendation",
        "Body": body,
        "Countries": "- China",
        "DocumentId": document,
        "Symbol": f"A/HRC/{document // 50}/{document % 50}" if upr else f"{body}/C/CHN/CO/{document}",
        "PublicationDate": f"{2009 + document % 15}-0{1 + document % 9}-1{document % 9}T00:00:00",
        "PublicationDateOnUhri": "2024-05-01T00:00:00",
        "Text": f"Recommendation {i}: "
        + " ".join(rng.choice(THEMES).split()[:6])
        + " — release and redress.",
        "Themes": "\n".join(f"- {t}" for t in rng.sample(THEMES, 2)),
        "AffectedPersons": "- Persons deprived of their liberty",
        "Sdgs": "- SDG 16",
        "Regions": "- Asia",
        "UprCycle": 3 if upr else None,
        "UprSession": 31 if upr else None,
        "UprPositions": rng.choice(["Supported", "Noted"]) if upr else None,
        "UprRecommendingCountry": f"- {rng.choice(STATES)}" if upr else None,
        "UprRecommendingRegions": "- WEOG" if upr else None,
    }


def write_json(path: Path, n: int, seed: int = 1) -> Path:
    """A JSON array of n records, written one record at a time (the 250,000 are about 250 MB)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for i in range(n):
            if i:
                out.write(",\n")
            out.write(json.dumps(_record(i, rng), ensure_ascii=False))
        out.write("\n]\n")
    return path


def write_xlsx(path: Path, n: int, seed: int = 2) -> Path:
    """UHRI's 16-column spreadsheet export, misspelt headers and Excel serial dates included."""
    from openpyxl import Workbook

    from tests.fixtures_import.build import UHRI_HEADER, uhri_row

    rng = random.Random(seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(UHRI_HEADER)
    for i in range(n):
        document = i // RECORDS_PER_DOCUMENT
        sheet.append(
            uhri_row(
                f"xlsx-{i:07d}",
                f"Spreadsheet recommendation {i}: {rng.choice(THEMES)}.",
                symbol=f"CERD/C/CHN/CO/X{document}",
                themes="\n".join(f"- {t}" for t in rng.sample(THEMES, 2)),
            )
        )
    workbook.save(path)
    return path


def _run(env: dict[str, str], url: str, *args: str) -> tuple[float, float]:
    """Run `manage.py args` against `url`: (seconds, peak resident memory in MB) of that process."""
    started = time.monotonic()
    with open(os.devnull, "w") as devnull:
        child = subprocess.Popen(
            [sys.executable, str(harness.ROOT / "manage.py"), *args],
            env={**env, "DATABASE_URL": url},
            cwd=harness.ROOT,
            stdout=subprocess.PIPE,
            stderr=devnull,
            text=True,
        )
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def _databases(directory: Path) -> list[tuple[str, str, object, object]]:
    """(label, url, reset, drop) of each database to import into: reset makes it new and empty."""
    target = directory / "import-target.sqlite3"

    def drop_sqlite() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)

    found = [("SQLite", f"sqlite:///{target}", drop_sqlite, drop_sqlite)]
    server = os.environ.get("BENCH_POSTGRES_URL", "")
    if server:
        import psycopg

        parts = urllib.parse.urlsplit(server)
        # A scratch database named after the one given (several people may bench on one server).
        given = parts.path.strip("/")
        name = "bench_import_target" if given in ("", "postgres") else f"{given}_import_target"

        def admin(*statements: str) -> None:
            with psycopg.connect(
                urllib.parse.urlunsplit(parts._replace(path="/postgres")), autocommit=True
            ) as c:
                for sql in statements:
                    c.execute(sql)

        def drop_pg() -> None:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        def reset_pg() -> None:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

        found.append(
            ("PostgreSQL", urllib.parse.urlunsplit(parts._replace(path=f"/{name}")), reset_pg, drop_pg)
        )
    return found


CREATE_CURATOR = (
    "from cases import services\n"
    "from tracker.accounts.services import create_user\n"
    "create_user('bench-importer', role='curator', organisation=services.default_organisation(), email='',"
    " password=None, created_by=None)\n"
)


def measure_import(config: harness.Config, out=sys.stdout) -> list[str]:
    """Print the import figures; return the goals missed."""
    records = harness.env_int("BENCH_IMPORT_RECORDS", min(config.recommendations, 250_000))
    rows = harness.env_int("BENCH_IMPORT_XLSX_ROWS", min(config.recommendations, 20_000))
    directory = config.db_path.parent / "import"
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "UHRI JSON": (directory / f"uhri-{records}.json", lambda p: write_json(p, records), records),
        "UHRI XLSX": (directory / f"uhri-{rows}.xlsx", lambda p: write_xlsx(p, rows), rows),
    }
    for path, make, _ in files.values():
        if not path.exists():
            log(f"writing {path.name}")
            make(path)
    env = {**os.environ, **harness.server_env(config), "LOG_LEVEL": "WARNING"}
    lines, missed = [], []
    for database, url, reset, drop in _databases(directory):
        try:
            for label, (path, _, count) in files.items():
                reset()
                _run(env, url, "migrate", "-v0")
                _run(env, url, "shell", "--no-imports", "-c", CREATE_CURATOR)
                args = ("import_recommendations", str(path), "--as", "bench-importer")
                log(f"{database}: importing {path.name}")
                first, first_mb = _run(env, url, *args)
                log(f"{database}: importing {path.name} again, unchanged")
                again, again_mb = _run(env, url, *args)
                speedup = first / again if again else float("inf")
                rate = count / first
                lines.append(
                    f"  {database:<11} {label:<10} {count:>8,} records  first {first:7.1f} s ({rate:,.0f}/s, "
                    f"{first_mb:,.0f} MB)   again {again:6.1f} s ({again_mb:,.0f} MB)   {speedup:4.1f}x faster"
                )
                budget = TARGET_SECONDS * count / 250_000
                if first > budget:
                    missed.append(f"{database} {label} time ({first:.0f} s > {budget:.0f} s)")
                if max(first_mb, again_mb) > TARGET_MEMORY_MB:
                    missed.append(f"{database} {label} memory ({max(first_mb, again_mb):.0f} MB)")
                if speedup < TARGET_REIMPORT_SPEEDUP:
                    missed.append(f"{database} {label} re-import ({speedup:.1f}x)")
        finally:
            drop()
    print(
        f"Import: goals {TARGET_SECONDS / 60:.0f} min per 250,000 records, peak memory under "
        f"{TARGET_MEMORY_MB} MB, unchanged re-import {TARGET_REIMPORT_SPEEDUP:.0f}x faster",
        file=out,
    )
    print("\n".join(lines), file=out)
    print("  goals: " + ("met" if not missed else "missed: " + "; ".join(missed)), file=out)
    return missed
