"""CI's own tools: the closing test summary it prints last, and the lock file check."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLEAN = "======= 791 passed, 1 skipped in 167.23s (0:02:47) ======="
FAILING = "=== 3 failed, 788 passed, 1 skipped, 2 warnings, 1 error in 1.20s ==="


def summary(tmp_path: Path, **suites: tuple[str, int]) -> subprocess.CompletedProcess:
    """Run .ci/test-summary.py on logs holding the given text, with the given pytest exit codes."""
    arguments = []
    for name, (text, code) in suites.items():
        log = tmp_path / f"{name}.log"
        log.write_text(f"tests/test_x.py ....\n{text}\n")
        arguments.append(f"{name}={log}:{code}")
    return subprocess.run(
        [sys.executable, ROOT / ".ci" / "test-summary.py", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_summary_sums_both_suites_on_its_last_line(tmp_path):
    result = summary(tmp_path, sqlite=(CLEAN, 0), postgresql=(CLEAN.replace("791", "789"), 0))
    assert result.returncode == 0
    assert last_line(result) == "tests: 1580 passed, 0 failed, 2 skipped"


def test_summary_counts_failures_and_errors(tmp_path):
    result = summary(tmp_path, sqlite=(CLEAN, 0), postgresql=(FAILING, 1))
    assert result.returncode == 1
    assert last_line(result) == "tests: 1579 passed, 4 failed, 2 skipped"


def test_summary_reads_the_quiet_form(tmp_path):
    result = summary(tmp_path, sqlite=("12 passed, 3 deselected in 0.52s", 0))
    assert result.returncode == 0
    assert last_line(result) == "tests: 12 passed, 0 failed, 0 skipped"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("============ no tests ran in 0.01s ============", 5),
        ("Traceback (most recent call last):", 1),
        (CLEAN, 2),  # interrupted after printing a summary
        ("", 0),
    ],
    ids=["no-tests", "crash", "interrupted", "empty-log"],
)
def test_a_suite_that_proved_nothing_is_a_failure(tmp_path, text, code):
    result = summary(tmp_path, sqlite=(CLEAN, 0), postgresql=(text, code))
    assert result.returncode == 1
    assert ", 0 failed" not in last_line(result)


def check_lock(lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, ROOT / ".ci" / "check-lock.py", lock],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_lock_covers_pyproject():
    result = check_lock(ROOT / "requirements.lock")
    assert result.returncode == 0, result.stderr


def test_a_dependency_missing_from_the_lock_is_refused(tmp_path):
    lines = (ROOT / "requirements.lock").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("gunicorn=="))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith(" "))
    lock = tmp_path / "requirements.lock"
    lock.write_text("".join(lines[:start] + lines[end:]))
    result = check_lock(lock)
    assert result.returncode == 1
    assert "gunicorn is in pyproject.toml but not in requirements.lock" in result.stderr


def test_a_version_outside_the_range_or_without_hash_is_refused(tmp_path):
    text = (ROOT / "requirements.lock").read_text()
    lock = tmp_path / "requirements.lock"
    lock.write_text(text.replace("gunicorn==27.0.1", "gunicorn==26.0.0"))
    result = check_lock(lock)
    assert result.returncode == 1
    assert "gunicorn==26.0.0 in requirements.lock is outside ==27.0.1" in result.stderr
    lock.write_text("django==5.2.19\n" + text)
    result = check_lock(lock)
    assert result.returncode == 1
    assert "django has no hash" in result.stderr
