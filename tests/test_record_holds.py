"""The record holds (issue 9, item 4 and findings 7 and 8): evidence cited by a published assessment keeps its
URL, title, excerpt, date and confidentiality at every layer; evidence is added, linked, unlinked and changed
through one service each, audited; linking internal evidence is invisible to partners' incremental sync; the
current status never moves backwards in time."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from cases import services
from cases.models import (
    Assessment,
    Basis,
    CitedEvidenceImmutable,
    Confidentiality,
    Evidence,
    ImplementationStatus,
    Recommendation,
    ReviewState,
)
from tests.factories import make_evidence, submit
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_VALUES = {
    "url": "https://news.example.org/rewritten",
    "title": "Rewritten title",
    "excerpt": "Words the source never said.",
    "published_on": datetime.date(2020, 1, 1),
    "confidentiality": Confidentiality.INTERNAL,
}


@pytest.fixture
def cited(personas):
    """p.public_ev cited by a published assessment of p.rec."""
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    services.publish_assessment(assessment, reviewer=p.carol)
    p.published = assessment
    return p


def _stored(evidence: Evidence) -> dict:
    return Evidence.objects.filter(pk=evidence.pk).values(*NEW_VALUES).get()


# --- Cited evidence is frozen: each layer on its own -------------------------------------------------------


@pytest.mark.parametrize("field", NEW_VALUES)
def test_orm_save_refuses_a_frozen_field(cited, field):
    before = _stored(cited.public_ev)
    evidence = Evidence.objects.get(pk=cited.public_ev.pk)
    setattr(evidence, field, NEW_VALUES[field])
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        evidence.save()
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        evidence.save(update_fields=[field])
    with pytest.raises(ValidationError) as info:
        evidence.full_clean()
    assert list(info.value.message_dict) == [field]
    assert "record a new source" in info.value.message_dict[field][0]
    assert _stored(cited.public_ev) == before


@pytest.mark.parametrize("field", NEW_VALUES)
def test_queryset_update_refuses_a_frozen_field(cited, field):
    before = _stored(cited.public_ev)
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        Evidence.objects.filter(pk=cited.public_ev.pk).update(**{field: NEW_VALUES[field]})
    # Over a queryset that also holds uncited rows, nothing is written either.
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        Evidence.objects.all().update(**{field: NEW_VALUES[field]})
    assert _stored(cited.public_ev) == before


@pytest.mark.parametrize("field", NEW_VALUES)
def test_database_trigger_refuses_a_raw_update(cited, field):
    before = _stored(cited.public_ev)
    column = Evidence._meta.get_field(field).column
    with pytest.raises(IntegrityError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE cases_evidence SET {column} = %s WHERE id = %s",  # noqa: S608 (column from the model)
            [NEW_VALUES[field], cited.public_ev.pk],
        )
    assert "cases_evidence_cited_is_frozen" in str(info.value)
    assert _stored(cited.public_ev) == before


def test_database_trigger_lets_other_columns_and_uncited_rows_change(cited):
    with connection.cursor() as cursor:
        # Same value: not a change.
        cursor.execute("UPDATE cases_evidence SET title = title WHERE id = %s", [cited.public_ev.pk])
        cursor.execute(
            "UPDATE cases_evidence SET publisher = 'Renamed outlet' WHERE id = %s", [cited.public_ev.pk]
        )
        cursor.execute(
            "UPDATE cases_evidence SET title = 'Edited draft source' WHERE id = %s", [cited.partners_ev.pk]
        )
    assert Evidence.objects.get(pk=cited.public_ev.pk).publisher == "Renamed outlet"
    assert Evidence.objects.get(pk=cited.partners_ev.pk).title == "Edited draft source"


def test_evidence_of_an_unpublished_assessment_can_still_be_corrected(personas):
    p = personas
    draft = submit(p.rec, p.alice, [p.internal_ev])
    changed = services.change_evidence(p.internal_ev, by=p.alice, title="Witness statement 7 (redacted)")
    assert changed == ["title"]
    services.return_assessment(draft, reviewer=p.carol, comment="Redact.")
    Evidence.objects.filter(pk=p.internal_ev.pk).update(excerpt="Redacted.")
    assert Evidence.objects.get(pk=p.internal_ev.pk).excerpt == "Redacted."


def test_non_frozen_fields_of_cited_evidence_can_change(cited):
    evidence = Evidence.objects.get(pk=cited.public_ev.pk)
    evidence.archive_url = "https://web.archive.org/web/2024/https://news.example.org/public"
    evidence.publisher = "Example News Ltd"
    evidence.full_clean()
    evidence.save()
    Evidence.objects.filter(pk=evidence.pk).update(title=evidence.title, language="fr")
    stored = Evidence.objects.get(pk=evidence.pk)
    assert (stored.publisher, stored.language) == ("Example News Ltd", "fr")


def test_cited_evidence_cannot_be_deleted(cited):
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        Evidence.objects.get(pk=cited.public_ev.pk).delete()
    with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
        Evidence.objects.filter(pk=cited.public_ev.pk).delete()
    assert Evidence.objects.filter(pk=cited.public_ev.pk).exists()


def test_change_evidence_service_refuses_frozen_fields_with_a_form_error(cited):
    with pytest.raises(ValidationError) as info:
        services.change_evidence(cited.public_ev, by=cited.alice, title="New", publisher="Other")
    assert list(info.value.message_dict) == ["title"]
    stored = Evidence.objects.get(pk=cited.public_ev.pk)
    assert (stored.title, stored.publisher) == (cited.public_ev.title, "Example News")
    assert not AuditEvent.objects.filter(event="evidence.change").exists()


def test_a_correction_is_a_new_source_and_a_corrective_assessment(cited):
    p = cited
    source = services.add_evidence(
        added_by=p.alice,
        url="https://news.example.org/public-corrected",
        title="Corrected report",
        confidentiality=Confidentiality.PUBLIC,
    )
    fix = submit(
        p.rec,
        p.alice,
        [source],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        corrects=p.published,
    )
    services.publish_assessment(fix, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.PARTIALLY_IMPLEMENTED
    assert _stored(p.public_ev)["title"] == p.public_ev.title
    assert set(p.rec.evidence.all()) >= {p.public_ev, source}


# --- One write path, audited -----------------------------------------------------------------------------


def _events(name: str):
    return list(AuditEvent.objects.filter(event=name).order_by("id"))


def test_add_evidence_is_audited_without_content(personas):
    p = personas
    evidence = make_evidence(p.alice, "https://example.org/new", Confidentiality.INTERNAL, [p.rec2])
    row = _events("evidence.add")[-1]
    assert (row.actor_id, row.organisation_id) == (p.alice.pk, p.org.pk)
    assert (row.target_type, row.target_id) == ("cases.evidence", str(evidence.pk))
    assert row.fields == {"confidentiality": "internal", "recommendations": 1}
    assert "example.org" not in str(row.fields)


def test_linking_internal_evidence_does_not_touch_the_recommendation(personas):
    """Partners poll `updated_since`: a change they cannot see must not show up there."""
    p = personas
    before = Recommendation.objects.get(pk=p.rec2.pk).updated_at
    evidence_before = Evidence.objects.get(pk=p.internal_ev.pk).updated_at
    linked = services.link_evidence(p.internal_ev, [p.rec2], by=p.alice)
    assert linked == [p.rec2]
    assert p.rec2.evidence.filter(pk=p.internal_ev.pk).exists()
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at == before
    assert Evidence.objects.get(pk=p.internal_ev.pk).updated_at == evidence_before
    row = _events("evidence.link")[-1]
    assert (row.actor_id, row.target_id, row.fields) == (
        p.alice.pk,
        str(p.internal_ev.pk),
        {"recommendations": [p.rec2.pk]},
    )
    # New internal evidence linked on creation: the same.
    make_evidence(p.alice, "https://example.org/private", Confidentiality.INTERNAL, [p.rec2])
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at == before


@pytest.mark.parametrize("level", [Confidentiality.PUBLIC, Confidentiality.PARTNERS])
def test_linking_shared_evidence_touches_the_recommendation(personas, level):
    p = personas
    evidence = p.public_ev if level == Confidentiality.PUBLIC else p.partners_ev
    before = Recommendation.objects.get(pk=p.rec2.pk).updated_at
    services.link_evidence(evidence, [p.rec2], by=p.alice)
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at > before
    before = Recommendation.objects.get(pk=p.rec2.pk).updated_at
    # Linking again is no change: no touch, no audit row.
    count = len(_events("evidence.link"))
    assert services.link_evidence(evidence, [p.rec2], by=p.alice) == []
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at == before
    assert len(_events("evidence.link")) == count
    made = make_evidence(p.alice, f"https://example.org/{level}", level, [p.rec2])
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at >= made.created_at > before


def test_partners_incremental_sync_does_not_see_internal_links(personas):
    """End to end: after linking internal evidence, a partners key's `updated_since` does not list it."""
    from django.test import Client
    from django.utils import timezone

    p = personas
    since = timezone.now()
    services.link_evidence(p.internal_ev, [p.rec2], by=p.alice)
    make_evidence(p.alice, "https://example.org/private-2", Confidentiality.INTERNAL, [p.rec2])
    response = Client().get(
        "/api/v1/recommendations/",
        {"updated_since": since.isoformat()},
        headers={"authorization": f"Bearer {p.partners_secret}"},
    )
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["results"]] == []


def test_unlink_refuses_what_a_published_assessment_of_that_recommendation_cites(cited):
    p = cited
    with pytest.raises(ValidationError) as info:
        services.unlink_evidence(p.public_ev, [p.rec], by=p.alice)
    assert info.value.code == "cited"
    assert p.rec.evidence.filter(pk=p.public_ev.pk).exists()
    assert not _events("evidence.unlink")
    # Linked to another recommendation that no published assessment of it cites: may be unlinked.
    services.link_evidence(p.public_ev, [p.rec2], by=p.alice)
    before = Recommendation.objects.get(pk=p.rec2.pk).updated_at
    assert services.unlink_evidence(p.public_ev, [p.rec2], by=p.alice) == [p.rec2]
    assert not p.rec2.evidence.filter(pk=p.public_ev.pk).exists()
    assert Recommendation.objects.get(pk=p.rec2.pk).updated_at > before
    row = _events("evidence.unlink")[-1]
    assert row.fields == {"recommendations": [p.rec2.pk]}


def test_cited_links_stay_for_any_writer(cited):
    """The model layer backs unlink_evidence: the m2m managers from either side."""
    p = cited
    link = Evidence.recommendations.through.objects.filter(evidence=p.public_ev, recommendation=p.rec)
    for action in (
        lambda: p.public_ev.recommendations.remove(p.rec),
        lambda: p.rec.evidence.remove(p.public_ev),
        lambda: p.public_ev.recommendations.clear(),
        lambda: p.rec.evidence.clear(),
        lambda: p.rec.evidence.set([p.partners_ev]),
    ):
        with pytest.raises(CitedEvidenceImmutable), transaction.atomic():
            action()
    assert link.exists()
    # A link no published assessment rests on goes as before.
    p.rec.evidence.remove(p.partners_ev)
    assert not p.rec.evidence.filter(pk=p.partners_ev.pk).exists()


def test_unlinking_internal_evidence_does_not_touch_the_recommendation(personas):
    p = personas
    before = Recommendation.objects.get(pk=p.rec.pk).updated_at
    services.unlink_evidence(p.internal_ev, [p.rec], by=p.carol)
    assert not p.rec.evidence.filter(pk=p.internal_ev.pk).exists()
    assert Recommendation.objects.get(pk=p.rec.pk).updated_at == before


def test_another_organisation_cannot_link_unlink_or_change_evidence(personas):
    p = personas
    for action in (
        lambda: services.link_evidence(p.public_ev, [p.rec2], by=p.mallory),
        lambda: services.unlink_evidence(p.public_ev, [p.rec], by=p.mallory),
        lambda: services.change_evidence(p.public_ev, by=p.mallory, publisher="Mallory"),
        lambda: services.link_evidence(p.mallory_internal, [p.rec2], by=p.alice),
    ):
        with pytest.raises(PermissionDenied):
            action()
    assert not p.rec2.evidence.filter(pk__in=[p.public_ev.pk, p.mallory_internal.pk]).exists()
    assert p.rec.evidence.filter(pk=p.public_ev.pk).exists()
    assert Evidence.objects.get(pk=p.public_ev.pk).publisher == "Example News"
    assert not AuditEvent.objects.filter(
        event__in=["evidence.link", "evidence.unlink", "evidence.change"]
    ).exists()


def test_change_evidence_is_audited_with_field_names_and_touches_only_when_visible(personas):
    p = personas
    before = Recommendation.objects.get(pk=p.rec.pk).updated_at
    assert services.change_evidence(p.internal_ev, by=p.alice, publisher="Witness") == ["publisher"]
    assert Recommendation.objects.get(pk=p.rec.pk).updated_at == before
    assert services.change_evidence(p.internal_ev, by=p.alice, publisher="Witness") == []
    row = _events("evidence.change")[-1]
    assert row.fields == {"fields": ["publisher"], "confidentiality": "internal"}
    assert len(_events("evidence.change")) == 1
    # Made public: now others see it, and sync must too.
    services.change_evidence(p.internal_ev, by=p.alice, confidentiality=Confidentiality.PUBLIC)
    assert Recommendation.objects.get(pk=p.rec.pk).updated_at > before
    row = _events("evidence.change")[-1]
    assert row.fields == {"fields": ["confidentiality"], "confidentiality": "public", "was": "internal"}


def test_review_transitions_are_audited_resubmit_included(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    services.return_assessment(assessment, reviewer=p.carol, comment="Witness X is at risk.")
    services.resubmit_assessment(assessment, author=p.alice, rationale="Now without names.")
    services.publish_assessment(assessment, reviewer=p.carol)
    rows = AuditEvent.objects.filter(target_type="cases.assessment", target_id=str(assessment.pk)).order_by(
        "id"
    )
    assert [(r.event, r.actor_id) for r in rows] == [
        ("assessment.submit", p.alice.pk),
        ("assessment.return", p.carol.pk),
        ("assessment.resubmit", p.alice.pk),
        ("assessment.publish", p.carol.pk),
    ]
    assert all(r.organisation_id == p.org.pk for r in rows)
    assert "Witness" not in str([r.fields for r in rows])


# --- Status never moves backwards in time -------------------------------------------------------------------


def test_another_organisations_correction_of_an_older_assessment_does_not_move_status_back(personas):
    p = personas
    mallory_ev = make_evidence(p.mallory, "https://example.org/mallory-public", Confidentiality.PUBLIC)
    older = submit(
        p.rec, p.alice, [p.public_ev],
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED, assessed_on=datetime.date(2023, 1, 1),
    )  # fmt: skip
    services.publish_assessment(older, reviewer=p.carol)
    newer = submit(
        p.rec, p.alice, [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED, assessed_on=datetime.date(2024, 6, 1),
    )  # fmt: skip
    services.publish_assessment(newer, reviewer=p.carol)
    # Another organisation corrects the 2023 assessment, speaking for 2023, and it is published last.
    other_curator = _curator_of(p.other_org)
    fix = submit(
        p.rec, p.mallory, [mallory_ev],
        implementation_status=ImplementationStatus.REGRESSED, assessed_on=datetime.date(2023, 1, 1),
        corrects=older,
    )  # fmt: skip
    services.publish_assessment(fix, reviewer=other_curator)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.PARTIALLY_IMPLEMENTED
    # The corrected one no longer counts: were the newer one corrected away too, the fix speaks.
    assert Assessment.objects.get(pk=fix.pk).review_state == ReviewState.PUBLISHED


def test_correction_dated_before_the_assessment_it_corrects_speaks_for_its_own_date(personas):
    p = personas
    first = submit(p.rec, p.alice, [p.public_ev], assessed_on=datetime.date(2023, 1, 1))
    services.publish_assessment(first, reviewer=p.carol)
    latest = submit(
        p.rec, p.alice, [p.public_ev],
        implementation_status=ImplementationStatus.IMPLEMENTED, assessed_on=datetime.date(2024, 6, 1),
    )  # fmt: skip
    services.publish_assessment(latest, reviewer=p.carol)
    # The 2024 assessment was wrong; the correction says what held in 2024 (same date).
    fix = submit(
        p.rec, p.alice, [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED, assessed_on=datetime.date(2024, 6, 1),
        corrects=latest,
    )  # fmt: skip
    services.publish_assessment(fix, reviewer=p.dave)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.PARTIALLY_IMPLEMENTED


def test_same_date_later_publication_wins_and_state_claims_stay_apart(personas):
    p = personas
    a = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.NOT_IMPLEMENTED)
    b = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
    claim = submit(
        p.rec, p.alice, [p.public_ev], basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
    )  # fmt: skip
    services.publish_assessment(a, reviewer=p.carol)
    services.publish_assessment(b, reviewer=p.carol)
    services.publish_assessment(claim, reviewer=p.carol)
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.REGRESSED
    assert p.rec.state_claim == claim


def _curator_of(organisation):
    from tests.factories import make_user

    return make_user("olga", role="curator", organisation=organisation)
