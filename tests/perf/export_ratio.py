"""The full recommendation export in-process against the `sqlite3` shell exporting the same join (issue 14: at
least a third of the shell's rows/s, memory flat), rounds interleaved so a slow moment hits all alike.

    BENCH_DB=test-artifacts/bench/bench-20000-seed1.sqlite3 .venv/bin/python tests/perf/export_ratio.py [rounds]

The database is opened read-only. Each round streams the export as the view does (RecommendationRows over the
view's queryset and ordering, every chunk read, no HTTP): the database writing the lines (csv_lines.py) and
the rows written in Python (`database_writes` off), then runs the shell on the bench's export query
(bench.export_query) with its CSV mode. Prints each one's median rows/s and the ratios to the shell's, and
the CPU seconds each took (the shell's: its process's), a ratio that a loaded machine disturbs less.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness
from tests.perf.bench import export_query, sqlite_export_once
from tests.perf.harness import median


def export_once(database_writes: bool) -> tuple[float, int, int]:
    """(seconds, rows, largest chunk in bytes) of the whole export streamed in-process."""
    from django.test import RequestFactory
    from rest_framework.request import Request

    from cases.api import export
    from cases.api.csv_rows import RecommendationRows

    request = Request(RequestFactory(SERVER_NAME="127.0.0.1").get("/api/v1/export/recommendations.csv"))
    view = export.RecommendationExport(request=request, format_kwarg=None, kwargs={}, args=())
    started = time.perf_counter()
    queryset = view.filter_queryset(view.get_queryset())
    queryset = queryset.order_by(*export.stable_ordering(request, queryset, view))
    rows = RecommendationRows(request, view.chunk_size)
    rows.database_writes = database_writes
    lines = largest = 0
    for chunk in rows.stream(queryset):
        lines += chunk.count(b"\r\n")
        largest = max(largest, len(chunk))
    return time.perf_counter() - started, lines - 1, largest


def cpu_seconds(run):
    """(wall seconds, rows, CPU seconds) of `run`: this process's CPU, and its children's (the shell)."""
    before = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, rows = run()
    after = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    children = sum(getattr(after[1], f) - getattr(before[1], f) for f in ("ru_utime", "ru_stime"))
    return seconds, rows, after[0] - before[0] + children


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    config = harness.Config.from_env()
    env = harness.server_env(config)
    harness.setup_django(env)
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = f"file:{config.db_path}?mode=ro"
    cli = shutil.which("sqlite3")
    assert cli, "the sqlite3 shell"
    from cases.api import export

    ordering = list(export.RecommendationExport.ordering)
    sql = export_query("sqlite", ordering)
    variants = {
        "database writes (csv_lines)": lambda: export_once(True)[:2],
        "Python writes (csv_rows)": lambda: export_once(False)[:2],
        "sqlite3 -readonly -csv": lambda: sqlite_export_once(cli, config.db_path, sql),
    }
    for run in variants.values():
        run()  # warm the page cache and the imports
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    counts: dict[str, set[int]] = {name: set() for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            seconds, rows, cpu_time = cpu_seconds(run)
            times[name].append(seconds)
            cpu[name].append(cpu_time)
            counts[name].add(rows)
    shell = "sqlite3 -readonly -csv"
    shell_rate = max(counts[shell]) / median(times[shell])
    shell_cpu = median(cpu[shell])
    print(f"{config.db_path.name}, {rounds} rounds interleaved, ordering {ordering}, pid {os.getpid()}")
    for name in variants:
        rate = max(counts[name]) / median(times[name])
        rounds_ratio = [max(counts[name]) / t / shell_rate for t in times[name]]
        print(
            f"  {name:28} {sorted(counts[name])} rows, median {median(times[name]):.2f} s, "
            f"{rate:,.0f} rows/s, {rate / shell_rate:.2f} of the shell "
            f"(rounds {min(rounds_ratio):.2f} to {max(rounds_ratio):.2f}); "
            f"CPU {median(cpu[name]):.2f} s, the shell's CPU / this one's {shell_cpu / median(cpu[name]):.2f}"
        )


if __name__ == "__main__":
    main()
