"""The hook: a publication or a return enqueues `tasks.notify_review` once its transaction commits.

A receiver of AssessmentTransition's post_save rather than a call in each service: every review action
(publish, return, the admin's bulk actions, the data set's loader) writes its transition through
cases/services.py, so this one place catches them all. It writes nothing itself; the task does, after the
commit, on the worker.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import AssessmentTransition, ReviewState

logger = logging.getLogger(__name__)

NOTIFIED_STATES = {ReviewState.PUBLISHED, ReviewState.RETURNED}


@receiver(post_save, sender=AssessmentTransition, dispatch_uid="notifications.review_transition")
def _review_transition(
    sender, instance: AssessmentTransition, created: bool, raw: bool = False, **kwargs
) -> None:
    if raw or not created or instance.to_state not in NOTIFIED_STATES:
        return
    transition_id = instance.pk

    def enqueue() -> None:
        from .tasks import notify_review

        # The review itself has committed: a queue that is briefly unreachable must not turn it into an
        # error page. The failure is logged for the operator; these notifications are then not sent.
        try:
            notify_review.enqueue(transition_id)
        except Exception:
            logger.exception("could not enqueue the notifications of review transition %s", transition_id)

    transaction.on_commit(enqueue)
