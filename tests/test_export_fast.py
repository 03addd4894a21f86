# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""The recommendation export written straight from the database is the serializer's CSV to the byte: same
header, cells, escaping, links, order and visibility, for every kind of viewer, on nasty text, across chunks,
with filters and orderings (issue 14). The database writes the lines where it can (cases/api/csv_lines.py
on SQLite, csv_copy.py on PostgreSQL); the rows written in Python (csv_rows.py) are the fallback, checked
here too."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from cases.api import csv_lines, csv_rows, export
from cases.models import Recommendation, Theme
from cases.translations.models import RecommendationTranslation, with_all_translations
from tests.factories import make_document, make_recommendation
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    viewer_client,
    world,
)

pytestmark = pytest.mark.django_db

PATH = "/api/v1/export/recommendations.csv"
VIEWERS = ["public_key", "partners_key", "alice", "mallory"]

QUOTED = "He said \"release them\", then: 'now'; a, b"
MULTILINE = "First line\r\nsecond line\nthird\rfourth"
UYGHUR = "ئۇيغۇر ئاپتونوم رايونى: «قويۇپ بېرىش»"
CHINESE = '立即释放所有被任意剥夺自由的人,"包括"新疆'
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def nasty(world):
    """Recommendations whose every text column is hostile or non-Latin, themes whose slugs sort differently
    by bytes and by a linguistic collation, translations, datetimes with and without microseconds, and a
    state claim that is not published (which services never leave; the export checks again)."""
    document = make_document("=doc-ug", title="Document")
    zeta = Theme.objects.create(slug="zeta", name="Zeta")
    minus = Theme.objects.create(slug="-minus", name="=Minus")
    under = Theme.objects.create(slug="a_b", name="A b")
    dash = Theme.objects.create(slug="a-c", name="A c")
    texts = [QUOTED, MULTILINE, UYGHUR, CHINESE, *FORMULAS, "", " leading space", "trailing,comma,"]
    recommendations = []
    for i, text in enumerate(texts):
        paragraph = f"{FORMULAS[i % len(FORMULAS)]}{i}" if i % 2 else f"{i}(ii)"
        recommendations.append(
            make_recommendation(document, f"NASTY-{i:02d}", paragraph, text or "-", addressee="state")
        )
    # Codes that reverse() would quote, and one a spreadsheet would read as a formula.
    recommendations.append(make_recommendation(document, "ug-ئۇيغۇر-1", "1", UYGHUR))
    recommendations.append(make_recommendation(document, "-zh-维吾尔-2", "2", CHINESE))
    recommendations[0].themes.add(zeta, minus, under, dash)
    recommendations[2].themes.add(minus)
    recommendations[3].themes.add(dash, under)
    recommendations[-1].themes.add(zeta)
    for rec, language, text in [
        (recommendations[0], "zh-hans", CHINESE),
        (recommendations[0], "ug", UYGHUR),
        (recommendations[1], "zh-hans", "=1+2"),
        (recommendations[2], "ug", MULTILINE),
        (recommendations[-2], "zh-hans", QUOTED),
    ]:
        RecommendationTranslation.objects.create(recommendation=rec, language=language, text=text)
    whole_second = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
    Recommendation.objects.filter(pk=recommendations[0].pk).update(status_updated_at=whole_second)
    Recommendation.objects.filter(pk=recommendations[1].pk).update(
        status_updated_at=whole_second.replace(microsecond=123456)
    )
    # A recommendation pointing at an unpublished claim: the claim's columns stay empty.
    Recommendation.objects.filter(pk=recommendations[4].pk).update(state_claim=world.submitted)
    return recommendations


def serialized_export(client, params=None) -> bytes:
    """The export as the DRF serializer writes it (the path every other resource takes)."""
    original = export.RecommendationExport.row_reader
    export.RecommendationExport.row_reader = None
    try:
        response = client.get(PATH, params or {})
        assert response.status_code == 200
        return b"".join(response.streaming_content)
    finally:
        export.RecommendationExport.row_reader = original


def fast_export(client, params=None) -> bytes:
    assert export.RecommendationExport.row_reader is csv_rows.RecommendationRows
    response = client.get(PATH, params or {})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ordering": "-updated_at"},
        {"document": "=doc-ug"},
        {"theme": "-minus"},
        {"q": "release"},
        {"implementation_status": "not_implemented"},
    ],
)
def test_the_fast_export_is_the_serializers_to_the_byte(world, nasty, monkeypatch, viewer, params):
    # Chunks of 3, so rows and their themes span many chunks.
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 3)
    client = viewer_client(world, viewer)
    expected = serialized_export(client, params)
    got = fast_export(client, params)
    assert got == expected
    assert got.count(b"\n") > 1 or params  # not two empty files


@pytest.mark.parametrize("viewer", ["public_key", "alice"])
@pytest.mark.parametrize("params", [{}, {"ordering": "-updated_at"}, {"q": "release"}])
def test_the_rows_written_in_python_are_the_serializers_too(world, nasty, monkeypatch, viewer, params):
    # The fallback (a time zone other than UTC, `database_writes` off): csv_rows.py writes each line.
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 3)
    monkeypatch.setattr(csv_rows.RecommendationRows, "database_writes", False)
    client = viewer_client(world, viewer)
    assert fast_export(client, params) == serialized_export(client, params)


SPECIAL = [",", '"', "\r", "\n"]


@pytest.fixture
def specials(world):
    """Every character csv.writer quotes for, alone, first, last and doubled, with and without a formula
    trigger in front, in every text column that can hold it (the code, the document, the paragraph, the
    text, the themes, the translations); empty strings beside NULLs; codes reverse() percent-encodes; and
    datetimes stored otherwise than Django stores them."""
    made = []
    for i, character in enumerate(SPECIAL):
        for j, value in enumerate(
            [character, f"a{character}", f"{character}b", f"={character}", character * 2]
        ):
            document = make_document(f"d{i}{j}{value}", title="Special")
            code = f"c{i}{j}{value}"
            rec = make_recommendation(document, code, f"p{value}", f"t{value}")
            rec.themes.add(Theme.objects.create(slug=f"s{i}{j}{value}", name=f"Special {i}{j}"))
            RecommendationTranslation.objects.create(recommendation=rec, language="ug", text=value)
            made.append(rec)
    document = make_document("empties", title="Empty")
    # Empty strings, not NULLs: a paragraph, a text, a translation, a code (no link then).
    empty = make_recommendation(document, "", "", "x")
    Recommendation.objects.filter(pk=empty.pk).update(text="")
    RecommendationTranslation.objects.create(recommendation=empty, language="zh-hans", text="")
    # Codes that reverse() quotes, one with a comma (kept in the link, so the link is quoted too).
    for code in ["A 100%/b?c#d", "a,b", 'q"q', "\\.", "it's(1)!*", "plain.code~1", "=sum(1)"]:
        made.append(make_recommendation(document, code, f"p-{code}", "y"))
    if connection.vendor != "sqlite":
        return made
    # SQLite's datetimes (text): without and with microseconds as Django stores them, six zeros, and stored
    # in other ways that Django and csv_rows.DatetimeCells still read.
    stored = [
        "2024-03-01 12:00:00",
        "2024-03-01 12:00:00.000001",
        "2024-03-01 12:00:00.000000",
        "2024-03-01T12:00:00",
        "2024-03-01 12:00:00.5",
        "2024-03-01 14:00:00+02:00",
    ]
    with connection.cursor() as cursor:
        for rec, value in zip(made, stored, strict=False):
            cursor.execute(
                "UPDATE cases_recommendation SET status_updated_at = %s WHERE id = %s", [value, rec.pk]
            )
    return made


@pytest.mark.parametrize("params", [{}, {"ordering": "-updated_at"}, {"document": "empties"}])
@pytest.mark.parametrize("database_writes", [True, False])
def test_every_special_character_in_every_column(world, specials, monkeypatch, params, database_writes):
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 4)
    monkeypatch.setattr(csv_rows.RecommendationRows, "database_writes", database_writes)
    client = viewer_client(world, "public_key")
    expected = serialized_export(client, params)
    got = fast_export(client, params)
    assert got == expected
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(got.decode(), newline=""))}
    if not params:
        assert rows["c20\r"]["text"] == "t\r"
        assert rows['c11a"']["themes"] == 's11a"'
        assert rows["c33=\n"]["translations.ug"] == "'=\n"
        assert rows["c03=,"]["document"] == "d03=,"
        assert rows[""]["url"] == rows[""]["text"] == rows[""]["paragraph"] == ""
        assert rows["a,b"]["url"] == "http://testserver/api/v1/recommendations/a,b/"
        assert rows['q"q']["url"] == "http://testserver/api/v1/recommendations/q%22q/"
        assert rows["'=sum(1)"]["url"] == "http://testserver/api/v1/recommendations/=sum(1)/"


def test_sqlite_writes_the_lines_and_falls_back_outside_utc(world, nasty, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's path (csv_lines.py)")
    calls = []
    original = csv_lines.line_chunks

    def spy(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(csv_lines, "line_chunks", spy)
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 2)
    client = viewer_client(world, "partners_key")
    response = client.get(PATH)
    chunks = list(response.streaming_content)
    assert len(calls) == 1
    expected = serialized_export(client)
    assert b"".join(chunks) == expected
    # The header, then a chunk every two rows: the stream keeps moving (gunicorn's StreamingHeartbeat).
    rows = len(list(csv.reader(io.StringIO(expected.decode(), newline="")))) - 1
    assert len(chunks) == 1 + (rows + 1) // 2
    assert all(chunk.endswith(b"\r\n") for chunk in chunks)

    # Another time zone: the rows are written in Python, with the zone's offsets, as the serializer does.
    with timezone.override("Asia/Shanghai"):
        got = fast_export(client)
        assert got == serialized_export(client)
    assert len(calls) == 1
    assert b"+08:00" in got


def test_themes_come_in_slug_order_whatever_order_they_were_added(world):
    document = make_document("themes-order", title="Order")
    rec = make_recommendation(document, "ORDER-1", "1", "x")
    slugs = ["zz", "z-a", "m", "b_2", "b-1", "a2", "a10", "A", "-x"]
    themes = [Theme.objects.create(slug=slug, name=slug) for slug in slugs]  # ids in this order
    for theme in reversed(themes[::2]):
        rec.themes.add(theme)
    for theme in themes[1::2]:
        rec.themes.add(theme)
    client = viewer_client(world, "public_key")
    got = fast_export(client, {"document": "themes-order"})
    (row,) = csv.DictReader(io.StringIO(got.decode()))
    assert row["themes"] == "'" + "; ".join(sorted(slugs))  # -x first: a formula trigger, defused
    assert got == serialized_export(client, {"document": "themes-order"})


@pytest.mark.parametrize("database_writes", [True, False])
def test_a_set_no_row_can_be_in_is_the_header_alone(world, monkeypatch, database_writes):
    monkeypatch.setattr(csv_rows.RecommendationRows, "database_writes", database_writes)
    queryset = with_all_translations(Recommendation.objects.filter(pk__in=[]))
    rows = csv_rows.RecommendationRows(None).stream(queryset)
    assert b"".join(rows) == b",".join(c.encode() for c in csv_rows.RECOMMENDATION_COLUMNS) + b"\r\n"


def test_what_a_partner_reads_from_the_nasty_rows(world, nasty):
    rows = list(csv.DictReader(io.StringIO(fast_export(viewer_client(world, "public_key")).decode())))
    by_code = {row["code"]: row for row in rows}
    assert len(rows) == Recommendation.objects.count()
    assert by_code["NASTY-00"]["text"] == QUOTED
    assert by_code["NASTY-01"]["text"] == MULTILINE
    assert by_code["NASTY-02"]["text"] == UYGHUR
    assert by_code["NASTY-03"]["text"] == CHINESE
    # Formulas are defused, in the text, the paragraph, the themes list and the translations.
    assert by_code["NASTY-04"]["text"] == "'" + FORMULAS[0]
    assert by_code["NASTY-07"]["text"] == "'@SUM(A1)"
    assert by_code["NASTY-01"]["paragraph"] == "'+1+11"
    assert by_code["NASTY-00"]["themes"] == "'-minus; a-c; a_b; zeta"
    assert by_code["NASTY-02"]["themes"] == "'-minus"
    assert by_code["NASTY-03"]["themes"] == "a-c; a_b"
    assert by_code["NASTY-00"]["document"] == "'=doc-ug"
    assert by_code["NASTY-00"]["translations.zh-hans"] == CHINESE
    assert by_code["NASTY-00"]["translations.ug"] == UYGHUR
    assert by_code["NASTY-01"]["translations.zh-hans"] == "'=1+2"
    assert by_code["'-zh-维吾尔-2"]["url"].endswith(
        "/api/v1/recommendations/-zh-%E7%BB%B4%E5%90%BE%E5%B0%94-2/"
    )
    assert by_code["ug-ئۇيغۇر-1"]["url"].startswith("http://testserver/api/v1/recommendations/ug-%D8")
    # Datetimes as DRF writes them: UTC with a Z, microseconds only when there are some.
    assert by_code["NASTY-00"]["status_updated_at"] == "2024-03-01T12:00:00Z"
    assert by_code["NASTY-01"]["status_updated_at"] == "2024-03-01T12:00:00.123456Z"
    # The unpublished claim is not exported; the published one (the correction) is.
    assert [by_code["NASTY-04"][f"state_claim.{name}"] for name in ("id", "url", "assessed_on")] == [
        "",
        "",
        "",
    ]
    claimed = by_code["XJ22-151-i"]
    assert claimed["state_claim.id"] == str(world.correction.pk)
    assert claimed["state_claim.url"] == f"http://testserver/api/v1/assessments/{world.correction.pk}/"
    assert claimed["state_claim.implementation_status"] == "partially_implemented"


def test_columns_that_drift_from_the_serializer_refuse_to_export(world, monkeypatch):
    # A field added to the serializer but not to the fast rows must not silently export without it.
    monkeypatch.setattr(csv_rows.RecommendationRows, "columns", csv_rows.RECOMMENDATION_COLUMNS[:-1])
    client = viewer_client(world, "public_key")
    client.raise_request_exception = True
    with pytest.raises(ImproperlyConfigured):
        client.get(PATH)


def test_the_fast_rows_name_every_serializer_column(world):
    from cases.api.renderers import csv_columns
    from cases.api.serializers import RecommendationSerializer

    assert csv_columns(RecommendationSerializer()) == csv_rows.RECOMMENDATION_COLUMNS
