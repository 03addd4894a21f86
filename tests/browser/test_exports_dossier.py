"""In a real browser: a monitor filters the assessments browser, downloads what it lists as CSV and as XLSX and
reads both files, then opens a recommendation's printable dossier and looks at it as paper (print media, and a
PDF under test-artifacts/). The `page` fixture fails the test on any CSP violation or script error."""

from __future__ import annotations

import csv
import datetime
import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, screenshot
from tests.factories import PASSWORD, make_personas
from tests.test_assessments_browser import make_world, publish

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world():
    w = make_world(make_personas())
    w.correction = publish(
        w.rec,
        w.alice,
        w.carol,
        [w.public_ev],
        corrects=w.finding,
        rationale="The camp was closed in July; corrected — ئۇيغۇر — 新疆.",
        assessed_on=datetime.date(2024, 8, 28),
    )
    return w


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/$"))


def listed_ids(page) -> list[str]:
    return [
        row.get_attribute("id").removeprefix("row-")
        for row in page.locator("#assessment-table tbody tr").all()
    ]


def test_filter_download_and_print(page, world):
    w = world
    sign_in(page, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Assessments").click()
    expect(page).to_have_url(re.compile(r"/assessments/$"))
    expect(page.locator("#assessment-table tbody tr")).to_have_count(6)

    # Published independent findings assessed from 2024 on, oldest first.
    page.select_option("select[name=basis]", "independent")
    page.select_option("select[name=review_state]", "published")
    page.fill("input[name=assessed_on_after]", "2024-01-01")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(
        re.compile(r"basis=independent.*review_state=published.*assessed_on_after=2024-01-01")
    )
    page.get_by_role("link", name="Oldest first").click()
    expect(page).to_have_url(re.compile(r"sort=oldest"))
    ids = listed_ids(page)
    assert ids == [str(w.mallory_published.pk), str(w.finding.pk), str(w.correction.pk)]
    # The corrected finding is struck through and says so.
    corrected = page.locator(f"#row-{w.finding.pk}")
    expect(corrected).to_contain_text("Corrected")
    assert "line-through" in corrected.locator("del.corrected").first.evaluate(
        "(el) => getComputedStyle(el).textDecorationLine"
    )
    screenshot(page, "assessments-browser-filtered-1280")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"^Download CSV")).click()
    download = info.value
    assert re.fullmatch(r"assessments-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ids
    assert "ئۇيغۇر — 新疆" in raw.decode("utf-8-sig")

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"^Download XLSX")).click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).worksheets[0]
    xlsx_rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert xlsx_rows == rows

    # The phone width: the same rows, stacked.
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "assessments-browser-filtered-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The dossier, from the recommendation page's Print link.
    page.goto(f"/recommendations/{w.rec.code}/")
    page.get_by_role("link", name=re.compile(r"^Print")).click()
    expect(page).to_have_url(re.compile(rf"/recommendations/{w.rec.code}/dossier/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(w.rec.code)
    expect(page.locator("#dossier-printed")).to_contain_text(
        f"Printed on {datetime.date.today().isoformat()}"
    )
    # The script showed the Print button (hidden without JavaScript).
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    expect(page.locator(f"#assessment-{w.finding.pk}")).to_contain_text("Corrected")
    expect(page.locator("#dossier-sources")).to_contain_text("https://news.example.org/internal")
    screenshot(page, "dossier-1280")

    page.emulate_media(media="print")
    expect(page.locator(".site-nav")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".dossier__actions")).to_be_hidden()
    expect(page.locator("#dossier-timeline")).to_be_visible()
    decoration = page.locator(f"#assessment-{w.finding.pk} .dossier-entry__title").evaluate(
        "(el) => getComputedStyle(el).textDecorationLine"
    )
    assert "line-through" in decoration
    assert page.locator(".dossier__url").first.evaluate("(el) => getComputedStyle(el).display") == "block"
    screenshot(page, "dossier-print-1280")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "dossier.pdf"), format="A4")
    assert pdf.startswith(b"%PDF")

    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "dossier-390")
