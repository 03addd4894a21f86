"""Races between reviewers and writers, with real threads and real connections (SQLite file and PostgreSQL)."""

import datetime
import threading

import pytest
from django.db import connection

from cases import services
from cases.models import Assessment, AssessmentTransition, ImplementationStatus, ReviewState
from tests.factories import submit

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*callables):
    """Start all callables at the same instant; return their results or exceptions."""
    barrier = threading.Barrier(len(callables))
    results: list = [None] * len(callables)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(callables)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_parallel_publications_on_one_recommendation_agree_with_latest(personas):
    p = personas
    statuses = [
        ImplementationStatus.NOT_IMPLEMENTED,
        ImplementationStatus.PARTIALLY_IMPLEMENTED,
        ImplementationStatus.REGRESSED,
        ImplementationStatus.IMPLEMENTED,
    ]
    pending = [
        submit(
            p.rec, p.alice, [p.public_ev], implementation_status=s, assessed_on=datetime.date(2024, 1, 1 + i)
        )
        for i, s in enumerate(statuses)
    ]
    reviewers = [p.carol, p.dave]
    results = run_together(
        *[
            lambda a=a, r=reviewers[i % 2]: services.publish_assessment(a, reviewer=r)
            for i, a in enumerate(pending)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Assessment.objects.filter(review_state=ReviewState.PUBLISHED).count() == len(pending)
    p.rec.refresh_from_db()
    # The latest by the date it speaks for wins, whatever order the threads committed in.
    assert p.rec.implementation_status == ImplementationStatus.IMPLEMENTED


def test_two_curators_publishing_the_same_assessment_only_one_wins(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev])
    results = run_together(
        lambda: services.publish_assessment(Assessment.objects.get(pk=assessment.pk), reviewer=p.carol),
        lambda: services.publish_assessment(Assessment.objects.get(pk=assessment.pk), reviewer=p.dave),
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], services.TransitionError), results
    assert (
        AssessmentTransition.objects.filter(assessment=assessment, to_state=ReviewState.PUBLISHED).count()
        == 1
    )


def test_publish_racing_submits_loses_nothing(personas):
    p = personas
    first = submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
    writers = [
        lambda i=i: submit(
            p.rec, p.alice, [p.public_ev], rationale=f"parallel {i}", assessed_on=datetime.date(2023, 1, 1)
        )
        for i in range(4)
    ]
    results = run_together(lambda: services.publish_assessment(first, reviewer=p.carol), *writers)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Assessment.objects.filter(rationale__startswith="parallel").count() == 4
    assert Assessment.objects.filter(review_state=ReviewState.SUBMITTED).count() == 4
    p.rec.refresh_from_db()
    assert p.rec.implementation_status == ImplementationStatus.REGRESSED
