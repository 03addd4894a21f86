"""The review workflow: transitions, four eyes, history rows and the recomputed current status."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cases import services
from cases.models import (
    Assessment,
    AssessmentTransition,
    Basis,
    ImplementationStatus,
    PublishedAssessmentImmutable,
    ReviewState,
    StateResponse,
)
from tests.factories import submit

pytestmark = pytest.mark.django_db


def test_submit_records_history_and_changes_nothing_public(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    assert assessment.review_state == ReviewState.SUBMITTED
    assert assessment.organisation == p.org
    assert list(assessment.evidence.all()) == [p.public_ev]
    row = AssessmentTransition.objects.get(assessment=assessment)
    assert (row.from_state, row.to_state, row.actor) == ("", ReviewState.SUBMITTED, p.alice)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.NOT_ASSESSED
    assert p.rec.status_updated_at is None


def test_publish_by_another_curator_updates_current_status(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
    services.publish_assessment(assessment, reviewer=p.carol)
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.PUBLISHED
    assert assessment.reviewer == p.carol
    assert assessment.published_at is not None
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.REGRESSED
    assert p.rec.status_updated_at is not None
    transitions = list(assessment.transitions.values_list("from_state", "to_state", "actor__username"))
    assert transitions == [("", "submitted", "alice"), ("submitted", "published", "carol")]


def test_four_eyes_curator_cannot_publish_own(personas):
    p = personas
    assessment = submit(p.rec, p.carol, [p.public_ev])
    with pytest.raises(services.TransitionError, match="own"):
        services.publish_assessment(assessment, reviewer=p.carol)
    with pytest.raises(services.TransitionError):
        services.return_assessment(assessment, reviewer=p.carol, comment="self review")
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.SUBMITTED
    services.publish_assessment(assessment, reviewer=p.dave)
    assert Assessment.objects.get(pk=assessment.pk).reviewer == p.dave


def test_monitor_cannot_review(personas):
    p = personas
    assessment = submit(p.rec, p.carol, [p.public_ev])
    with pytest.raises(PermissionDenied):
        services.publish_assessment(assessment, reviewer=p.alice)
    assert Assessment.objects.get(pk=assessment.pk).review_state == ReviewState.SUBMITTED
    assert not AssessmentTransition.objects.filter(assessment=assessment, to_state="published").exists()


@pytest.mark.parametrize(
    "path",
    [
        ["publish", "publish"],
        ["publish", "return"],
        ["publish", "resubmit"],
        ["return", "publish"],
        ["return", "return"],
        ["resubmit"],
    ],
)
def test_forbidden_transitions_raise_clear_errors(personas, path):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    actions = {
        "publish": lambda a: services.publish_assessment(a, reviewer=p.carol),
        "return": lambda a: services.return_assessment(a, reviewer=p.carol, comment="Needs a source."),
        "resubmit": lambda a: services.resubmit_assessment(a, author=p.alice),
    }
    for step in path[:-1]:
        actions[step](assessment)
    before = Assessment.objects.get(pk=assessment.pk).review_state
    with pytest.raises(services.TransitionError, match="cannot go from"):
        actions[path[-1]](assessment)
    assert Assessment.objects.get(pk=assessment.pk).review_state == before


def test_return_requires_comment_and_resubmit_by_author_only(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    with pytest.raises(ValidationError):
        services.return_assessment(assessment, reviewer=p.carol, comment="   ")
    services.return_assessment(assessment, reviewer=p.carol, comment="Cite the OHCHR update.")
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.RETURNED
    assert assessment.review_comment == "Cite the OHCHR update."
    with pytest.raises(PermissionDenied):
        services.resubmit_assessment(assessment, author=p.dave)
    services.resubmit_assessment(
        assessment, author=p.alice, rationale="Now with the update.", evidence=[p.partners_ev]
    )
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.SUBMITTED
    assert assessment.reviewer is None
    assert assessment.rationale == "Now with the update."
    assert list(assessment.evidence.all()) == [p.partners_ev]
    assert list(assessment.transitions.values_list("to_state", flat=True)) == [
        "submitted",
        "returned",
        "submitted",
    ]


def test_returned_assessment_does_not_change_status(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.IMPLEMENTED)
    services.return_assessment(assessment, reviewer=p.carol, comment="No.")
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.NOT_ASSESSED


def test_state_claim_does_not_change_implementation_status(personas):
    p = personas
    finding = submit(
        p.rec, p.alice, [p.public_ev], basis=Basis.UN_FINDING, assessed_on=datetime.date(2024, 8, 27)
    )
    services.publish_assessment(finding, reviewer=p.carol)
    claim = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        assessed_on=datetime.date(2024, 9, 1),
    )
    services.publish_assessment(claim, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    assert p.rec.state_response == StateResponse.REJECTED
    assert p.rec.state_claim == claim


def test_state_response_keeps_latest_real_response(personas):
    p = personas
    first = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        state_response=StateResponse.NOTED,
        assessed_on=datetime.date(2023, 1, 1),
    )
    services.publish_assessment(first, reviewer=p.carol)
    later = submit(p.rec, p.alice, [p.public_ev], state_response=StateResponse.NO_RESPONSE)
    services.publish_assessment(later, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.state_response == StateResponse.NOTED


def test_latest_by_date_it_speaks_for_not_publication_order(personas):
    p = personas
    newer = submit(
        p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED
    )
    older = submit(p.rec, p.alice, [p.public_ev], assessed_on=datetime.date(2022, 9, 1))
    services.publish_assessment(newer, reviewer=p.carol)
    services.publish_assessment(older, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.PARTIALLY_IMPLEMENTED


def test_correction_supersedes_the_corrected_assessment(personas):
    p = personas
    wrong = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.IMPLEMENTED)
    services.publish_assessment(wrong, reviewer=p.carol)
    fix = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
        assessed_on=datetime.date(2024, 1, 1),
        corrects=wrong,
    )
    services.publish_assessment(fix, reviewer=p.dave)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    assert list(wrong.corrections.all()) == [fix]
    # The corrected row stays in the record, unchanged.
    assert Assessment.objects.get(pk=wrong.pk).implementation_status == ImplementationStatus.IMPLEMENTED


def test_correction_must_target_published_assessment_of_same_recommendation(personas):
    p = personas
    pending = submit(p.rec, p.alice, [p.public_ev])
    with pytest.raises(ValidationError) as info:
        submit(p.rec, p.alice, [p.public_ev], corrects=pending)
    assert "corrects" in info.value.message_dict
    other = submit(p.rec2, p.alice, [p.public_ev])
    services.publish_assessment(other, reviewer=p.carol)
    with pytest.raises(ValidationError):
        submit(p.rec, p.alice, [p.public_ev], corrects=other)


def test_submit_validates_evidence_and_date(personas):
    p = personas
    with pytest.raises(ValidationError) as info:
        submit(p.rec, p.alice, [])
    assert "evidence" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        submit(p.rec, p.alice, [p.public_ev], assessed_on=datetime.date.today() + datetime.timedelta(days=2))
    assert "assessed_on" in info.value.message_dict
    with pytest.raises(ValidationError):
        submit(p.rec, p.alice, [p.public_ev], implementation_status="done")
    assert not Assessment.objects.exists()


def test_published_assessments_are_immutable(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    services.publish_assessment(assessment, reviewer=p.carol)
    assessment.refresh_from_db()
    assessment.rationale = "Rewritten history"
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        assessment.save()
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        assessment.delete()
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        Assessment.objects.filter(pk=assessment.pk).update(rationale="x")
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        Assessment.objects.filter(pk=assessment.pk).delete()
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        assessment.evidence.add(p.partners_ev)
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        assessment.evidence.clear()
    with pytest.raises(PublishedAssessmentImmutable), transaction.atomic():
        p.public_ev.assessments.clear()
    fresh = Assessment.objects.get(pk=assessment.pk)
    assert fresh.rationale != "Rewritten history"
    assert list(fresh.evidence.all()) == [p.public_ev]


def test_unpublished_assessment_can_be_deleted(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    Assessment.objects.filter(pk=assessment.pk).delete()
    assert not Assessment.objects.filter(pk=assessment.pk).exists()


def test_publish_touches_recommendation_updated_at_for_incremental_sync(personas):
    p = personas
    before = p.rec.updated_at
    assessment = submit(p.rec, p.alice, [p.public_ev])
    services.publish_assessment(assessment, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.updated_at > before


def test_add_evidence_links_and_holds_for_organisation(personas):
    p = personas
    ev = services.add_evidence(
        added_by=p.mallory, url="https://example.org/x", title="X", recommendations=[p.rec2]
    )
    assert ev.organisation == p.other_org
    assert ev.confidentiality == "internal"
    assert list(ev.recommendations.all()) == [p.rec2]
    with pytest.raises(ValidationError):
        services.add_evidence(added_by=p.alice, url="javascript:alert(1)", title="bad")


def test_cited_evidence_is_linked_on_publication_not_before(personas):
    """The link leaves the organisation with the evidence (API, exports): unpublished work must not."""
    p = personas
    assessment = submit(p.rec2, p.alice, [p.public_ev])
    assert not p.rec2.evidence.filter(pk=p.public_ev.pk).exists()
    before = type(p.public_ev).objects.get(pk=p.public_ev.pk).updated_at
    services.publish_assessment(assessment, reviewer=p.carol)
    assert p.rec2.evidence.filter(pk=p.public_ev.pk).exists()
    assert type(p.public_ev).objects.get(pk=p.public_ev.pk).updated_at > before
