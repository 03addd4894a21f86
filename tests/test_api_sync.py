# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""Incremental sync: what makes a row reappear under `updated_since`, and what must not."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases import services
from cases.models import CitedEvidenceImmutable, Document, Evidence, Theme
from tests.factories import make_evidence, submit
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    key_client,
    world,
)

pytestmark = pytest.mark.django_db


def changed(client, resource: str, since) -> list:
    response = client.get(f"/api/v1/{resource}/", {"updated_since": since.isoformat()})
    assert response.status_code == 200, response.content[:200]
    key = {"recommendations": "code", "documents": "slug", "themes": "slug"}.get(resource, "id")
    return [row[key] for row in response.json()["results"]]


@pytest.fixture
def since(world):
    """The watermark of a sync that ran just now: nothing has changed since."""
    mark = timezone.now()
    client = key_client(world.partners_secret)
    for resource in ("recommendations", "assessments", "evidence", "documents", "themes"):
        assert changed(client, resource, mark) == [], resource
    return mark


def test_publishing_an_assessment_updates_its_recommendation(world, since):
    client = key_client(world.partners_secret)
    assessment = submit(world.rec2, world.alice, [world.public_ev])
    # Submitted only: nothing has left the organisation, so nothing is new for a partner.
    assert changed(client, "recommendations", since) == []
    assert changed(client, "assessments", since) == []
    services.publish_assessment(assessment, reviewer=world.carol)
    # XJ22-152-i has a new published assessment; XJ22-151-i's linked evidence changed (it now also
    # supports XJ22-152-i), which counts as an update of XJ22-151-i too.
    assert changed(client, "recommendations", since) == ["XJ22-151-i", "XJ22-152-i"]
    # Other published assessments citing public_ev count as changed too (their evidence changed): a sync may
    # fetch a little more than strictly needed, never less.
    assert changed(client, "assessments", since)[0] == assessment.pk


def test_returning_an_assessment_is_not_an_update(world, since):
    client = key_client(world.partners_secret)
    assessment = submit(world.rec2, world.alice, [world.public_ev])
    services.return_assessment(assessment, reviewer=world.carol, comment="Add a source.")
    assert changed(client, "recommendations", since) == []
    assert changed(client, "assessments", since) == []


def test_linking_new_evidence_updates_the_recommendation(world, since):
    client = key_client(world.partners_secret)
    evidence = make_evidence(world.alice, "https://news.example.org/new", "public", [world.rec2])
    assert changed(client, "recommendations", since) == ["XJ22-152-i"]
    assert changed(client, "evidence", since) == [evidence.pk]


def test_editing_evidence_later_updates_what_rests_on_it(world, since):
    client = key_client(world.partners_secret)
    # A curator corrects the publisher in the admin (a cited source's title is frozen): only the evidence
    # row itself is saved.
    evidence = Evidence.objects.get(pk=world.partners_ev.pk)
    evidence.publisher = "Corrected publisher"
    evidence.save()
    assert changed(client, "evidence", since) == [evidence.pk]
    # It supports XJ22-151-i and is cited by the published assessment.
    assert changed(client, "recommendations", since) == ["XJ22-151-i"]
    assert changed(client, "assessments", since) == [world.published.pk]


def test_cited_evidence_cannot_be_reclassified_so_the_withheld_count_holds(world, since):
    """Issue 9 (the record holds): a published assessment's sources keep their confidentiality, so what a
    partner was told is withheld stays withheld, and nothing changes for sync."""
    client = key_client(world.partners_secret)
    before = client.get(f"/api/v1/assessments/{world.published.pk}/").json()
    assert before["withheld_evidence"] == 1
    evidence = Evidence.objects.get(pk=world.internal_ev.pk)
    evidence.confidentiality = "partners"
    with pytest.raises(CitedEvidenceImmutable):
        evidence.save()
    assert changed(client, "assessments", since) == []
    after = client.get(f"/api/v1/assessments/{world.published.pk}/").json()
    assert after["withheld_evidence"] == 1 and world.internal_ev.pk not in after["evidence"]
    assert changed(client, "evidence", since) == []


def test_documents_and_themes_sync_their_own_edits(world, since):
    client = key_client(world.partners_secret)
    Document.objects.filter(slug="xj22").get().save()
    theme = Theme.objects.get(slug="arbitrary-detention")
    theme.description = "Detention without legal basis."
    theme.save()
    assert changed(client, "documents", since) == ["xj22"]
    assert changed(client, "themes", since) == ["arbitrary-detention"]


def test_updated_since_is_inclusive(world):
    client = key_client(world.partners_secret)
    rec = client.get("/api/v1/recommendations/XJ22-151-i/").json()
    stamp = rec["updated_at"]
    assert "XJ22-151-i" in [
        r["code"] for r in client.get("/api/v1/recommendations/", {"updated_since": stamp}).json()["results"]
    ]
