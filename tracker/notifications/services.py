"""Who is told what: every write of the notifications app.

Called by the tasks (tasks.py) and the views, never from a request for the fan-out itself: a publication or
a return enqueues `tasks.notify_review`, which calls `notify_review` here. Who may hear about an assessment
is decided by cases/access.py: a recipient must be a member who may see it (an unpublished assessment only
within its organisation), so another organisation hears of a publication (which it may read anyway) and of
nothing else. The texts carry plain values only (a code, a status, a count), never a rationale or a
reviewer's comment: those may name people at risk and stay behind the sign-in.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access
from cases.dataset import SYSTEM_AUTHOR, SYSTEM_REVIEWER
from cases.models import Assessment, AssessmentTransition, Recommendation, ReviewState
from tracker.accounts.roles import CURATORS

from .models import Delivery, Follow, Kind, Notification, Preferences

# How long a submission waits in the review queue before the curators' daily digest mentions it.
QUEUE_WAIT = datetime.timedelta(days=1)

# The data set's accounts never sign in: nobody reads what they would be told.
_SYSTEM_ACCOUNTS = {SYSTEM_AUTHOR, SYSTEM_REVIEWER}

_REVIEW_KINDS = {ReviewState.PUBLISHED: Kind.PUBLISHED, ReviewState.RETURNED: Kind.RETURNED}


def _reachable(user) -> bool:
    return bool(user.is_active and user.get_username() not in _SYSTEM_ACCOUNTS)


def _may_see(user, assessment: Assessment) -> bool:
    """The one question for every recipient: may this member see this assessment (cases/access.py)?"""
    viewer = access.viewer_for_user(user)
    return access.has_role(viewer, access.MEMBER) and (
        access.visible_assessments(viewer).filter(pk=assessment.pk).exists()
    )


def _build(user, prefs: Preferences, kind: str, key: str, **fields) -> Notification | None:
    """A notification as the recipient wants it (in the app, by e-mail, both or neither)."""
    in_app, email = prefs.wants(kind, "app"), prefs.wants(kind, "email")
    if not (in_app or email):
        return None
    notification = Notification(recipient=user, kind=kind, key=key, in_app=in_app, **fields)
    if email:
        notification.delivery = Delivery.PENDING
        if not user.email:
            # Shown to the organisation's curators with the other failed deliveries: someone can add one.
            notification.delivery = Delivery.FAILED
            notification.last_error = _("The account has no e-mail address.")
    return notification


def _save(notifications: Iterable[Notification | None]) -> list[int]:
    """Store the notifications, skipping any whose key exists (a task run twice makes each one once), and
    return the ids of those whose e-mail is still to be sent for the first time."""
    rows = [n for n in notifications if n is not None]
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Notification.objects.filter(
            key__in=[n.key for n in rows], delivery=Delivery.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )


@transaction.atomic
def notify_review(transition_id: int) -> list[int]:
    """After a publication or a return (an AssessmentTransition): tell the author, and everyone following
    the recommendation who may see the assessment, except whoever acted. Returns the ids whose e-mail is to
    be sent. Idempotent: keys are "<kind>:<transition>:<user>"."""
    transition = (
        AssessmentTransition.objects.select_related("assessment__recommendation", "assessment__author")
        .filter(pk=transition_id)
        .first()
    )
    if transition is None or transition.to_state not in _REVIEW_KINDS:
        return []
    assessment = transition.assessment
    kind = _REVIEW_KINDS[transition.to_state]
    code = assessment.recommendation.code
    status = assessment.implementation_status if kind == Kind.PUBLISHED else ""
    recipients: list[tuple] = []
    author = assessment.author
    if author.pk != transition.actor_id and _reachable(author) and _may_see(author, assessment):
        recipients.append((author, kind, {"code": code, "status": status}))
    followers = (
        get_user_model()
        .objects.filter(follows__recommendation_id=assessment.recommendation_id, is_active=True)
        .exclude(pk__in=[transition.actor_id, assessment.author_id])
        .order_by("pk")
    )
    for follower in followers:
        if _reachable(follower) and _may_see(follower, assessment):
            recipients.append(
                (follower, Kind.FOLLOWED_CHANGED, {"code": code, "status": status, "action": kind.value})
            )
    prefs = Preferences.for_users([user.pk for user, _kind, _params in recipients])
    return _save(
        _build(
            user,
            prefs[user.pk],
            kind,
            f"{kind}:{transition.pk}:{user.pk}",
            params=params,
            assessment=assessment,
            recommendation=assessment.recommendation,
        )
        for user, kind, params in recipients
    )


def _entered_queue() -> Coalesce:
    """When an assessment last entered the queue: its latest submission (or resubmission)."""
    latest = (
        AssessmentTransition.objects.filter(assessment=OuterRef("pk"), to_state=ReviewState.SUBMITTED)
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    return Coalesce(Subquery(latest), "created_at")


def waiting_for(viewer: access.Viewer, now: datetime.datetime) -> QuerySet:
    """What this curator could review that has waited longer than QUEUE_WAIT: her organisation's queue
    (access.review_queue), less her own submissions (four eyes keeps them for another curator)."""
    return (
        access.review_queue(viewer)
        .exclude(author_id=viewer.user.pk)
        .annotate(entered=_entered_queue())
        .filter(entered__lt=now - QUEUE_WAIT)
    )


def curators() -> QuerySet:
    """Candidates for the digest; `access.has_role(viewer, CURATOR)` decides for each."""
    return (
        get_user_model()
        .objects.filter(
            Q(groups__name=CURATORS) | Q(is_superuser=True), is_active=True, membership__isnull=False
        )
        .distinct()
        .order_by("pk")
    )


@transaction.atomic
def create_digests(now: datetime.datetime | None = None) -> list[int]:
    """The daily digest: one notification per curator whose organisation's queue holds something she could
    review that has waited more than a day. At most one per curator and day (UTC), however often it runs.
    Returns the ids whose e-mail is to be sent."""
    now = now or timezone.now()
    day = now.date().isoformat()
    found = []
    for user in curators():
        if not _reachable(user):
            continue
        viewer = access.viewer_for_user(user)
        if not viewer.is_curator:
            continue
        waiting = waiting_for(viewer, now).order_by().aggregate(count=Count("pk"), oldest=Min("entered"))
        if waiting["count"]:
            params = {"count": waiting["count"], "oldest": waiting["oldest"].date().isoformat()}
            found.append((user, params))
    prefs = Preferences.for_users([user.pk for user, _params in found])
    return _save(
        _build(
            user, prefs[user.pk], Kind.QUEUE_WAITING, f"{Kind.QUEUE_WAITING}:{day}:{user.pk}", params=params
        )
        for user, params in found
    )


# --- What users do on their pages ------------------------------------------------------------------------


def follow(user, recommendation: Recommendation) -> bool:
    """Follow a recommendation; False if she already did (a double click changes nothing)."""
    _follow, created = Follow.objects.get_or_create(user=user, recommendation=recommendation)
    return created


def unfollow(user, recommendation: Recommendation) -> bool:
    deleted, _by_model = Follow.objects.filter(user=user, recommendation=recommendation).delete()
    return bool(deleted)


def is_following(user, recommendation: Recommendation) -> bool:
    return Follow.objects.filter(user=user, recommendation=recommendation).exists()


def mark_read(user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's unread notifications read (all of them, or those ids); returns how many."""
    unread = Notification.objects.unread().filter(recipient=user)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def failed_deliveries(viewer: access.Viewer) -> QuerySet:
    """Failed e-mails curators see: those to members of their own organisation (operators: all), through
    access.owned; nobody else sees any."""
    if not (viewer.is_curator or access.is_operator(viewer)):
        return Notification.objects.none()
    return access.owned(
        viewer,
        Notification.objects.filter(delivery=Delivery.FAILED),
        path="recipient__membership__organisation",
    )


@transaction.atomic
def retry_delivery(notification: Notification) -> bool:
    """A curator asks for a failed e-mail to be tried again (after an address was fixed, say). The caller
    enqueues the delivery task. False if it is not failed any more."""
    locked = Notification.objects.select_for_update().get(pk=notification.pk)
    if locked.delivery != Delivery.FAILED:
        return False
    locked.delivery = Delivery.PENDING
    locked.save(update_fields=["delivery"])
    return True
