"""`make bench`: how fast the pages, the API, the export and publishing are at scale, against their floors.

    BENCH_RECOMMENDATIONS=300000 make bench      # default 20000 (a quick run); the README's figures: 300000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench make bench    # on PostgreSQL (tests/perf/postgres.py)

On a generated SQLite database of the given size (test-artifacts/bench/, created once with `generate_data`
and reused), with gunicorn (2 sync workers, loopback, production settings with DEBUG off), it prints one
table of medians of BENCH_RUNS runs (default 5) per figure, each beside its floor: the same SQL through a
bare Django view that returns `.values()` as JSON (tests/perf/floor_urls.py), measured in the same run and
interleaved with the page, so the ratio holds on any machine. The list pages are also measured against the
Django admin changelist with the same filter, and the CSV export against the `sqlite3` command-line shell
exporting the same rows. Queries per page are counted in-process (the test Client against the same
database). Standard library only. Environment: BENCH_RECOMMENDATIONS, BENCH_SEED, BENCH_RUNS,
BENCH_EXPORT_RUNS, BENCH_DB, BENCH_DIR, BENCH_PORT, BENCH_POSTGRES_URL (backup and restore timed on PostgreSQL too). `bench.py --prepare` only creates the database (the
300,000-row one takes a while); `bench.py --explain` prints the plan of every query of the measured pages;
`bench.py --backup` only times `manage.py backup` and `restore` (native and portable; also run at the end);
`bench.py --import` only the import figures (tests/perf/import_bench.py; also run at the end);
`bench.py --public` only the public page under wrk (tests/perf/public_bench.py; also run at the end).
`bench.py --long-export` only the full export of 1,000,000 rows through gunicorn as deployed (long_export.py).
`bench.py --pages` only the table of pages, API and export (no backup, import or public figures after it).
`bench.py --people` only the people pages (tests/perf/people_bench.py; BENCH_PEOPLE, default one per six
recommendations; also in the table).
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness, people_bench, postgres
from tests.perf.harness import Http, Server, log, median

SEARCH_TERM = "torture"
FILTER = {"implementation_status": "not_implemented", "addressee": "state"}
ADMIN_FILTER = {"implementation_status__exact": "not_implemented", "addressee__exact": "state"}
SUBSET_EXPORT = {"addressee": "business"}
PAGE_SIZE = 50
ADMIN_LIST = "/admin/cases/recommendation/"
# Targets of issue 6, checked against the figures below.
API_FLOOR_RATIO = 2.0
# Issue 14: every page within 2x its floor; the API page at least half its floor's throughput under wrk.
PAGE_FLOOR_RATIO = 2.0
API_THROUGHPUT_RATIO = 0.5
# Issue 14: the web list at least 10x faster than the admin changelist, its text search at least 20x.
ADMIN_SPEEDUP = 10.0
ADMIN_SEARCH_SPEEDUP = 20.0
DEEP_RATIO = 1.2
EXPORT_SPEED = 1 / 3
MAX_QUERIES = 10


@dataclass
class Figure:
    key: str
    name: str
    page: list[float]
    floor: list[float] | None = None
    admin: list[float] | None = None
    queries: int | None = None
    status: str = ""
    note: str = ""


@dataclass
class Plan:
    """Everything the measurements need, looked up in-process before the server starts."""

    total: int
    documents: int
    assessments: int
    last_page: int
    admin_last_page: int
    detail_code: str
    detail_assessments: int
    deep_cursor_path: str | None
    deep_floor_path: str | None
    ordering: list[str]
    publish_http: list[int]
    publish_floor: list[int]
    publish_count: int | None
    export_sql: str
    subset_rows: int


def qs(params: dict) -> str:
    return "?" + urllib.parse.urlencode(params) if params else ""


# --- in-process: samples and query counts ---------------------------------------------------------------


def make_plan(people: harness.People, runs: int) -> tuple[Plan, dict[str, int | str]]:
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cases.models import Assessment, Document, Recommendation, ReviewState

    total = Recommendation.objects.count()
    # A heavy but ordinary recommendation page: from the middle, the first with 15 or more assessments.
    candidates = list(Recommendation.objects.order_by("id").values_list("id", flat=True)[total // 2 :][:200])
    detail_code, detail_assessments = "", 0
    for rec_id in candidates:
        detail_assessments = Assessment.objects.filter(recommendation_id=rec_id).count()
        detail_code = Recommendation.objects.get(pk=rec_id).code
        if detail_assessments >= 15:
            break

    web = Client(SERVER_NAME="127.0.0.1")
    web.cookies[people.session_cookie] = people.sessions["monitor"]
    admin = Client(SERVER_NAME="127.0.0.1")
    admin.cookies[people.session_cookie] = people.sessions["admin"]
    curator = Client(SERVER_NAME="127.0.0.1")
    curator.cookies[people.session_cookie] = people.sessions["curator"]
    api = Client(SERVER_NAME="127.0.0.1", headers={"Authorization": f"Bearer {people.api_key}"})

    counts: dict[str, int | str] = {}

    def count(name: str, client, path: str, method: str = "get", data: dict | None = None):
        result = None
        for _ in range(2):  # the second request: nothing left to warm up (a write or an export: once)
            try:
                with CaptureQueriesContext(connection) as captured:
                    response = getattr(client, method)(path, data) if data else getattr(client, method)(path)
                    if response.streaming:
                        for _chunk in response.streaming_content:
                            pass
                counts[name] = len(captured.captured_queries)
                result = response
            except Exception as exc:  # reported in the table, not fatal
                counts[name] = f"error: {type(exc).__name__}"
                return None
            if method == "post" or "/export/" in path:
                break
        return result

    last_page = max(1, math.ceil(total / PAGE_SIZE))
    count("dashboard", web, "/")
    count("list", web, "/recommendations/")
    count("list_filtered", web, "/recommendations/" + qs(FILTER))
    count("list_search", web, "/recommendations/" + qs({"q": SEARCH_TERM}))
    count("list_last", web, "/recommendations/" + qs({"page": last_page}))
    count("detail", web, f"/recommendations/{detail_code}/")
    count("admin", admin, ADMIN_LIST)
    count("admin_filtered", admin, ADMIN_LIST + qs(ADMIN_FILTER))
    count("admin_search", admin, ADMIN_LIST + qs({"q": SEARCH_TERM}))
    first = count("api_first", api, "/api/v1/recommendations/")
    count("api_detail", api, f"/api/v1/recommendations/{detail_code}/")

    ordering, deep_path, deep_floor = ["code"], None, None
    if first is not None and first.status_code == 200:
        next_link = first.json().get("next")
        if next_link:
            token = urllib.parse.parse_qs(urllib.parse.urlsplit(next_link).query)["cursor"][0]
            ordering = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"]
            deep_path, deep_floor = deep_page(total, ordering)
            if deep_path:
                count("api_deep", api, deep_path)
    # The export reads 500 rows at a time, each chunk with its own prefetch: counted on one document's rows.
    one_document = Document.objects.order_by("id").values_list("slug", flat=True).first()
    count("export", api, "/api/v1/export/recommendations.csv" + qs({"document": one_document}))

    organisation = people.curator.membership.organisation
    submitted = list(
        Assessment.objects.filter(review_state=ReviewState.SUBMITTED, organisation=organisation)
        .exclude(author=people.curator)
        .order_by("id")
        .values_list("id", flat=True)[: 2 * runs + 6]
    )
    publish_count = None
    if submitted:
        # Publishing asks for the reviewer's confirmation tick (the review queue's "I have checked this").
        count(
            "publish", curator, f"/review/{submitted.pop()}/publish/", method="post", data={"confirm": "on"}
        )
        publish_count = counts.get("publish")
    half = len(submitted) // 2

    from django.db.models import Q

    export_sql = export_query(connection.vendor, ordering)
    from django.contrib import admin as django_admin

    per_page = django_admin.site._registry[Recommendation].list_per_page
    plan = Plan(
        total=total,
        documents=Document.objects.count(),
        assessments=Assessment.objects.count(),
        last_page=last_page,
        admin_last_page=max(1, math.ceil(total / per_page)),
        detail_code=detail_code,
        detail_assessments=detail_assessments,
        deep_cursor_path=deep_path,
        deep_floor_path=deep_floor,
        ordering=ordering,
        publish_http=submitted[:half],
        publish_floor=submitted[half:],
        publish_count=publish_count if isinstance(publish_count, int) else None,
        export_sql=export_sql,
        subset_rows=Recommendation.objects.filter(Q(**SUBSET_EXPORT)).count(),
    )
    del Count
    return plan, counts


def export_query(vendor: str, ordering: list[str]) -> str:
    """The export's rows as one plain join, what the `sqlite3` shell (or psql's COPY) exports as its floor.
    Names from the models and the API's ordering only; nothing from outside."""
    from cases.models import Recommendation

    themes = Recommendation.themes.through._meta.db_table
    order = ", ".join("r." + t.lstrip("-") + (" DESC" if t.startswith("-") else "") for t in ordering)
    return (
        "SELECT r.code, d.slug, r.paragraph, r.text, r.addressee, "  # noqa: S608
        f"(SELECT {'string_agg' if vendor == 'postgresql' else 'group_concat'}(t.slug, '|') FROM {themes} rt JOIN cases_theme t ON t.id = rt.theme_id "
        "WHERE rt.recommendation_id = r.id), r.implementation_status, r.state_response, "
        "c.assessed_on, c.implementation_status, r.status_updated_at, r.updated_at "
        "FROM cases_recommendation r JOIN cases_document d ON d.id = r.document_id "
        "LEFT JOIN cases_assessment c ON c.id = r.state_claim_id "
        f"ORDER BY {order}"
    )


def deep_page(total: int, ordering: list[str]) -> tuple[str | None, str | None]:
    """A cursor to the last page of the API list (the rows after the one that ends the page before it),
    built with the API's own cursor encoder, and the floor's equivalent (`after` = that row's values)."""
    from cases.api import pagination
    from cases.models import Recommendation

    if total <= PAGE_SIZE + 1:
        return None, None
    names = [term.lstrip("-") for term in ordering]
    values = list(Recommendation.objects.order_by(*ordering).values_list(*names)[total - PAGE_SIZE - 1])
    paginator = pagination.StableCursorPagination()
    paginator.base_url = "http://127.0.0.1/api/v1/recommendations/"
    paginator.ordering = tuple(ordering)
    link = paginator.encode_cursor(values, reverse=False)
    path = urllib.parse.urlsplit(link)
    after = json.dumps([pagination._to_json(v) for v in values])
    floor = "/_floor/api/recommendations/" + qs({"ordering": ",".join(ordering), "after": after})
    return f"{path.path}?{path.query}", floor


def publish_in_process(people: harness.People, pks: list[int]) -> list[float]:
    from cases import services
    from cases.models import Assessment

    times = []
    for pk in pks:
        assessment = Assessment.objects.get(pk=pk)
        started = time.perf_counter()
        services.publish_assessment(assessment, reviewer=people.curator)
        times.append(time.perf_counter() - started)
    return times


# --- over HTTP -----------------------------------------------------------------------------------------


def compare(
    http: Http, runs: int, variants: dict[str, tuple[str, dict]]
) -> tuple[dict[str, list[float]], dict]:
    """Median material for each variant (page, floor, admin), requests interleaved so that a slow moment of
    the machine hits all of them alike; two warm-up requests each, one per worker."""
    statuses: dict[str, set[int]] = {name: set() for name in variants}
    for name, (path, headers) in variants.items():
        for _ in range(2):
            statuses[name].add(http.get(path, headers).status)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, (path, headers) in variants.items():
            response = http.get(path, headers)
            times[name].append(response.seconds)
            statuses[name].add(response.status)
    return times, statuses


def export_once(http: Http, server: Server, path: str, headers: dict) -> tuple[float, int, int, int, int]:
    """(seconds, rows, status, worker RSS growth KiB during the export, workers' VmHWM KiB after)."""
    pids = server.worker_pids()
    base = {pid: harness.memory_kib(pid, "VmRSS") for pid in pids}
    peak = dict(base)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], harness.memory_kib(pid, "VmRSS"))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = [0]

    def sink(chunk: bytes) -> None:
        lines[0] += chunk.count(b"\n")

    response = http.get(path, headers, sink=sink)
    stop.set()
    sampler.join()
    growth = max((peak[pid] - base[pid] for pid in pids), default=0)
    hwm = max((harness.memory_kib(pid, "VmHWM") for pid in pids), default=0)
    return response.seconds, max(lines[0] - 1, 0), response.status, growth, hwm


def sqlite_export_once(cli: str, db: Path, sql: str) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen([cli, "-readonly", "-csv", "-header", str(db), sql], stdout=subprocess.PIPE)
    lines = 0
    assert process.stdout is not None
    while chunk := process.stdout.read(65536):
        lines += chunk.count(b"\n")
    if process.wait() != 0:
        # e.g. "database is locked" right after the web export: a failed floor is not a fast floor.
        raise RuntimeError(f"sqlite3 -csv failed ({process.returncode})")
    return time.perf_counter() - started, max(lines - 1, 0)


def publish_over_http(http: Http, people: harness.People, pks: list[int]) -> tuple[list[float], int]:
    cookie = f"{people.session_cookie}={people.sessions['curator']}"
    queue = http.get("/review/", {"Cookie": cookie})
    token = harness.csrf_from(queue)
    csrf_cookie = queue.cookies.get("csrftoken", "")
    times, failures = [], 0
    for pk in pks:
        response = http.request(
            "POST",
            f"/review/{pk}/publish/",
            {
                "Cookie": f"{cookie}; csrftoken={csrf_cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            urllib.parse.urlencode({"csrfmiddlewaretoken": token or "", "confirm": "on"}).encode(),
        )
        times.append(response.seconds)
        if response.status != 302:
            failures += 1
    return times, failures


def prepare(config: harness.Config) -> dict:
    """Django set up on the benchmark's database (DATABASE_URL's PostgreSQL, else the SQLite file), which is
    created and generated when missing; the servers' environment."""
    env = harness.server_env(config)
    pg_url = postgres.database_url()
    if pg_url:
        env["DATABASE_URL"] = pg_url
    harness.setup_django(env)
    if pg_url:
        postgres.ensure(config, pg_url)
    else:
        harness.ensure_database(config)
    return env


def measure(config: harness.Config, runs: int) -> tuple[list[Figure], Plan, dict]:
    env = prepare(config)
    pg_url = postgres.database_url()
    people = harness.make_people()
    info_database = postgres.describe() if pg_url else ""
    log("counting queries in-process")
    plan, counts = make_plan(people, runs)
    people_plan = people_bench.make_plan(people, counts)  # issue 12's people pages
    log("publishing in-process (the floor of publishing)")
    publish_floor = publish_in_process(people, plan.publish_floor[: runs + 1])[1:]
    from django.db import connection

    connection.close()

    figures: list[Figure] = []
    web = {"Cookie": f"{people.session_cookie}={people.sessions['monitor']}"}
    admin = {"Cookie": f"{people.session_cookie}={people.sessions['admin']}"}
    key = {"Authorization": f"Bearer {people.api_key}"}
    log_path = (harness.ARTIFACTS if pg_url else config.db_path.parent) / "bench-gunicorn.log"
    with Server(config, env, log_path) as server:
        http = Http(config.port)

        def page(name, counts_key, path, floor, admin_path=None, note="", headers=web, floor_headers=None):
            log(f"measuring {name}")
            variants = {"page": (path, headers), "floor": (floor, floor_headers or headers)}
            if admin_path:
                variants["admin"] = (admin_path, admin)
            times, statuses = compare(http, runs, variants)
            bad = {k: sorted(v) for k, v in statuses.items() if v != {200}}
            figures.append(
                Figure(
                    counts_key,
                    name,
                    times["page"],
                    times["floor"],
                    times.get("admin"),
                    counts.get(counts_key),
                    status=" ".join(f"{k} HTTP {v}" for k, v in bad.items()),
                    note=note,
                )
            )

        page("dashboard", "dashboard", "/", "/_floor/dashboard/")
        page("list: unfiltered", "list", "/recommendations/", "/_floor/recommendations/", ADMIN_LIST)
        page(
            "list: status + addressee filter",
            "list_filtered",
            "/recommendations/" + qs(FILTER),
            "/_floor/recommendations/" + qs(FILTER),
            ADMIN_LIST + qs(ADMIN_FILTER),
        )
        page(
            f'list: text search "{SEARCH_TERM}"',
            "list_search",
            "/recommendations/" + qs({"q": SEARCH_TERM}),
            "/_floor/recommendations/" + qs({"q": SEARCH_TERM}),
            ADMIN_LIST + qs({"q": SEARCH_TERM}),
        )
        page(
            f"list: last page ({plan.last_page:,})",
            "list_last",
            "/recommendations/" + qs({"page": plan.last_page}),
            "/_floor/recommendations/" + qs({"page": plan.last_page}),
            ADMIN_LIST + qs({"p": plan.admin_last_page}),
        )
        page(
            f"recommendation page ({plan.detail_assessments} assessments)",
            "detail",
            f"/recommendations/{plan.detail_code}/",
            f"/_floor/recommendations/{plan.detail_code}/",
        )
        page(
            "API list: first page (50 rows)",
            "api_first",
            "/api/v1/recommendations/",
            "/_floor/api/recommendations/" + qs({"ordering": ",".join(plan.ordering)}),
            headers=key,
        )
        if plan.deep_cursor_path and plan.deep_floor_path:
            page(
                "API list: deepest page (cursor)",
                "api_deep",
                plan.deep_cursor_path,
                plan.deep_floor_path,
                headers=key,
            )
        page(
            "API detail",
            "api_detail",
            f"/api/v1/recommendations/{plan.detail_code}/",
            f"/_floor/api/recommendations/{plan.detail_code}/",
            headers=key,
        )
        api_wrk = measure_api_wrk(http, config, key, plan)
        people_bench.measure(page, people_plan)

        export_runs = export_runs_for(runs)
        cli = postgres.psql_cli() if pg_url else harness.sqlite_cli()
        for figure_key, label, params, expected in (
            ("export", f"CSV export: all {plan.total:,} rows", {}, plan.total),
            (
                "export_subset",
                f"CSV export: {plan.subset_rows:,} rows ({urllib.parse.urlencode(SUBSET_EXPORT)})",
                SUBSET_EXPORT,
                plan.subset_rows,
            ),
        ):
            log(f"measuring {label}")
            path = "/api/v1/export/recommendations.csv" + qs(params)
            results = [export_once(http, server, path, key) for _ in range(export_runs)]
            floor_times = []
            if cli and not params:
                floor_times = [
                    (
                        postgres.copy_export_once(cli, pg_url, plan.export_sql)
                        if pg_url
                        else sqlite_export_once(cli, config.db_path, plan.export_sql)
                    )[0]
                    for _ in range(export_runs)
                ]
            rows = results[-1][1]
            statuses = {r[2] for r in results}
            growth = max(r[3] for r in results)
            hwm = max(r[4] for r in results)
            note = (
                f"{rows / median([r[0] for r in results]):,.0f} rows/s; worker RSS +{growth / 1024:.1f} MiB "
                f"during the export, VmHWM {hwm / 1024:.0f} MiB"
            )
            if floor_times:
                note += f"; {postgres.FLOOR if pg_url else 'sqlite3 CLI'} {plan.total / median(floor_times):,.0f} rows/s"
            if rows != expected:
                note += f"; {rows:,} rows received, {expected:,} expected"
            figures.append(
                Figure(
                    figure_key,
                    label,
                    [r[0] for r in results],
                    floor_times or None,
                    queries=counts.get("export") if not params else None,  # one 500-row chunk
                    status="" if statuses == {200} else f"HTTP {sorted(statuses)}",
                    note=note,
                )
            )

        log("measuring publishing")
        http_times, failures = publish_over_http(http, people, plan.publish_http[: runs + 1])
        figures.append(
            Figure(
                "publish",
                "publish an assessment (POST)",
                http_times[1:],
                publish_floor,
                queries=plan.publish_count,
                status=f"{failures} failed" if failures else "",
                note="floor: services.publish_assessment in-process",
            )
        )
        server_log = server.log_text()
    info = {
        "locked": server_log.count("database is locked"),
        "tracebacks": server_log.count("Traceback"),
        "log": log_path,
        "counts": counts,
        "database": info_database,
        "api_wrk": api_wrk,
    }
    return figures, plan, info


def measure_api_wrk(http: Http, config: harness.Config, key: dict, plan: Plan) -> dict | None:
    """Issue 14's "API 50-row page >= 0.5x the floor's throughput (wrk, 2 gunicorn workers)": wrk against
    the API's first page and its floor, one after the other, BENCH_WRK_SECONDS each (default 10) with
    BENCH_WRK_CONNECTIONS (default 8); None without wrk."""
    wrk = harness.wrk_binary()
    if wrk is None:
        return None
    seconds = harness.env_int("BENCH_WRK_SECONDS", 10)
    connections = harness.env_int("BENCH_WRK_CONNECTIONS", 8)
    paths = {
        "page": "/api/v1/recommendations/",
        "floor": "/_floor/api/recommendations/" + qs({"ordering": ",".join(plan.ordering)}),
    }
    for path in paths.values():  # warm both workers
        for _ in range(4):
            http.get(path, key)
    log(f"measuring the API's first page under wrk ({seconds} s each, {connections} connections)")
    return {
        name: harness.wrk(wrk, config.port, path, seconds, connections, key) for name, path in paths.items()
    } | {"seconds": seconds, "connections": connections}


def export_runs_for(runs: int) -> int:
    # A full export at 300,000 rows takes minutes: three runs at most unless asked (BENCH_EXPORT_RUNS).
    return max(1, harness.env_int("BENCH_EXPORT_RUNS", min(runs, 3)))


# --- the table -----------------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def report(config: harness.Config, runs: int, figures: list[Figure], plan: Plan, info: dict, out=sys.stdout):
    database = info.get("database") or f"SQLite, {config.db_path.stat().st_size / 2**30:.2f} GiB"
    print(file=out)
    print(
        f"Accountability Tracker benchmark: {plan.total:,} recommendations, {plan.documents:,} documents, "
        f"{plan.assessments:,} assessments ({database})",
        file=out,
    )
    print(f"Machine: {harness.machine_description()}", file=out)
    print(
        f"gunicorn {config.workers} sync workers on 127.0.0.1; medians of {runs} runs (exports: "
        f"{export_runs_for(runs)}); floor = the same SQL in a bare view returning .values() as JSON",
        file=out,
    )
    print(file=out)
    columns = [("figure", "<48"), ("median", ">10"), ("floor", ">10"), ("÷floor", ">7"), ("admin", ">10"),
               ("admin÷", ">7"), ("queries", ">8")]  # fmt: skip
    header = " ".join(f"{name:{spec}}" for name, spec in columns)
    print(header, file=out)
    print("-" * len(header), file=out)
    for f in figures:
        page, floor = median(f.page), median(f.floor) if f.floor else None
        admin = median(f.admin) if f.admin else None
        ratio = f"{page / floor:.2f}" if floor else "-"
        admin_ratio = f"{admin / page:.1f}x" if admin else "-"
        queries = "-" if f.queries is None else str(f.queries)
        print(
            f"{f.name:<48} {fmt_time(page):>10} {fmt_time(floor):>10} {ratio:>7} {fmt_time(admin):>10} "
            f"{admin_ratio:>7} {queries:>8}",
            file=out,
        )
        extra = "; ".join(x for x in (f.status, f.note) if x)
        if extra:
            print(f"    {extra}", file=out)
    print(file=out)
    print(
        f"server log: {info['locked']} 'database is locked', {info['tracebacks']} tracebacks ({info['log']})",
        file=out,
    )
    api_wrk = info.get("api_wrk")
    if api_wrk:
        page, floor = api_wrk["page"], api_wrk["floor"]
        print(
            f"API list, first page (50 rows) under wrk ({api_wrk['connections']} connections, "
            f"{api_wrk['seconds']} s each): {page['rate']:.1f} requests/s (p50 {page['p50_ms'] or 0:.1f} ms), "
            f"floor {floor['rate']:.1f} requests/s (p50 {floor['p50_ms'] or 0:.1f} ms); "
            f"errors {page['errors'] + floor['errors']} {page['socket_errors']} {floor['socket_errors']}".rstrip(),
            file=out,
        )
    print(file=out)
    for line in check_targets(figures, info):
        print(line, file=out)


def check_targets(figures: list[Figure], info: dict) -> list[str]:
    """The issue's targets, each met or missed, with the figure that decides it."""
    by_key = {f.key: f for f in figures}
    lines = ["Targets (issues 6 and 14):"]

    def verdict(ok: bool) -> str:
        return "met   " if ok else "MISSED"

    pages = [f for f in figures if not f.key.startswith("export") and f.key != "publish"]
    counts = [f.queries for f in pages if isinstance(f.queries, int)]
    errors = [f"{f.key}: {f.queries}" for f in pages if isinstance(f.queries, str)]
    worst = max(counts, default=0)
    problems = f" ({'; '.join(errors)})" if errors else ""
    lines.append(
        f"  {verdict(worst <= MAX_QUERIES and not errors)} queries per page <= {MAX_QUERIES}: "
        f"at most {worst}{problems}; constant with the data: tests/test_scale.py"
    )
    publish = by_key.get("publish")
    if publish and isinstance(publish.queries, int):
        lines.append(f"  (info) publishing an assessment, a write, not a page: {publish.queries} queries")
    over = [
        f"{f.name} {median(f.page) / median(f.floor):.2f}"
        for f in pages
        if f.floor and median(f.page) > PAGE_FLOOR_RATIO * median(f.floor)
    ]
    lines.append(
        f"  {verdict(not over)} every page at most {PAGE_FLOOR_RATIO:.0f}x its floor"
        + (f": over it {'; '.join(over)}" if over else "")
    )
    first = by_key.get("api_first")
    api_wrk = info.get("api_wrk")
    if api_wrk and api_wrk["floor"]["rate"]:
        ratio = api_wrk["page"]["rate"] / api_wrk["floor"]["rate"]
        lines.append(
            f"  {verdict(ratio >= API_THROUGHPUT_RATIO)} API 50-row page at least {API_THROUGHPUT_RATIO} of "
            f"the floor's throughput under wrk: {ratio:.2f}"
        )
    elif first and first.floor:
        ratio = median(first.page) / median(first.floor)
        lines.append(
            f"  {verdict(ratio <= API_FLOOR_RATIO)} API 50-row page at least half the floor's "
            f"throughput (wrk not installed; single requests): it takes {ratio:.2f}x the floor's time"
        )
    for key in ("list", "list_filtered", "list_search", "list_last"):
        f = by_key.get(key)
        if f and f.admin:
            speedup = median(f.admin) / median(f.page)
            wanted = ADMIN_SEARCH_SPEEDUP if key == "list_search" else ADMIN_SPEEDUP
            lines.append(
                f"  {verdict(speedup >= wanted)} web list at least {wanted:.0f}x faster than the admin "
                f"changelist ({f.name}): {speedup:.1f}x"
            )
    deep = by_key.get("api_deep")
    if first and deep:
        ratio = median(deep.page) / median(first.page)
        lines.append(
            f"  {verdict(ratio <= DEEP_RATIO)} deepest API page within 1.2x of the first: {ratio:.2f}x"
        )
    last, unfiltered = by_key.get("list_last"), by_key.get("list")
    if last and unfiltered:
        ratio = median(last.page) / median(unfiltered.page)
        lines.append(
            f"  {verdict(ratio <= DEEP_RATIO)} web list: last page within 1.2x of the first: {ratio:.2f}x"
        )
    full, subset = by_key.get("export"), by_key.get("export_subset")
    if full and full.floor:
        speed = median(full.floor) / median(full.page)
        lines.append(
            f"  {verdict(speed >= EXPORT_SPEED)} CSV export at least 1/3 of the database shell's speed (sqlite3 -csv, psql \\copy): "
            f"{speed:.2f} of it"
        )
    if full and subset:
        lines.append(
            "  (notes) CSV export memory: compare the RSS growth of the full and the partial export above"
        )
    lines.append(
        f"  {verdict(info['locked'] == 0)} no 'database is locked' in the server log: {info['locked']}"
    )
    lines += people_bench.check(figures)
    return lines


def explain_and_save(config: harness.Config) -> int:
    """`bench.py --explain`: every query of every hot page with the database's plan for it (SQLite: EXPLAIN
    QUERY PLAN; PostgreSQL: EXPLAIN), printed and saved to tests/perf/plans/<vendor>.txt; exits 1 on a full
    scan of a big table (tests/perf/queryplans.py says what counts)."""
    from django.db import connection

    from tests.perf import queryplans

    prepare(config)
    people = harness.make_people()
    pages, big = queryplans.capture(people)
    database = (
        postgres.describe() if postgres.database_url() else f"SQLite {connection.Database.sqlite_version}"
    )
    heading = (
        f"Query plans of the hot pages (bench.py --explain): {config.recommendations:,} recommendations "
        f"(seed {config.seed}), {database}"
    )
    path = queryplans.write(pages, big, heading)
    print(path.read_text())
    scans = queryplans.full_scans(pages)
    log(f"plans written to {path}; {len(scans)} full scans of a big table")
    for scan in scans:
        log("  " + scan)
    return 1 if scans else 0


# --- backup and restore (issue 15) ----------------------------------------------------------------------

BACKUP_TARGET_SECONDS = 300


def _backup_env(config: harness.Config) -> dict[str, str]:
    import secrets

    env = {**os.environ, **harness.server_env(config), "LOG_LEVEL": "WARNING"}
    env["BACKUP_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return env


def _manage(env: dict[str, str], url: str, *args: str) -> float:
    """Run `manage.py args` on the database at `url` as an operator would; the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(harness.ROOT / "manage.py"), *args],
        env={**env, "DATABASE_URL": url},
        cwd=harness.ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started


COUNTED = ("cases_recommendation", "cases_assessment")


def _sqlite_rows(database: Path) -> tuple[int, ...]:
    import sqlite3

    with sqlite3.connect(database) as db:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED)  # noqa: S608


def _backup_lines(lines: list[str], missed: list[str], steps, size: float, check: str) -> None:
    for step, seconds in steps:
        lines.append(f"  {step:<36} {seconds:8.1f} s   file {size:,.1f} MiB   {check}")
        if seconds > BACKUP_TARGET_SECONDS:
            missed.append(step)


def measure_backup(config: harness.Config, out=sys.stdout) -> list[str]:
    """Time `manage.py backup` and `manage.py restore`, native and portable, each in its own process as an
    operator runs them, on the bench database; each restore goes into a new, empty database file (the
    portable one migrated first, not timed). With BENCH_POSTGRES_URL set, the same on PostgreSQL (see
    measure_backup_postgresql). Prints one line per step; returns the steps over the target."""
    env = _backup_env(config)
    directory = config.db_path.parent / "backup"
    directory.mkdir(parents=True, exist_ok=True)
    source = f"sqlite:///{config.db_path}"
    expected = _sqlite_rows(config.db_path)
    lines, missed = [], []
    for fmt in ("native", "portable"):
        path = directory / f"bench.{fmt}.backup"
        target = directory / f"restored-{fmt}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        log(f"backup ({fmt})")
        backup_s = _manage(env, source, "backup", str(path), "--format", fmt)
        if fmt == "portable":
            _manage(env, f"sqlite:///{target}", "migrate", "-v0")
        log(f"restore ({fmt})")
        restore_s = _manage(env, f"sqlite:///{target}", "restore", str(path))
        got = _sqlite_rows(target)
        check = "rows match" if got == expected else f"ROWS DIFFER {got} != {expected}"
        size = path.stat().st_size / 2**20
        _backup_lines(
            lines, missed, ((f"backup ({fmt})", backup_s), (f"restore ({fmt})", restore_s)), size, check
        )
        path.unlink()
    print(
        f"Backup and restore on SQLite: {config.recommendations:,} recommendations, {expected[1]:,} assessments",
        file=out,
    )
    print("\n".join(lines), file=out)
    postgres = os.environ.get("BENCH_POSTGRES_URL", "")
    if postgres:
        missed += measure_backup_postgresql(config, postgres, env, expected, out=out)
    print(
        f"  target: each under {BACKUP_TARGET_SECONDS} s: "
        + ("met" if not missed else "missed: " + ", ".join(missed)),
        file=out,
    )
    return missed


def measure_backup_postgresql(
    config, server_url: str, env: dict, expected: tuple, out=sys.stdout
) -> list[str]:
    """The same figures on PostgreSQL (BENCH_POSTGRES_URL=postgres://user@host:port/any-database names the
    server; two scratch databases are created on it and dropped after). The bench data reaches PostgreSQL
    the way an installation moves there: a portable backup of the SQLite database restored into a migrated
    PostgreSQL database (timed too); then a native backup (pg_dump) restored into an empty database, and a
    portable backup of the PostgreSQL one."""
    import psycopg

    parts = urllib.parse.urlsplit(server_url)
    names = [f"bench_backup_{n}_{config.recommendations}" for n in ("a", "b")]

    def url(name: str) -> str:
        return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

    def admin(sql: str) -> None:
        with psycopg.connect(url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def rows(name: str) -> tuple[int, ...]:
        with psycopg.connect(url(name)) as conn:
            return tuple(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED)  # noqa: S608

    directory = config.db_path.parent / "backup"
    moved, native, portable = (directory / f"bench.pg-{n}.backup" for n in ("move", "native", "portable"))
    lines, missed = [], []
    try:
        for name in names:
            admin(f'DROP DATABASE IF EXISTS "{name}"')
            admin(f'CREATE DATABASE "{name}"')
        a, b = (url(n) for n in names)
        log("portable backup of the SQLite database, to move it")
        _manage(env, f"sqlite:///{config.db_path}", "backup", str(moved), "--format", "portable")
        _manage(env, a, "migrate", "-v0")
        log("restore (portable, into PostgreSQL)")
        move_s = _manage(env, a, "restore", str(moved))
        check = "rows match" if rows(names[0]) == expected else f"ROWS DIFFER {rows(names[0])} != {expected}"
        _backup_lines(
            lines, missed, (("restore (portable → PostgreSQL)", move_s),), moved.stat().st_size / 2**20, check
        )
        log("backup (native, pg_dump)")
        backup_s = _manage(env, a, "backup", str(native))
        log("restore (native, pg_restore into an empty database)")
        restore_s = _manage(env, b, "restore", str(native))
        check = "rows match" if rows(names[1]) == expected else f"ROWS DIFFER {rows(names[1])} != {expected}"
        _backup_lines(
            lines,
            missed,
            (("backup (native, PostgreSQL)", backup_s), ("restore (native, PostgreSQL)", restore_s)),
            native.stat().st_size / 2**20,
            check,
        )
        log("backup (portable, PostgreSQL)")
        portable_s = _manage(env, a, "backup", str(portable), "--format", "portable")
        _backup_lines(
            lines,
            missed,
            (("backup (portable, PostgreSQL)", portable_s),),
            portable.stat().st_size / 2**20,
            "",
        )
    finally:
        for path in (moved, native, portable):
            path.unlink(missing_ok=True)
        for name in names:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"Backup and restore on PostgreSQL ({parts.hostname}), the same data:", file=out)
    print("\n".join(lines), file=out)
    return missed


def main() -> int:
    config = harness.Config.from_env()
    runs = harness.env_int("BENCH_RUNS", 5)
    if "--explain" in sys.argv:
        # Also writes tests/perf/plans/<vendor>.txt, every hot page's plans, checked for full scans.
        return explain_and_save(config)
    if "--backup" in sys.argv:
        # Only the backup and restore timings (BENCH_RECOMMENDATIONS=300000 bench.py --backup).
        harness.setup_django(harness.server_env(config))
        harness.ensure_database(config)
        return 1 if measure_backup(config) else 0
    if "--import" in sys.argv:
        # Only the import figures (issue 10): BENCH_IMPORT_RECORDS, BENCH_IMPORT_XLSX_ROWS.
        from tests.perf.import_bench import measure_import

        return 1 if measure_import(config) else 0
    if "--public" in sys.argv:
        # Only the public page under wrk (issue 13; tests/perf/public_bench.py).
        from tests.perf.public_bench import measure_public

        return 1 if measure_public(config) else 0
    if "--long-export" in sys.argv:
        # Only the full export of BENCH_LONG_EXPORT_ROWS (1,000,000) through gunicorn as deployed (issue 14).
        from tests.perf.long_export import measure_long_export

        return 0 if measure_long_export() else 1
    if "--people" in sys.argv:
        # Only the people figures (issue 12): BENCH_PEOPLE.
        return people_bench.main(config, runs)
    if "--prepare" in sys.argv:
        # Only create the database (e.g. the 300,000-row one, ahead of time; PostgreSQL's with DATABASE_URL).
        prepare(config)
        return 0
    started = time.monotonic()
    figures, plan, info = measure(config, runs)
    report(config, runs, figures, plan, info)
    if not postgres.database_url() and "--pages" not in sys.argv:  # --pages: only the table above
        # on PostgreSQL: bench.py --backup with BENCH_POSTGRES_URL, on SQLite
        print()
        measure_backup(config)
        print()
        from tests.perf.import_bench import measure_import

        measure_import(config)
        print()
        from tests.perf.public_bench import measure_public

        measure_public(config)
    log(f"done in {time.monotonic() - started:.0f}s")
    failed = [f.name for f in figures if f.status]
    if failed:
        log(f"figures with errors: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
