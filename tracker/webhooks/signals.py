"""The hooks: an event enqueues its fan-out task once its transaction commits, as the notifications do.

- a publication (an AssessmentTransition to `published`, written by every review path in cases/services.py):
  `assessment.published`, or `assessment.corrected` when the assessment corrects another;
- a link between evidence and recommendations (the m2m's post_add, from add_evidence, link_evidence, a
  submission citing evidence or the admin): `evidence.linked`;
- a finished import (its `import.finish` audit row, which cases/imports/apply.py writes once per run, from
  the page's task or the command): `recommendation.imported`.

They write nothing. After the commit they read whether any active endpoint wants the event (one query) and
enqueue nothing otherwise, so an instance without webhooks runs no webhook task. The fan-out task decides
what each endpoint's clearance may see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from cases.models import AssessmentTransition, Evidence, ReviewState
from tracker.accounts.models import AuditEvent

from .models import Endpoint, Event

logger = logging.getLogger(__name__)


def _wanted(*events: str) -> bool:
    for subscribed in Endpoint.objects.active().values_list("events", flat=True):
        if any(event in (subscribed or []) for event in events):
            return True
    return False


def _after_commit(events: tuple[str, ...], enqueue: Callable[[], None], what: str) -> None:
    def run() -> None:
        # The event itself has committed: a queue that is briefly unreachable must not turn it into an
        # error page. The failure is logged for the operator; these deliveries are then not made.
        try:
            if _wanted(*events):
                enqueue()
        except Exception:
            logger.exception("could not enqueue the webhooks of %s", what)

    transaction.on_commit(run)


@receiver(post_save, sender=AssessmentTransition, dispatch_uid="webhooks.publication")
def _published(sender, instance: AssessmentTransition, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created or instance.to_state != ReviewState.PUBLISHED:
        return
    assessment_id = instance.assessment_id

    def enqueue() -> None:
        from .tasks import fan_out_assessment

        fan_out_assessment.enqueue(assessment_id)

    _after_commit(
        (Event.ASSESSMENT_PUBLISHED, Event.ASSESSMENT_CORRECTED), enqueue, f"assessment {assessment_id}"
    )


@receiver(m2m_changed, sender=Evidence.recommendations.through, dispatch_uid="webhooks.evidence_linked")
def _linked(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if action != "post_add" or not pk_set:
        return
    # Forward: evidence.recommendations.add(recs); reverse: recommendation.evidence.add(evidence items).
    links = [(instance.pk, sorted(pk_set))] if not reverse else [(pk, [instance.pk]) for pk in sorted(pk_set)]

    def enqueue() -> None:
        from .tasks import fan_out_evidence_linked

        for evidence_id, recommendation_ids in links:
            fan_out_evidence_linked.enqueue(evidence_id, recommendation_ids)

    _after_commit((Event.EVIDENCE_LINKED,), enqueue, "an evidence link")


@receiver(post_save, sender=AuditEvent, dispatch_uid="webhooks.import_finished")
def _import_finished(sender, instance: AuditEvent, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created or instance.event != "import.finish" or not instance.target_id.isdigit():
        return
    run_id = int(instance.target_id)

    def enqueue() -> None:
        from .tasks import fan_out_import

        fan_out_import.enqueue(run_id)

    _after_commit((Event.RECOMMENDATION_IMPORTED,), enqueue, f"import {run_id}")
