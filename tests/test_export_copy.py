# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""On PostgreSQL the recommendation export is written by the database (`COPY … TO STDOUT`, csv_copy.py):
the same bytes as the serializer (tests/test_export_fast.py runs on PostgreSQL too), and here: that path is
the one taken, it still streams a chunk at a time, odd cells (empty strings, codes a URL must quote) come out
as the serializer writes them, and the statement timeout it lifts (and JIT, which it turns off) are back afterwards — also when the
download is abandoned half way (issue 14)."""

from __future__ import annotations

import pytest
from django.db import connection

from cases.api import csv_copy, export
from tests.factories import make_document, make_recommendation
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    viewer_client,
    world,
)
from tests.test_export_fast import PATH, serialized_export

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's COPY"),
]


@pytest.fixture
def odd(world):
    document = make_document("odd-doc", title="Odd")
    return [
        make_recommendation(document, "A 100%/b?c#d", "", "x"),
        make_recommendation(document, "plain.code~1", "1", '"'),
        make_recommendation(document, "\\.", "\\.", "\\.\n\\."),
        make_recommendation(document, "it's(1)!*", "2", ",", addressee="state"),
    ]


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def jit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        return cursor.fetchone()[0]


def test_postgresql_writes_the_csv_and_it_is_the_serializers(world, odd, monkeypatch):
    calls = []
    original = csv_copy.copy_chunks

    def spy(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(csv_copy, "copy_chunks", spy)
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 2)
    client = viewer_client(world, "partners_key")
    response = client.get(PATH)
    chunks = list(response.streaming_content)
    assert len(calls) == 1
    assert calls[0][1].startswith("COPY (SELECT ")
    expected = serialized_export(client)
    assert b"".join(chunks) == expected
    # The header, then a chunk every two rows: the stream keeps moving (gunicorn's StreamingHeartbeat).
    rows = expected.count(b"\r\n") - 1
    assert len(chunks) == 1 + (rows + 1) // 2
    assert all(chunk.endswith(b"\r\n") for chunk in chunks)
    body = b"".join(chunks).decode()
    # An empty paragraph (or themes) is an empty field, not "" (COPY's way of writing an empty string).
    assert "\r\nA 100%/b?c#d,odd-doc,,x,state,," in body
    assert "/api/v1/recommendations/A%20100%25/b%3Fc%23d/" in body
    assert "/api/v1/recommendations/it's(1)!*/" in body


def test_the_statement_timeout_is_back_after_an_export(world, odd):
    before = statement_timeout(), jit()
    assert before[0] != "0"
    client = viewer_client(world, "public_key")
    b"".join(client.get(PATH).streaming_content)
    assert (statement_timeout(), jit()) == before


def test_an_abandoned_export_cancels_the_copy_and_leaves_the_connection_usable(world, odd):
    from cases.api.csv_rows import RecommendationRows
    from cases.models import Recommendation
    from cases.translations.models import with_all_translations

    before = statement_timeout(), jit()
    stream = RecommendationRows(None, chunk_size=1).stream(
        with_all_translations(Recommendation.objects.order_by("id"))
    )
    assert next(stream).startswith(b"code,document,")  # the header
    assert next(stream).count(b"\r\n") == 1  # one row: the COPY is running
    stream.close()  # the client went away: the server closes the response's iterator
    assert (statement_timeout(), jit()) == before
    assert Recommendation.objects.filter(code="plain.code~1").exists()
