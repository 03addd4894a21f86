"""Sum pytest's closing summaries from several logs into CI's last line: `tests: N passed, N failed, N skipped`.

    python .ci/test-summary.py NAME=LOG:EXIT_CODE ...

Each argument names a suite, its pytest output (tee'd to a file) and pytest's exit code. Failures are
`failed` plus `errors`. A suite whose log has no closing summary (a crash, an interrupted run), or that
exited non-zero without counting a failure (exit 5: no test ran; 2, 3, 4: interrupted, internal or usage
error), or that ran no test at all, counts as one failure: CI never reports a pass it did not see. Exits 1
when anything failed.
"""

import re
import sys
from pathlib import Path

# pytest's last line: "===== 3 failed, 788 passed, 1 skipped, 2 warnings, 1 error in 167.23s (0:02:47) =====",
# without the rules under -q; "no tests ran in 0.01s" when nothing ran.
CLOSING = re.compile(r"^=*\s*(?P<counts>(\d+ \w+(, )?)+|no tests ran) in [0-9.]+s( \([0-9:.]+\))?\s*=*$")
COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)\b")


def suite_counts(log: Path) -> dict[str, int] | None:
    """The counts of the last closing summary in the log, or None when pytest printed none."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()] if log.exists() else []
    for line in reversed(lines):
        match = CLOSING.match(line)
        if match:
            counts: dict[str, int] = {}
            for number, word in COUNT.findall(match.group("counts")):
                word = "error" if word.startswith("error") else word
                counts[word] = counts.get(word, 0) + int(number)
            return counts
    return None


def main(arguments: list[str]) -> int:
    passed = failed = skipped = 0
    for argument in arguments:
        name, _, rest = argument.partition("=")
        log, _, code = rest.rpartition(":")
        exit_code = int(code)
        counts = suite_counts(Path(log))
        if counts is None:
            print(f"{name}: pytest printed no closing summary (exit code {exit_code})")
            failed += 1
            continue
        suite_failed = counts.get("failed", 0) + counts.get("error", 0)
        suite_passed = counts.get("passed", 0)
        print(
            f"{name}: {suite_passed} passed, {suite_failed} failed, {counts.get('skipped', 0)} skipped"
            f" (pytest exit code {exit_code})"
        )
        if suite_passed == 0 or (exit_code != 0 and suite_failed == 0):
            print(f"{name}: counted as a failure: no test passed, or pytest exited {exit_code}")
            suite_failed += 1
        passed += suite_passed
        failed += suite_failed
        skipped += counts.get("skipped", 0)
    # The very last line CI prints, in the plain form any reader of CI output understands.
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not arguments else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
