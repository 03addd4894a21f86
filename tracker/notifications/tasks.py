"""The notification tasks, on the project's task queue (cases/tasks.py): nothing here runs in a request.

- `notify_review(transition_id)`: enqueued when a publication or a return commits (signals.py); writes the
  notifications (services.notify_review) and enqueues one `deliver_email` per e-mail to send.
- `deliver_email(notification_id)`: sends one e-mail with Django's mail API. It locks the notification's
  row and does nothing unless the e-mail is still pending, so a task delivered twice (or a retry racing a
  redelivery) sends once. A failed send is retried with backoff (60 s, 2 min, 4 min, 8 min) and, after the
  last attempt, marked failed with its error, which the organisation's curators see on /notifications/.
- `send_digests()`: the daily digest of the review queue (`manage.py send_digests`, run by cron).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from cases.tasks import enqueue_on_commit, retrying, will_retry

from . import services
from .models import Delivery, Notification

logger = logging.getLogger(__name__)

EMAIL_ATTEMPTS = 5
EMAIL_BACKOFF = 60.0


def _enqueue_deliveries(notification_ids: list[int]) -> None:
    for pk in notification_ids:
        enqueue_on_commit(deliver_email, pk)


@retrying(attempts=4, backoff=30)
def notify_review(transition_id: int, *, attempt: int = 1) -> int:
    with transaction.atomic():
        pending = services.notify_review(transition_id)
        _enqueue_deliveries(pending)
    return len(pending)


@retrying(attempts=2, backoff=300)
def send_digests(*, attempt: int = 1) -> int:
    with transaction.atomic():
        pending = services.create_digests()
        _enqueue_deliveries(pending)
    return len(pending)


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def recipient_language(user) -> str:
    """The language the recipient chose with the switcher (tracker.accounts), else the site's."""
    try:
        return user.language_preference.language or settings.LANGUAGE_CODE
    except ObjectDoesNotExist:
        return settings.LANGUAGE_CODE


def render_email(notification: Notification) -> tuple[str, str]:
    """Subject and text body in the recipient's language; links to the pages in that language too."""
    with translation.override(recipient_language(notification.recipient)):
        context = {
            "notification": notification,
            "message": notification.message(),
            "link": site_url() + notification.path(),
            "preferences_link": site_url() + reverse("notifications:list") + "#preferences",
            "recipient": notification.recipient,
            "params": notification.params,
        }
        subject = render_to_string(f"notifications/email/{notification.kind}_subject.txt", context)
        body = render_to_string(f"notifications/email/{notification.kind}.txt", context)
    return " ".join(subject.split()), body


class NoAddress(ValueError):
    """The recipient has no e-mail address: trying again will not help until someone adds one."""


def send(notification: Notification) -> None:
    address = notification.recipient.email
    if not address:
        raise NoAddress("The account has no e-mail address.")
    subject, body = render_email(notification)
    EmailMessage(subject, body, None, [address]).send()


@retrying(attempts=EMAIL_ATTEMPTS, backoff=EMAIL_BACKOFF)
def deliver_email(notification_id: int, *, attempt: int = 1) -> str:
    failure: Exception | None = None
    with transaction.atomic():
        # The row lock makes a second delivery of this task wait, then find the e-mail sent (SQLite: the
        # IMMEDIATE transaction serialises writers the same way).
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient__language_preference")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.delivery != Delivery.PENDING:
            return "skipped"
        notification.attempts += 1
        try:
            send(notification)
        except Exception as exc:  # recorded on the row, then raised for the retry (or the final failure)
            failure = exc
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            # The row counts every attempt, whichever task made it (a redelivered task starts its own count).
            if notification.attempts >= EMAIL_ATTEMPTS or not will_retry(deliver_email, exc, attempt):
                notification.delivery = Delivery.FAILED
            logger.warning(
                "notification e-mail %s failed (attempt %s): %s",
                notification.pk,
                attempt,
                notification.last_error,
            )
        else:
            notification.delivery = Delivery.SENT
            notification.sent_at = timezone.now()
        notification.save(update_fields=["attempts", "last_error", "delivery", "sent_at"])
    if failure is not None:
        raise failure
    return "sent"
