"""The dashboard at two sizes, in-process, interleaved: issue 14's "dashboard at 300,000 vs at 3,000 ≤ 1.2x".

    .venv/bin/python tests/perf/dashboard_scale.py 3000 300000      # BENCH_SEED as for bench.py (default 1)

Each size's generated benchmark database (bench.py --prepare makes it) is opened by its own process, which
renders the monitor's dashboard through the test Client (no HTTP, no gunicorn: the view, its queries and its
template only). The processes take turns, BENCH_ROUNDS rounds (default 5) of BENCH_REQUESTS requests each
(default 10), so a load that comes and goes on a shared machine falls on both sizes alike; the figure per size
is the best and the median of all its requests, and the ratio is the larger size's over the smaller's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness


def child(requests: int) -> None:
    """One round at one size: print the times of `requests` dashboards (after one to warm up) as JSON."""
    config = harness.Config.from_env()
    if not config.db_path.with_suffix(".ready").exists():
        sys.exit(f"{config.db_path} is not ready: run bench.py --prepare with the same size and seed")
    harness.setup_django(harness.server_env(config))
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    people = harness.make_people()
    client = Client(SERVER_NAME="127.0.0.1")
    client.cookies[people.session_cookie] = people.sessions["monitor"]
    assert client.get("/").status_code == 200
    times = []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/")
            times.append(time.perf_counter() - started)
        assert response.status_code == 200
    print(json.dumps({"times": times, "queries": len(captured.captured_queries)}))


def main(sizes: list[int]) -> int:
    rounds = harness.env_int("BENCH_ROUNDS", 5)
    requests = harness.env_int("BENCH_REQUESTS", 10)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    queries: dict[int, int] = {}
    for round_ in range(rounds):
        for size in sizes:
            env = {**os.environ, "BENCH_RECOMMENDATIONS": str(size)}
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(requests)],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            times[size] += result["times"]
            queries[size] = result["queries"]
        harness.log(f"round {round_ + 1}/{rounds} done")
    print(f"dashboard in-process, {rounds} rounds x {requests} requests per size, interleaved")
    print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for size in sizes:
        print(
            f"{size:>10,} recommendations: best {min(times[size]) * 1000:7.1f} ms, "
            f"median {statistics.median(times[size]) * 1000:7.1f} ms, {queries[size]} queries"
        )
    small, large = min(sizes), max(sizes)
    best = min(times[large]) / min(times[small])
    med = statistics.median(times[large]) / statistics.median(times[small])
    print(f"{large:,} ÷ {small:,}: best {best:.2f}x, median {med:.2f}x (issue 14's target: ≤ 1.2x)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        sys.exit(main([int(arg) for arg in sys.argv[1:]] or [3000, 300000]))
