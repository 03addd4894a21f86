"""The lock file is in step with pyproject.toml: every dependency (runtime and test extra) is pinned there,
at a version its range admits, with hashes. Offline: it reads the two files only.

A dependency added to pyproject.toml without `make lock` fails here instead of failing later as a
hash-checking error in `make install` (or, worse, not being installed at all).

    .venv/bin/python .ci/check-lock.py [requirements.lock]
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked_versions(lock: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    lines = lock.read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if "--hash=sha256:" not in line and "--hash=sha256:" not in following:
            sys.exit(f"{lock.name}: {match.group(1)} has no hash; run `make lock`")
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def main() -> int:
    lock = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "requirements.lock"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project.get("optional-dependencies", {}).get("test", [])]
    pins = locked_versions(lock)
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        version = pins.get(name)
        if version is None:
            problems.append(f"{requirement.name} is in pyproject.toml but not in {lock.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(
                f"{requirement.name}=={version} in {lock.name} is outside {requirement.specifier}"
            )
    for problem in problems:
        print(f"check-lock: {problem}", file=sys.stderr)
    if problems:
        print("check-lock: run `make lock` and commit requirements.lock", file=sys.stderr)
        return 1
    print(f"{lock.name}: {len(pins)} pinned packages with hashes cover pyproject.toml's {len(wanted)} ranges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
