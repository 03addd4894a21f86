"""People in a real browser (issue 12): a monitor adds a person in Uyghur script linked to XJ22-151-i, finds
them by a Latin spelling, submits a status change; a curator publishes it through review; the count shows on
the recommendation page, and links to the filtered list. Then the change of status: the monitor records the
release, a second curator publishes it, and 151(i)'s count moves from "1 detained" to "1 released"."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from cases.people.models import Person, PersonStatus
from tests.browser.conftest import screenshot
from tests.browser.test_flow import sign_in, sign_out
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

UYGHUR = "ئابدۇرېھىم ھېيىت"


@pytest.fixture
def real_data():
    call_command("load_dataset", "fixtures/ohchr-xinjiang-2022.json", verbosity=0)
    return {
        "alice": make_user("alice", role="monitor"),
        "carol": make_user("carol", role="curator"),
        "dave": make_user("dave", role="curator"),
    }


def test_person_in_uyghur_script_through_review_to_the_count(page, real_data):
    sign_in(page, "alice")
    page.goto("/people/new/")
    page.fill("input[name=name_uyghur]", UYGHUR)
    page.fill("input[name=birth_year]", "1964")
    page.fill("input[name=prefecture]", "Kashgar")
    page.fill("input[name=recommendations]", "XJ22-151-i")
    page.get_by_role("button", name="Record the person").click()
    expect(page.locator("#person-name")).to_contain_text(UYGHUR)
    person = Person.objects.get()
    screenshot(page, "people-01-person")

    # Found by a Latin spelling the form never received.
    page.goto("/people/")
    page.fill("input[name=q]", "Abdurahim Heyit")
    page.locator("form[method=get] button[type=submit]").first.click()
    page.get_by_role("link", name=person.reference).click()

    page.get_by_role("link", name="Add a status entry").click()
    page.select_option("select[name=status]", "detained")
    page.select_option("select[name=facility_type]", "vocational_centre")
    page.select_option("select[name=basis]", "family_testimony")
    page.fill("input[name=occurred_on]", "2017-04-01")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#timeline")).to_contain_text("Submitted")
    sign_out(page)

    sign_in(page, "carol")
    page.goto("/people/review/")
    expect(page.locator("#people-review")).to_contain_text(person.reference)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#people-review")).to_have_count(0)
    assert PersonStatus.objects.get().reviewer.username == "carol"

    page.goto("/recommendations/XJ22-151-i/")
    count = page.locator("#people-counts").get_by_role("link", name="1 detained")
    expect(count).to_be_visible()
    screenshot(page, "people-02-recommendation-counts")
    count.click()
    expect(page).to_have_url(re.compile(r"/people/\?recommendation=XJ22-151-i&status=detained"))
    expect(page.locator("#people")).to_contain_text(person.reference)

    # detained → released: the monitor records the release, another curator publishes it.
    sign_out(page)
    sign_in(page, "alice")
    page.goto(f"/people/{person.reference}/")
    page.get_by_role("link", name="Add a status entry").click()
    page.select_option("select[name=status]", "released")
    page.select_option("select[name=basis]", "media")
    page.fill("input[name=occurred_on]", "2019-11-20")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#timeline")).to_contain_text("Submitted")
    sign_out(page)

    sign_in(page, "dave")
    page.goto("/people/review/")
    expect(page.locator("#people-review")).to_contain_text(person.reference)
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#people-review")).to_have_count(0)
    release = PersonStatus.objects.get(status="released")
    assert release.reviewer.username == "dave" and release.author.username == "alice"
    person.refresh_from_db()
    assert person.current_status == "released"

    page.goto("/recommendations/XJ22-151-i/")
    counts = page.locator("#people-counts")
    expect(counts.get_by_role("link", name="1 released")).to_be_visible()
    expect(counts).not_to_contain_text("detained")
    screenshot(page, "people-03-released-count")
    counts.get_by_role("link", name="1 released").click()
    expect(page.locator("#people")).to_contain_text(person.reference)
    # The person's timeline shows both entries, the release on top.
    page.goto(f"/people/{person.reference}/")
    expect(page.locator("#timeline")).to_contain_text("Released")
    expect(page.locator("#timeline")).to_contain_text("Detained")
