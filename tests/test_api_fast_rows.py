# Fixtures are imported from test_api_support and test_export_fast, which ruff reads as redefinitions.
# ruff: noqa: F811
"""RecommendationSerializer writes its fields directly (issue 14: the API page was 2.6x its floor); what it
writes is what DRF's field-by-field path writes, for every recommendation, in JSON pages, CSV pages and
details, for every kind of viewer, on nasty text."""

from __future__ import annotations

import pytest
from rest_framework import serializers as drf_serializers
from rest_framework.test import APIRequestFactory

from cases.api import serializers, views
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    viewer_client,
    world,
)
from tests.test_export_fast import VIEWERS, nasty  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def generic(monkeypatch):
    """Make RecommendationSerializer take DRF's generic path (its fallback when the fields differ)."""
    monkeypatch.setattr(serializers, "FAST_RECOMMENDATION_FIELDS", ["not", "these"])


def test_each_row_is_what_drf_writes(world, nasty):
    request = APIRequestFactory().get("/api/v1/recommendations/")
    view = views.RecommendationViewSet()
    view.request, view.format_kwarg, view.kwargs = request, None, {}
    queryset = view.get_queryset().order_by("code")
    serializer = serializers.RecommendationSerializer(context={"request": request})
    rows = list(queryset)
    assert len(rows) > 10
    for recommendation in rows:
        fast = serializer.to_representation(recommendation)
        reference = drf_serializers.ModelSerializer.to_representation(serializer, recommendation)
        assert fast == reference, recommendation.code
        assert list(fast) == list(reference)
    # The unpublished claim is withheld; the published one shown.
    by_code = {r.code: serializer.to_representation(r) for r in rows}
    assert by_code["NASTY-04"]["state_claim"] is None
    assert by_code["XJ22-151-i"]["state_claim"]["id"] == world.correction.pk


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/recommendations/",
        "/api/v1/recommendations/?format=csv",
        "/api/v1/recommendations/?page_size=5&ordering=-updated_at",
        "/api/v1/recommendations/?theme=-minus",
        "/api/v1/recommendations/NASTY-00/",
        "/api/v1/recommendations/ug-%D8%A6%DB%87%D9%8A%D8%BA%DB%87%D8%B1-1/",
        "/api/v1/recommendations/XJ22-151-i/?format=csv",
    ],
)
def test_pages_are_byte_for_byte_the_same(world, nasty, monkeypatch, viewer, path):
    client = viewer_client(world, viewer)
    fast = client.get(path)
    assert fast.status_code == 200
    generic(monkeypatch)
    reference = client.get(path)
    assert fast.content == reference.content
    assert fast.get("Link") == reference.get("Link")


def test_the_fast_fields_are_the_serializers(world):
    assert list(serializers.RecommendationSerializer().fields) == serializers.FAST_RECOMMENDATION_FIELDS


def test_rows_without_the_apis_annotations_too(world, nasty):
    # The web's download (cases/ui_exports) serialises recommendations read without the translations.
    from cases.models import Recommendation

    request = APIRequestFactory().get("/recommendations/export")
    serializer = serializers.RecommendationSerializer(context={"request": request})
    for recommendation in Recommendation.objects.select_related("document", "state_claim").order_by("code"):
        reference = drf_serializers.ModelSerializer.to_representation(serializer, recommendation)
        assert serializer.to_representation(recommendation) == reference
        assert reference["translations"] == {"zh-hans": None, "ug": None}
