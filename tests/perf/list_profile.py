"""The recommendation list in-process, against its floor and the admin: issue 14's "≤ 2x the floor, ≥ 10x
faster than the admin (≥ 20x for the text search)", without gunicorn, HTTP or the machine's other jobs
between the figures.

    .venv/bin/python tests/perf/list_profile.py [ROOT ...]           # times; ROOT: a checkout to compare
    .venv/bin/python tests/perf/list_profile.py --profile list        # cProfile of one figure's requests
    .venv/bin/python tests/perf/list_profile.py --queries             # each figure's queries, timed

The database is bench.py's (BENCH_RECOMMENDATIONS, BENCH_SEED, BENCH_DIR or BENCH_DB; `bench.py --prepare`
makes it); the people and sessions are made in it as bench.py makes them (harness.make_people), so point it
at a copy of a database that must stay read-only. Each ROOT (default: this checkout) is run by its own
process, with its own code and the same database; the processes take turns, BENCH_ROUNDS rounds (default 5)
of BENCH_REQUESTS requests per figure (default 5, after one to warm up), the figures interleaved within a
round, so a load that comes and goes falls on every figure and every checkout alike. Printed: the median
and best of each figure per checkout, its ratio to the floor (≤ 2 wanted) and the admin's ratio to it, the
floor and the admin timed by the same process; in wall time, then in the process's CPU time (SQLite runs
in-process, so that is the page's whole work, and other jobs on the machine change it much less).
"""

from __future__ import annotations

import cProfile
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness
from tests.perf.bench import ADMIN_FILTER, ADMIN_LIST, FILTER, PAGE_SIZE, SEARCH_TERM, qs

HERE = Path(__file__).resolve()


def figures(total: int, admin_per_page: int) -> dict[str, dict[str, str]]:
    """figure -> {variant: path}: the page, its floor (tests/perf/floor_urls.py) and the admin's changelist."""
    last = max(1, math.ceil(total / PAGE_SIZE))
    return {
        "unfiltered": {"page": "/recommendations/", "floor": "/_floor/recommendations/", "admin": ADMIN_LIST},
        "filtered": {
            "page": "/recommendations/" + qs(FILTER),
            "floor": "/_floor/recommendations/" + qs(FILTER),
            "admin": ADMIN_LIST + qs(ADMIN_FILTER),
        },
        "search": {
            "page": "/recommendations/" + qs({"q": SEARCH_TERM}),
            "floor": "/_floor/recommendations/" + qs({"q": SEARCH_TERM}),
            "admin": ADMIN_LIST + qs({"q": SEARCH_TERM}),
        },
        "last page": {
            "page": "/recommendations/" + qs({"page": last}),
            "floor": "/_floor/recommendations/" + qs({"page": last}),
            "admin": ADMIN_LIST + qs({"p": max(1, math.ceil(total / admin_per_page))}),
        },
    }


def _setup():
    config = harness.Config.from_env()
    if not config.db_path.exists():
        sys.exit(f"{config.db_path} does not exist: run bench.py --prepare with the same size and seed")
    env = harness.server_env(config)
    # The same secret in every process: the sessions made by the first are valid in the others.
    env["SECRET_KEY"] = "list-profile-" + "k" * 60
    harness.setup_django(env)
    from django.contrib import admin as django_admin
    from django.test import Client

    from cases.models import Recommendation

    admin_page = django_admin.site._registry[Recommendation]
    admin_page.list_per_page = PAGE_SIZE  # as bench_urls: the admin at the web list's page size
    people = harness.make_people()
    clients = {}
    for variant, who in (("page", "monitor"), ("floor", "monitor"), ("admin", "admin")):
        client = Client(SERVER_NAME="127.0.0.1")
        client.cookies[people.session_cookie] = people.sessions[who]
        clients[variant] = client
    return clients, figures(Recommendation.objects.count(), PAGE_SIZE)


def _get(client, path: str):
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
    return response


def child(requests: int, variants: list[str]) -> None:
    """One round: the times of `requests` requests per figure and variant, as JSON on the last line."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clients, plan = _setup()
    times: dict[str, dict[str, list[float]]] = {
        name: {v + cpu: [] for v in variants for cpu in ("", " cpu")} for name in plan
    }
    queries: dict[str, int] = {}
    for paths in plan.values():
        for variant in variants:
            _get(clients[variant], paths[variant])  # warm-up
    for _ in range(requests):
        for name, paths in plan.items():
            for variant in variants:
                with CaptureQueriesContext(connection) as captured:
                    started, cpu = time.perf_counter(), time.process_time()
                    _get(clients[variant], paths[variant])
                    times[name][variant].append(time.perf_counter() - started)
                    # CPU time: SQLite runs in this process, so it is the whole page's work, and a machine
                    # shared with other jobs changes it much less than the wall time.
                    times[name][variant + " cpu"].append(time.process_time() - cpu)
                if variant == "page":
                    queries[name] = len(captured.captured_queries)
    print(json.dumps({"times": times, "queries": queries}))


def profile(name: str, requests: int) -> None:
    clients, plan = _setup()
    path = plan[name]["page"]
    _get(clients["page"], path)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        _get(clients["page"], path)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    for name in os.environ.get("PROFILE_CALLEES", "").split(","):
        if name:
            stats.print_callees(name)


def show_queries() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clients, plan = _setup()
    for name, paths in plan.items():
        _get(clients["page"], paths["page"])
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            _get(clients["page"], paths["page"])
            elapsed = time.perf_counter() - started
        spent = sum(float(q["time"]) for q in captured.captured_queries)
        print(
            f"\n== {name}: {elapsed * 1000:.1f} ms, {len(captured.captured_queries)} queries, {spent * 1000:.1f} ms in SQL"
        )
        for query in captured.captured_queries:
            print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")


def main(roots: list[Path]) -> int:
    rounds = harness.env_int("BENCH_ROUNDS", 5)
    requests = harness.env_int("BENCH_REQUESTS", 5)
    variants = ["page", "floor", "admin"]
    times: dict[Path, dict[str, dict[str, list[float]]]] = {}
    queries: dict[Path, dict[str, int]] = {}
    for round_ in range(rounds):
        for root in roots:
            # Every checkout runs the floor and the admin too, so that each page is timed between the same
            # requests (the admin's scans of the whole table leave the caches as they leave them).
            wanted = variants
            out = subprocess.run(
                [sys.executable, str(root / "tests/perf/list_profile.py"), "--child", str(requests), *wanted],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(root)},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            mine = times.setdefault(root, {})
            for name, per_variant in result["times"].items():
                for variant, values in per_variant.items():
                    mine.setdefault(name, {}).setdefault(variant, []).extend(values)
            queries[root] = result["queries"]
        harness.log(f"round {round_ + 1}/{rounds} done")
    print(f"recommendation list in-process (test Client), {rounds} rounds x {requests} requests, interleaved")
    print(harness.machine_description())
    for root in roots:
        mine = times[root]
        print(f"\n{root}")
        for clock in ("", " cpu"):
            print(
                f"{'figure' + clock:<14} {'median':>9} {'best':>9} {'floor':>9} {'÷floor':>7} {'admin':>9} "
                f"{'admin÷':>7} queries"
            )
            for name, per_variant in mine.items():
                page = statistics.median(per_variant["page" + clock])
                floor = statistics.median(per_variant["floor" + clock])
                admin = statistics.median(per_variant["admin" + clock])
                print(
                    f"{name:<14} {page * 1000:7.1f}ms {min(per_variant['page' + clock]) * 1000:7.1f}ms "
                    f"{floor * 1000:7.1f}ms {page / floor:7.2f} {admin * 1000:7.1f}ms {admin / page:6.1f}x "
                    f"{queries[root][name]:>7}"
                )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), sys.argv[3:])
    elif sys.argv[1:2] == ["--profile"]:
        profile(sys.argv[2], harness.env_int("BENCH_REQUESTS", 10))
    elif sys.argv[1:2] == ["--queries"]:
        show_queries()
    else:
        sys.exit(main([Path(arg).resolve() for arg in sys.argv[1:]] or [HERE.parents[2]]))
