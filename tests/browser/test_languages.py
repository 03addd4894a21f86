"""Languages in a real browser (issue 11): a shared /ug/ link opens in Uyghur, right to left, with the Uyghur
font from static/; the switcher changes to Chinese without any script and keeps the page."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.factories import PASSWORD, make_document, make_recommendation, make_user
from tracker.accounts.models import LanguagePreference

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice():
    user = make_user("alice", role="monitor")
    make_recommendation(
        make_document(),
        "XJ22-151-i",
        "151(i)",
        "Takes prompt steps to release all individuals arbitrarily deprived of their liberty in XUAR.",
    )
    return user


def test_shared_uyghur_link_then_switch_to_chinese(page, alice):
    # A colleague's link, opened signed out: the sign-in page is already in Uyghur and right to left.
    page.goto("/ug/recommendations/XJ22-151-i/")
    expect(page).to_have_url(re.compile(r"/ug/accounts/login/\?next=/ug/recommendations/XJ22-151-i/"))
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ug")
    expect(page.get_by_role("heading", level=1)).to_have_text("كىرىش")  # Sign in
    screenshot(page, "languages-sign-in-ug")

    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/ug/recommendations/XJ22-151-i/$"))
    expect(html).to_have_attribute("dir", "rtl")
    # The code reads left to right inside the right-to-left heading.
    code = page.locator("h1 bdi")
    expect(code).to_have_text("XJ22-151-i")
    assert code.evaluate("el => getComputedStyle(el).direction") == "ltr"
    # The Uyghur font is served from static/ and used for Uyghur text.
    assert page.evaluate(
        """async () => { await document.fonts.load('16px "Noto Sans Arabic"', 'ئۇيغۇرچە');
                         return document.fonts.check('16px "Noto Sans Arabic"', 'ئۇيغۇرچە'); }"""
    )
    # The page is laid out right to left: the site's name starts at the right edge.
    name_box = page.locator(".site-name").bounding_box()
    assert name_box["x"] > page.viewport_size["width"] / 2
    screenshot(page, "languages-recommendation-ug")

    # Switch to Chinese with the header's switcher (a plain form POST).
    page.locator(".language-switcher").get_by_role("button", name="简体中文").click()
    expect(page).to_have_url(re.compile(r"/zh-hans/recommendations/XJ22-151-i/$"))
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(html).to_have_attribute("dir", "ltr")
    expect(page.locator(".site-nav")).to_contain_text("建议")
    assert LanguagePreference.objects.get(user=alice).language == "zh-hans"
    screenshot(page, "languages-recommendation-zh-hans")


def test_accept_language_is_the_first_guess(browser, live_server, alice):
    context = browser.new_context(base_url=live_server.url, locale="ug-CN")
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        expect(page).to_have_url(re.compile(r"/ug/accounts/login/$"))
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
    finally:
        context.close()


CHART_GEOMETRY = """() => [...document.querySelectorAll('svg.bar-chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    const rect = el => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right}; };
    return {
        left: box.left, right: box.right,
        labels: [...svg.querySelectorAll('.bar-chart__label')].map(rect),
        bars: [...svg.querySelectorAll('.bar-chart__bar')].map(rect),
        counts: [...svg.querySelectorAll('.bar-chart__count')].map(el => ({...rect(el), text: el.textContent.trim()})),
    };
})"""


@pytest.mark.parametrize("language", ["ug", "en"])
def test_dashboard_charts_follow_the_direction(page, alice, language):
    """As drawn by the browser: in Uyghur the labels and bars start at the chart's right edge and every count is
    left of its bar, inside the chart; in English the same from the left."""
    prefix = "" if language == "en" else f"/{language}"
    page.goto(f"{prefix}/accounts/login/")
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(rf"{prefix}/$"))
    charts = page.evaluate(CHART_GEOMETRY)
    assert len(charts) == 2
    for chart in charts:
        assert chart["bars"], "the data set draws at least one bar per chart"
        inside = [chart["left"] - 1, chart["right"] + 1]
        for box in chart["labels"] + chart["bars"] + chart["counts"]:
            assert inside[0] <= box["left"] and box["right"] <= inside[1], (box, chart)
        edge = chart["right"] if language == "ug" else chart["left"]
        side = "right" if language == "ug" else "left"
        for box in chart["labels"] + chart["bars"]:
            assert abs(box[side] - edge) <= 1.5, (side, box, edge)
        for bar, count in zip(chart["bars"], [c for c in chart["counts"] if c["text"] != "0"], strict=True):
            if language == "ug":
                assert count["right"] <= bar["left"], (count, bar)
            else:
                assert count["left"] >= bar["right"], (count, bar)
    screenshot(page, f"languages-dashboard-chart-{language}")
