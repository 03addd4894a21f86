"""The recommendation lists' totals without counting every row (cases.list_count, issue 14), and the review
queue read in index order: exact totals from the maintained counts, a bounded count past the threshold,
pages still reachable, the same number of queries, and the queue's plan."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from cases import access, list_count
from cases.models import Addressee, Recommendation, ReviewState, Theme
from tests.factories import make_document, submit
from tests.test_web_read import codes_in_order, publish, text_of


def _bulk(document, count: int, *, addressee=Addressee.STATE, prefix="B") -> None:
    Recommendation.objects.bulk_create(
        Recommendation(
            document=document,
            code=f"{prefix}-{n:04d}",
            paragraph=f"{prefix}{n}",
            text=f"Bulk recommendation {n}.",
            addressee=addressee,
            position=n,
        )
        for n in range(count)
    )


@pytest.fixture
def signed_in(client, personas):
    client.force_login(personas.alice)
    return client


def test_unfiltered_and_status_filtered_totals_are_exact_from_the_maintained_counts(
    signed_in, personas, monkeypatch
):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev])  # not implemented
    _bulk(p.document, 60)
    # Past the threshold: the exact total still, since these filters are the maintained counts' key.
    monkeypatch.setattr(list_count, "COUNT_THRESHOLD", 10)
    assert "1\N{EN DASH}50 of 62 recommendations" in text_of(
        signed_in.get("/recommendations/"), "result-count"
    )
    response = signed_in.get("/recommendations/?implementation_status=not_assessed&document=xj22")
    assert "1\N{EN DASH}50 of 61 recommendations" in text_of(response, "result-count")
    response = signed_in.get("/recommendations/?implementation_status=not_implemented")
    assert "1 recommendation" in text_of(response, "result-count")
    assert codes_in_order(response) == [p.rec.code]


def test_other_filters_are_counted_exactly_below_the_threshold_and_bounded_past_it(
    signed_in, personas, monkeypatch
):
    p = personas
    _bulk(p.document, 200, addressee=Addressee.BUSINESS)
    url = "/recommendations/?addressee=business&sort=code"
    # 200 + the personas' business recommendation.
    assert "1\N{EN DASH}50 of 201 recommendations" in text_of(signed_in.get(url), "result-count")
    monkeypatch.setattr(list_count, "COUNT_THRESHOLD", 100)
    first = signed_in.get(url)
    # The bound: the threshold, or two pages past the one asked for if that is more (here 150 rows).
    assert "1\N{EN DASH}50 of more than 150 recommendations (filtered)" in text_of(first, "result-count")
    html = first.content.decode()
    assert 'href="?addressee=business&amp;sort=code&amp;page=2" rel="next"' in html
    assert 'href="?addressee=business&amp;sort=code&amp;page=3"' in html
    assert "page=4" not in html
    # Every page stays reachable: asking for a page extends the count past it, exact once it reaches the end.
    third = signed_in.get(url + "&page=3")
    assert "101\N{EN DASH}150 of 201 recommendations" in text_of(third, "result-count")
    assert 'href="?addressee=business&amp;sort=code&amp;page=4" rel="next"' in third.content.decode()
    last = signed_in.get(url + "&page=5")
    assert "201\N{EN DASH}201 of 201 recommendations" in text_of(last, "result-count")
    assert codes_in_order(last) == ["XJ22-152-i"]
    assert 'rel="next"' not in last.content.decode()
    # A search is bounded the same way.
    response = signed_in.get("/recommendations/?q=bulk")
    assert "of more than 150 recommendations" in text_of(response, "result-count")


def test_a_theme_filter_counts_only_the_matching_rows(signed_in, personas):
    theme = Theme.objects.get(slug="arbitrary-detention")
    response = signed_in.get(f"/recommendations/?theme={theme.slug}")
    assert "1 recommendation" in text_of(response, "result-count")
    assert codes_in_order(response) == [personas.rec.code]


def test_an_invalid_filter_shows_no_total_and_no_rows(signed_in):
    response = signed_in.get("/recommendations/?implementation_status=bogus")
    assert "Correct the filters to see results." in text_of(response, "result-count")
    assert codes_in_order(response) == []


@pytest.mark.parametrize(
    ("query", "budget"),
    # The document filter adds its own lookup of the chosen document (the filter form's validation).
    [
        ("", 8),
        ("?addressee=business", 8),
        ("?q=release", 8),
        ("?document=xj22&state_response=no_response", 9),
    ],
)
def test_list_queries_stay_constant_on_every_count_path(
    client, personas, django_assert_num_queries, query, budget
):
    from tests.test_web_read import get_within_budget

    client.force_login(personas.alice)
    # session, user, membership with groups, the total, the page's rows, their themes, the form's
    # documents and themes.
    get_within_budget(client, django_assert_num_queries, f"/recommendations/{query}", budget)
    _bulk(personas.document, 70, addressee=Addressee.BUSINESS)
    _bulk(make_document("other"), 70, prefix="C")
    get_within_budget(client, django_assert_num_queries, f"/recommendations/{query}", budget)


def test_public_search_uses_the_same_totals(personas, settings, monkeypatch):
    settings.PUBLIC_SITE = True
    _bulk(personas.document, 200, addressee=Addressee.BUSINESS)
    monkeypatch.setattr(list_count, "COUNT_THRESHOLD", 100)
    response = Client().get("/public/search/?addressee=business")
    assert response.status_code == 200
    assert "1\N{EN DASH}50 of more than 150 recommendations" in text_of(response, "result-count")
    response = Client().get("/public/search/")
    assert "1\N{EN DASH}50 of 202 recommendations" in text_of(response, "result-count")


@pytest.mark.parametrize("sort", ["paragraph", "code", "status", "updated"])
def test_deep_pages_are_the_same_rows_by_the_deferred_join(signed_in, personas, sort):
    """A page's keys come from the bare filtered rows, then only those get the list's joins: every page shows
    exactly the rows (and order) a plain OFFSET over the joined rows gives, filtered or not, in every sort."""
    from django.test.utils import CaptureQueriesContext

    from cases.views import RECOMMENDATION_SORTS

    p = personas
    _bulk(p.document, 130)
    _bulk(p.document, 40, addressee=Addressee.BUSINESS, prefix="C")
    publish(p.rec, p.alice, p.carol, [p.public_ev])
    for query in ("", "&addressee=business"):
        ordered = Recommendation.objects.order_by(*RECOMMENDATION_SORTS[sort].ordering)
        if query:
            ordered = ordered.filter(addressee=Addressee.BUSINESS)
        expected = list(ordered.for_list().values_list("code", flat=True))
        shown = []
        for page in range(1, len(expected) // 50 + 2):
            with CaptureQueriesContext(connection) as queries:
                response = signed_in.get(f"/recommendations/?sort={sort}&page={page}{query}")
            shown += codes_in_order(response)
        assert shown == expected
    # The rows query reads its keys in a subquery: one query, not one per key.
    rows_sql = [q["sql"] for q in queries.captured_queries if "IN (SELECT" in q["sql"]]
    assert rows_sql, [q["sql"][:200] for q in queries.captured_queries]


# --- the review queue ------------------------------------------------------------------------------------


def test_review_queue_is_read_in_index_order_for_one_organisation(personas):
    p = personas
    for _ in range(3):
        submit(p.rec, p.alice, [p.public_ev])
    submit(p.rec, p.mallory, [p.public_ev])
    viewer = access.viewer_for_user(p.carol)
    queue = access.review_queue(viewer)[:51]
    assert {a.organisation_id for a in queue} == {viewer.organisation_id}
    assert [a.review_state for a in queue] == [ReviewState.SUBMITTED] * 3
    sql, params = queue.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A handful of rows: without this PostgreSQL rightly reads the table; the question is which index.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " | ".join(row[0] for row in cursor.fetchall())
            assert "cases_assessment_org_queue" in plan, plan
            assert "Sort" not in plan, plan  # oldest first straight from the index
            return
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(row[-1] for row in cursor.fetchall())
    assert "cases_assessment_org_queue (organisation_id=? AND review_state=?)" in plan
    assert "TEMP B-TREE" not in plan  # oldest first straight from the index: no sort of everything waiting


# --- a text search with many matches ---------------------------------------------------------------------


def _rows_query(captured) -> str:
    return next(q["sql"] for q in captured.captured_queries if "claim_status" in q["sql"])


@pytest.mark.parametrize("sort", ["paragraph", "code", "status", "updated"])
def test_a_search_past_the_bound_shows_every_page_as_a_plain_search_does(
    signed_in, personas, monkeypatch, sort
):
    """Past the count's bound the search is planned to read its rows in the list's order (on SQLite a
    `+id IN (match)` semi-join, cases.search `many`): the pages must still be exactly the rows, in order, that
    the plain search gives, the search must run once in the rows query (not again around its keys), and
    below the bound the plain plan stays."""
    from django.test.utils import CaptureQueriesContext

    from cases.search import search_recommendations
    from cases.views import RECOMMENDATION_SORTS

    p = personas
    _bulk(p.document, 130)
    _bulk(make_document("other"), 40, addressee=Addressee.BUSINESS, prefix="C")
    monkeypatch.setattr(list_count, "COUNT_THRESHOLD", 60)
    ordered = Recommendation.objects.order_by(*RECOMMENDATION_SORTS[sort].ordering)
    for query, terms in (("bulk", 1), ("bulk recommendation", 2)):
        expected = list(search_recommendations(ordered, query).values_list("code", flat=True))
        assert len(expected) == 170
        shown = []
        for page in range(1, 5):
            with CaptureQueriesContext(connection) as captured:
                response = signed_in.get(f"/recommendations/?sort={sort}&page={page}&q={query}")
            shown += codes_in_order(response)
            rows_sql = _rows_query(captured)
            if connection.vendor == "sqlite":
                assert rows_sql.count("MATCH") == 2 * terms  # each term: the original and the translations
                # Page 1 counts to its bound (150 rows) and finds more: the scan in the list's order. From
                # page 2 the bound is 200 or more and the count exact: the plain plan.
                assert ("+U0" in rows_sql) == (page == 1), (page, rows_sql)
            else:
                assert rows_sql.count("to_tsquery") == 2 * terms
        assert shown == expected


def test_a_search_planned_for_many_rows_finds_the_same_rows(personas):
    from cases.search import search_recommendations
    from cases.translations.models import RecommendationTranslation

    p = personas
    _bulk(p.document, 30)
    RecommendationTranslation.objects.create(
        recommendation=Recommendation.objects.get(code="B-0003"), language="zh-hans", text="释放 bulk"
    )
    base = Recommendation.objects.order_by("code")
    for text in ("bulk", "Bulk 3", "释放", "recommendation 1", '"recommendation 2"', "b"):
        plain = list(search_recommendations(base, text).values_list("code", flat=True))
        many = list(search_recommendations(base, text, many=True).values_list("code", flat=True))
        assert many == plain, text
        assert plain, text
