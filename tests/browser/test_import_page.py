"""The import page in a real browser (issue 10): a curator uploads a small UPR table with a theme we do not
know, watches it being read (the progress panel polls the status endpoint), maps the theme, confirms, and
sees the report.

The worker: the database backend (the project's default), run synchronously by the test in its own thread
(`tests.factories.run_tasks`: django-tasks-db's Worker in batch mode) whenever the page has queued work. The
page's script notices the status change by polling and reloads by itself: the test clicks nothing between
"queued" and "preview", so the polling is tested too.
"""

import re

import pytest
from playwright.sync_api import expect

from cases.models import ImportRun, ImportStatus, Recommendation, Theme, ThemeMapping
from tests.browser.conftest import screenshot
from tests.browser.test_flow import sign_in
from tests.factories import make_user, run_tasks
from tests.fixtures_import.build import write_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = [
    ["Recommendation", "Recommending State", "State under Review", "Response", "Issue", "Paragraph"],
    ["Abolish the death penalty", "Norway", "China", "Noted", "Peine de mort", "28.3"],
    [
        "Release all arbitrarily detained persons",
        "France",
        "China",
        "Supported",
        "Arbitrary detention",
        "28.4",
    ],
]


@pytest.fixture
def curator(settings, tmp_path):
    settings.PRIVATE_ROOT = tmp_path / "private"
    Theme.objects.create(name="Death penalty", slug="death-penalty")
    Theme.objects.create(name="Arbitrary detention", slug="arbitrary-detention")
    return make_user("carol", role="curator")


def test_upload_map_confirm_report(page, curator, tmp_path):
    csv_path = write_csv(tmp_path / "china-upr-2018.csv", ROWS)
    sign_in(page, "carol")
    page.goto("/import/")
    expect(page.locator("h1")).to_have_text("Import recommendations")
    page.set_input_files("input[name=file]", str(csv_path))
    page.fill("input[name=document]", "A/HRC/40/6")
    page.fill("input[name=document_date]", "2018-12-26")
    screenshot(page, "import-01-upload")
    page.get_by_role("button", name="Upload and preview").click()

    # Queued: the progress panel shows and polls; the worker runs; the page reloads itself to the preview.
    expect(page).to_have_url(re.compile(r"/import/uploads/[0-9a-f]{32}/$"))
    expect(page.locator(".import-progress progress")).to_be_visible()
    screenshot(page, "import-02-queued")
    assert run_tasks() == 1
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    expect(page.locator(".import-counts")).to_contain_text("Recommendations")
    unknown = page.get_by_role("heading", name="Values we do not know")
    expect(unknown).to_be_visible()
    expect(page.locator("main")).to_contain_text("Peine de mort")
    screenshot(page, "import-03-preview")

    # Map the unknown theme to ours; the file is read again with the choice.
    page.get_by_label("Peine de mort").select_option("death-penalty")
    page.get_by_role("button", name="Apply these choices to the preview").click()
    expect(page.locator(".messages")).to_contain_text("Your choices are kept")
    assert run_tasks() == 1
    expect(page.get_by_role("button", name="Confirm and import")).to_be_visible()
    expect(page.get_by_role("heading", name="Values we do not know")).to_have_count(0)

    # Confirm: applied in the background; the page moves on to the report when it is done.
    page.get_by_role("button", name="Confirm and import").click()
    expect(page.locator(".import-progress")).to_be_visible()
    assert run_tasks() == 1
    expect(page).to_have_url(re.compile(r"/import/runs/\d+/$"))
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    main = page.locator("main")
    expect(main).to_contain_text("china-upr-2018.csv")
    expect(page.locator(".import-facts__hash")).to_have_text(run.sha256)
    expect(main).to_contain_text("carol")
    expect(page.locator(".import-written")).to_contain_text("2 recommendations created")
    screenshot(page, "import-04-report")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "import-04-report-390")

    rec = Recommendation.objects.get(document__symbol="A/HRC/40/6", paragraph="28.3")
    assert list(rec.themes.values_list("slug", flat=True)) == ["death-penalty"]
    assert ThemeMapping.objects.get(source_name="Peine de mort").theme.slug == "death-penalty"

    # The report stays: listed on the import page.
    page.goto("/import/")
    page.get_by_role("link", name="china-upr-2018.csv").click()
    expect(page).to_have_url(re.compile(rf"/import/runs/{run.pk}/$"))
