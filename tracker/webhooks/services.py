"""Every write of the webhooks app: endpoints made, deleted, paused and resumed (each audited), deliveries
made by the fan-out and the outcome of each attempt.

The admin, the API and the tasks all call these. Who may call them for which organisation is decided by
cases/access.py before they are called (`key_webhook_endpoints`, `admin_webhook_endpoints`).

Pausing: every failed attempt adds one to the endpoint's `consecutive_failures`, every success sets it back
to 0; at `settings.WEBHOOKS_PAUSE_AFTER` (default 10) the endpoint is paused (nothing more is sent to it,
its waiting deliveries give up) and the organisation's curators are told: the notifications app has a
closed list of kinds with a database constraint, none about webhooks, so the notice is a `webhook.pause`
audit event (WARNING, the organisation's; curators read it in the admin's audit trail) and a warning on the
admin's list of endpoints for as long as one is paused. A curator resumes it there.
"""

from __future__ import annotations

import datetime
import json
import secrets
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases import access
from cases.models import ApiKey, KeyClearance, Organisation
from tracker.accounts import audit

from . import net
from .models import Delivery, Endpoint, Event, Status

SECRET_PREFIX = "whsec_"  # noqa: S105 (a visible prefix, not a secret)
# Retries: 1 minute, doubling (cases.tasks.retry_delay caps each wait at an hour), until a day has passed
# since the first attempt.
BACKOFF = 60.0
RETRY_WINDOW = datetime.timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def clean_events(events: Iterable[str]) -> list[str]:
    """The events in their canonical order, each once. Raises ValueError for an unknown one."""
    wanted = set(events)
    unknown = wanted - set(Event.values)
    if unknown:
        raise ValueError(f"unknown events: {sorted(unknown)}")
    return [e for e in Event.values if e in wanted]


@transaction.atomic
def create_endpoint(
    organisation: Organisation | int,
    *,
    url: str,
    events: Iterable[str],
    clearance: str = KeyClearance.PUBLIC,
    description: str = "",
    created_by=None,
    key: ApiKey | None = None,
) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it and its secret (shown once). The URL is checked (net.Refused:
    scheme, credentials, an address inside), resolved now; it is checked again before every attempt."""
    net.check_destination(url)
    secret = new_secret()
    endpoint = Endpoint.objects.create(
        organisation_id=getattr(organisation, "pk", organisation),
        url=url,
        description=description,
        secret=secret,
        events=clean_events(events),
        clearance=clearance,
        created_by=created_by,
        created_by_key=key,
    )
    audit.record(
        "webhook.create",
        actor=key if key is not None else created_by,
        target=endpoint,
        organisation=endpoint.organisation_id,
        clearance=endpoint.clearance,
        events=endpoint.events,
    )
    return endpoint, secret


@transaction.atomic
def delete_endpoint(endpoint: Endpoint, *, by=None) -> None:
    """Delete an endpoint and its delivery log; deliveries still queued then find nothing to send."""
    audit.record("webhook.delete", actor=by, target=endpoint, organisation=endpoint.organisation_id)
    endpoint.delete()


@transaction.atomic
def resume_endpoint(endpoint: Endpoint, *, by) -> bool:
    """A curator turns a paused endpoint back on (after the partner fixed its receiver). False if active."""
    locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if locked.active:
        return False
    Endpoint.objects.filter(pk=locked.pk).update(
        active=True, paused_at=None, consecutive_failures=0, updated_at=timezone.now()
    )
    audit.record("webhook.resume", actor=by, target=locked, organisation=locked.organisation_id)
    return True


# --- The fan-out: one delivery per event and endpoint ---------------------------------------------------


def create_deliveries(
    event: str, items: list[tuple[str, Callable[[access.Viewer], dict | None]]]
) -> list[int]:
    """For each (subject, build) pair — `build` maps a clearance's viewer to the event's data, or None when
    that clearance may not see it — a delivery to every active endpoint that wants the event and may see
    it. Returns the ids of the deliveries made now (a task run twice makes each one once)."""
    endpoints = [e for e in Endpoint.objects.active().order_by("pk") if e.wants(event)]
    if not endpoints or not items:
        return []
    now = timezone.now()
    rows = []
    for subject, build in items:
        by_clearance: dict[str, dict | None] = {}
        for endpoint in endpoints:
            if endpoint.clearance not in by_clearance:
                viewer = access.viewer_for_clearance(endpoint.organisation_id, endpoint.clearance)
                by_clearance[endpoint.clearance] = build(viewer)
            data = by_clearance[endpoint.clearance]
            if data is None:
                continue
            delivery = Delivery(endpoint=endpoint, event=event, subject=subject)
            delivery.payload = {
                "id": str(delivery.idempotency_id),
                "event": event,
                "created_at": now.isoformat().replace("+00:00", "Z"),
                "data": data,
            }
            rows.append(delivery)
    if not rows:
        return []
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    made = {d.idempotency_id for d in rows}
    return list(
        Delivery.objects.filter(idempotency_id__in=made, attempts=0, status=Status.PENDING).values_list(
            "pk", flat=True
        )
    )


# --- Attempts ---------------------------------------------------------------------------------------------


def body_of(delivery: Delivery) -> bytes:
    """The bytes sent (and signed): the stored payload as compact UTF-8 JSON, the same on every retry."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@transaction.atomic
def give_up(delivery_id: int, reason: str) -> None:
    Delivery.objects.filter(pk=delivery_id).exclude(status=Status.SUCCEEDED).update(
        status=Status.GAVE_UP, last_error=reason[:500], next_attempt_at=None, updated_at=timezone.now()
    )


@transaction.atomic
def record_attempt(
    delivery: Delivery, outcome: net.Outcome, *, started: datetime.datetime, next_delay: float
) -> str:
    """Write one attempt's outcome on the delivery and the endpoint; returns the delivery's new status.
    A failure is retried (`failed`, with `next_attempt_at`) while the next attempt falls within a day of the
    first; after that it gives up. A failure that reaches the endpoint's limit pauses the endpoint."""
    now = timezone.now()
    first = delivery.first_attempt_at or started
    fields = {
        "attempts": F("attempts") + 1,
        "first_attempt_at": first,
        "last_attempt_at": now,
        "response_code": outcome.code,
        "response_excerpt": outcome.excerpt,
        "last_error": outcome.error[:500],
        "updated_at": now,
    }
    endpoint = Endpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if outcome.ok:
        status = Status.SUCCEEDED
        fields.update(status=status, delivered_at=now, next_attempt_at=None)
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
    else:
        retry_at = now + datetime.timedelta(seconds=next_delay)
        status = Status.FAILED if retry_at <= first + RETRY_WINDOW else Status.GAVE_UP
        fields.update(status=status, next_attempt_at=retry_at if status == Status.FAILED else None)
        failures = endpoint.consecutive_failures + 1
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=failures)
        if endpoint.active and failures >= settings.WEBHOOKS_PAUSE_AFTER:
            _pause(endpoint, failures, now)
            status = Status.GAVE_UP
            fields.update(status=status, next_attempt_at=None)
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    return status


def _pause(endpoint: Endpoint, failures: int, now: datetime.datetime) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False, paused_at=now, updated_at=now)
    # The notice to the organisation's curators (see the module's docstring).
    audit.record("webhook.pause", target=endpoint, organisation=endpoint.organisation_id, failures=failures)
    # Its other waiting deliveries are not sent to a paused endpoint.
    Delivery.objects.filter(endpoint_id=endpoint.pk, status__in=[Status.PENDING, Status.FAILED]).update(
        status=Status.GAVE_UP, next_attempt_at=None, last_error="endpoint paused", updated_at=now
    )


def paused_endpoints(viewer: access.Viewer):
    return access.admin_webhook_endpoints(viewer, Endpoint.objects.filter(active=False))
