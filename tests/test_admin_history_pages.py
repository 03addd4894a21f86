"""The admin's audit pages say who did what: each review action with its own actor, the assessment's
review trail on its History page (its own organisation's alone), and a readable recommendation history."""

from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import Basis, StateResponse
from tests.factories import make_user, submit


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:cases_{model}_{view}", args=args)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(response) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.fixture
def world(personas):
    """Alice's assessment returned by Dave with a comment, resubmitted, then published by Carol; and
    another organisation's published assessment, returned by Oscar first."""
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    olga = make_user("olga", role="curator", organisation=p.other_org)
    assessment = submit(p.rec, p.alice, [p.public_ev], state_response=StateResponse.REJECTED)
    services.return_assessment(assessment, reviewer=p.dave, comment="Cite the hearing transcript.")
    services.resubmit_assessment(assessment, author=p.alice)
    services.publish_assessment(assessment, reviewer=p.carol)
    theirs = submit(p.rec, p.mallory, [p.public_ev], rationale="Mallory's finding.")
    services.return_assessment(theirs, reviewer=oscar, comment="Oscar's private remark.")
    services.resubmit_assessment(theirs, author=p.mallory)
    services.publish_assessment(theirs, reviewer=olga)
    return SimpleNamespace(**vars(p), oscar=oscar, olga=olga, assessment=assessment, theirs=theirs)


class TestAssessmentPage:
    def test_each_review_action_shows_its_own_actor(self, world):
        page = text_of(client_for(world.carol).get(url("assessment", "change", world.assessment.pk)))
        # Dave's return comment is not set beside Carol's name as if she wrote it.
        assert "Reviewer: carol" not in page
        assert "Review comment:" not in page
        assert "Published by: carol" in page
        # The review trail carries the comment with the one who wrote it.
        assert re.search(r"Submitted Returned dave Cite the hearing transcript\.", page)
        assert re.search(r"Submitted Published carol", page)

    def test_a_returned_assessment_names_who_returned_it(self, world):
        draft = submit(world.rec2, world.alice, [world.public_ev])
        services.return_assessment(draft, reviewer=world.dave, comment="Say which camp.")
        page = text_of(client_for(world.carol).get(url("assessment", "change", draft.pk)))
        assert "Returned by: dave" in page
        assert "Published by" not in page

    def test_another_organisations_published_assessment_keeps_its_review_private(self, world):
        page = text_of(client_for(world.carol).get(url("assessment", "change", world.theirs.pk)))
        assert "Mallory's finding." in page
        assert "Oscar's private remark." not in page
        assert "oscar" not in page
        assert "olga" not in page


class TestAssessmentHistory:
    def test_history_lists_the_review_transitions(self, world):
        response = client_for(world.carol).get(url("assessment", "history", world.assessment.pk))
        assert response.status_code == 200
        page = text_of(response)
        assert "have a change history" not in page
        when = world.assessment.transitions.get(to_state="returned").created_at
        stamp = timezone.localtime(when).strftime("%Y-%m-%d %H:%M")
        assert f"{stamp} dave Submitted Returned Cite the hearing transcript." in page
        assert "carol Submitted Published" in page
        assert "alice Returned Submitted" in page
        assert page.count("alice") >= 2

    def test_another_organisations_history_hides_actors_and_comments(self, world):
        response = client_for(world.carol).get(url("assessment", "history", world.theirs.pk))
        assert response.status_code == 200
        page = text_of(response)
        assert "Oscar's private remark." not in page
        assert "oscar" not in page and "olga" not in page and "mallory" not in page

    def test_the_other_organisations_curator_sees_its_own_trail(self, world):
        page = text_of(client_for(world.oscar).get(url("assessment", "history", world.theirs.pk)))
        assert "oscar Submitted Returned Oscar's private remark." in page
        assert "olga Submitted Published" in page

    def test_an_unseen_assessment_has_no_history_page(self, world):
        draft = submit(world.rec2, world.mallory, [world.public_ev], rationale="Mallory's draft.")
        response = client_for(world.carol).get(url("assessment", "history", draft.pk))
        assert response.status_code in (302, 404)
        assert "Mallory's draft." not in response.content.decode()


class TestRecommendationHistory:
    def test_history_shows_labels_minutes_and_no_deleted_placeholder(self, world):
        page = text_of(client_for(world.carol).get(url("recommendation", "history", world.rec.pk)))
        assert "Implementation status: Not assessed" in page
        assert "Not implemented" in page
        assert "State response: No response" in page
        assert "not_assessed" not in page and "no_response" not in page
        assert "pk=None" not in page and "Deleted assessment" not in page
        assert not re.search(r"\d\d:\d\d:\d\d", page)
        updated = timezone.localtime(world.rec.status_updated_at).strftime("%Y-%m-%d %H:%M")
        assert updated in page

    def test_a_state_claim_reads_as_the_assessment(self, world):
        claim = submit(world.rec2, world.alice, [world.public_ev], basis=Basis.STATE_CLAIM)
        services.publish_assessment(claim, reviewer=world.carol)
        page = text_of(client_for(world.carol).get(url("recommendation", "history", world.rec2.pk)))
        assert "pk=None" not in page and "Deleted assessment" not in page
        assert f"State's latest claim: — → {claim}" in page
