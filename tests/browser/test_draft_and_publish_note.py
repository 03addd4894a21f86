"""Two walks of issue 16's "Done when" in the browser: a monitor's draft survives "Record it first" (she adds
a missing source mid-assessment and comes back to what she typed, the new source ticked); a curator's note
typed before Publish is kept in the assessment's history."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from cases.models import Assessment, AssessmentTransition, Evidence, ReviewState
from tests.browser.conftest import screenshot
from tests.browser.test_flow import real_data, sign_in, sign_out  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RATIONALE = "Families report no release; the count of the held is unchanged — ئۇيغۇر — 新疆."
NOTE = "Checked against the family testimony of 2024-06; publishing."


def test_draft_is_kept_across_record_it_first_and_publish_keeps_the_note(page, real_data):  # noqa: F811
    sign_in(page, "alice")
    page.goto("/recommendations/XJ22-151-i/assess/")
    page.check("input[name=implementation_status][value=not_implemented]")
    page.check("input[name=state_response][value=no_response]")
    page.check("input[name=basis][value=independent]")
    page.fill("textarea[name=rationale]", RATIONALE)

    # The source is not listed yet: record it first, from inside the form.
    page.get_by_role("button", name="Record it first").click()
    expect(page).to_have_url(re.compile(r"/evidence/new/"))
    page.fill("input[name=url]", "https://news.example.org/2026/families-still-waiting")
    page.fill("input[name=title]", "Families still waiting")
    page.fill("input[name=publisher]", "Example News")
    page.check("input[name=confidentiality][value=public]")
    page.locator("main form button[type=submit]").last.click()

    # Back on the assessment form: what she typed is there, the new source ticked.
    expect(page).to_have_url(re.compile(r"/recommendations/XJ22-151-i/assess/"))
    expect(page.locator("textarea[name=rationale]")).to_have_value(RATIONALE)
    expect(page.locator("input[name=implementation_status][value=not_implemented]")).to_be_checked()
    evidence = Evidence.objects.get(url="https://news.example.org/2026/families-still-waiting")
    expect(page.locator(f"input[name=evidence][value='{evidence.pk}']")).to_be_checked()
    screenshot(page, "draft-kept-after-record-it-first")
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/recommendations/XJ22-151-i/$"))
    assessment = Assessment.objects.get(rationale=RATIONALE)
    assert assessment.review_state == ReviewState.SUBMITTED
    assert list(assessment.evidence.all()) == [evidence]
    sign_out(page)

    # The curator types a note, ticks the confirmation and publishes: the note is in the history.
    sign_in(page, "carol")
    page.goto("/review/")
    item = page.locator("main article, main li").filter(has_text=RATIONALE[:30]).first
    item.locator("textarea[name=comment]").fill(NOTE)
    item.get_by_label("I have checked this assessment: publish it").check()
    item.get_by_role("button", name=re.compile(r"^Publish")).click()
    expect(page.locator(".messages")).to_be_visible()
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.PUBLISHED
    published = AssessmentTransition.objects.get(assessment=assessment, to_state=ReviewState.PUBLISHED)
    assert published.comment == NOTE and published.actor.username == "carol"
    page.goto("/recommendations/XJ22-151-i/")
    expect(page.locator("main")).to_contain_text(RATIONALE[:30])
    screenshot(page, "published-with-note")
