"""The printable dossier of one recommendation (/recommendations/<code>/dossier/): text, status card, the
published timeline with corrected entries struck through, the sources cited as far as the viewer may see
them, the date of printing, and a print stylesheet.

Personas and assessments: tests/test_assessments_browser.make_world.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.utils import timezone

from tests.test_assessments_browser import make_world, publish
from tests.test_web_read import text_of

pytestmark = pytest.mark.django_db

URL = "/recommendations/XJ22-151-i/dossier/"
STATIC = Path(__file__).resolve().parents[1] / "static"


@pytest.fixture
def world(personas):
    w = make_world(personas)
    # Alice corrects her published finding: the first entry is struck through, the correction counts.
    w.correction = publish(
        w.rec,
        w.alice,
        w.carol,
        [w.partners_ev],
        corrects=w.finding,
        rationale="ALICE-CORRECTION",
        assessed_on=datetime.date(2024, 8, 28),
    )
    return w


def entry(html: str, pk: int) -> str:
    match = re.search(rf'<li class="dossier-entry[^"]*" id="assessment-{pk}">(.*?)</li>', html, re.S)
    assert match, f"no entry for assessment {pk}"
    return match.group(0)


@pytest.mark.parametrize("url", [URL, "/recommendations/NO-SUCH/dossier/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_an_unknown_recommendation_is_not_found(client, world):
    client.force_login(world.alice)
    assert client.get("/recommendations/NO-SUCH/dossier/").status_code == 404


def test_the_dossier_holds_text_status_timeline_sources_and_the_date_of_printing(client, world):
    w = world
    client.force_login(w.alice)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Takes prompt steps to release all individuals arbitrarily deprived of their liberty" in html
    assert (
        "OHCHR Assessment of human rights concerns" in html and "https://www.ohchr.org/en/documents/" in html
    )
    # The status card of the recommendation, with its labels, and the legend.
    status = text_of(response, "dossier-status")
    assert "Implementation" in status and "Not implemented" in status
    today = timezone.localdate().isoformat()
    assert f'Printed on <time datetime="{today}T' in html
    # The published timeline only: newest first; nothing in review, nobody's name.
    timeline = text_of(response, "dossier-timeline")
    assert [int(pk) for pk in re.findall(r'id="assessment-(\d+)"', html)] == [
        w.correction.pk,
        w.finding.pk,
        w.mallory_published.pk,
    ]
    for hidden in ("ALICE-PENDING", "ALICE-RETURNED", "NINA-PENDING"):
        assert hidden not in html
    assert "alice" not in timeline and "carol" not in timeline and "mallory" not in timeline
    assert "By Other NGO, published" in timeline
    # Sources cited, addresses written out; Alice's own internal source is there, and the page says so.
    sources = text_of(response, "dossier-sources")
    assert "https://news.example.org/public" in sources
    assert "https://news.example.org/partners" in sources
    assert "Witness statement 7" in sources and "https://news.example.org/internal" in sources
    assert "Do not pass it on outside your organisation" in text_of(response, "dossier-internal")
    # Mallory's internal note: counted on its entry, never named.
    assert "Mallory" not in html
    assert "(and 1 withheld source, confidential)" in " ".join(entry(html, w.mallory_published.pk).split())


def test_a_corrected_entry_is_struck_through_and_names_its_correction(client, world):
    w = world
    client.force_login(w.mallory)
    html = client.get(URL).content.decode()
    corrected = entry(html, w.finding.pk)
    assert "dossier-entry--corrected" in corrected
    assert '<del class="corrected">' in corrected
    assert f'href="#assessment-{w.correction.pk}"' in corrected and "See the correction of" in corrected
    correction = entry(html, w.correction.pk)
    assert "<del" not in correction
    assert f'href="#assessment-{w.finding.pk}"' in correction


def test_another_organisation_sees_no_internal_source_of_the_first(client, world):
    w = world
    client.force_login(w.mallory)
    response = client.get(URL)
    html = response.content.decode()
    assert "Witness statement 7" not in html and "news.example.org/internal" not in html
    # Her own internal note is hers to see.
    assert "Mallory&#x27;s note" in html
    assert "(and 1 withheld source, confidential)" in " ".join(entry(html, w.finding.pk).split())


def test_print_link_stylesheet_and_button(client, world):
    client.force_login(world.alice)
    page = client.get("/recommendations/XJ22-151-i/").content.decode()
    assert re.search(r'<a [^>]*href="/recommendations/XJ22-151-i/dossier/"[^>]*>Print', page)
    html = client.get(URL).content.decode()
    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in html
    assert '<button type="button" class="button" data-print hidden>Print</button>' in html
    assert '<script src="/static/js/print.js" defer></script>' in html
    css = (STATIC / "css" / "print.css").read_text()
    assert "@media print" in css and ".no-print" in css and "line-through" in css


def test_query_count_does_not_grow_with_the_timeline(client, world, django_assert_max_num_queries):
    w = world
    client.force_login(w.alice)
    client.get("/")
    # session, user, membership; the recommendation (document and State claim joined); the published
    # timeline (organisation and corrected entry joined, correction and withheld count as subqueries); the
    # visible cited sources (one prefetch); the themes.
    budget = 7
    with django_assert_max_num_queries(budget) as small:
        client.get(URL)
    for n in range(15):
        publish(w.rec, w.mallory, w.oscar, [w.mallory_internal, w.public_ev], rationale=f"More {n}")
        publish(w.rec, w.alice, w.carol, [w.internal_ev], rationale=f"Ours {n}")
    with django_assert_max_num_queries(budget) as large:
        html = client.get(URL).content.decode()
    assert len(re.findall(r'<li class="dossier-entry', html)) == 33
    assert len(small.captured_queries) == len(large.captured_queries)
