"""Notifications: what a user is told (in the app and by e-mail), what she follows, and what she wants.

A `Notification` is written by a task (tracker/notifications/tasks.py), never in a request. It keeps the
plain values its text needs (`params`: a code, a status, a count), so the text is rendered in the reader's
language when shown and still reads right after the assessment changed. Its e-mail has a delivery state of
its own (`delivery`: none, pending, sent, failed) with the attempts and the last error, which curators see.
`key` is unique: the task that creates notifications may run twice (a retry, a redelivery) and still makes
each one once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from cases.models import Assessment, ImplementationStatus, Recommendation


def _in(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class Kind(models.TextChoices):
    PUBLISHED = "published", _("My submission was published")
    RETURNED = "returned", _("My submission was returned to me")
    QUEUE_WAITING = "queue_waiting", _("The review queue has waited more than a day (curators)")
    FOLLOWED_CHANGED = "followed_changed", _("A recommendation I follow changed")


class Delivery(models.TextChoices):
    NONE = "none", _("Not sent by e-mail")
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class NotificationQuerySet(models.QuerySet):
    def shown(self) -> NotificationQuerySet:
        """The notifications of the in-app list (a user may take a kind by e-mail only)."""
        return self.filter(in_app=True)

    def unread(self) -> NotificationQuerySet:
        return self.filter(in_app=True, read_at__isnull=True)


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # What it is about. SET_NULL: the text is rendered from `params`, so it outlives its subject.
    recommendation = models.ForeignKey(
        Recommendation,
        verbose_name=_("recommendation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    assessment = models.ForeignKey(
        Assessment,
        verbose_name=_("assessment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    params = models.JSONField(_("details"), default=dict, blank=True)
    # The event and the recipient, e.g. "published:<transition>:<user>": one notification per event and person.
    key = models.CharField(_("idempotency key"), max_length=200)
    in_app = models.BooleanField(_("shown in the app"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    delivery = models.CharField(_("e-mail"), max_length=16, choices=Delivery.choices, default=Delivery.NONE)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["key"], name="notifications_notification_key_unique"),
            models.CheckConstraint(condition=_in("kind", Kind), name="notifications_notification_kind_valid"),
            models.CheckConstraint(
                condition=_in("delivery", Delivery), name="notifications_notification_delivery_valid"
            ),
            models.CheckConstraint(
                condition=~Q(delivery=Delivery.SENT) | Q(sent_at__isnull=False),
                name="notifications_notification_sent_has_time",
            ),
        ]
        indexes = [
            # /notifications/: a user's list, newest first.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notifications_by_recipient"),
            # The nav's unread count (folded into the membership query, cases/access.py).
            models.Index(
                fields=["recipient"],
                condition=Q(in_app=True, read_at__isnull=True),
                name="notifications_unread",
            ),
            # The curators' list of failed deliveries.
            models.Index(fields=["-created_at"], condition=Q(delivery="failed"), name="notifications_failed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient_id} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    def message(self) -> str:
        """The one-line text, in the active language, from the plain values kept in `params`."""
        p = self.params
        code = p.get("code", "")
        if self.kind == Kind.PUBLISHED:
            return gettext("Your assessment of %(code)s was published.") % {"code": code}
        if self.kind == Kind.RETURNED:
            return gettext("Your assessment of %(code)s was returned to you to revise.") % {"code": code}
        if self.kind == Kind.QUEUE_WAITING:
            count = int(p.get("count", 0))
            return ngettext(
                "%(count)s submitted assessment has waited for review for more than a day.",
                "%(count)s submitted assessments have waited for review for more than a day.",
                count,
            ) % {"count": count}
        if p.get("action") == "returned":
            return gettext("An assessment of %(code)s, which you follow, was returned to its author.") % {
                "code": code
            }
        return gettext("%(code)s, which you follow, has a newly published assessment: %(status)s.") % {
            "code": code,
            "status": status_label(p.get("status", "")),
        }

    def path(self) -> str:
        """Where the notification leads (a path; e-mails prefix SITE_URL)."""
        if self.kind == Kind.QUEUE_WAITING:
            return reverse("cases:review-queue")
        code = self.params.get("code")
        if self.kind == Kind.RETURNED and self.assessment_id:
            return reverse("cases:assessment-resubmit", args=[self.assessment_id])
        if code:
            url = reverse("cases:recommendation", args=[code])
            if self.kind == Kind.PUBLISHED and self.assessment_id:
                url += f"#assessment-{self.assessment_id}"
            return url
        return reverse("notifications:list")


def status_label(value: str) -> str:
    try:
        return str(ImplementationStatus(value).label)
    except ValueError:
        return value


class Follow(models.Model):
    """A user follows a recommendation: she hears when it changes (Kind.FOLLOWED_CHANGED)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="follows"
    )
    recommendation = models.ForeignKey(
        Recommendation, verbose_name=_("recommendation"), on_delete=models.CASCADE, related_name="follows"
    )
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "recommendation"], name="notifications_follow_once_per_user"
            ),
        ]
        # The fan-out task's "who follows this recommendation" uses the constraint's index the other way
        # round; this one serves it.
        indexes = [models.Index(fields=["recommendation"], name="notifications_follow_by_rec")]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.recommendation_id}"


class Preferences(models.Model):
    """Which kinds a user receives, in the app and by e-mail. No row means the defaults (DEFAULTS)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preferences",
    )
    published_app = models.BooleanField(_("published: in the app"), default=True)
    published_email = models.BooleanField(_("published: by e-mail"), default=True)
    returned_app = models.BooleanField(_("returned: in the app"), default=True)
    returned_email = models.BooleanField(_("returned: by e-mail"), default=True)
    queue_waiting_app = models.BooleanField(_("review queue: in the app"), default=True)
    queue_waiting_email = models.BooleanField(_("review queue: by e-mail"), default=True)
    followed_changed_app = models.BooleanField(_("followed: in the app"), default=True)
    followed_changed_email = models.BooleanField(_("followed: by e-mail"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("notification preferences")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

    def wants(self, kind: str, channel: str) -> bool:
        """channel: "app" or "email"."""
        return bool(getattr(self, f"{kind}_{channel}"))

    @classmethod
    def for_users(cls, user_ids) -> dict[int, Preferences]:
        """Each user's preferences (a default, unsaved row for those who never chose), in one query."""
        found = {p.user_id: p for p in cls.objects.filter(user_id__in=list(user_ids))}
        return {pk: found.get(pk) or cls(user_id=pk) for pk in user_ids}


def unread_count(user_ref: str = "user_id") -> Coalesce:
    """A subquery counting the unread in-app notifications of the user at `user_ref` (an OuterRef path):
    the nav's count, folded into the query that already reads the signed-in user's membership."""
    unread = (
        Notification.objects.unread()
        .filter(recipient_id=OuterRef(user_ref))
        .order_by()
        .values("recipient_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=models.IntegerField()), 0)
