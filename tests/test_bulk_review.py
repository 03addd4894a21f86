"""The review desk, the curators' side (issue 16, "What to build" 2): publish or return several submissions
at once with one comment. Each item is still four-eyes checked and runs in its own transaction; the
messages say which were done and why the others were refused; an invalid form does nothing.

Personas (tests/factories.py): Alice monitor, Carol and Dave curators (one organisation), Mallory monitor of
another organisation; here also Bella (a monitor Carol invited: four eyes keeps her work from Carol).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import services
from cases.models import Assessment, AssessmentTransition, ImplementationStatus, Recommendation, ReviewState
from tests.factories import make_user, submit
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

BULK = "/review/bulk/"


@pytest.fixture
def w(personas):
    p = personas
    bella = make_user("bella", role="monitor", created_by=p.carol)
    first = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
    second = submit(p.rec2, p.alice, [p.public_ev], rationale="Alice on 152(i).")
    return SimpleNamespace(**vars(p), bella=bella, first=first, second=second)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def states(*assessments) -> list[str]:
    return [Assessment.objects.get(pk=a.pk).review_state for a in assessments]


def post(user, items, **data):
    return client_for(user).post(BULK, {"items": [a.pk for a in items], **data})


# --- Happy paths ----------------------------------------------------------------------------------------


def test_bulk_publish_publishes_each_with_the_comment(w):
    response = post(
        w.carol, [w.first, w.second], action="publish", confirm="on", comment="Checked against OHCHR."
    )

    assert response.status_code == 302 and response["Location"] == reverse("cases:review-queue")
    assert states(w.first, w.second) == [ReviewState.PUBLISHED, ReviewState.PUBLISHED]
    for assessment in (w.first, w.second):
        step = AssessmentTransition.objects.get(assessment=assessment, to_state=ReviewState.PUBLISHED)
        assert (step.actor, step.comment) == (w.carol, "Checked against OHCHR.")
    # Each item's status recomputed, as a single publication does.
    assert Recommendation.objects.get(pk=w.rec.pk).implementation_status == ImplementationStatus.REGRESSED
    assert (
        Recommendation.objects.get(pk=w.rec2.pk).implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    )
    # Audit: one row per publication, and one for the bulk action naming them.
    assert AuditEvent.objects.filter(event="assessment.publish", actor=w.carol).count() == 2
    bulk = AuditEvent.objects.get(event="assessment.bulk_review")
    assert (bulk.actor_id, bulk.fields) == (
        w.carol.pk,
        {"action": "publish", "done": [w.first.pk, w.second.pk], "refused": []},
    )
    [(level, text)] = messages_of(response)
    assert level == "success"
    assert (
        "Published 2 assessments" in text and "XJ22-151-i by alice" in text and "XJ22-152-i by alice" in text
    )


def test_bulk_return_returns_each_to_its_author_with_the_comment(w):
    third = submit(w.rec, w.bella, [w.public_ev])
    response = post(w.dave, [w.first, third], action="return", comment="Cite the 2024 update, please.")

    assert states(w.first, third, w.second) == [
        ReviewState.RETURNED,
        ReviewState.RETURNED,
        ReviewState.SUBMITTED,
    ]
    for assessment in (w.first, third):
        stored = Assessment.objects.get(pk=assessment.pk)
        assert (stored.reviewer, stored.review_comment) == (w.dave, "Cite the 2024 update, please.")
    assert AuditEvent.objects.filter(event="assessment.return", actor=w.dave).count() == 2
    assert messages_of(response)[0][0] == "success"
    # The author sees the comment on her dashboard.
    dashboard = client_for(w.alice).get(reverse("cases:dashboard")).content.decode()
    assert "Cite the 2024 update, please." in dashboard


# --- Refusals item by item ------------------------------------------------------------------------------


def test_own_and_linked_work_is_refused_by_four_eyes_while_the_others_publish(w):
    own = submit(w.rec, w.carol, [w.public_ev], rationale="Carol's own.")
    invited = submit(w.rec2, w.bella, [w.public_ev], rationale="Bella's, whom Carol invited.")

    response = post(w.carol, [own, w.first, invited, w.second], action="publish", confirm="on")

    assert states(own, w.first, invited, w.second) == [
        ReviewState.SUBMITTED,
        ReviewState.PUBLISHED,
        ReviewState.SUBMITTED,
        ReviewState.PUBLISHED,
    ]
    assert not AssessmentTransition.objects.filter(
        assessment__in=[own, invited], to_state="published"
    ).exists()
    found = messages_of(response)
    assert found[0][0] == "success" and "Published 2 assessments" in found[0][1]
    errors = [text for level, text in found if level == "error"]
    assert len(errors) == 2
    assert "Not published: XJ22-151-i by carol" in errors[0] and "Four eyes" in errors[0]
    assert "Not published: XJ22-152-i by bella" in errors[1] and "invited" in errors[1]
    bulk = AuditEvent.objects.get(event="assessment.bulk_review")
    assert bulk.fields == {
        "action": "publish",
        "done": [w.first.pk, w.second.pk],
        "refused": [own.pk, invited.pk],
    }


def test_already_reviewed_and_withdrawn_items_are_named_and_left_alone(w):
    third = submit(w.rec, w.alice, [w.public_ev])
    services.publish_assessment(w.first, reviewer=w.dave)  # another curator was quicker
    services.withdraw_assessment(third, author=w.alice)

    response = post(w.carol, [w.first, w.second, third], action="return", comment="Needs a source.")

    assert states(w.first, w.second, third) == [
        ReviewState.PUBLISHED,
        ReviewState.RETURNED,
        ReviewState.WITHDRAWN,
    ]
    assert Assessment.objects.get(pk=w.first.pk).reviewer == w.dave
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert any("already published by dave" in text for text in errors)
    assert any("withdrew" in text for text in errors)


def test_an_item_its_author_changed_after_the_page_is_refused(w):
    queue = client_for(w.carol).get(reverse("cases:review-queue"))
    shown = {f"version-{a.pk}": a.updated_at.isoformat() for a in queue.context["items"]}
    assert f'name="version-{w.first.pk}"' in queue.content.decode()
    services.edit_submission(w.first, author=w.alice, implementation_status=ImplementationStatus.IMPLEMENTED)

    response = post(w.carol, [w.first, w.second], action="publish", confirm="on", **shown)

    assert states(w.first, w.second) == [ReviewState.SUBMITTED, ReviewState.PUBLISHED]
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert len(errors) == 1 and "changed this assessment after your page showed it" in errors[0]
    assert Recommendation.objects.get(pk=w.rec.pk).implementation_status == ImplementationStatus.NOT_ASSESSED


def test_another_organisations_assessment_is_not_available(w):
    theirs = submit(w.rec, w.mallory, [w.public_ev])
    response = post(w.carol, [theirs, w.first], action="publish", confirm="on")
    assert states(theirs, w.first) == [ReviewState.SUBMITTED, ReviewState.PUBLISHED]
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert errors == ["1 of the selected assessments is not available to you; nothing was done to it."]
    # Unknown ids read the same: nothing tells another organisation's work from none.
    response = post(w.carol, [SimpleNamespace(pk=999_999)], action="publish", confirm="on")
    assert [text for level, text in messages_of(response) if level == "error"] == errors


def test_each_item_is_its_own_transaction_nothing_half_done(w, monkeypatch):
    """A failure late inside one item's publication (after its state, transition and links were written)
    rolls back that item entirely and leaves the others published."""
    third = submit(w.rec, w.alice, [w.public_ev])
    real = services.recompute_current_status

    def failing(recommendation, **kwargs):
        if recommendation.pk == w.rec2.pk:
            raise ValidationError("Simulated failure while recomputing.")
        return real(recommendation, **kwargs)

    monkeypatch.setattr(services, "recompute_current_status", failing)
    response = post(w.carol, [w.first, w.second, third], action="publish", confirm="on")

    assert states(w.first, w.second, third) == [
        ReviewState.PUBLISHED,
        ReviewState.SUBMITTED,
        ReviewState.PUBLISHED,
    ]
    second = Assessment.objects.get(pk=w.second.pk)
    assert (second.reviewer, second.published_at) == (None, None)
    assert not second.transitions.filter(to_state=ReviewState.PUBLISHED).exists()
    assert not AuditEvent.objects.filter(event="assessment.publish", target_id=str(w.second.pk)).exists()
    assert not w.rec2.evidence.filter(pk=w.public_ev.pk).exists()  # the cited-evidence link rolled back too
    assert any("Simulated failure" in text for level, text in messages_of(response) if level == "error")


# --- Refusals of the whole form -------------------------------------------------------------------------


def test_publish_without_confirmation_does_nothing_and_keeps_the_ticks_and_comment(w):
    response = post(w.carol, [w.first, w.second], action="publish", comment="A note I typed.")

    assert response.status_code == 200
    assert states(w.first, w.second) == [ReviewState.SUBMITTED, ReviewState.SUBMITTED]
    assert not AuditEvent.objects.filter(event__in=["assessment.publish", "assessment.bulk_review"]).exists()
    html = response.content.decode()
    assert "Tick “I have checked every selected assessment” to publish them." in html
    assert "A note I typed." in html
    for assessment in (w.first, w.second):
        assert f'value="{assessment.pk}" id="bulk-item-{assessment.pk}" form="bulk-review" checked' in html
    assert ("error", "Nothing was published or returned: see the form at the end of the queue.") in (
        messages_of(response)
    )


def test_return_without_a_comment_does_nothing(w):
    response = post(w.carol, [w.first], action="return", comment="   ")
    assert response.status_code == 200
    assert states(w.first) == [ReviewState.SUBMITTED]
    assert "Say what the authors should change." in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "publish", "confirm": "on"},  # nothing ticked
        {"items": ["1", "x"], "action": "publish", "confirm": "on"},  # not an id
        {"items": [str(2**63)], "action": "publish", "confirm": "on"},  # beyond any id
        {"items": [str(n) for n in range(1, 52)], "action": "publish", "confirm": "on"},  # more than a page
        {"items": ["1"], "action": "delete", "confirm": "on"},  # no such action
        {"items": ["1"], "confirm": "on"},  # no button
    ],
)
def test_bad_bulk_forms_do_nothing(w, data):
    response = client_for(w.carol).post(BULK, data)
    assert response.status_code == 200
    assert response.context["bulk_form"].errors
    assert states(w.first, w.second) == [ReviewState.SUBMITTED, ReviewState.SUBMITTED]
    assert not AssessmentTransition.objects.exclude(to_state=ReviewState.SUBMITTED).exists()


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("mallory", 403), ("anonymous", 302)])
def test_only_curators_bulk_review(w, who, status):
    response = post(
        None if who == "anonymous" else getattr(w, who), [w.first], action="publish", confirm="on"
    )
    assert response.status_code == status
    assert states(w.first) == [ReviewState.SUBMITTED]


def test_bulk_review_is_post_only(w):
    assert client_for(w.carol).get(BULK).status_code == 405


def test_a_curator_of_another_organisation_cannot_reach_these_items(w):
    olga = make_user("olga", role="curator", organisation=w.other_org)
    response = post(olga, [w.first, w.second], action="publish", confirm="on")
    assert states(w.first, w.second) == [ReviewState.SUBMITTED, ReviewState.SUBMITTED]
    errors = [text for level, text in messages_of(response) if level == "error"]
    assert errors == ["2 of the selected assessments are not available to you; nothing was done to them."]


# --- The queue page -------------------------------------------------------------------------------------


def test_queue_offers_a_checkbox_for_others_work_only_and_works_without_javascript(w):
    own = submit(w.rec, w.carol, [w.public_ev])
    html = client_for(w.carol).get(reverse("cases:review-queue")).content.decode()
    assert '<form method="post" action="/review/bulk/" id="bulk-review"' in html
    assert 'name="action" value="publish"' in html and 'name="action" value="return"' in html
    assert f'id="bulk-item-{w.first.pk}" form="bulk-review"' in html
    assert f'id="bulk-item-{own.pk}"' not in html
    assert "<script" not in html.split('id="bulk-review"')[1].split("</form>")[0]


def _queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("cases:review-queue")).status_code == 200
    return len(queries)


def test_queue_page_queries_do_not_grow_with_the_queue(w, django_assert_max_num_queries):
    client = client_for(w.carol)
    few = _queue_queries(client)
    for i in range(8):
        submit(w.rec if i % 2 else w.rec2, w.alice if i % 3 else w.bella, [w.public_ev, w.internal_ev])
    many = _queue_queries(client)
    assert many == few
    # The session, the user, the membership with its groups, the items (recommendation, State claim, author
    # and corrected assessment joined, withheld sources counted), the prefetch of the visible evidence; and
    # one for the layout's navigation (the unread notifications count). The bulk form's checkboxes and
    # versions read nothing more.
    with django_assert_max_num_queries(6):
        client.get(reverse("cases:review-queue"))
