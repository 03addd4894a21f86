"""Notifications (issue 16, item 3): who is told what, in the app and by e-mail, and that nothing is sent
inside a request.

The tests that run the worker use the database backend's own worker in this process (`run_tasks`) and so
need real transactions; the rest call the services and tasks directly. tests/test_tasks.py runs the
end-to-end cases once more on a real RQ worker with Redis.
"""

from __future__ import annotations

import datetime
import smtplib
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from cases import services as case_services
from cases.models import Assessment, AssessmentTransition, Membership
from tests.factories import make_user, run_tasks, submit
from tracker.notifications import services, tasks
from tracker.notifications.models import Delivery, Follow, Kind, Notification, Preferences

DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def database_queue():
    with override_settings(TASKS=DATABASE, SITE_URL="https://tracker.example.org"):
        yield


@pytest.fixture
def n(personas):
    """The personas plus Olga, a curator of the other organisation, and a submission of Alice's."""
    p = personas
    olga = make_user("olga", role="curator", organisation=p.other_org)
    submitted = submit(p.rec, p.alice, [p.public_ev], rationale="Witness W. saw the camp in May.")
    return SimpleNamespace(**vars(p), olga=olga, submitted=submitted)


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def publish(n, assessment=None, reviewer=None, comment=""):
    return case_services.publish_assessment(
        assessment or n.submitted, reviewer=reviewer or n.carol, comment=comment
    )


def latest_transition(assessment) -> AssessmentTransition:
    return AssessmentTransition.objects.filter(assessment=assessment).latest("created_at", "id")


def drop_queued_tasks() -> None:
    """Forget the fan-out task the publication enqueued (transactional tests), to drive the steps by hand."""
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


def fan_out(assessment) -> list[int]:
    """What the worker's notify_review does, without the queue."""
    return services.notify_review(latest_transition(assessment).pk)


def deliver_all(ids) -> None:
    for pk in ids:
        tasks.deliver_email.call(pk)


# --- End to end, through the worker ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_publication_reaches_the_author_in_the_app_and_by_email_after_the_worker_runs(n):
    client = client_for(n.carol)
    response = client.post(
        reverse("cases:review-publish", args=[n.submitted.pk]), {"comment": "Well sourced.", "confirm": "on"}
    )
    assert response.status_code == 302
    Assessment.objects.get(pk=n.submitted.pk, review_state="published")
    # Nothing is written or sent inside the request: it waits on the queue.
    assert Notification.objects.count() == 0
    assert mail.outbox == []

    assert run_tasks() == 2  # the fan-out, then the one e-mail

    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (n.alice, Kind.PUBLISHED)
    assert notification.in_app and notification.read_at is None
    assert notification.delivery == Delivery.SENT and notification.sent_at and notification.attempts == 1
    [email] = mail.outbox
    assert email.to == ["alice@example.org"]
    assert "XJ22-151-i" in email.subject and "Published" in email.subject
    assert (
        f"https://tracker.example.org/recommendations/XJ22-151-i/#assessment-{n.submitted.pk}" in email.body
    )
    # The e-mail carries plain values only: no rationale, no reviewer's note.
    assert "Witness" not in email.body and "Well sourced" not in email.body

    page = client_for(n.alice).get(reverse("notifications:list"))
    assert "Your assessment of XJ22-151-i was published." in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_return_reaches_the_author_without_the_comment(n):
    response = client_for(n.carol).post(
        reverse("cases:review-return", args=[n.submitted.pk]), {"comment": "Do not name witness W. here."}
    )
    assert response.status_code == 302
    assert mail.outbox == []

    assert run_tasks() == 2

    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (n.alice, Kind.RETURNED)
    [email] = mail.outbox
    assert "Returned" in email.subject
    assert f"https://tracker.example.org/assessments/{n.submitted.pk}/resubmit/" in email.body
    assert "witness" not in email.body.lower()
    assert "witness" not in str(notification.params).lower()


# --- Who is told -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_followers_are_told_and_the_actor_is_not(n):
    for user in (n.dave, n.carol, n.mallory):
        services.follow(user, n.rec)
    publish(n)

    deliver_all(fan_out(n.submitted))

    told = {(x.recipient.username, x.kind) for x in Notification.objects.select_related("recipient")}
    # Mallory (another organisation) may read a published assessment, so she hears of it; Carol published it.
    assert told == {
        ("alice", Kind.PUBLISHED),
        ("dave", Kind.FOLLOWED_CHANGED),
        ("mallory", Kind.FOLLOWED_CHANGED),
    }
    followed = Notification.objects.get(recipient=n.mallory)
    assert (
        followed.message()
        == "XJ22-151-i, which you follow, has a newly published assessment: Not implemented."
    )
    # Followers choose e-mail for this kind themselves: by default only the author's e-mail goes.
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]


@pytest.mark.django_db
def test_other_organisations_never_hear_of_a_return(n):
    for user in (n.dave, n.mallory, n.olga):
        services.follow(user, n.rec)
    case_services.return_assessment(n.submitted, reviewer=n.carol, comment="Check the date.")

    fan_out(n.submitted)

    told = {(x.recipient.username, x.kind) for x in Notification.objects.select_related("recipient")}
    assert told == {("alice", Kind.RETURNED), ("dave", Kind.FOLLOWED_CHANGED)}
    assert Notification.objects.get(recipient=n.dave).message() == (
        "An assessment of XJ22-151-i, which you follow, was returned to its author."
    )


@pytest.mark.django_db
def test_inactive_and_unaffiliated_followers_are_not_told(n):
    gone = make_user("gone", role="monitor")
    loner = make_user("loner", role="monitor")
    for user in (gone, loner):
        services.follow(user, n.rec)
    gone.is_active = False
    gone.save()
    Membership.objects.filter(user=loner).delete()
    publish(n)

    fan_out(n.submitted)

    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"alice"}


# --- Idempotence, retries, failures ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_fan_out_run_twice_makes_each_notification_once(n):
    services.follow(n.dave, n.rec)
    publish(n)
    first = fan_out(n.submitted)
    again = fan_out(n.submitted)

    assert Notification.objects.count() == 2
    assert again == first  # the same pending e-mail, not a second one

    deliver_all(first + again)
    assert len(mail.outbox) == 1  # delivered twice, sent once


@pytest.mark.django_db(transaction=True)
def test_a_delivery_enqueued_twice_sends_once(n):
    publish(n)
    drop_queued_tasks()
    [pk] = fan_out(n.submitted)
    tasks.deliver_email.enqueue(pk)
    tasks.deliver_email.enqueue(pk)

    assert run_tasks() == 2
    assert len(mail.outbox) == 1
    notification = Notification.objects.get(pk=pk)
    assert notification.delivery == Delivery.SENT and notification.attempts == 1


@pytest.fixture
def smtp_down(monkeypatch):
    calls = []

    def refuse(self, fail_silently=False):
        calls.append(self.to)
        raise smtplib.SMTPConnectError(421, "mail.example.org is not answering")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_failed_send_is_retried_with_backoff_then_shown_to_curators_as_failed(n, smtp_down, monkeypatch):
    import cases.tasks

    publish(n)
    drop_queued_tasks()
    [pk] = fan_out(n.submitted)
    # The real backoff defers each retry (60 s, 2 min, …: see the next test); here they run at once.
    monkeypatch.setattr(cases.tasks, "retry_delay", lambda attempt, backoff: 0)
    tasks.deliver_email.enqueue(pk)

    assert run_tasks() == tasks.EMAIL_ATTEMPTS
    assert len(smtp_down) == tasks.EMAIL_ATTEMPTS
    notification = Notification.objects.get(pk=pk)
    assert notification.delivery == Delivery.FAILED
    assert notification.attempts == tasks.EMAIL_ATTEMPTS
    assert "SMTPConnectError" in notification.last_error
    assert run_tasks() == 0  # no more retries

    # Carol (a curator of Alice's organisation) sees it and may try again; Olga (another) does not see it.
    page = client_for(n.carol).get(reverse("notifications:list")).content.decode()
    assert 'id="failed"' in page and "SMTPConnectError" in page
    other = client_for(n.olga).get(reverse("notifications:list")).content.decode()
    assert "SMTPConnectError" not in other
    assert client_for(n.olga).post(reverse("notifications:retry-delivery", args=[pk])).status_code == 404
    assert client_for(n.alice).post(reverse("notifications:retry-delivery", args=[pk])).status_code == 403

    monkeypatch.undo()  # the mail server is back
    response = client_for(n.carol).post(reverse("notifications:retry-delivery", args=[pk]))
    assert response.status_code == 302
    assert run_tasks() == 1
    assert Notification.objects.get(pk=pk).delivery == Delivery.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_redelivered_retries_never_exceed_the_attempts_counted_on_the_row(n, smtp_down, monkeypatch):
    import cases.tasks

    publish(n)
    drop_queued_tasks()
    [pk] = fan_out(n.submitted)
    monkeypatch.setattr(cases.tasks, "retry_delay", lambda attempt, backoff: 0)
    tasks.deliver_email.enqueue(pk)
    tasks.deliver_email.enqueue(pk)  # a redelivery starts a second chain of retries

    run_tasks()

    assert len(smtp_down) == tasks.EMAIL_ATTEMPTS
    assert Notification.objects.get(pk=pk).delivery == Delivery.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_cannot_take_the_task_does_not_undo_the_publication(n, monkeypatch, caplog):
    class Unreachable:
        def enqueue(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks, "notify_review", Unreachable())
    response = client_for(n.carol).post(
        reverse("cases:review-publish", args=[n.submitted.pk]), {"comment": "", "confirm": "on"}
    )

    assert response.status_code == 302
    assert Assessment.objects.get(pk=n.submitted.pk).review_state == "published"
    assert "could not enqueue the notifications" in caplog.text


@pytest.mark.django_db
def test_the_first_retry_waits_for_the_backoff(n, smtp_down):
    from django_tasks_db.models import DBTaskResult

    publish(n)
    [pk] = fan_out(n.submitted)
    with pytest.raises(smtplib.SMTPConnectError):
        tasks.deliver_email.call(pk)

    notification = Notification.objects.get(pk=pk)
    assert notification.delivery == Delivery.PENDING  # to be tried again
    assert notification.attempts == 1
    retry = DBTaskResult.objects.get()
    assert retry.args_kwargs == {"args": [pk], "kwargs": {"attempt": 2}}
    wait = retry.run_after - timezone.now()
    assert datetime.timedelta(seconds=55) < wait <= datetime.timedelta(seconds=tasks.EMAIL_BACKOFF)


@pytest.mark.django_db
def test_the_email_speaks_the_recipients_chosen_language(n):
    from tracker.accounts.models import LanguagePreference

    LanguagePreference.objects.create(user=n.alice, language="zh-hans")
    publish(n)

    deliver_all(fan_out(n.submitted))

    [email] = mail.outbox
    assert f"https://tracker.example.org/zh-hans/recommendations/XJ22-151-i/#assessment-{n.submitted.pk}" in (
        email.body
    )
    assert "https://tracker.example.org/zh-hans/notifications/#preferences" in email.body


@pytest.mark.django_db
def test_an_account_without_an_address_fails_at_once_and_visibly(n):
    n.alice.email = ""
    n.alice.save()
    publish(n)

    assert fan_out(n.submitted) == []  # nothing to send

    notification = Notification.objects.get()
    assert notification.delivery == Delivery.FAILED
    assert "no e-mail address" in notification.last_error
    assert list(services.failed_deliveries(_viewer(n.carol))) == [notification]
    assert list(services.failed_deliveries(_viewer(n.olga))) == []
    assert list(services.failed_deliveries(_viewer(n.alice))) == []


def _viewer(user):
    from cases import access

    return access.viewer_for_user(user)


# --- The daily digest ------------------------------------------------------------------------------------


def _age(assessment, days: float) -> None:
    then = timezone.now() - datetime.timedelta(days=days)
    Assessment.objects.filter(pk=assessment.pk).update(created_at=then)
    AssessmentTransition.objects.filter(assessment=assessment).update(created_at=then)


@pytest.mark.django_db
def test_the_digest_goes_once_to_each_curator_of_the_waiting_organisation(n):
    _age(n.submitted, 2)
    mine = submit(n.rec2, n.mallory, [n.public_ev], rationale="Mallory's, fresh.")  # other org, not waiting

    first = services.create_digests()
    again = services.create_digests()  # the same day: nothing new

    digests = Notification.objects.filter(kind=Kind.QUEUE_WAITING)
    assert sorted(digests.values_list("recipient__username", flat=True)) == ["carol", "dave"]
    assert again == first and len(first) == 2  # e-mail on by default for the digest
    assert digests.get(recipient=n.carol).params["count"] == 1
    assert digests.get(recipient=n.carol).message() == (
        "1 submitted assessment has waited for review for more than a day."
    )
    assert mine.organisation_id != n.submitted.organisation_id

    deliver_all(first)
    assert sorted(m.to[0] for m in mail.outbox) == ["carol@example.org", "dave@example.org"]
    assert "Review queue: 1 assessment waiting more than a day" in mail.outbox[0].subject
    assert "https://tracker.example.org/review/" in mail.outbox[0].body


@pytest.mark.django_db
def test_no_digest_for_a_fresh_queue_or_for_ones_own_submission(n):
    assert services.create_digests() == []  # Alice's submission is minutes old
    own = submit(n.rec2, n.dave, [n.public_ev], rationale="Dave's own.")
    _age(own, 3)

    services.create_digests()

    # Dave may not review his own submission: only Carol is told.
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["carol"]


@pytest.mark.django_db
def test_a_resubmission_restarts_the_wait(n):
    case_services.return_assessment(n.submitted, reviewer=n.carol, comment="Check the date.")
    _age(n.submitted, 5)
    case_services.resubmit_assessment(n.submitted, author=n.alice, rationale="Dated now.")

    services.create_digests()

    assert not Notification.objects.filter(kind=Kind.QUEUE_WAITING).exists()


@pytest.mark.django_db
def test_send_digests_command(n):
    _age(n.submitted, 2)
    call_command("send_digests", stdout=(out := __import__("io").StringIO()))
    assert "2 digest" in out.getvalue()
    assert Notification.objects.filter(kind=Kind.QUEUE_WAITING).count() == 2


# --- Preferences -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_preferences_are_respected(n):
    Preferences.objects.create(user=n.alice, published_email=False)
    Preferences.objects.create(user=n.dave, followed_changed_app=False, followed_changed_email=True)
    Preferences.objects.create(user=n.mallory, followed_changed_app=False, followed_changed_email=False)
    for user in (n.dave, n.mallory):
        services.follow(user, n.rec)
    publish(n)

    deliver_all(fan_out(n.submitted))

    alice = Notification.objects.get(recipient=n.alice)
    assert alice.in_app and alice.delivery == Delivery.NONE
    dave = Notification.objects.get(recipient=n.dave)
    assert not dave.in_app and dave.delivery == Delivery.SENT
    assert not Notification.objects.filter(recipient=n.mallory).exists()
    assert [m.to for m in mail.outbox] == [["dave@example.org"]]
    # E-mail only: not in Dave's list, not in his count.
    page = client_for(n.dave).get(reverse("notifications:list")).content.decode()
    assert "XJ22-151-i, which you follow" not in page


@pytest.mark.django_db
def test_the_preferences_form_saves_and_offers_the_digest_to_curators_only(n):
    client = client_for(n.alice)
    page = client.get(reverse("notifications:list")).content.decode()
    assert 'name="published_email"' in page and 'name="queue_waiting_email"' not in page
    assert (
        'name="queue_waiting_email"'
        in client_for(n.carol).get(reverse("notifications:list")).content.decode()
    )

    response = client.post(
        reverse("notifications:preferences"), {"published_app": "on", "returned_email": "on"}
    )
    assert response.status_code == 302
    prefs = Preferences.objects.get(user=n.alice)
    assert (prefs.published_app, prefs.published_email, prefs.returned_app, prefs.returned_email) == (
        True,
        False,
        False,
        True,
    )
    assert prefs.queue_waiting_email  # not offered to her, left as it was
    assert "Your notification choices are saved." in messages_of(response)


# --- Pages and rights ------------------------------------------------------------------------------------


def _notify(user, count: int) -> None:
    Notification.objects.bulk_create(
        Notification(
            recipient=user, kind=Kind.PUBLISHED, key=f"t:{user.pk}:{i}", params={"code": f"C-{i:03d}"}
        )
        for i in range(count)
    )


@pytest.mark.django_db
def test_the_list_is_newest_first_marks_unread_and_marks_all_read(n):
    _notify(n.alice, 3)
    Notification.objects.filter(key=f"t:{n.alice.pk}:0").update(read_at=timezone.now())
    _notify(n.dave, 1)  # someone else's
    client = client_for(n.alice)

    page = client.get(reverse("notifications:list")).content.decode()

    assert page.index("C-002") < page.index("C-001") < page.index("C-000")
    assert page.count('class="item item--unread"') == 2
    assert "(2 unread)" in page
    assert 'class="nav-count">2<' in page
    assert "C-000" in page and f"t:{n.dave.pk}" not in page

    response = client.post(reverse("notifications:mark-all-read"))
    assert response.status_code == 302
    assert not Notification.objects.unread().filter(recipient=n.alice).exists()
    assert Notification.objects.unread().filter(recipient=n.dave).count() == 1  # untouched
    page = client.get(reverse("notifications:list")).content.decode()
    assert "nav-count" not in page and "item--unread" not in page


@pytest.mark.django_db
def test_marking_one_read_touches_only_ones_own(n):
    _notify(n.alice, 1)
    _notify(n.dave, 1)
    daves = Notification.objects.get(recipient=n.dave)
    alices = Notification.objects.get(recipient=n.alice)

    client_for(n.alice).post(reverse("notifications:mark-read", args=[daves.pk]))
    client_for(n.alice).post(reverse("notifications:mark-read", args=[alices.pk]))

    assert Notification.objects.get(pk=daves.pk).read_at is None
    assert Notification.objects.get(pk=alices.pk).read_at is not None


# Session, user, membership (with the groups and the unread count), the page's count and rows, the
# preferences row.
LIST_QUERIES = 6


@pytest.mark.parametrize("count", [2, 60])
@pytest.mark.django_db
def test_the_list_query_count_is_constant_and_paginated(n, count, django_assert_num_queries):
    _notify(n.alice, count)
    client = client_for(n.alice)
    client.get(reverse("notifications:list"))  # the first request after a login also saves the session
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("notifications:list"))
    assert len(response.context["page"].object_list) == min(count, 25)
    if count > 25:
        assert 'rel="next"' in response.content.decode()
        assert len(client.get(reverse("notifications:list") + "?page=3").context["page"].object_list) == 10


@pytest.mark.django_db
def test_a_curators_list_adds_one_query_for_failed_emails(n, django_assert_num_queries):
    _notify(n.carol, 3)
    client = client_for(n.carol)
    client.get(reverse("notifications:list"))
    with django_assert_num_queries(LIST_QUERIES + 1):
        client.get(reverse("notifications:list"))


@pytest.mark.django_db
def test_the_nav_count_costs_no_query(n, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(n.alice)
    url = reverse("cases:evidence-list")
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        assert "nav-count" not in client.get(url).content.decode()
    _notify(n.alice, 3)
    with django_assert_num_queries(len(before.captured_queries)):
        page = client.get(url).content.decode()
    assert 'class="nav-count">3<' in page


@pytest.mark.django_db
def test_no_rights(n):
    anonymous = Client()
    for url in (reverse("notifications:list"),):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for url in (
        reverse("notifications:mark-all-read"),
        reverse("notifications:follow", args=[n.rec.code]),
        reverse("notifications:preferences"),
    ):
        response = anonymous.post(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Follow.objects.exists()

    nobody = make_user("nobody", role="monitor")
    Membership.objects.filter(user=nobody).delete()
    assert client_for(nobody).get(reverse("notifications:list")).status_code == 403
    assert client_for(nobody).post(reverse("notifications:follow", args=[n.rec.code])).status_code == 403
    assert not Follow.objects.exists()

    # State changes are POSTs.
    assert client_for(n.alice).get(reverse("notifications:follow", args=[n.rec.code])).status_code == 405
    assert client_for(n.alice).get(reverse("notifications:mark-all-read")).status_code == 405
    assert client_for(n.alice).post(reverse("notifications:follow", args=["NO-SUCH"])).status_code == 404


@pytest.mark.django_db
def test_follow_and_unfollow_from_the_recommendation_page(n):
    client = client_for(n.mallory, enforce_csrf_checks=True)
    url = reverse("cases:recommendation", args=[n.rec.code])
    page = client.get(url).content.decode()
    assert f'action="{reverse("notifications:follow", args=[n.rec.code])}"' in page
    assert client.post(reverse("notifications:follow", args=[n.rec.code])).status_code == 403  # no CSRF token
    assert not Follow.objects.exists()

    token = client.cookies["csrftoken"].value
    response = client.post(reverse("notifications:follow", args=[n.rec.code]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == url
    assert "You follow XJ22-151-i: you will be notified when it changes." in messages_of(response)
    assert Follow.objects.filter(user=n.mallory, recommendation=n.rec).count() == 1
    client.post(reverse("notifications:follow", args=[n.rec.code]), {"csrfmiddlewaretoken": token})
    assert Follow.objects.count() == 1  # twice is once

    page = client.get(url).content.decode()
    assert f'action="{reverse("notifications:unfollow", args=[n.rec.code])}"' in page
    response = client.post(
        reverse("notifications:unfollow", args=[n.rec.code]), {"csrfmiddlewaretoken": token}
    )
    assert "You no longer follow XJ22-151-i." in messages_of(response)
    assert not Follow.objects.exists()


@pytest.mark.django_db
def test_the_email_page_tells_the_truth_about_notifications(n):
    n.alice.email = ""
    n.alice.save()
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=n.alice).delete()
    page = client_for(n.alice).get(reverse("account_email")).content.decode()
    assert "so you can receive notifications, reset your password, etc." not in page
    assert "notifications reach you only in the tracker" in page
    assert reverse("notifications:list") in page
