"""The review desk in a real browser (issue 16, item 2): a monitor withdraws one submission and edits
another from her dashboard; a curator ticks two in the review queue and returns them with one comment,
without any JavaScript of ours; the monitor then sees the comment. The `page` fixture fails the test on any
CSP violation or script error."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cases.models import Assessment, AssessmentTransition, ReviewState
from tests.browser.conftest import screenshot
from tests.factories import make_document, make_evidence, make_recommendation, make_user, submit

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMMENT = "Cite the OHCHR update of 27 August 2024 for each of these."


@pytest.fixture
def desk():
    alice = make_user("alice", role="monitor")
    make_user("carol", role="curator")
    document = make_document()
    recs = [
        make_recommendation(document, f"XJ22-151-{n}", f"151({n})", f"Recommendation 151({n}).")
        for n in ("i", "ii", "iii", "iv")
    ]
    source = make_evidence(alice, "https://news.example.org/desk", recommendations=recs)
    to_withdraw, to_edit, first, second = (
        submit(rec, alice, [source], rationale=f"Alice's first words on {rec.code}.") for rec in recs
    )
    return {
        "to_withdraw": to_withdraw,
        "to_edit": to_edit,
        "first": first,
        "second": second,
    }


def sign_in(page, username: str) -> None:
    from tests.factories import PASSWORD

    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/$"))


def sign_out(page) -> None:
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def state(assessment: Assessment) -> str:
    return Assessment.objects.get(pk=assessment.pk).review_state


def test_monitor_withdraws_and_edits_curator_bulk_returns(page, desk):
    # The monitor withdraws one submission, from her dashboard, through its confirmation page.
    sign_in(page, "alice")
    page.get_by_role("link", name="Withdraw your assessment of XJ22-151-i", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Withdraw your assessment of XJ22-151-i?")
    page.get_by_label("Why are you withdrawing it?").fill("Written for the wrong paragraph.")
    screenshot(page, "review-desk-01-withdraw")
    page.get_by_role("button", name="Withdraw it").click()
    expect(page.locator(".messages")).to_contain_text("was withdrawn")
    assert state(desk["to_withdraw"]) == ReviewState.WITHDRAWN
    assert AssessmentTransition.objects.get(
        assessment=desk["to_withdraw"], to_state=ReviewState.WITHDRAWN
    ).comment == ("Written for the wrong paragraph.")
    expect(page.get_by_role("link", name="Withdraw your assessment of XJ22-151-i", exact=True)).to_have_count(
        0
    )

    # She edits another; it stays in the queue with her new words.
    page.get_by_role("link", name="Edit your assessment of XJ22-151-ii", exact=True).click()
    rationale = page.get_by_label("Rationale")
    expect(rationale).to_have_value("Alice's first words on XJ22-151-ii.")
    rationale.fill("Alice's revised words on XJ22-151-ii.")
    screenshot(page, "review-desk-02-edit")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(r"/recommendations/XJ22-151-ii/#assessment-\d+$"))
    expect(page.locator(".messages")).to_contain_text("was changed")
    edited = Assessment.objects.get(pk=desk["to_edit"].pk)
    assert (edited.review_state, edited.rationale) == (
        ReviewState.SUBMITTED,
        "Alice's revised words on XJ22-151-ii.",
    )
    sign_out(page)

    # The curator ticks two submissions and returns them with one comment.
    sign_in(page, "carol")
    page.goto("/review/")
    queue = page.locator("main")
    expect(queue).not_to_contain_text("Alice's first words on XJ22-151-i.")  # withdrawn: not in the queue
    expect(queue).to_contain_text("Alice's revised words on XJ22-151-ii.")  # edited: the new words
    page.get_by_label(
        "Select the assessment of XJ22-151-iii to publish or return with others", exact=True
    ).check()
    page.get_by_label(
        "Select the assessment of XJ22-151-iv to publish or return with others", exact=True
    ).check()
    page.get_by_label("Comment for every selected assessment").fill(COMMENT)
    screenshot(page, "review-desk-03-bulk")
    page.get_by_role("button", name="Return selected to their authors").click()
    expect(page.locator(".messages")).to_contain_text("Returned 2 assessments to their authors")
    assert [state(desk[k]) for k in ("first", "second", "to_edit")] == [
        ReviewState.RETURNED,
        ReviewState.RETURNED,
        ReviewState.SUBMITTED,
    ]
    screenshot(page, "review-desk-04-after-bulk")
    sign_out(page)

    # The monitor sees the comment on each returned assessment.
    sign_in(page, "alice")
    returned = page.locator("li.item--returned")
    expect(returned).to_have_count(2)
    for i in range(2):
        expect(returned.nth(i)).to_contain_text(COMMENT)
    screenshot(page, "review-desk-05-returned")


def test_bulk_review_on_a_phone(browser, live_server, desk):
    """The queue's checkboxes and bulk form at 390 px: nothing overflows the screen."""
    from tests.browser.conftest import PageWatch

    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    watch = PageWatch(page)
    sign_in(page, "carol")
    page.goto("/review/")
    expect(page.locator("#bulk-review")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the review queue is {width} px wide on a 390 px screen"
    screenshot(page, "review-desk-06-phone")
    context.close()
    assert not watch.problems, "\n".join(watch.problems)
