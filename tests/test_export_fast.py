# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""The recommendation export written from `values_list()` rows (cases/api/csv_rows.py) is the serializer's
CSV to the byte: same header, cells, escaping, links, order and visibility, for every kind of viewer, on
nasty text, across chunks, with filters and orderings (issue 14)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.exceptions import ImproperlyConfigured

from cases.api import csv_rows, export
from cases.models import Recommendation, Theme
from cases.translations.models import RecommendationTranslation
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
