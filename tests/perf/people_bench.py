"""The people figures of `make bench` (issue 12): the people pages at scale, each beside its floor.

    BENCH_PEOPLE=50000 tests/perf/bench.py --people     # only these figures; also part of the full run

The generated database has BENCH_PEOPLE people (default one per six recommendations; tests/perf/
people_datagen.py), about 40% of them linked to the data set's 151(i) (its first recommendation on arbitrary
detention). Measured, as the bench's signed-in monitor of a generated organisation (who sees all of her
organisation's people and the `partners` and `public` people of the others, names only with consent): the
people list unfiltered, filtered by status, filtered as the recommendation page's count links it
(recommendation + status), searched by a Latin spelling across scripts, one person's page, and the 151(i)
page with its people counts. Each floor (the `urlpatterns` below, mounted under /_floor/people/ by
bench_urls) runs the same SQL through a bare view that returns `.values()` as JSON, the read's audit row
included; the page's query count is taken in-process.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from dataclasses import dataclass

from django.urls import path

from tests.perf import harness
from tests.perf.harness import log

SEARCH_TERM = (
    "Abdurahim"  # a Latin spelling; most people named so are recorded in Uyghur script or as Abdurehim
)
STATUS = "released"
PAGE_SIZE = 50
PEOPLE_FLOOR_RATIO = 3.0  # a people page takes at most 3x its floor's time
MAX_QUERIES = 10  # as every page of the bench (bench.MAX_QUERIES)


# --- floors (served by the bench's server only) -----------------------------------------------------------


def _rows_fields():
    from cases.access import PERSON_IDENTIFYING

    return (
        "reference",
        *(
            f"shown_{name}"
            for name in ("name_latin", "name_uyghur", "name_chinese")
            if name in PERSON_IDENTIFYING
        ),
        "prefecture",
        "current_status",
        "current_facility",
        "status_on",
        "identified",
    )


def _viewer(request):
    from tests.perf.floor_urls import _signed_in

    return _signed_in(request)


def people_list(request):
    """The list's SQL: the viewer's people, redacted in the database, filtered as the page filters (its
    FilterSet), counted and cut to a page; the audit row of the read."""
    from django.http import HttpResponseForbidden

    from cases import access
    from cases.people import dedupe
    from tracker.accounts import audit

    viewer = _viewer(request)
    if viewer is None:
        return HttpResponseForbidden()
    queryset = access.visible_people(viewer)
    params = request.GET
    if params.get("status"):
        queryset = queryset.filter(current_status=params["status"])
    if params.get("recommendation"):
        queryset = queryset.filter(recommendations__code=params["recommendation"])
    if params.get("q"):
        q = params["q"].strip()
        queryset = queryset.filter(access.people_search_q(viewer, dedupe.query_forms(q), q))
    queryset = queryset.order_by("reference")
    count = queryset.count()
    rows = list(queryset.values(*_rows_fields())[:PAGE_SIZE])
    audit.record(
        "person.list",
        actor=request.user,
        organisation=viewer.organisation_id,
        count=len(rows),
        identified=sum(1 for row in rows if row["identified"]),
    )
    from tests.perf.floor_urls import _json

    return _json({"count": count, "results": rows})


def person_detail(request, reference: str):
    from django.http import Http404, HttpResponseForbidden

    from cases import access
    from cases.people.models import Person, PersonStatus
    from tests.perf.floor_urls import _json

    viewer = _viewer(request)
    if viewer is None:
        return HttpResponseForbidden()
    row = (
        access.visible_people(viewer)
        .filter(reference=reference)
        .values("id", "organisation_id", "organisation__name", *_rows_fields())
        .first()
    )
    if row is None:
        raise Http404
    _audit_read(request.user, viewer, row)
    statuses = PersonStatus.objects.filter(person_id=row["id"])
    if row["organisation_id"] != viewer.organisation_id:
        statuses = statuses.filter(review_state="published")
    timeline = list(
        statuses.order_by("-occurred_on", "-published_at", "-id").values(
            "id",
            "status",
            "facility_type",
            "term",
            "charge",
            "basis",
            "occurred_on",
            "review_state",
            "author__username",
            "reviewer__username",
        )
    )
    links = PersonStatus.evidence.through.objects.filter(personstatus_id__in=[t["id"] for t in timeline])
    evidence = list(
        links.filter(access.evidence_q(viewer, "evidence__")).values("personstatus_id", "evidence__title")
    )
    recommendations = list(
        Person.recommendations.through.objects.filter(person_id=row["id"])
        .order_by("recommendation__code")
        .values_list("recommendation__code", flat=True)
    )
    return _json(
        {"person": row, "timeline": timeline, "evidence": evidence, "recommendations": recommendations}
    )


def _audit_read(user, viewer, row) -> None:
    from cases.people.models import Person
    from tracker.accounts import audit

    person = Person(pk=row["id"], reference=row["reference"])
    audit.record(
        "person.read",
        actor=user,
        target=person,
        organisation=viewer.organisation_id,
        identified=row["identified"],
    )


def recommendation_with_counts(request, code: str):
    """The recommendation page's floor (floor_urls.recommendation_detail) and the counts' one query."""
    from cases import access
    from cases.models import Recommendation
    from cases.people import services
    from tests.perf.floor_urls import _json, recommendation_detail

    response = recommendation_detail(request, code)
    if response.status_code != 200:
        return response
    data = json.loads(response.content)
    recommendation = Recommendation(pk=data["recommendation"]["id"], code=code)
    data["people"] = services.count_people(access.viewer_for_user(request.user), recommendation)
    return _json(data)


urlpatterns = [
    path("people/", people_list, name="floor-people-list"),
    path("people/counts/<slug:code>/", recommendation_with_counts, name="floor-people-counts"),
    path("people/<str:reference>/", person_detail, name="floor-person"),
]


# --- in-process: what to measure, and the query counts ------------------------------------------------------


@dataclass
class PeoplePlan:
    people: int
    visible: int
    hot_code: str
    hot_linked: int
    person_reference: str
    person_statuses: int
    pages: list[tuple[str, str, str, str]]  # (key, name, page path, floor path)


def qs(params: dict) -> str:
    return "?" + urllib.parse.urlencode(params) if params else ""


def make_plan(people: harness.People, counts: dict) -> PeoplePlan | None:
    """The pages and their floors; each page's query count (the second request) into `counts`."""
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cases import access
    from cases.people.models import Person

    total = Person.objects.count()
    if not total:
        log("no people in this database: the people figures are skipped")
        return None
    viewer = access.viewer_for_user(people.monitor)
    visible = access.visible_people(viewer).count()
    hot = (
        Person.recommendations.through.objects.values("recommendation__code")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    # A person of the monitor's organisation with a long timeline, from the middle of the table.
    candidates = (
        Person.objects.filter(organisation_id=viewer.organisation_id)
        .annotate(n=Count("statuses"))
        .filter(n__gte=3)
        .order_by("id")
        .values_list("reference", "n")
    )
    reference, statuses = candidates[candidates.count() // 2] if candidates.exists() else ("", 0)
    code = hot["recommendation__code"]
    pages = [
        ("people_list", "people list: unfiltered", "/people/", "/_floor/people/"),
        ("people_status", f"people list: status {STATUS}", "/people/" + qs({"status": STATUS}), ""),
        (
            "people_count_link",
            "people list: 151(i)-like + detained",
            "/people/" + qs({"recommendation": code, "status": "detained"}),
            "",
        ),
        ("people_search", f'people list: search "{SEARCH_TERM}"', "/people/" + qs({"q": SEARCH_TERM}), ""),
        (
            "person",
            f"person page ({statuses} status entries)",
            f"/people/{reference}/",
            f"/_floor/people/{reference}/",
        ),
        (
            "people_counts",
            f"recommendation page with people counts ({hot['n']:,} linked)",
            f"/recommendations/{code}/",
            f"/_floor/people/counts/{code}/",
        ),
    ]
    # The list's floors take the same query string.
    pages = [
        (key, name, url, floor or "/_floor/people/?" + url.split("?", 1)[1])
        for key, name, url, floor in pages
    ]
    web = Client(SERVER_NAME="127.0.0.1")
    web.cookies[people.session_cookie] = people.sessions["monitor"]
    for key, _name, url, _floor in pages:
        for _ in range(2):
            try:
                with CaptureQueriesContext(connection) as captured:
                    response = web.get(url)
                counts[key] = (
                    len(captured.captured_queries)
                    if response.status_code == 200
                    else (f"HTTP {response.status_code}")
                )
            except Exception as exc:  # reported in the table, not fatal
                counts[key] = f"error: {type(exc).__name__}"
                break
    return PeoplePlan(total, visible, code, hot["n"], reference, statuses, pages)


def measure(page, plan: PeoplePlan | None) -> None:
    """Inside bench.measure's server: one figure per page (bench's `page` closure)."""
    if plan is None:
        return
    for key, name, url, floor in plan.pages:
        page(name, key, url, floor)


def check(figures, out=sys.stdout) -> list[str]:
    """The people pages' targets: the bench's query budget, and at most PEOPLE_FLOOR_RATIO x the floor."""
    from tests.perf.harness import median

    lines = []
    keys = {"people_list", "people_status", "people_count_link", "people_search", "person", "people_counts"}
    for f in figures:
        if f.key not in keys:
            continue
        ratio = median(f.page) / median(f.floor) if f.floor else None
        queries_ok = isinstance(f.queries, int) and f.queries <= MAX_QUERIES
        ratio_ok = ratio is not None and ratio <= PEOPLE_FLOOR_RATIO and not f.status
        lines.append(
            f"  {'met   ' if queries_ok and ratio_ok else 'MISSED'} {f.name}: {f.queries} queries "
            f"(<= {MAX_QUERIES}), {ratio:.2f}x the floor (<= {PEOPLE_FLOOR_RATIO})"
            if ratio is not None
            else f"  MISSED {f.name}: no floor measured {f.status}"
        )
    return lines


def describe(plan: PeoplePlan | None) -> str:
    if plan is None:
        return "no people generated"
    return (
        f"{plan.people:,} people ({plan.visible:,} visible to the bench's monitor); "
        f"{plan.hot_code} linked to {plan.hot_linked:,}"
    )


def main(config: harness.Config, runs: int) -> int:
    """`bench.py --people`: only the people figures."""
    from tests.perf import bench

    env = harness.server_env(config)
    harness.setup_django(env)
    harness.ensure_database(config)
    people = harness.make_people()
    counts: dict = {}
    log("counting the people pages' queries in-process")
    plan = make_plan(people, counts)
    from django.db import connection

    connection.close()
    figures: list = []
    web = {"Cookie": f"{people.session_cookie}={people.sessions['monitor']}"}
    with harness.Server(config, env, config.db_path.parent / "bench-gunicorn.log") as server:
        http = harness.Http(config.port)

        def page(name, key, url, floor):
            log(f"measuring {name}")
            times, statuses = bench.compare(http, runs, {"page": (url, web), "floor": (floor, web)})
            bad = {k: sorted(v) for k, v in statuses.items() if v != {200}}
            figures.append(
                bench.Figure(
                    key,
                    name,
                    times["page"],
                    times["floor"],
                    queries=counts.get(key),
                    status=" ".join(f"{k} HTTP {v}" for k, v in bad.items()),
                )
            )

        measure(page, plan)
        server_log = server.log_text()
    print(f"People figures: {describe(plan)}; {harness.machine_description()}; medians of {runs} runs")
    print(f"{'figure':<56} {'median':>10} {'floor':>10} {'÷floor':>7} {'queries':>8}")
    for f in figures:
        page_time, floor_time = harness.median(f.page), harness.median(f.floor) if f.floor else None
        ratio = f"{page_time / floor_time:.2f}" if floor_time else "-"
        print(
            f"{f.name:<56} {bench.fmt_time(page_time):>10} {bench.fmt_time(floor_time):>10} {ratio:>7} "
            f"{f.queries!s:>8} {f.status}"
        )
    print(f"server log: {server_log.count('Traceback')} tracebacks")
    lines = check(figures)
    print("Targets (issue 12):")
    for line in lines:
        print(line)
    return 1 if any("MISSED" in line for line in lines) else 0
