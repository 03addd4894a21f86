"""Webhook endpoints a partner organisation registers, and the deliveries made to them.

An `Endpoint` belongs to an organisation and has a clearance, as an API key does (`public` or `partners`):
what it is sent is exactly what a key of that clearance reads from the API. Its secret signs every delivery
(HMAC-SHA256); it is shown once, when the endpoint is made, and kept in the database because signing needs
it (a hash would not do, unlike an API key's).

A `Delivery` is one event for one endpoint: its payload (built once, on the worker, through the API's
serializers), its idempotency id (a UUID the receiver sees in `Tracker-Delivery` and in the body's `id`,
the same on every retry), the attempts, the last response code and an excerpt of the body. `subject` names
what the event is about ("assessment:12"); (endpoint, event, subject) is unique, so a fan-out task that runs
twice makes each delivery once.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import ApiKey, KeyClearance, Organisation, TimeStamped


def _in(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class Event(models.TextChoices):
    ASSESSMENT_PUBLISHED = "assessment.published", _("An assessment was published")
    ASSESSMENT_CORRECTED = "assessment.corrected", _("A correction of a published assessment was published")
    EVIDENCE_LINKED = "evidence.linked", _("Evidence was linked to a recommendation")
    RECOMMENDATION_IMPORTED = (
        "recommendation.imported",
        _("A recommendation was created or updated by an import"),
    )


class EndpointQuerySet(models.QuerySet):
    def active(self) -> EndpointQuerySet:
        return self.filter(active=True)


class Endpoint(TimeStamped):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("organisation"),
    )
    url = models.URLField(_("URL"), max_length=500, help_text=_("http or https; never a private address."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Signs the deliveries; shown once. Not editable in any form.
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    # A list of Event codes (checked by the forms and serializers; few endpoints, so filtered in Python).
    events = models.JSONField(_("events"), default=list)
    clearance = models.CharField(
        _("clearance"), max_length=16, choices=KeyClearance.choices, default=KeyClearance.PUBLIC
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Off: paused, nothing is sent."))
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    # Registered through the API with this key (a key is no person: `created_by` is then empty).
    created_by_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created with key"),
    )

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        constraints = [
            models.CheckConstraint(
                condition=_in("clearance", KeyClearance), name="webhooks_endpoint_clearance_valid"
            ),
            models.CheckConstraint(
                condition=Q(active=True) | Q(paused_at__isnull=False),
                name="webhooks_endpoint_paused_has_time",
            ),
        ]
        # The fan-out: an organisation's active endpoints (all organisations', each event).
        indexes = [models.Index(fields=["active", "organisation"], name="webhooks_endpoint_active")]

    def __str__(self) -> str:
        return f"{self.url} ({self.organisation_id}, {self.clearance})"

    def wants(self, event: str) -> bool:
        return event in (self.events or [])


class Status(models.TextChoices):
    PENDING = "pending", _("Waiting for its first attempt")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed; will be tried again")
    GAVE_UP = "gave_up", _("Gave up")


class Delivery(TimeStamped):
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    subject = models.CharField(_("about"), max_length=200)
    idempotency_id = models.UUIDField(_("idempotency id"), default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    response_excerpt = models.TextField(_("response"), blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    first_attempt_at = models.DateTimeField(_("first attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "subject"], name="webhooks_delivery_once_per_event"
            ),
            models.CheckConstraint(condition=_in("event", Event), name="webhooks_delivery_event_valid"),
            models.CheckConstraint(condition=_in("status", Status), name="webhooks_delivery_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=Status.SUCCEEDED) | Q(delivered_at__isnull=False),
                name="webhooks_delivery_succeeded_has_time",
            ),
        ]
        # The delivery log of an endpoint (admin and API), newest first.
        indexes = [models.Index(fields=["endpoint", "-created_at", "-id"], name="webhooks_delivery_log")]

    def __str__(self) -> str:
        return f"{self.event} {self.subject} → {self.endpoint_id} ({self.get_status_display()})"
