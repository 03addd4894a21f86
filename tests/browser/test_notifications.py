"""Notifications in a real browser (issue 16, "Done when"): a monitor submits, a curator publishes, the task
worker runs, and the monitor finds the notification in the navigation and at /notifications/, with the
e-mail in the test outbox. Screenshots at 1280 and 390 px go to test-artifacts/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings
from playwright.sync_api import expect

from cases.models import Assessment, ReviewState
from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, make_personas, run_tasks
from tracker.notifications.models import Delivery, Follow, Kind, Notification

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/$"))


def sign_out(page) -> None:
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def assert_no_axe_violations(page) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the page with unread items (test_accessibility.py walks the empty
    list); its installation is that file's business (`npm ci --prefix tests/browser/axe`)."""
    if not AXE_JS.exists():
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed")
        return
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: "tag",
             values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})).violations
           .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)"""
    )
    assert violations == []


def nav_link(page):
    return page.locator(".site-nav").get_by_role("link", name=re.compile(r"^Notifications"))


@override_settings(TASKS=DATABASE, SITE_URL="https://tracker.example.org")
def test_a_publication_reaches_the_monitor_in_the_app_and_by_email(page):
    p = make_personas()

    # Dave follows the recommendation from its page.
    sign_in(page, "dave")
    page.goto(f"/recommendations/{p.rec.code}/")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("You follow XJ22-151-i")
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    assert Follow.objects.filter(user=p.dave, recommendation=p.rec).exists()
    sign_out(page)

    # Alice submits an assessment.
    sign_in(page, "alice")
    page.goto(f"/recommendations/{p.rec.code}/assess/")
    page.check("input[name=implementation_status][value=not_implemented]")
    page.check("input[name=state_response][value=no_response]")
    page.check("input[name=basis][value=independent]")
    page.fill("textarea[name=rationale]", "The facilities named in the OHCHR report remain in operation.")
    page.check(f"input[name=evidence][value='{p.public_ev.pk}']")
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(rf"/recommendations/{p.rec.code}/$"))
    assessment = Assessment.objects.get(rationale__startswith="The facilities named")
    sign_out(page)

    # Carol publishes it.
    sign_in(page, "carol")
    page.goto("/review/")
    page.get_by_label("I have checked this assessment: publish it").first.check()
    page.get_by_role("button", name=re.compile(r"^Publish")).first.click()
    expect(page.locator(".messages")).to_contain_text("was published")
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.PUBLISHED
    # The request only queued the work.
    assert not Notification.objects.exists() and mail.outbox == []
    sign_out(page)

    # The worker runs: the fan-out, then the one e-mail it queued (Alice's; Dave, a follower, is told in the
    # app only unless he chooses e-mail too).
    assert run_tasks() == 2
    [email] = mail.outbox
    assert email.to == ["alice@example.org"]
    assert "XJ22-151-i" in email.subject
    link = re.search(r"https://tracker\.example\.org(/\S+)", email.body).group(1)
    assert Notification.objects.get(recipient=p.alice).delivery == Delivery.SENT
    assert Notification.objects.get(recipient=p.dave).kind == Kind.FOLLOWED_CHANGED

    # Alice sees it in the navigation and on /notifications/.
    sign_in(page, "alice")
    expect(nav_link(page)).to_contain_text("1")
    nav_link(page).click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    item = page.locator(".notification-list .item--unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Your assessment of XJ22-151-i was published.")
    screenshot(page, "notifications-1280")
    assert_no_axe_violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "notifications-390")
    assert_no_axe_violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".messages")).to_contain_text("All notifications are marked read.")
    expect(page.locator(".notification-list .item--unread")).to_have_count(0)
    expect(nav_link(page).locator(".nav-count")).to_have_count(0)

    # The e-mail's link leads to the published assessment.
    page.goto(link)
    expect(page.locator(f"#assessment-{assessment.pk}")).to_be_visible()
