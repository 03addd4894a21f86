"""Database constraints reject bad rows even when the ORM's validation is bypassed."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Assessment, Document, Evidence, Recommendation
from tests.factories import make_recommendation, submit

pytestmark = pytest.mark.django_db


def _violates(name_fragment: str, fn) -> None:
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        fn()
    # SQLite names the failed CHECK constraint; PostgreSQL does too. Unique violations name columns or index.
    assert name_fragment in str(info.value).lower() or "unique" in str(info.value).lower()


def test_choice_constraints(personas):
    p = personas
    _violates("addressee", lambda: Recommendation.objects.filter(pk=p.rec.pk).update(addressee="martians"))
    _violates(
        "implementation_status",
        lambda: Recommendation.objects.filter(pk=p.rec.pk).update(implementation_status="done"),
    )
    _violates("kind", lambda: Evidence.objects.filter(pk=p.public_ev.pk).update(kind="rumour"))
    _violates(
        "confidentiality", lambda: Evidence.objects.filter(pk=p.public_ev.pk).update(confidentiality="secret")
    )
    _violates("issuing_body", lambda: Document.objects.filter(pk=p.document.pk).update(issuing_body="nobody"))
    assessment = submit(p.rec, p.alice, [p.public_ev])
    _violates("basis", lambda: Assessment.objects.filter(pk=assessment.pk).update(basis="hearsay"))
    _violates(
        "review_state", lambda: Assessment.objects.filter(pk=assessment.pk).update(review_state="draft")
    )


def test_evidence_url_must_be_http(personas):
    p = personas
    _violates(
        "url_http", lambda: Evidence.objects.filter(pk=p.public_ev.pk).update(url="javascript:alert(1)")
    )
    _violates(
        "archive_url_http", lambda: Evidence.objects.filter(pk=p.public_ev.pk).update(archive_url="ftp://x")
    )


def test_unique_code_and_url(personas):
    p = personas
    _violates("code", lambda: make_recommendation(p.document, "XJ22-151-i", "999"))
    _violates("url", lambda: Evidence.objects.create(url=p.public_ev.url, title="dup", organisation=p.org))


def test_reviewer_is_not_author(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    _violates(
        "reviewer_not_author", lambda: Assessment.objects.filter(pk=assessment.pk).update(reviewer=p.alice)
    )


def test_published_needs_reviewer_and_time(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    _violates(
        "published_has_reviewer",
        lambda: Assessment.objects.filter(pk=assessment.pk).update(review_state="published"),
    )
    _violates(
        "only_published_has_time",
        lambda: Assessment.objects.filter(pk=assessment.pk).update(published_at=timezone.now()),
    )


def test_str_is_readable(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev], assessed_on=datetime.date(2024, 8, 27))
    assert str(p.rec) == "XJ22-151-i"
    assert "XJ22-151-i" in str(assessment) and "2024-08-27" in str(assessment)
    assert str(p.public_ev) == p.public_ev.title
