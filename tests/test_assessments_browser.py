"""The assessments browser (/assessments/): what each viewer may see, every filter, the sort, the pages and
the query budget.

Personas (tests/factories.py): Alice (monitor) and Carol (curator) of the default organisation; Mallory, a
monitor of Other NGO, and Oscar, its curator; Nina, another monitor of Other NGO who has published nothing.
"""

from __future__ import annotations

import datetime
import re
from types import SimpleNamespace

import pytest

from cases import services
from cases.models import Basis, ImplementationStatus, StateResponse
from tests.factories import make_user, submit

pytestmark = pytest.mark.django_db

URL = "/assessments/"


def publish(rec, author, reviewer, evidence, **fields):
    return services.publish_assessment(submit(rec, author, evidence, **fields), reviewer=reviewer)


@pytest.fixture
def world(personas):
    return make_world(personas)


def make_world(p):
    """Six assessments the two organisations hold, one per case the browser must tell apart (also used by
    tests/test_ui_exports.py and tests/test_dossier.py)."""
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    nina = make_user("nina", role="monitor", organisation=p.other_org)
    w = SimpleNamespace(**vars(p), oscar=oscar, nina=nina)
    # Alice's finding, published, citing a public and her organisation's internal source.
    w.finding = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev, p.internal_ev],
        rationale="ALICE-FINDING",
        assessed_on=datetime.date(2024, 8, 27),
    )
    # The State's claim, published.
    w.claim = publish(
        p.rec2,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.ACCEPTED,
        assessed_on=datetime.date(2023, 3, 1),
        rationale="STATE-CLAIM",
    )
    # Alice's UN finding waiting for review: her organisation sees it, nobody else.
    w.pending = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        basis=Basis.UN_FINDING,
        assessed_on=datetime.date(2024, 1, 10),
        rationale="ALICE-PENDING",
    )
    # Alice's finding returned to her.
    w.returned = services.return_assessment(
        submit(
            p.rec, p.alice, [p.public_ev], rationale="ALICE-RETURNED", assessed_on=datetime.date(2023, 6, 1)
        ),
        reviewer=p.carol,
        comment="Cite a second source.",
    )
    # Other NGO: Mallory's published finding resting on her organisation's internal note (withheld from
    # Alice), and Nina's unpublished one, which Alice must never see.
    w.mallory_published = publish(
        p.rec,
        p.mallory,
        oscar,
        [p.mallory_internal],
        rationale="MALLORY-PUBLISHED",
        assessed_on=datetime.date(2024, 5, 2),
    )
    w.nina_pending = submit(
        p.rec, nina, [p.public_ev], rationale="NINA-PENDING", assessed_on=datetime.date(2024, 7, 7)
    )
    return w


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="row-(\d+)"', response.content.decode())]


def names(w, ids) -> set[str]:
    by_pk = {
        getattr(w, name).pk: name
        for name in ("finding", "claim", "pending", "returned", "mallory_published", "nina_pending")
    }
    return {by_pk[pk] for pk in ids}


# --- who sees what ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, f"{URL}?basis=state_claim", f"{URL}?page=2"])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/assessments/")


def test_a_member_sees_everything_published_and_her_organisations_work_in_review(client, world):
    w = world
    client.force_login(w.alice)
    response = client.get(URL)
    assert response.status_code == 200
    assert names(w, row_ids(response)) == {"finding", "claim", "pending", "returned", "mallory_published"}
    html = response.content.decode()
    assert "NINA-PENDING" not in html
    # Mallory's internal note is counted as withheld, never named.
    assert "Mallory&#x27;s note" not in html and "Mallory's note" not in html
    assert re.search(rf'<tr id="row-{w.mallory_published.pk}".*?\+ 1 withheld', html, re.S)


def test_another_organisation_sees_only_the_published_work_of_the_first(client, world):
    w = world
    client.force_login(w.mallory)
    ids = row_ids(client.get(URL))
    assert names(w, ids) == {"finding", "claim", "mallory_published", "nina_pending"}
    html = client.get(URL).content.decode()
    assert "ALICE-PENDING" not in html and "Witness statement 7" not in html


def test_the_browser_is_in_the_navigation(client, world):
    client.force_login(world.alice)
    html = client.get("/").content.decode()
    assert 'href="/assessments/"' in html
    assert 'href="/assessments/" aria-current="page"' in client.get(URL).content.decode()


# --- filters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("recommendation=XJ22-152-i", {"claim"}),
        ("recommendation=NO-SUCH-CODE", set()),
        ("document=xj22", {"finding", "claim", "pending", "returned", "mallory_published"}),
        ("basis=state_claim", {"claim"}),
        ("basis=independent", {"finding", "returned", "mallory_published"}),
        ("basis=un_finding", {"pending"}),
        ("author=alice", {"finding", "claim", "pending", "returned"}),
        ("author=mallory", {"mallory_published"}),
        ("review_state=submitted", {"pending"}),
        ("review_state=returned", {"returned"}),
        ("review_state=published", {"finding", "claim", "mallory_published"}),
        ("implementation_status=partially_implemented", {"claim"}),
        ("implementation_status=not_implemented", {"finding", "pending", "returned", "mallory_published"}),
        ("state_response=accepted", {"claim"}),
        ("state_response=no_response", {"finding", "pending", "returned", "mallory_published"}),
        ("assessed_on_after=2024-01-10", {"finding", "pending", "mallory_published"}),
        ("assessed_on_before=2023-06-01", {"claim", "returned"}),
        ("assessed_on_after=2023-06-01&assessed_on_before=2024-01-10", {"returned", "pending"}),
        ("basis=independent&review_state=published&author=alice", {"finding"}),
    ],
)
def test_every_filter(client, world, query, expected):
    client.force_login(world.alice)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert names(world, row_ids(response)) == expected


@pytest.mark.parametrize(
    "query",
    [
        "basis=opinion",
        "review_state=deleted",
        "implementation_status=perhaps",
        "assessed_on_after=31.08.2022",
        "document=no-such-document",
        # Nina has published nothing: Alice may not learn that the name exists by filtering on it.
        "author=nina",
        "author=nobody",
    ],
)
def test_an_invalid_filter_shows_its_error_and_no_rows(client, world, query):
    client.force_login(world.alice)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Some filters could not be applied" in html
    assert row_ids(response) == []
    # No download of an unfiltered set in place of the filtered one.
    assert "Download CSV" not in html


def test_author_choices_are_the_authors_the_viewer_may_see(client, world):
    client.force_login(world.alice)
    html = client.get(URL).content.decode()
    options = re.search(r'<select[^>]*name="author"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', options) == ["", "alice", "mallory"]
    client.force_login(world.mallory)
    html = client.get(URL).content.decode()
    options = re.search(r'<select[^>]*name="author"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', options) == ["", "alice", "mallory", "nina"]


def test_date_range_inputs_are_labelled_and_keep_their_values(client, world):
    client.force_login(world.alice)
    html = client.get(f"{URL}?assessed_on_after=2023-06-01&assessed_on_before=2024-01-10").content.decode()
    assert '<label for="id_assessed_on">Assessed on</label>' in html
    first = re.search(r'<input type="date" name="assessed_on_after"[^>]*>', html).group(0)
    second = re.search(r'<input type="date" name="assessed_on_before"[^>]*>', html).group(0)
    assert 'value="2023-06-01"' in first and 'id="id_assessed_on"' in first
    assert 'value="2024-01-10"' in second and 'id="id_assessed_on_before"' in second
    # Each input sits in its own visible label.
    assert re.search(
        r"<label[^>]*>\s*<span[^>]*>to</span>\s*<input type=\"date\" name=\"assessed_on_before\"", html
    )


# --- sort and pages --------------------------------------------------------------------------------------


def test_sorted_by_date_newest_or_oldest_first(client, world):
    w = world
    client.force_login(w.alice)
    newest = [w.finding.pk, w.mallory_published.pk, w.pending.pk, w.returned.pk, w.claim.pk]
    assert row_ids(client.get(URL)) == newest
    assert row_ids(client.get(f"{URL}?sort=newest")) == newest
    assert row_ids(client.get(f"{URL}?sort=oldest")) == newest[::-1]
    # An unknown sort key falls back to the default; it never reaches order_by().
    assert row_ids(client.get(f"{URL}?sort=rationale")) == newest


def add_published(w, count: int, start=datetime.date(2022, 9, 1)) -> None:
    for n in range(count):
        publish(
            w.rec2,
            w.alice,
            w.carol,
            [w.public_ev],
            assessed_on=start + datetime.timedelta(days=n),
            rationale=f"Bulk {n}",
        )


def test_pages_of_fifty_keep_the_filters(client, world):
    w = world
    add_published(w, 60)
    client.force_login(w.alice)
    first = client.get(f"{URL}?recommendation=XJ22-152-i&sort=oldest")
    assert len(row_ids(first)) == 50
    html = first.content.decode()
    assert "?recommendation=XJ22-152-i&amp;sort=oldest&amp;page=2" in html
    second = client.get(f"{URL}?recommendation=XJ22-152-i&sort=oldest&page=2")
    assert len(row_ids(second)) == 11  # 60 + the State's claim
    assert not set(row_ids(first)) & set(row_ids(second))


def test_corrected_entries_are_struck_through_and_linked_to_their_correction(client, world):
    w = world
    correction = publish(
        w.rec,
        w.alice,
        w.carol,
        [w.public_ev],
        corrects=w.finding,
        rationale="CORRECTION",
        assessed_on=datetime.date(2024, 8, 28),
    )
    client.force_login(w.mallory)
    html = client.get(URL).content.decode()
    row = re.search(rf'<tr id="row-{w.finding.pk}" class="is-corrected">(.*?)</tr>', html, re.S).group(1)
    assert '<del class="corrected">' in row
    assert f"#assessment-{correction.pk}" in row
    assert f'<tr id="row-{correction.pk}">' in html


# --- query budget ----------------------------------------------------------------------------------------


def test_query_count_does_not_grow_with_the_rows(client, world, django_assert_max_num_queries):
    w = world
    client.force_login(w.alice)
    # session, user, membership (with groups); count; the page's rows (recommendation, author and
    # organisation joined, correction and withheld count as subqueries); their visible sources; the
    # document and author options of the filter form.
    budget = 8
    client.get(URL)
    with django_assert_max_num_queries(budget) as first:
        assert len(row_ids(client.get(URL))) == 5
    add_published(w, 40)
    for n in range(5):
        publish(w.rec, w.mallory, w.oscar, [w.mallory_internal, w.public_ev], rationale=f"More {n}")
    with django_assert_max_num_queries(budget) as second:
        assert len(row_ids(client.get(URL))) == 50
    assert len(first.captured_queries) == len(second.captured_queries)
