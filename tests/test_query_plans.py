"""Every query of the hot pages is served by an index: the plans of tests/perf/plans/ regenerated at a small
size on the test database (SQLite; PostgreSQL in CI's PostgreSQL run) and checked for a full scan of a big
table (tests/perf/queryplans.py says what counts, and why it means something at a small size)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from cases.models import Assessment
from tests.perf import harness, queryplans

pytestmark = pytest.mark.django_db

SIZE = 300


@pytest.fixture
def people():
    call_command("generate_data", recommendations=SIZE, seed=3, stdout=io.StringIO(), stderr=io.StringIO())
    return harness.make_people()


def test_every_hot_page_is_planned_without_a_full_scan(people, tmp_path):
    pages, big = queryplans.capture(people)

    # The tables that grow with the index are the big ones, whatever the size.
    assert {"cases_recommendation", "cases_assessment"} <= big
    names = [page.name for page in pages]
    for expected in (
        "dashboard",
        "list: unfiltered",
        "list: status + addressee filter",
        "list: text search",
        "list: last page",
        "recommendation page",
        "review queue",
        "assessments browser",
        "people list",
        "public: home",
        "public: recommendation",
        "public: document",
        "public: search",
        "API list: first page",
        "API detail",
        "API export: CSV, all rows",
    ):
        assert expected in names
    for page in pages:
        assert page.status == 200, (page.name, page.status)
        assert page.queries, page.name  # the wrapper saw the page's queries
        assert all(query.plan for query in page.queries), page.name
    # The recommendation page reads its assessments; the export its rows.
    by_name = {page.name: page for page in pages}
    assert any("cases_assessment" in q.sql for q in by_name["recommendation page"].queries)
    if connection.vendor == "sqlite":
        # On PostgreSQL the database writes the export with COPY (cases/api/csv_copy.py), which Django's cursor
        # wrapper does not see: only its savepoint and settings are planned here.
        assert any("cases_recommendation" in q.sql for q in by_name["API export: CSV, all rows"].queries)

    path = queryplans.write(pages, big, "test", directory=tmp_path)
    text = path.read_text()
    assert path.name == f"{connection.vendor}.txt"
    assert "=== review queue: GET /review/ -> HTTP 200" in text
    assert queryplans.full_scans(pages) == [], text


def _dashboard_latest_published(people) -> str:
    """The SQL of the dashboard's "latest published" query, as the page runs it."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    client.cookies[people.session_cookie] = people.sessions["monitor"]
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    (sql,) = [q["sql"] for q in captured.captured_queries if 'U0."corrects_id" = ' in q["sql"]]
    return sql


def test_dashboard_latest_published_is_read_in_index_order_with_corrections_on_their_own_index(people):
    """The latest publications come from cases_assessment_recent in order (no sort of the publications), and
    each one's correction subquery from cases_assessment_corrections, with no statistics, with statistics,
    and with statistics for every index but these two (a database analysed before migration 0019): through
    the recent index instead, the subquery read every publication for each row and the 300,000 dashboard
    hung. SQLite only: PostgreSQL weighs its own statistics (the plans in tests/perf/plans/)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner")
    assert Assessment.objects.filter(corrects__isnull=False).exists()  # generate_data makes corrections
    sql = _dashboard_latest_published(people)
    new = ("cases_assessment_recent", "cases_assessment_corrections")
    for statistics in ("none", "all", "all but the new indexes"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone():
                cursor.execute("DELETE FROM sqlite_stat1")
            if statistics != "none":
                cursor.execute("ANALYZE")
            if statistics == "all but the new indexes":
                cursor.execute("DELETE FROM sqlite_stat1 WHERE idx IN (%s, %s)", new)
            cursor.execute("ANALYZE sqlite_schema")  # reload the statistics into the planner
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = [row[3] for row in cursor.fetchall()]
        assert "SEARCH cases_assessment USING INDEX cases_assessment_recent (review_state=?)" in plan, plan
        assert not any("TEMP B-TREE" in step for step in plan), (statistics, plan)
        # (A covering index: the subquery reads only the key.)
        assert (
            "SEARCH U0 USING COVERING INDEX cases_assessment_corrections (corrects_id=? AND review_state=?)"
            in plan
        ), (
            statistics,
            plan,
        )


def test_the_check_catches_a_query_no_index_serves(people):
    """The check can fail: a filter on an unindexed column of the assessments is a full scan."""
    explainer = queryplans.Explainer(connection, queryplans.big_tables())
    with connection.execute_wrapper(explainer):
        list(Assessment.objects.filter(rationale__contains="water").order_by().values_list("id", flat=True))
    (query,) = explainer.queries
    assert query.scans, query.plan
    assert "cases_assessment" in query.scans[0]

    explainer = queryplans.Explainer(connection, queryplans.big_tables())
    with connection.execute_wrapper(explainer):
        list(Assessment.objects.filter(pk=1).values_list("id", flat=True))
    assert explainer.queries[0].scans == []


def test_sqlite_aliases_are_resolved_to_their_tables():
    sql = (
        'SELECT U0."id" FROM "cases_assessment" U0 INNER JOIN "cases_recommendation" T3 ON (U0."x" = T3."id")'
    )
    big = {"cases_assessment"}
    assert queryplans.sqlite_full_scans(["SCAN U0"], sql, big) == ["SCAN U0 (cases_assessment: no index)"]
    assert queryplans.sqlite_full_scans(["SCAN U0 USING INDEX i"], sql, big) == []
    assert queryplans.sqlite_full_scans(["SCAN T3"], sql, big) == []  # not a big table here


def test_postgresql_seq_scans_are_found_anywhere_in_the_tree():
    tree = {
        "Node Type": "Nested Loop",
        "Plans": [
            {"Node Type": "Index Scan", "Relation Name": "cases_recommendation", "Index Cond": "(id = 1)"},
            {"Node Type": "Seq Scan", "Relation Name": "cases_assessment", "Filter": "(rationale ~~ '%w%')"},
            {"Node Type": "Seq Scan", "Relation Name": "cases_theme"},
        ],
    }
    found = queryplans.postgresql_seq_scans(tree, {"cases_assessment", "cases_recommendation"})
    assert found == ["Seq Scan on cases_assessment ((rationale ~~ '%w%'))"]
