"""The assessment form keeps its draft across "Record it first" (issue 16, gap 4): what the monitor typed is
kept in her session when she leaves to record a missing source, and she comes back to it with the new source
ticked; submitting clears the draft.

Personas (tests/factories.py): Alice monitor (her organisation holds `public_ev`, linked to `rec`), Mallory
monitor of another organisation. `rec2` has no evidence linked.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import Assessment, Confidentiality, Evidence, ReviewState

pytestmark = pytest.mark.django_db

RATIONALE = "Camps still operate; the new source documents transfers in 2024."


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def draft_data(**overrides) -> dict:
    data = {
        "implementation_status": "not_implemented",
        "state_response": "no_response",
        "basis": "independent",
        "assessed_on": "2024-08-27",
        "rationale": RATIONALE,
        "add_source": "1",
    }
    data.update(overrides)
    return data


def evidence_data(rec_code: str) -> dict:
    return {
        "url": "https://www.ohchr.org/en/press-releases/2024/08/update",
        "title": "OHCHR update on Xinjiang",
        "publisher": "OHCHR",
        "published_on": "2024-08-27",
        "kind": "un_document",
        "excerpt": "",
        "language": "en",
        "archive_url": "",
        "confidentiality": Confidentiality.PUBLIC,
        "recommendations": [rec_code],
    }


def checked(page: str, name: str, value) -> bool:
    """Whether the checkbox (or option) `name`=`value` is rendered chosen."""
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*value="{value}"[^>]*>', page)
    return any("checked" in tag for tag in inputs)


def test_the_assessment_form_offers_add_source_as_a_button_that_keeps_the_draft(personas):
    page = client_for(personas.alice).get(reverse("cases:assess", args=[personas.rec2.code])).content.decode()
    assert 'name="add_source"' in page and "formnovalidate" in page
    assert "anything typed here is not kept" not in page


def test_rationale_and_new_source_survive_record_it_first(personas):
    p = personas
    alice = client_for(p.alice)
    assess_url = reverse("cases:assess", args=[p.rec2.code])

    # She types a rationale and follows "Record it first": nothing is submitted, the draft is kept.
    response = alice.post(assess_url, draft_data())
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('cases:evidence-new')}?recommendation={p.rec2.code}&then=assess"
    assert not Assessment.objects.filter(recommendation=p.rec2).exists()

    # She records the source and is sent back to the form with it chosen.
    response = alice.post(response["Location"], evidence_data(p.rec2.code))
    new = Evidence.objects.get(url="https://www.ohchr.org/en/press-releases/2024/08/update")
    assert response["Location"] == f"{assess_url}?evidence={new.pk}"

    page = alice.get(response["Location"]).content.decode()
    assert RATIONALE in page
    assert checked(page, "evidence", new.pk)
    assert checked(page, "basis", "independent")
    assert 'value="2024-08-27"' in page

    # She submits: the assessment is recorded with her rationale and the source, and the draft is gone.
    response = alice.post(
        assess_url,
        {k: v for k, v in draft_data(evidence=[new.pk]).items() if k != "add_source"},
    )
    assert response.status_code == 302
    assessment = Assessment.objects.get(recommendation=p.rec2)
    assert assessment.rationale == RATIONALE
    assert assessment.review_state == ReviewState.SUBMITTED
    assert list(assessment.evidence.all()) == [new]
    page = alice.get(assess_url).content.decode()
    assert RATIONALE not in page


def test_cancelling_the_source_still_returns_to_the_draft(personas):
    p = personas
    alice = client_for(p.alice)
    assess_url = reverse("cases:assess", args=[p.rec.code])
    alice.post(assess_url, draft_data(evidence=[p.public_ev.pk]))
    page = alice.get(assess_url).content.decode()
    assert RATIONALE in page
    assert checked(page, "evidence", p.public_ev.pk)


def test_a_draft_is_one_users_and_one_recommendations(personas):
    p = personas
    client_for(p.alice).post(reverse("cases:assess", args=[p.rec2.code]), draft_data())
    # Another recommendation's form is not pre-filled with it...
    assert (
        RATIONALE not in client_for(p.alice).get(reverse("cases:assess", args=[p.rec.code])).content.decode()
    )
    # ...nor is another user's (the draft lives in Alice's session only).
    page = client_for(p.mallory).get(reverse("cases:assess", args=[p.rec2.code])).content.decode()
    assert RATIONALE not in page


def test_a_kept_draft_cannot_choose_a_source_she_may_not_see(personas):
    """A draft is unvalidated text: restoring it must not render another organisation's internal source."""
    p = personas
    mallory = client_for(p.mallory)
    url = reverse("cases:assess", args=[p.rec.code])
    mallory.post(url, draft_data(evidence=[p.internal_ev.pk], other_evidence=[p.internal_ev.pk]))
    page = mallory.get(url).content.decode()
    assert RATIONALE in page
    assert "Witness statement 7" not in page
    assert not checked(page, "evidence", p.internal_ev.pk)


def test_add_source_needs_the_monitor_role(personas):
    from tests.factories import make_user

    bob = make_user("bob", role=None)
    response = client_for(bob).post(reverse("cases:assess", args=[personas.rec2.code]), draft_data())
    assert response.status_code == 403
