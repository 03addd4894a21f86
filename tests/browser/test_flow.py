"""The real flow in a real browser: a monitor finds a recommendation, adds evidence and submits an assessment;
a curator publishes it; the new status shows on the list and the dashboard. Every page is checked for CSP
violations and script errors by the `page` fixture."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from cases.models import Assessment, Evidence, ImplementationStatus, Recommendation, ReviewState
from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_data():
    call_command("load_dataset", "fixtures/ohchr-xinjiang-2022.json", verbosity=0)
    return {
        "alice": make_user("alice", role="monitor"),
        "carol": make_user("carol", role="curator"),
    }


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


def test_monitor_records_and_curator_publishes(page, real_data):
    page.goto("/recommendations/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    screenshot(page, "01-sign-in")

    sign_in(page, "alice")
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, "02-dashboard")

    # Filter the list: the two recommendations OHCHR found not implemented.
    page.goto("/recommendations/")
    page.select_option("select[name=implementation_status]", "not_implemented")
    page.locator("form[method=get] button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"implementation_status=not_implemented"))
    rows = page.locator("main").get_by_role("link", name=re.compile(r"XJ22-151-(iii|iv)"))
    expect(rows).to_have_count(2)
    expect(page.locator("main").get_by_role("link", name="XJ22-151-i", exact=True)).to_have_count(0)
    screenshot(page, "03-list-filtered")

    page.locator("main").get_by_role("link", name="XJ22-151-iv").first.click()
    expect(page).to_have_url(re.compile(r"/recommendations/XJ22-151-iv/$"))
    expect(page.locator("main")).to_contain_text(
        "Promptly investigates allegations of human rights violations"
    )
    screenshot(page, "04-recommendation")

    # Add evidence from the recommendation page.
    page.get_by_role("link", name="Add evidence").first.click()
    page.fill("input[name=url]", "https://news.example.org/2026/xinjiang-detention-review")
    page.fill("input[name=title]", "Detention review reported — ئۇيغۇر — 新疆")
    page.fill("input[name=publisher]", "Example News")
    page.check("input[name=confidentiality][value=public]")
    screenshot(page, "05-evidence-form")
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator(".messages")).to_be_visible()
    evidence = Evidence.objects.get(url="https://news.example.org/2026/xinjiang-detention-review")
    assert evidence.recommendations.filter(code="XJ22-151-iv").exists()

    # Submit an assessment citing it.
    page.goto("/recommendations/XJ22-151-iv/assess/")
    page.check("input[name=implementation_status][value=partially_implemented]")
    page.check("input[name=state_response][value=no_response]")
    page.check("input[name=basis][value=independent]")
    page.fill("textarea[name=rationale]", "Some detention cases were reviewed, per the new report.")
    page.check(f"input[name=evidence][value='{evidence.pk}']")
    screenshot(page, "06-assessment-form")
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/recommendations/XJ22-151-iv/$"))
    expect(page.locator(".messages")).to_be_visible()
    assessment = Assessment.objects.get(rationale__startswith="Some detention cases")
    assert assessment.review_state == ReviewState.SUBMITTED
    sign_out(page)

    # The curator publishes it from the review queue.
    sign_in(page, "carol")
    page.goto("/review/")
    expect(page.locator("main")).to_contain_text("Some detention cases were reviewed")
    screenshot(page, "07-review-queue")
    page.get_by_label("I have checked this assessment: publish it").first.check()
    page.get_by_role("button", name=re.compile(r"^Publish")).first.click()
    expect(page.locator(".messages")).to_be_visible()
    assessment.refresh_from_db()
    assert assessment.review_state == ReviewState.PUBLISHED
    assert Recommendation.objects.get(code="XJ22-151-iv").implementation_status == (
        ImplementationStatus.PARTIALLY_IMPLEMENTED
    )

    # The new status shows on the list and on the dashboard.
    page.goto("/recommendations/?implementation_status=partially_implemented")
    expect(page.locator("main").get_by_role("link", name="XJ22-151-iv")).to_have_count(1)
    page.goto("/")
    latest = page.locator("#latest-published li").first
    expect(latest).to_contain_text("XJ22-151-iv")
    expect(latest).to_contain_text("Partially implemented")
    screenshot(page, "08-dashboard-after")


def test_phone_layout_and_admin_render_without_csp_violations(browser, live_server, real_data):
    from tests.browser.conftest import PageWatch

    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    watch = PageWatch(page)
    sign_in(page, "carol")
    for path, name in [
        ("/recommendations/", "09-phone-list"),
        ("/recommendations/XJ22-151-i/", "10-phone-recommendation"),
        ("/evidence/", "11-phone-evidence"),
    ]:
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        screenshot(page, name)
    # The admin is a page like any other under the CSP.
    page.set_viewport_size({"width": 1280, "height": 900})
    for path in ["/admin/", "/admin/cases/recommendation/", "/admin/cases/evidence/"]:
        response = page.goto(path)
        assert response.status == 200, path
    screenshot(page, "12-admin-evidence")
    context.close()
    assert not watch.problems, "\n".join(watch.problems)
