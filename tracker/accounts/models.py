"""The audit trail: one append-only row per security-relevant action (who, what, when, which organisation;
never the content of what was read or written)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailImmutable(_("Audit events are append-only."))

    def delete(self):
        raise AuditTrailImmutable(_("Audit events are append-only."))


class AuditTrailImmutable(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    """Written only by `tracker.accounts.audit.record`. The event name is one of `audit.EVENTS` (checked
    there, not by a database constraint, so a new event name needs no migration)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event = models.CharField(_("event"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # An API key acts without a user; its visible prefix says which one.
    key_prefix = models.CharField(_("API key"), max_length=16, blank=True)
    organisation = models.ForeignKey(
        "cases.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    # Identifiers and outcomes only (ids, states, counts, a truncated network): never text a user typed.
    fields = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            # The curators' audit page: their own organisation's events, newest first.
            models.Index(fields=["organisation", "-created_at"], name="accounts_audit_org_time"),
            # "What happened to this object?" from an object's admin page.
            models.Index(fields=["target_type", "target_id"], name="accounts_audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditTrailImmutable(_("Audit events are append-only."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailImmutable(_("Audit events are append-only."))
