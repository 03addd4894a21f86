"""The benchmark's backup section (tests/perf/bench.py --backup) at a smoke size, so it does not rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the benchmark runs on a generated SQLite file")
def test_bench_backup_smoke_run(tmp_path):
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG"}
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "perf" / "bench.py"), "--backup"],
        cwd=ROOT,
        env={**clean, "BENCH_DIR": str(tmp_path), "BENCH_RECOMMENDATIONS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout
    assert "Backup and restore on SQLite: 200 recommendations" in table
    for step in ("backup (native)", "restore (native)", "backup (portable)", "restore (portable)"):
        line = next(line for line in table.splitlines() if step in line)
        assert " s " in line and "rows match" in line, line
    assert "target: each under 300 s: met" in table
    assert not list((tmp_path / "backup").glob("*.backup"))  # the encrypted files are removed afterwards
