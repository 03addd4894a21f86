"""The public recommendation page under `wrk` (issue 13): its throughput when readers' caches revalidate
(`If-None-Match` with the page's ETag, answered `304 Not Modified` after one query) and when they do not
(a plain GET, the whole page rendered), against a floor measured in the same run: `/healthz`, the smallest
response the application gives (one trivial query).

    bench.py --public        # only this figure; also run at the end of `make bench`

gunicorn with 2 sync workers on 127.0.0.1 and PUBLIC_SITE=1 on the bench's database, anonymous requests
(no cookie: the page is `Cache-Control: public`), the most-assessed recommendation's page. wrk runs
BENCH_WRK_SECONDS seconds (default 10) per variant with BENCH_WRK_CONNECTIONS connections (default 8) on
2 threads; the If-None-Match variant sends the ETag the page gave, from a Lua script. Debian's `wrk`
package; without it this prints "wrk not installed" and nothing else.
"""

from __future__ import annotations

from tests.perf import harness
from tests.perf.harness import Http, Server, log

TITLE = "Public recommendation page under wrk"


def _busiest_recommendation() -> str:
    from django.db import connection
    from django.db.models import Count, Q

    from cases.models import Recommendation, ReviewState

    code = (
        Recommendation.objects.annotate(
            n=Count("assessments", filter=Q(assessments__review_state=ReviewState.PUBLISHED))
        )
        .order_by("-n", "pk")
        .values_list("code", flat=True)
        .first()
    )
    connection.close()
    return code


def measure_public(config: harness.Config, out=None) -> list[str]:
    """Print the figure; return what went wrong (empty when all went well)."""
    import sys

    out = out or sys.stdout
    wrk = harness.wrk_binary()
    if wrk is None:
        print(f"{TITLE}: wrk not installed (apt-get install wrk)", file=out)
        return []
    seconds = harness.env_int("BENCH_WRK_SECONDS", 10)
    connections = harness.env_int("BENCH_WRK_CONNECTIONS", 8)
    env = {**harness.server_env(config), "PUBLIC_SITE": "1"}
    harness.setup_django(env)
    harness.ensure_database(config)
    path = f"/public/recommendations/{_busiest_recommendation()}/"
    missed: list[str] = []
    with Server(config, env, config.db_path.parent / "bench-public-gunicorn.log") as server:
        http = Http(config.port)
        page = http.get(path)
        etag = page.headers.get("ETag") or page.headers.get("etag")
        if page.status != 200 or not etag:
            return [f"{path} answered {page.status} (ETag {etag!r})"]
        if http.get(path, headers={"If-None-Match": etag}).status != 304:
            missed.append("If-None-Match with the page's ETag was not answered 304")
        # Warm both workers (imports, templates, the database's pages) before anything is timed.
        for _ in range(4):
            http.get("/healthz")
            http.get(path)
            http.get(path, headers={"If-None-Match": etag})
        log(f"wrk: {path}, {seconds}s per variant, {connections} connections")
        port = server.config.port
        results = {
            "floor": harness.wrk(wrk, port, "/healthz", seconds, connections),
            "plain": harness.wrk(wrk, port, path, seconds, connections),
            "revalidated": harness.wrk(wrk, port, path, seconds, connections, {"If-None-Match": etag}),
        }
    floor = results["floor"]["rate"] or 1.0
    rows = [
        ("/healthz (floor)", results["floor"]),
        ("page, plain GET (200)", results["plain"]),
        ("page, If-None-Match (304)", results["revalidated"]),
    ]
    print(
        f"{TITLE}: {path}, anonymous, gunicorn {config.workers} sync workers, wrk 2 threads x "
        f"{connections} connections, {seconds} s each, {config.recommendations:,} recommendations",
        file=out,
    )
    print(f"  {'variant':<28} {'req/s':>9} {'p50':>9} {'x floor':>8}", file=out)
    for name, result in rows:
        p50 = f"{result['p50_ms']:.1f}ms" if result["p50_ms"] is not None else "-"
        print(f"  {name:<28} {result['rate']:>9.1f} {p50:>9} {result['rate'] / floor:>8.2f}", file=out)
        if result["errors"] or result["socket_errors"]:
            missed.append(f"{name}: {result['errors']} error responses {result['socket_errors']}".strip())
    plain = results["plain"]["rate"] or 1.0
    print(
        f"  honouring the cache headers: {results['revalidated']['rate'] / plain:.1f}x the plain GETs",
        file=out,
    )
    for problem in missed:
        print(f"  PROBLEM: {problem}", file=out)
    return missed
