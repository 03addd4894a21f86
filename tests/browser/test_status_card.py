"""Issue 16, gaps 2, 3 and 4 in a real browser at 1280 and 390 px: the status card's visible labels and its
legend, "not implemented" and "rejected" in two different colours, a corrected entry struck through with a
working link to its correction, and the assessment form's evidence filter (and the plain list without
JavaScript). Screenshots go to test-artifacts/screenshots/; those showing the made-up correction say so on
the picture."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from cases import services
from cases.models import Assessment, Basis, Evidence, ImplementationStatus, Recommendation, StateResponse
from tests.browser.conftest import ARTIFACTS, PageWatch
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}


def shoot(page, name: str, *, made_up: bool = False) -> Path:
    """A full-page screenshot; `made_up` stamps the picture: it shows test-made data, not findings."""
    if made_up:
        # Element.style is the CSSOM (allowed by the page's CSP, unlike a style attribute or element).
        page.evaluate(
            """() => {
              const note = document.createElement("p");
              note.textContent = "TEST DATA: the correction on this page is made up by a test, not a finding.";
              Object.assign(note.style, {position: "absolute", top: "0", left: "0", right: "0", zIndex: "99",
                margin: "0", padding: "8px 12px", background: "#ffdd00", color: "#0b0c0c",
                font: "700 16px system-ui, sans-serif", textAlign: "center"});
              document.body.prepend(note);
            }"""
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def data():
    call_command("load_dataset", "fixtures/ohchr-xinjiang-2022.json", verbosity=0)
    alice = make_user("alice", role="monitor")
    carol = make_user("carol", role="curator")
    dave = make_user("dave", role="curator")
    rec = Recommendation.objects.select_related("document").get(code="XJ22-151-iv")
    cited = list(Evidence.objects.filter(recommendations=rec).order_by("pk")[:1])
    # Test-made (the screenshots that show it say so): a mistaken assessment and its correction.
    wrong = services.publish_assessment(
        services.submit_assessment(
            rec,
            author=alice,
            implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
            state_response=StateResponse.NO_RESPONSE,
            basis=Basis.INDEPENDENT,
            assessed_on=datetime.date(2024, 9, 2),
            rationale="TEST DATA. Mistaken: read a release of a few as a general release.",
            evidence=cited,
        ),
        reviewer=carol,
    )
    correction = services.publish_assessment(
        services.submit_assessment(
            rec,
            author=alice,
            implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
            state_response=StateResponse.NO_RESPONSE,
            basis=Basis.INDEPENDENT,
            assessed_on=datetime.date(2024, 9, 2),
            rationale="TEST DATA. Correction: the release was not general.",
            evidence=cited,
            corrects=wrong,
        ),
        reviewer=dave,
    )
    return {"wrong": wrong, "correction": correction}


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/$"))


def background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


@pytest.mark.parametrize("device", WIDTHS)
def test_status_card_legend_correction_and_evidence_filter(browser, live_server, data, device):
    context = browser.new_context(base_url=live_server.url, viewport={"width": WIDTHS[device], "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch(page)
    try:
        sign_in(page, "alice")

        # The dashboard: the legend beside the counts.
        expect(page.locator("#status-legend")).to_be_visible()
        shoot(page, f"status-dashboard-{device}", made_up=True)

        # The list: every row's card labels its values in visible text; the legend explains them.
        page.goto("/recommendations/")
        legend = page.locator("#status-legend")
        expect(legend).to_be_visible()
        for label in ("Implementation", "State response", "State claim", "Struck through"):
            expect(legend).to_contain_text(label)
        row = page.locator("tr", has=page.get_by_role("link", name="XJ22-151-iii", exact=True))
        card = row.locator(".status-card")
        expect(card.locator(".status-card__label").first).to_be_visible()
        expect(card.locator(".status-card__label", has_text="Implementation")).to_be_visible()
        expect(card.locator(".status-card__label", has_text="State response")).to_be_visible()
        not_implemented = card.locator(".badge--not_implemented")
        rejected = card.locator(".badge--rejected")
        expect(not_implemented).to_have_text("Not implemented")
        expect(rejected).to_have_text("Rejected")
        assert background(not_implemented) != background(rejected)
        # A recommendation to business enterprises shows no State response.
        business = page.locator("tr", has=page.get_by_role("link", name="XJ22-152-i", exact=True))
        expect(business.locator(".status-card__label", has_text="State response")).to_have_count(0)
        shoot(page, f"status-list-{device}")
        row.screenshot(path=str(SCREENSHOTS / f"status-list-row-{device}.png"))

        # The recommendation page: the card with its notes, the legend, and the corrected entry.
        wrong, correction = data["wrong"], data["correction"]
        page.goto("/recommendations/XJ22-151-iv/")
        current = page.locator("section[aria-labelledby=status-heading] .status-card")
        expect(current.locator(".status-card__label", has_text="Implementation")).to_be_visible()
        expect(current.locator(".badge--not_implemented")).to_be_visible()
        expect(page.locator("#status-legend")).to_be_visible()
        expect(page.get_by_text("Status last changed on 2024-08-27")).to_be_visible()
        corrected = page.locator(f"#assessment-{wrong.pk}")
        expect(corrected).to_have_class(re.compile(r"timeline__item--corrected"))
        struck = corrected.locator("del.corrected .badge--partially_implemented")
        expect(struck).to_be_visible()
        assert "line-through" in struck.evaluate("e => getComputedStyle(e).textDecorationLine")
        expect(corrected.locator(".corrected-flag")).to_contain_text("Corrected")
        expect(page.locator(f"#assessment-{correction.pk} del")).to_have_count(0)
        corrected.get_by_role("link", name="See its correction").click()
        expect(page).to_have_url(re.compile(rf"#assessment-{correction.pk}$"))
        expect(page.locator(f"#assessment-{correction.pk}")).to_be_in_viewport()
        page.locator(f"#assessment-{wrong.pk}").scroll_into_view_if_needed()
        # Close-ups, for people to look at: the current status with its legend, and the corrected entry.
        page.locator("section[aria-labelledby=status-heading]").screenshot(
            path=str(SCREENSHOTS / f"status-card-{device}.png")
        )
        shoot(page, f"status-recommendation-{device}", made_up=True)
        corrected.screenshot(path=str(SCREENSHOTS / f"status-corrected-entry-{device}.png"))

        # The assessment form: evidence from a checkbox list, narrowed by the filter box.
        page.goto("/recommendations/XJ22-151-iv/assess/")
        expect(page.get_by_text("Ctrl")).to_have_count(0)
        items = page.locator("#id_other_evidence li")
        total = items.count()
        assert total >= 3
        box = page.get_by_label("Find a source")
        expect(box).to_be_visible()
        box.fill("forced labour")
        expect(page.locator("#id_other_evidence li:visible")).not_to_have_count(total)
        visible = page.locator("#id_other_evidence li:visible")
        assert 1 <= visible.count() < total
        expect(visible.first).to_contain_text(re.compile("forced labour", re.I))
        visible.first.locator("input[type=checkbox]").check()
        box.fill("no source has this title")
        expect(page.locator("#id_other_evidence li:visible")).to_have_count(1)  # the ticked one stays
        expect(page.locator(".evidence-filter__count")).to_contain_text(f"Showing 1 of {total} sources")
        box.press("Enter")  # does not submit the assessment
        expect(page).to_have_url(re.compile(r"/assess/$"))
        box.fill("")
        expect(page.locator("#id_other_evidence li:visible")).to_have_count(total)
        page.locator(".evidence-picker").scroll_into_view_if_needed()
        shoot(page, f"status-evidence-filter-{device}")
        box.fill("forced labour")
        page.locator(".evidence-picker").screenshot(
            path=str(SCREENSHOTS / f"status-evidence-picker-{device}.png")
        )
        box.fill("")
        assert not Assessment.objects.filter(author__username="alice", review_state="submitted").exists()
    finally:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


def test_evidence_list_without_javascript_is_a_plain_checkbox_list(browser, live_server, data):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    try:
        sign_in(page, "alice")
        page.goto("/recommendations/XJ22-151-iv/assess/")
        expect(page.locator(".evidence-filter")).to_be_hidden()
        checkboxes = page.locator("#id_other_evidence input[type=checkbox]")
        assert checkboxes.count() >= 3
        checkboxes.first.check()
        expect(checkboxes.first).to_be_checked()
    finally:
        context.close()
