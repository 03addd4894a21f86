# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""The streamed CSV export: whole filtered set, same visibility and filters as the lists, JSON errors,
formula escaping, flat memory and O(rows / chunk) queries."""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.api import export
from cases.api.csv_rows import RecommendationRows
from cases.models import Recommendation, Theme
from tests.test_api_support import (  # noqa: F401  (fixtures)
    INTERNAL_TITLE,
    INTERNAL_URL,
    LISTS,
    MALLORY_URL,
    PARTNERS_URL,
    PUBLIC_URL,
    RETURNED_RATIONALE,
    SUBMITTED_RATIONALE,
    _fresh_throttles,
    _module_world,
    key_client,
    viewer_client,
    world,
)

pytestmark = pytest.mark.django_db


def body_of(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response
    return list(csv.DictReader(io.StringIO(body_of(response))))


def bulk_recommendations(world, n: int, theme: Theme | None = None) -> None:
    Recommendation.objects.bulk_create(
        Recommendation(
            document=world.document,
            code=f"BULK-{i:05d}",
            paragraph=f"b{i}",
            text=f"Bulk recommendation {i} " + "x" * 200,
            addressee="state",
        )
        for i in range(n)
    )
    if theme:
        through = Recommendation.themes.through
        through.objects.bulk_create(
            through(recommendation_id=pk, theme_id=theme.pk)
            for pk in Recommendation.objects.filter(code__startswith="BULK-").values_list("pk", flat=True)
        )


@pytest.mark.parametrize("resource", LISTS)
def test_export_is_an_attachment_with_the_list_header(world, resource):
    client = key_client(world.partners_secret)
    response = client.get(f"/api/v1/export/{resource}.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{resource}-')
    assert "no-store" in response["Cache-Control"]
    text = body_of(response)
    page = client.get(f"/api/v1/{resource}/", {"format": "csv"}).content.decode()
    # Same header and, for a set smaller than a page, the very same rows as the CSV page.
    assert text == page


def test_export_streams_every_row_without_pagination(world):
    bulk_recommendations(world, 130)
    rows = rows_of(key_client(world.public_secret).get("/api/v1/export/recommendations.csv"))
    assert len(rows) == Recommendation.objects.count() == 132
    assert len({row["code"] for row in rows}) == 132
    assert [row["code"] for row in rows] == list(
        Recommendation.objects.order_by("code").values_list("code", flat=True)
    )


def test_export_takes_the_list_filters_and_ordering(world):
    bulk_recommendations(world, 5)
    client = key_client(world.public_secret)
    rows = rows_of(
        client.get("/api/v1/export/recommendations.csv", {"implementation_status": "not_implemented"})
    )
    assert [row["code"] for row in rows] == ["XJ22-151-i"]
    rows = rows_of(
        client.get("/api/v1/export/recommendations.csv", {"ordering": "-code", "document": "xj22"})
    )
    assert [row["code"] for row in rows][:2] == ["XJ22-152-i", "XJ22-151-i"]
    rows = rows_of(client.get("/api/v1/export/evidence.csv", {"recommendation": "XJ22-151-i"}))
    assert {row["title"] for row in rows} == {f"Source at {PUBLIC_URL}"}
    # Evidence cited only by unpublished assessments is not linked to their recommendation.
    assert rows_of(client.get("/api/v1/export/evidence.csv", {"recommendation": "XJ22-152-i"})) == []
    rows = rows_of(client.get("/api/v1/export/recommendations.csv", {"updated_since": "2999-01-01"}))
    assert rows == []


def test_empty_export_still_has_its_header(world):
    response = key_client(world.public_secret).get(
        "/api/v1/export/themes.csv", {"updated_since": "2999-01-01"}
    )
    header = "slug,name,description,updated_at,url,translations.zh-hans,translations.ug\r\n"
    assert body_of(response) == header


@pytest.mark.parametrize(
    "query", [{"updated_since": "soon"}, {"document": "nope"}, {"cursor": "x"}, {"q": "x" * 300}]
)
def test_bad_filters_are_a_json_400_before_streaming(world, query):
    response = key_client(world.public_secret).get("/api/v1/export/recommendations.csv", query)
    if "cursor" in query:
        # Not a parameter of the export (it has no pages): ignored.
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert not isinstance(response, StreamingHttpResponse)


@pytest.mark.parametrize("headers", [{}, {"accept": "text/csv"}, {"authorization": "Bearer broken"}])
def test_export_refuses_without_credentials_in_json(world, headers):
    response = Client().get("/api/v1/export/evidence.csv", {"format": "csv"}, headers=headers)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"]


def test_unknown_export_is_a_json_404(world):
    response = key_client(world.public_secret).get("/api/v1/export/users.csv")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# Everything a viewer must and must not find in the streamed exports.
EXPORT_VISIBILITY = {
    "public_key": ([PUBLIC_URL], [PARTNERS_URL, INTERNAL_URL, INTERNAL_TITLE, MALLORY_URL]),
    "partners_key": ([PUBLIC_URL, PARTNERS_URL], [INTERNAL_URL, INTERNAL_TITLE, MALLORY_URL]),
    "alice": ([PUBLIC_URL, PARTNERS_URL, INTERNAL_URL, INTERNAL_TITLE], [MALLORY_URL]),
    "mallory": ([PUBLIC_URL, PARTNERS_URL, MALLORY_URL], [INTERNAL_URL, INTERNAL_TITLE]),
}


@pytest.mark.parametrize("viewer", list(EXPORT_VISIBILITY))
def test_nothing_leaks_from_the_export(world, viewer):
    client = viewer_client(world, viewer)
    text = "".join(body_of(client.get(f"/api/v1/export/{resource}.csv")) for resource in LISTS)
    shown, hidden = EXPORT_VISIBILITY[viewer]
    for needle in shown:
        assert needle in text, f"{viewer} should see {needle!r}"
    for needle in [*hidden, SUBMITTED_RATIONALE, RETURNED_RATIONALE]:
        assert needle not in text, f"{viewer} must not see {needle!r}"
    assessments = rows_of(client.get("/api/v1/export/assessments.csv"))
    assert {row["id"] for row in assessments} == {
        str(a.pk) for a in (world.published, world.claim, world.correction)
    }
    cited = next(row for row in assessments if row["id"] == str(world.published.pk))
    visible = len(cited["evidence"].split("; "))
    assert visible + int(cited["withheld_evidence"]) == 3


def test_export_escapes_formulas(world):
    Theme.objects.create(slug="hostile", name="=cmd|' /C calc'!A0", description="@SUM(1+1)*cmd")
    rows = rows_of(key_client(world.public_secret).get("/api/v1/export/themes.csv"))
    hostile = next(row for row in rows if row["slug"] == "hostile")
    assert hostile["name"] == "'=cmd|' /C calc'!A0"
    assert hostile["description"] == "'@SUM(1+1)*cmd"


def _peak_while_streaming(client, path: str) -> tuple[int, int]:
    """Peak traced memory while the response is consumed and thrown away chunk by chunk."""
    response = client.get(path)
    assert response.status_code == 200
    tracemalloc.start()
    tracemalloc.reset_peak()
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # No response.close(): the test client already closed it when the stream ran out, with the connection
    # kept open (closing it here would end the test's transaction).
    return peak, lines


def test_memory_stays_flat_as_rows_grow(world, monkeypatch):
    # Small chunks, so the 200-row and 2000-row exports both span several chunks and the comparison is
    # between steady states, not between one partial chunk and many full ones.
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 100)
    theme = Theme.objects.get(slug="arbitrary-detention")
    client = key_client(world.public_secret)
    client.get("/api/v1/themes/")  # warm-up: imports, URL caches, last_used_at
    bulk_recommendations(world, 200, theme)
    small_peak, small_lines = _peak_while_streaming(client, "/api/v1/export/recommendations.csv")
    Recommendation.objects.bulk_create(
        Recommendation(
            document=world.document,
            code=f"MORE-{i:05d}",
            paragraph=f"m{i}",
            text="y" * 220,
            addressee="state",
        )
        for i in range(1800)
    )
    large_peak, large_lines = _peak_while_streaming(client, "/api/v1/export/recommendations.csv")
    assert (small_lines, large_lines) == (1 + 202, 1 + 2002)
    # Ten times the rows; a list-building export would need ten times the memory.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


@pytest.mark.parametrize("database_writes", [True, False])
def test_queries_grow_with_chunks_not_rows(world, monkeypatch, database_writes):
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 100)
    monkeypatch.setattr(RecommendationRows, "database_writes", database_writes)
    theme = Theme.objects.get(slug="arbitrary-detention")
    bulk_recommendations(world, 448, theme)  # 450 rows in all: 5 chunks
    client = key_client(world.public_secret)
    client.get("/api/v1/themes/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/export/recommendations.csv")
        lines = body_of(response).count("\r\n")
    assert lines == 451
    sqls = [q["sql"][:80] for q in queries.captured_queries]
    if database_writes and connection.vendor == "postgresql":
        # The database writes the CSV (cases/api/csv_copy.py): the key, then one COPY statement (not captured
        # by Django) between its savepoint and two settings, whatever the number of rows and chunks.
        assert len(queries) == 1 + 4, sqls
        assert not any("cases_recommendation" in sql for sql in sqls[1:]), sqls
        return
    if database_writes:
        # SQLite writes each line (cases/api/csv_lines.py): the key, then one query, read in chunks.
        assert len(queries) == 1 + 1, sqls
        assert sqls[1].startswith("WITH s(c0, "), sqls
        return
    # Written in Python (csv_rows.py): the key, the rows (one query, read in chunks), and the themes once
    # per chunk of 100.
    assert len(queries) == 1 + 1 + 5, sqls
