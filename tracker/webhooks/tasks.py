"""The webhook tasks, on the project's task queue (cases/tasks.py); nothing here runs in a request.

- `fan_out_assessment(assessment_id)`, `fan_out_evidence_linked(evidence_id, recommendation_ids)`,
  `fan_out_import(run_id)`: enqueued once the event's transaction commits (signals.py); each makes one
  `Delivery` per endpoint that wants the event and whose clearance may see its object (payloads.py), then
  enqueues one `deliver` per delivery. Idempotent: a delivery is unique per (endpoint, event, subject).
- `deliver(delivery_id)`: one attempt. It does nothing unless the delivery is still waiting (pending, or
  failed and due for a retry), the endpoint active and the object still visible to its clearance. The URL is
  checked again after resolution and the request sent to the checked address (net.py). A failed attempt is
  tried again with `cases.tasks.retrying`'s backoff — 1 min, 2, 4, … capped at an hour — until a day has
  passed since the first attempt; the delivery row says what happened (attempts, response code and excerpt,
  next attempt), which the delivery log shows.

At-least-once: the request is sent outside any transaction (a slow receiver must not hold a database lock),
so a worker that dies after the receiver answered and before the outcome is written sends it again, with the
same `Tracker-Delivery` id; receivers drop ids they have seen.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from cases import access
from cases import tasks as queue
from cases.models import Assessment, ImportRun, ImportStatus, Recommendation
from cases.tasks import enqueue_on_commit, retrying

from . import net, payloads, services
from .models import Delivery, Event, Status

logger = logging.getLogger(__name__)

# Enough attempts for a day of retries at the capped backoff; the day, not the count, ends them.
MAX_ATTEMPTS = 40


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    for pk in delivery_ids:
        enqueue_on_commit(deliver, pk)


@retrying(attempts=4, backoff=30)
def fan_out_assessment(assessment_id: int, *, attempt: int = 1) -> int:
    found = Assessment.objects.published().filter(pk=assessment_id).values("corrects_id").first()
    if found is None:
        return 0
    event = Event.ASSESSMENT_CORRECTED if found["corrects_id"] else Event.ASSESSMENT_PUBLISHED
    with transaction.atomic():
        made = services.create_deliveries(
            event,
            [(f"assessment:{assessment_id}", lambda viewer: payloads.assessment(viewer, assessment_id))],
        )
        _enqueue_deliveries(made)
    return len(made)


@retrying(attempts=4, backoff=30)
def fan_out_evidence_linked(evidence_id: int, recommendation_ids: list[int], *, attempt: int = 1) -> int:
    codes = dict(
        Recommendation.objects.filter(pk__in=recommendation_ids).order_by("pk").values_list("pk", "code")
    )
    items = [
        (
            f"evidence:{evidence_id}:recommendation:{pk}",
            lambda viewer, code=code: payloads.evidence_linked(viewer, evidence_id, code),
        )
        for pk, code in codes.items()
    ]
    with transaction.atomic():
        made = services.create_deliveries(Event.EVIDENCE_LINKED, items)
        _enqueue_deliveries(made)
    return len(made)


def _imported(run: ImportRun) -> dict[int, str]:
    """The recommendations an import created or changed: their history rows written by the import's
    curator while it ran (the import attributes its history to her). A change of themes only writes no
    history row and sends nothing."""
    history = Recommendation.history.model
    rows = (
        history.objects.filter(
            history_user_id=run.created_by_id,
            history_date__gte=run.created_at,
            history_date__lte=run.finished_at or timezone.now(),
            history_type__in=["+", "~"],
        )
        .order_by("history_date", "history_id")
        .values_list("id", "history_type")
    )
    actions: dict[int, str] = {}
    for pk, kind in rows:
        if actions.get(pk) != "created":
            actions[pk] = "created" if kind == "+" else "updated"
    return actions


@retrying(attempts=4, backoff=30)
def fan_out_import(run_id: int, *, attempt: int = 1) -> int:
    run = ImportRun.objects.filter(pk=run_id, status=ImportStatus.DONE).first()
    if run is None:
        return 0
    items = [
        (
            f"import:{run.pk}:recommendation:{pk}",
            lambda viewer, pk=pk, action=action: payloads.recommendation(
                viewer, pk, action=action, import_run=run.pk
            ),
        )
        for pk, action in _imported(run).items()
    ]
    with transaction.atomic():
        made = services.create_deliveries(Event.RECOMMENDATION_IMPORTED, items)
        _enqueue_deliveries(made)
    return len(made)


class DeliveryFailed(Exception):
    """An attempt failed; `retry` says whether the task is to be tried again (within the day)."""

    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.retry = retry


def _retry_on(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryFailed) and exc.retry


@retrying(attempts=MAX_ATTEMPTS, backoff=services.BACKOFF, retry_on=_retry_on)
def deliver(delivery_id: int, *, attempt: int = 1) -> str:
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status not in (Status.PENDING, Status.FAILED):
        return "skipped"  # deleted with its endpoint, delivered already, or given up
    endpoint = delivery.endpoint
    if not endpoint.active:
        services.give_up(delivery.pk, "endpoint paused")
        return Status.GAVE_UP
    viewer = access.viewer_for_clearance(endpoint.organisation_id, endpoint.clearance)
    if not payloads.still_visible(viewer, delivery.event, delivery.subject):
        services.give_up(delivery.pk, "no longer visible to the endpoint's clearance")
        return Status.GAVE_UP
    started = timezone.now()
    outcome = net.send(
        endpoint.url,
        endpoint.secret,
        services.body_of(delivery),
        event=delivery.event,
        delivery_id=str(delivery.idempotency_id),
    )
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if locked is None:
            return "skipped"
        # The same delay `retrying` waits before the next attempt (read through the module, so both agree).
        status = services.record_attempt(
            locked, outcome, started=started, next_delay=queue.retry_delay(attempt, services.BACKOFF)
        )
    if status == Status.SUCCEEDED:
        return status
    message = outcome.error or f"HTTP {outcome.code}"
    logger.warning("webhook delivery %s failed (attempt %s): %s", delivery.pk, attempt, message)
    raise DeliveryFailed(message, retry=status == Status.FAILED)
