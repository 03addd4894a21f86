"""The public site in a real browser (issue 13, item 1): an anonymous reader walks the scorecard to a
recommendation, in English and in Uyghur (right to left), switches language with the links, and sees
nothing unpublished or confidential. axe's WCAG A/AA rules on each page; no CSP violation or script error
(the page fixture)."""

import datetime
import re
import xml.etree.ElementTree as ET

import pytest
from playwright.sync_api import expect

from cases import services
from cases.models import Confidentiality, ImplementationStatus, StateResponse, Theme
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import axe_source, describe, run_axe  # noqa: F401 (a fixture)
from tests.factories import make_document, make_evidence, make_recommendation, make_user, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRETS = ("Qsubmitted draft", "Qinternal witness", "Qpartners memo", "alice", "carol")


@pytest.fixture
def public_site(settings):
    settings.PUBLIC_SITE = True
    alice = make_user("alice", role="monitor")
    carol = make_user("carol", role="curator")
    document = make_document()
    theme = Theme.objects.create(name="Arbitrary detention", slug="arbitrary-detention")
    rec = make_recommendation(
        document,
        "XJ22-151-i",
        "151(i)",
        "Takes prompt steps to release all individuals arbitrarily deprived of their liberty in XUAR.",
    )
    rec.themes.add(theme)
    make_recommendation(document, "XJ22-151-ii", "151(ii)", "Reviews the legal framework.")
    public_ev = make_evidence(
        alice, "https://news.example.org/a", recommendations=[rec], title="Qpublic report"
    )
    internal = make_evidence(
        alice, "https://news.example.org/b", Confidentiality.INTERNAL, [rec], title="Qinternal witness"
    )
    make_evidence(
        alice, "https://news.example.org/c", Confidentiality.PARTNERS, [rec], title="Qpartners memo"
    )
    first = submit(rec, alice, [public_ev, internal], assessed_on=datetime.date(2023, 8, 31))
    services.publish_assessment(first, reviewer=carol)
    correction = submit(
        rec,
        alice,
        [public_ev],
        corrects=first,
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        assessed_on=datetime.date(2023, 8, 31),
        rationale="Some were released; most remain detained.",
    )
    services.publish_assessment(correction, reviewer=carol)
    submit(rec, alice, [public_ev], rationale="Qsubmitted draft")
    return {"rec": rec, "first": first, "correction": correction}


def _no_secrets(page) -> None:
    html = page.content()
    for secret in SECRETS:
        assert secret not in html, secret


def _axe(page, source) -> None:
    violations = run_axe(page, source, {}, page.watch)
    assert not violations, describe(violations)


@pytest.mark.slow
def test_anonymous_walk_in_english_and_uyghur(page, public_site, axe_source):  # noqa: F811
    rec, first, correction = public_site["rec"], public_site["first"], public_site["correction"]
    html = page.locator("html")

    # English: the scorecard, its headline and charts.
    page.goto("/public/")
    expect(html).to_have_attribute("lang", "en")
    expect(html).to_have_attribute("dir", "ltr")
    expect(page.locator(".scorecard__headline").first).to_contain_text("0 of 2 recommendations implemented")
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    _no_secrets(page)
    _axe(page, axe_source)
    screenshot(page, "public-scorecard-en")

    # To the recommendation through the document page.
    page.get_by_role("link", name="OHCHR Xinjiang 2022").first.click()
    expect(page).to_have_url(re.compile(r"/public/documents/xj22/$"))
    page.get_by_role("link", name="XJ22-151-i", exact=True).click()
    expect(page).to_have_url(re.compile(r"/public/recommendations/XJ22-151-i/$"))
    expect(page.locator("h1")).to_have_text("XJ22-151-i")
    expect(page.locator(".recommendation-fulltext")).to_contain_text(rec.text)
    # The corrected entry struck through, linked to its correction.
    corrected = page.locator(f"#assessment-{first.pk}")
    expect(corrected.locator("del.corrected")).to_be_visible()
    corrected.get_by_role("link", name="See its correction").click()
    expect(page).to_have_url(re.compile(rf"#assessment-{correction.pk}$"))
    expect(page.locator("#evidence")).to_contain_text("Qpublic report")
    expect(page.get_by_text("1 source not public")).to_be_visible()
    _no_secrets(page)
    _axe(page, axe_source)
    screenshot(page, "public-recommendation-en")

    # Uyghur with the language links: the same page, right to left, the code left to right.
    page.locator(".language-switcher").get_by_role("link", name="ئۇيغۇرچە").click()
    expect(page).to_have_url(re.compile(r"/ug/public/recommendations/XJ22-151-i/$"))
    expect(html).to_have_attribute("lang", "ug")
    expect(html).to_have_attribute("dir", "rtl")
    code = page.locator("h1 bdi")
    assert code.evaluate("el => getComputedStyle(el).direction") == "ltr"
    name_box = page.locator(".site-name").bounding_box()
    assert name_box["x"] > page.viewport_size["width"] / 2  # laid out from the right
    _no_secrets(page)
    _axe(page, axe_source)
    screenshot(page, "public-recommendation-ug")

    # The Uyghur scorecard, then back to English: the choice sticks although the cookie said Uyghur.
    page.locator(".site-name").click()
    expect(page).to_have_url(re.compile(r"/ug/public/$"))
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    _no_secrets(page)
    _axe(page, axe_source)
    screenshot(page, "public-scorecard-ug")
    page.locator(".language-switcher").get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/public/$"))
    expect(html).to_have_attribute("dir", "ltr")


ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.mark.slow
@pytest.mark.parametrize(("language", "prefix"), [("en", ""), ("zh-hans", "/zh-hans"), ("ug", "/ug")])
def test_anonymous_sees_scorecard_recommendation_correction_log_and_feed(
    page,
    public_site,
    axe_source,  # noqa: F811
    language,
    prefix,
):
    """Issue 13's walk, in each language: an anonymous visitor goes from the scorecard to a recommendation,
    to the correction log by the site's navigation, and reads the Atom feed the pages announce; none of it
    shows unpublished work, partners or internal sources, or an account."""
    rec, first, correction = public_site["rec"], public_site["first"], public_site["correction"]
    html = page.locator("html")
    direction = "rtl" if language == "ug" else "ltr"

    # The scorecard.
    page.goto(f"{prefix}/public/")
    expect(html).to_have_attribute("lang", language)
    expect(html).to_have_attribute("dir", direction)
    expect(page.locator(".scorecard__headline").first).to_contain_text("0")
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    assert page.context.cookies() == []  # an anonymous reader of the public pages gets no cookie
    _no_secrets(page)

    # A recommendation, by its link in the latest changes.
    page.locator(
        f'a[href="{prefix}/public/recommendations/{rec.code}/#assessment-{correction.pk}"]'
    ).first.click()
    expect(page).to_have_url(re.compile(rf"{prefix}/public/recommendations/XJ22-151-i/#assessment-"))
    expect(html).to_have_attribute("lang", language)
    expect(page.locator("h1")).to_have_text("XJ22-151-i")
    expect(page.locator(f"#assessment-{first.pk} del.corrected")).to_be_visible()
    expect(page.locator("#evidence")).to_contain_text("Qpublic report")
    image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert image.endswith(f"{prefix}/public/recommendations/XJ22-151-i/status.png")
    _no_secrets(page)

    # The correction log, from the navigation: what changed, why, and both versions' permalinks.
    page.locator(".site-nav").locator(f'a[href="{prefix}/corrections/"]').click()
    expect(page).to_have_url(re.compile(rf"{prefix}/corrections/$"))
    expect(html).to_have_attribute("dir", direction)
    entry = page.locator("article.correction")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("XJ22-151-i")
    expect(entry).to_contain_text("Some were released; most remain detained.")
    for version in (first, correction):
        expect(entry.locator(f'a[href="{prefix}/public/assessments/{version.pk}/"]').first).to_be_attached()
    _no_secrets(page)
    _axe(page, axe_source)
    screenshot(page, f"public-corrections-{language}")

    # The permalink of the corrected version says so and links to its correction.
    entry.locator(f'a[href="{prefix}/public/assessments/{first.pk}/"]').first.click()
    expect(page).to_have_url(re.compile(rf"{prefix}/public/assessments/{first.pk}/$"))
    expect(page.locator(f'a[href="{prefix}/public/assessments/{correction.pk}/"]').first).to_be_visible()
    _no_secrets(page)

    # The feed the page announces (rel="alternate"), as a feed reader would fetch it, without a session.
    feed_href = page.locator('head link[rel="alternate"][type="application/atom+xml"]').first.get_attribute(
        "href"
    )
    assert feed_href == f"{prefix}/feeds/changes.atom"
    response = page.request.get(feed_href)
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert "public" in response.headers["cache-control"]
    body = response.text()
    for secret in SECRETS:
        assert secret not in body, secret
    root = ET.fromstring(response.body())  # noqa: S314 (our own feed)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2  # the publication and its correction; the submitted draft is not there
    links = {link.get("href") for e in entries for link in e.findall(f"{ATOM}link")}
    assert any(href.endswith(f"{prefix}/public/assessments/{correction.pk}/") for href in links), links
