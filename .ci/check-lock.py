"""The lock files are in step with pyproject.toml: every dependency is pinned, at a version its range admits,
with hashes. requirements.lock holds the runtime and the test extra (development, CI);
requirements-deploy.lock the runtime only (production), at the same versions. Offline: it reads the files.

A dependency added to pyproject.toml without `make lock` fails here instead of failing later as a
hash-checking error in `make install` (or, worse, not being installed at all).

    .venv/bin/python .ci/check-lock.py [FULL_LOCK [DEPLOY_LOCK]]
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked_versions(lock: Path, problems: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    lines = lock.read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if not match:
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if "--hash=sha256:" not in line and "--hash=sha256:" not in following:
            problems.append(f"{match.group(1)} has no hash in {lock.name}")
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def uncovered(wanted: list[str], pins: dict[str, str], lock: Path) -> list[str]:
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        version = pins.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is in pyproject.toml but not in {lock.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(
                f"{requirement.name}=={version} in {lock.name} is outside {requirement.specifier}"
            )
    return problems


def main() -> int:
    full = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "requirements.lock"
    deploy = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "requirements-deploy.lock"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = project["dependencies"]
    test = project.get("optional-dependencies", {}).get("test", [])
    problems: list[str] = []
    full_pins = locked_versions(full, problems)
    problems += uncovered([*runtime, *test], full_pins, full)
    deploy_pins = locked_versions(deploy, problems)
    problems += uncovered(runtime, deploy_pins, deploy)
    for name, version in deploy_pins.items():
        if full_pins.get(name) != version:
            problems.append(f"{name}=={version} in {deploy.name} but {full_pins.get(name)} in {full.name}")
    for problem in problems:
        print(f"check-lock: {problem}", file=sys.stderr)
    if problems:
        print("check-lock: run `make lock` and commit both lock files", file=sys.stderr)
        return 1
    print(
        f"{full.name}: {len(full_pins)} pins cover pyproject.toml's {len(runtime) + len(test)} ranges; "
        f"{deploy.name}: {len(deploy_pins)} pins, the same versions, cover its {len(runtime)} runtime ranges"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
