"""The review desk, the author's side (issue 16, "What to build" 2): a monitor edits or withdraws her own
submission until a curator reviews it; nobody else may, and a reviewed one no longer changes.

Personas (tests/factories.py): Alice monitor, Carol and Dave curators (one organisation), Mallory monitor of
another organisation; here also Bella, a second monitor of Alice's organisation.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from cases import access, services
from cases.forms import published_marker
from cases.models import (
    Assessment,
    AssessmentTransition,
    Basis,
    ImplementationStatus,
    Recommendation,
    ReviewState,
    StateResponse,
)
from tests.factories import make_user, submit
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(personas):
    p = personas
    bella = make_user("bella", role="monitor")
    waiting = submit(p.rec, p.alice, [p.public_ev], rationale="Alice's first words.")
    return SimpleNamespace(**vars(p), bella=bella, waiting=waiting)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_rows(event: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("pk"))


def status_of(rec: Recommendation) -> tuple:
    rec.refresh_from_db()
    return rec.implementation_status, rec.state_response, rec.state_claim_id


def assert_status_is_recomputed(rec: Recommendation) -> None:
    """Stored status = recomputed status (the invariant of tests/perf/loadtest.py and the backup report)."""
    stored = status_of(rec)
    rec.save = lambda *args, **kwargs: None  # a dry comparison
    services.recompute_current_status(rec)
    assert (rec.implementation_status, rec.state_response, rec.state_claim_id) == stored


def edit_data(w, assessment: Assessment, **changes) -> dict:
    data = {
        "implementation_status": assessment.implementation_status,
        "state_response": assessment.state_response,
        "basis": assessment.basis,
        "assessed_on": assessment.assessed_on.isoformat(),
        "rationale": assessment.rationale,
        "evidence": [e.pk for e in assessment.evidence.all()],
        "seen": published_marker(assessment.recommendation),
        "version": assessment.updated_at.isoformat(),
    }
    data.update(changes)
    return data


# --- Services -------------------------------------------------------------------------------------------


def test_author_withdraws_her_submission_and_nothing_is_lost(w):
    before = status_of(w.rec)

    services.withdraw_assessment(w.waiting, author=w.alice, reason="Duplicate of Bella's entry.")

    w.waiting.refresh_from_db()
    assert w.waiting.review_state == ReviewState.WITHDRAWN
    assert w.waiting.rationale == "Alice's first words."  # the row stays, every word of it
    assert list(w.waiting.transitions.values_list("from_state", "to_state", "actor", "comment")) == [
        ("", "submitted", w.alice.pk, ""),
        ("submitted", "withdrawn", w.alice.pk, "Duplicate of Bella's entry."),
    ]
    [row] = audit_rows("assessment.withdraw")
    assert (row.actor_id, row.target_id, row.fields) == (
        w.alice.pk,
        str(w.waiting.pk),
        {"recommendation": w.rec.pk, "reason": True},
    )
    assert "Duplicate" not in str(row.fields)  # identifiers only, never what she typed
    # Out of the queue and of her open work; the status never counted it and does not change.
    assert not access.review_queue(access.viewer_for_user(w.carol)).filter(pk=w.waiting.pk).exists()
    assert not access.open_work(access.viewer_for_user(w.alice)).filter(pk=w.waiting.pk).exists()
    assert status_of(w.rec) == before
    assert_status_is_recomputed(w.rec)


@pytest.mark.parametrize("who", ["bella", "carol", "dave", "mallory"])
def test_nobody_but_the_author_withdraws_or_edits(w, who):
    other = getattr(w, who)
    with pytest.raises(PermissionDenied):
        services.withdraw_assessment(w.waiting, author=other)
    with pytest.raises(PermissionDenied):
        services.edit_submission(w.waiting, author=other, rationale="Not mine to change.")
    w.waiting.refresh_from_db()
    assert (w.waiting.review_state, w.waiting.rationale) == (ReviewState.SUBMITTED, "Alice's first words.")
    assert w.waiting.transitions.count() == 1
    assert not audit_rows("assessment.withdraw") and not audit_rows("assessment.edit")


@pytest.mark.parametrize("review", ["publish", "return", "withdraw"])
def test_a_reviewed_or_withdrawn_submission_no_longer_changes(w, review):
    if review == "publish":
        services.publish_assessment(w.waiting, reviewer=w.carol)
    elif review == "return":
        services.return_assessment(w.waiting, reviewer=w.carol, comment="Cite the update.")
    else:
        services.withdraw_assessment(w.waiting, author=w.alice)
    state = Assessment.objects.get(pk=w.waiting.pk).review_state
    transitions = w.waiting.transitions.count()

    with pytest.raises(services.TransitionError) as refused:
        services.withdraw_assessment(w.waiting, author=w.alice)
    assert refused.value.code == "invalid_transition"
    with pytest.raises(services.TransitionError) as refused:
        services.edit_submission(w.waiting, author=w.alice, rationale="Too late.")
    assert refused.value.code == "invalid_transition"

    stored = Assessment.objects.get(pk=w.waiting.pk)
    assert (stored.review_state, stored.rationale) == (state, "Alice's first words.")
    assert w.waiting.transitions.count() == transitions
    assert not audit_rows("assessment.edit")


def test_author_edits_her_submission_in_place(w):
    queue_before = list(access.review_queue(access.viewer_for_user(w.carol)).values_list("pk", flat=True))

    changed = services.edit_submission(
        w.waiting,
        author=w.alice,
        seen_version=w.waiting.updated_at,
        rationale="Alice's better words.",
        implementation_status=ImplementationStatus.REGRESSED,
        evidence=[w.public_ev, w.internal_ev],
        corrects=None,
    )

    assert changed == ["evidence", "implementation_status", "rationale"]
    stored = Assessment.objects.get(pk=w.waiting.pk)
    assert (stored.review_state, stored.rationale, stored.implementation_status) == (
        ReviewState.SUBMITTED,
        "Alice's better words.",
        ImplementationStatus.REGRESSED,
    )
    assert set(stored.evidence.all()) == {w.public_ev, w.internal_ev}
    assert stored.transitions.count() == 1  # no review happened: the trail has no new step
    [row] = audit_rows("assessment.edit")
    assert (row.actor_id, row.target_id) == (w.alice.pk, str(w.waiting.pk))
    assert row.fields == {
        "recommendation": w.rec.pk,
        "fields": ["evidence", "implementation_status", "rationale"],
    }
    # Its place in the queue is kept, and nothing public changed.
    assert list(access.review_queue(access.viewer_for_user(w.carol)).values_list("pk", flat=True)) == (
        queue_before
    )
    assert status_of(w.rec)[0] == ImplementationStatus.NOT_ASSESSED


def test_an_edit_that_changes_nothing_writes_nothing(w):
    updated = w.waiting.updated_at
    assert services.edit_submission(w.waiting, author=w.alice, rationale="Alice's first words.") == []
    assert Assessment.objects.get(pk=w.waiting.pk).updated_at == updated
    assert not audit_rows("assessment.edit")


def test_an_edit_is_checked_as_a_submission(w):
    with pytest.raises(ValidationError) as refused:
        services.edit_submission(w.waiting, author=w.alice, assessed_on=datetime.date(1900, 1, 1))
    assert "assessed_on" in refused.value.error_dict
    with pytest.raises(ValidationError) as refused:
        services.edit_submission(w.waiting, author=w.alice, evidence=[])
    assert "evidence" in refused.value.error_dict
    stored = Assessment.objects.get(pk=w.waiting.pk)
    assert stored.assessed_on == datetime.date(2024, 8, 27) and stored.evidence.count() == 1


def test_a_stale_edit_is_refused(w):
    opened = w.waiting.updated_at
    services.edit_submission(w.waiting, author=w.alice, rationale="Saved in another window.")

    with pytest.raises(services.ChangedSinceSeen) as refused:
        services.edit_submission(
            Assessment.objects.get(pk=w.waiting.pk),
            author=w.alice,
            seen_version=opened,
            rationale="Older tab.",
        )
    assert refused.value.code == "changed"
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Saved in another window."
    assert len(audit_rows("assessment.edit")) == 1


def test_a_curator_cannot_publish_a_version_she_did_not_read(w):
    shown = Assessment.objects.get(pk=w.waiting.pk).updated_at
    services.edit_submission(
        w.waiting, author=w.alice, implementation_status=ImplementationStatus.IMPLEMENTED
    )

    with pytest.raises(services.ChangedSinceSeen):
        services.publish_assessment(w.waiting, reviewer=w.carol, seen_version=shown)
    with pytest.raises(services.ChangedSinceSeen):
        services.return_assessment(w.waiting, reviewer=w.carol, comment="Hm.", seen_version=shown)
    assert Assessment.objects.get(pk=w.waiting.pk).review_state == ReviewState.SUBMITTED
    assert status_of(w.rec)[0] == ImplementationStatus.NOT_ASSESSED

    current = Assessment.objects.get(pk=w.waiting.pk).updated_at
    services.publish_assessment(w.waiting, reviewer=w.carol, seen_version=current)
    assert status_of(w.rec)[0] == ImplementationStatus.IMPLEMENTED
    assert_status_is_recomputed(w.rec)


def test_a_withdrawn_correction_leaves_the_corrected_assessment_counting(w):
    services.publish_assessment(w.waiting, reviewer=w.carol)
    correction = submit(
        w.rec,
        w.alice,
        [w.public_ev],
        corrects=w.waiting,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        basis=Basis.INDEPENDENT,
        state_response=StateResponse.ACCEPTED,
    )
    services.withdraw_assessment(correction, author=w.alice)
    services.recompute_current_status(w.rec)
    assert status_of(w.rec)[:2] == (ImplementationStatus.NOT_IMPLEMENTED, StateResponse.NO_RESPONSE)
    assert_status_is_recomputed(w.rec)


# --- Pages ----------------------------------------------------------------------------------------------


def test_edit_page_saves_the_authors_changes(w):
    client = client_for(w.alice)
    url = reverse("cases:assessment-edit", args=[w.waiting.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alice&#x27;s first words." in html or "Alice's first words." in html
    assert 'name="version"' in html
    assert reverse("cases:assessment-withdraw", args=[w.waiting.pk]) in html

    response = client.post(url, edit_data(w, w.waiting, rationale="Alice's clearer words."))

    assert response.status_code == 302
    assert response["Location"] == f"{w.rec.get_absolute_url()}#assessment-{w.waiting.pk}"
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Alice's clearer words."
    assert any("was changed" in m for m in messages_of(response))


def test_edit_page_keeps_the_published_conflict_check(w):
    """The assessment form's edit-conflict protection holds on the edit page too: another assessment
    published after the form was opened stops the save until the author confirms."""
    data = edit_data(w, w.waiting, rationale="Mine, unchanged by the news.")
    other = submit(w.rec, w.bella, [w.public_ev], rationale="Bella's finding.")
    services.publish_assessment(other, reviewer=w.carol)

    response = client_for(w.alice).post(reverse("cases:assessment-edit", args=[w.waiting.pk]), data)

    assert response.status_code == 200
    assert 'id="conflict-heading"' in response.content.decode()
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Alice's first words."


def test_a_stale_edit_page_shows_the_saved_version_and_keeps_her_entries(w):
    client = client_for(w.alice)
    url = reverse("cases:assessment-edit", args=[w.waiting.pk])
    data = edit_data(w, w.waiting, rationale="Typed in the old window.")
    services.edit_submission(w.waiting, author=w.alice, rationale="Saved from the new window.")

    response = client.post(url, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="stored-heading"' in html
    assert "Saved from the new window." in html  # the saved version, shown
    assert "Typed in the old window." in html  # her entries, kept
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Saved from the new window."
    # Having been shown the saved version, submitting again replaces it.
    form = response.context["form"]
    again = {**data, "version": form.data["version"]}
    assert again["version"] != data["version"]
    response = client.post(url, again)
    assert response.status_code == 302
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Typed in the old window."


def test_withdraw_page_asks_then_withdraws(w):
    client = client_for(w.alice)
    url = reverse("cases:assessment-withdraw", args=[w.waiting.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Alice&#x27;s first words." in page.content.decode()
    # GET changes nothing.
    assert Assessment.objects.get(pk=w.waiting.pk).review_state == ReviewState.SUBMITTED

    response = client.post(url, {"reason": "Written for the wrong paragraph."})

    assert response.status_code == 302 and response["Location"] == reverse("cases:dashboard")
    assert any("withdrawn" in m for m in messages_of(response))
    assert Assessment.objects.get(pk=w.waiting.pk).review_state == ReviewState.WITHDRAWN
    assert w.waiting.transitions.last().comment == "Written for the wrong paragraph."
    # Gone from the curator's queue; shown to her organisation as withdrawn, to nobody else.
    queue = client_for(w.carol).get(reverse("cases:review-queue")).content.decode()
    assert f'id="review-{w.waiting.pk}"' not in queue
    timeline = client.get(w.rec.get_absolute_url()).content.decode()
    assert "review-flag--withdrawn" in timeline
    assert (
        "Alice&#x27;s first words."
        not in client_for(w.mallory).get(w.rec.get_absolute_url()).content.decode()
    )


@pytest.mark.parametrize("page", ["assessment-edit", "assessment-withdraw"])
@pytest.mark.parametrize(
    ("who", "status"), [("bella", 403), ("carol", 403), ("mallory", 404), ("anonymous", 302)]
)
def test_nobody_else_reaches_the_edit_or_withdraw_pages(w, page, who, status):
    client = client_for(None if who == "anonymous" else getattr(w, who))
    url = reverse(f"cases:{page}", args=[w.waiting.pk])
    assert client.get(url).status_code == status
    response = client.post(url, edit_data(w, w.waiting, rationale="Not mine.") | {"reason": "Not mine."})
    assert response.status_code == status
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    stored = Assessment.objects.get(pk=w.waiting.pk)
    assert (stored.review_state, stored.rationale) == (ReviewState.SUBMITTED, "Alice's first words.")


@pytest.mark.parametrize("page", ["assessment-edit", "assessment-withdraw"])
def test_a_reviewed_submission_cannot_be_edited_or_withdrawn_from_its_pages(w, page):
    services.publish_assessment(w.waiting, reviewer=w.carol)
    client = client_for(w.alice)
    url = reverse(f"cases:{page}", args=[w.waiting.pk])
    for response in (client.get(url), client.post(url, edit_data(w, w.waiting, rationale="Too late."))):
        assert response.status_code == 302
        assert response["Location"] == f"{w.rec.get_absolute_url()}#assessment-{w.waiting.pk}"
        assert any("already published" in m for m in messages_of(response))
    stored = Assessment.objects.get(pk=w.waiting.pk)
    assert (stored.review_state, stored.rationale) == (ReviewState.PUBLISHED, "Alice's first words.")


def test_a_returned_submission_sends_its_author_to_revise_it(w):
    services.return_assessment(w.waiting, reviewer=w.carol, comment="Cite the update.")
    response = client_for(w.alice).post(reverse("cases:assessment-withdraw", args=[w.waiting.pk]))
    assert response["Location"] == reverse("cases:assessment-resubmit", args=[w.waiting.pk])
    assert any("returned this assessment" in m for m in messages_of(response))
    assert Assessment.objects.get(pk=w.waiting.pk).review_state == ReviewState.RETURNED


def test_reviewed_while_she_was_editing(w):
    client = client_for(w.alice)
    data = edit_data(w, w.waiting, rationale="Just a bit more.")
    services.publish_assessment(w.waiting, reviewer=w.carol)
    response = client.post(reverse("cases:assessment-edit", args=[w.waiting.pk]), data)
    assert response.status_code == 302
    assert any("already published" in m for m in messages_of(response))
    assert Assessment.objects.get(pk=w.waiting.pk).rationale == "Alice's first words."
    assert not AssessmentTransition.objects.filter(to_state=ReviewState.WITHDRAWN).exists()


def test_dashboard_offers_edit_and_withdraw_for_waiting_work_only(w):
    returned = submit(w.rec2, w.alice, [w.public_ev])
    services.return_assessment(returned, reviewer=w.carol, comment="Cite the update.")
    html = client_for(w.alice).get(reverse("cases:dashboard")).content.decode()
    assert reverse("cases:assessment-edit", args=[w.waiting.pk]) in html
    assert reverse("cases:assessment-withdraw", args=[w.waiting.pk]) in html
    assert reverse("cases:assessment-edit", args=[returned.pk]) not in html
    assert reverse("cases:assessment-withdraw", args=[returned.pk]) not in html


# --- Races (real threads and connections, as tests/test_concurrency.py) ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_withdraw_racing_publish_one_wins(personas):
    from tests.test_concurrency import run_together

    p = personas
    for _round in range(3):
        waiting = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
        results = run_together(
            lambda pk=waiting.pk: services.withdraw_assessment(Assessment.objects.get(pk=pk), author=p.alice),
            lambda pk=waiting.pk: services.publish_assessment(
                Assessment.objects.get(pk=pk), reviewer=p.carol
            ),
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], services.TransitionError), results
        final = Assessment.objects.get(pk=waiting.pk).review_state
        assert final in (ReviewState.WITHDRAWN, ReviewState.PUBLISHED)
        steps = list(waiting.transitions.exclude(from_state="").values_list("to_state", flat=True))
        assert steps == [final]
        assert_status_is_recomputed(Recommendation.objects.get(pk=p.rec.pk))


@pytest.mark.django_db(transaction=True)
def test_edit_racing_publish_never_publishes_unread_words(personas):
    from tests.test_concurrency import run_together

    p = personas
    for _round in range(3):
        waiting = submit(p.rec, p.alice, [p.public_ev], rationale="What the curator read.")
        shown = Assessment.objects.get(pk=waiting.pk).updated_at
        results = run_together(
            lambda pk=waiting.pk: services.edit_submission(
                Assessment.objects.get(pk=pk), author=p.alice, rationale="Written after."
            ),
            lambda pk=waiting.pk, shown=shown: services.publish_assessment(
                Assessment.objects.get(pk=pk), reviewer=p.carol, seen_version=shown
            ),
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], services.TransitionError), results
        stored = Assessment.objects.get(pk=waiting.pk)
        if stored.review_state == ReviewState.PUBLISHED:
            assert stored.rationale == "What the curator read."
        else:
            assert (stored.review_state, stored.rationale) == (ReviewState.SUBMITTED, "Written after.")
            assert errors[0].code == "changed"
