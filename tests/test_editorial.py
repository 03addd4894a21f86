"""Issue 16's editorial gaps: Publish keeps the reviewer's note and asks for confirmation; an assessment's
date lies between its document's publication and today; dates shown as ISO inside <time>; /favicon.ico;
user text set with dir="auto"."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import AssessmentTransition, ReviewState
from tests.factories import submit


@pytest.fixture
def submitted(personas):
    return submit(personas.rec, personas.alice, [personas.public_ev], rationale="Alice's rationale.")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- 1. Publish keeps the reviewer's note --------------------------------------------------------------


def test_publish_with_a_comment_keeps_it_on_the_transition(personas, submitted):
    note = "Checked against the CERD decision; the wording of 151(i) is quoted exactly."
    response = _client(personas.carol).post(
        reverse("cases:review-publish", args=[submitted.pk]), {"comment": note, "confirm": "on"}
    )

    assert response.status_code == 302 and response["Location"] == reverse("cases:review-queue")
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.PUBLISHED and submitted.reviewer == personas.carol
    last = submitted.transitions.last()
    assert (last.to_state, last.actor, last.comment) == (ReviewState.PUBLISHED, personas.carol, note)
    # A note on publication is not a "returned with this comment" note.
    assert submitted.review_comment == ""


def test_publish_service_takes_an_optional_comment(personas, submitted):
    services.publish_assessment(submitted, reviewer=personas.carol, comment="  Fine.  ")
    assert submitted.transitions.last().comment == "Fine."
    other = submit(personas.rec2, personas.alice, [personas.public_ev])
    services.publish_assessment(other, reviewer=personas.carol)
    assert other.transitions.last().comment == ""


def test_publish_without_confirmation_keeps_the_comment_and_changes_nothing(personas, submitted):
    note = "Good <work>, publishing."
    before = AssessmentTransition.objects.count()
    response = _client(personas.carol).post(
        reverse("cases:review-publish", args=[submitted.pk]), {"comment": note}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The assessment was not published: tick the box to confirm." in page
    assert "Tick “I have checked this assessment” to publish it." in page
    # The typed note is back in this item's comment box (escaped), not lost.
    assert f'id="review-{submitted.pk}-comment"' in page
    assert "Good &lt;work&gt;, publishing.</textarea>" in page
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.SUBMITTED and submitted.reviewer is None
    assert AssessmentTransition.objects.count() == before


def test_queue_offers_one_comment_box_for_publish_and_return(personas, submitted):
    page = _client(personas.carol).get(reverse("cases:review-queue")).content.decode()
    item = page[page.index(f'id="review-{submitted.pk}"') :]
    assert f'action="{reverse("cases:review-publish", args=[submitted.pk])}"' in item
    assert f'formaction="{reverse("cases:review-return", args=[submitted.pk])}"' in item
    assert item.count('name="comment"') == 1
    assert 'type="checkbox" name="confirm"' in item
    assert "I have checked this assessment: publish it" in item


def test_return_still_needs_the_comment(personas, submitted):
    response = _client(personas.carol).post(
        reverse("cases:review-return", args=[submitted.pk]), {"comment": "", "confirm": "on"}
    )
    assert response.status_code == 200
    assert "Say what the author should change." in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.review_state == ReviewState.SUBMITTED
