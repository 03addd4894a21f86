"""Downloads from the web pages (cases/exports.py): the recommendation list, the assessments browser and the
evidence list as CSV and XLSX, exactly the rows as filtered and sorted, only what the viewer may see.

Personas as in tests/test_assessments_browser.py (its `world` fixture): Alice and Carol of the default
organisation, Mallory, Oscar and Nina of Other NGO.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

import openpyxl
import pytest

from cases.models import Confidentiality, EvidenceKind, Recommendation
from tests.factories import make_evidence, make_recommendation
from tests.test_assessments_browser import add_published, make_world, publish
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas):
    return make_world(personas)


EXPORTS = {
    "recommendations": "/recommendations/export",
    "assessments": "/assessments/export",
    "evidence": "/evidence/export",
}


def get_csv(client, url: str) -> tuple[bytes, list[list[str]]]:
    response = client.get(url)
    assert response.status_code == 200, response
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="\w+-\d{8}T\d{6}Z\.csv"', response["Content-Disposition"])
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    return body, list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def get_xlsx(client, url: str) -> tuple[openpyxl.Workbook, list[list[str]]]:
    response = client.get(url)
    assert response.status_code == 200, response
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert re.fullmatch(r'attachment; filename="\w+-\d{8}T\d{6}Z\.xlsx"', response["Content-Disposition"])
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    # Numbers stay numbers in the workbook; compared as the CSV's text.
    rows = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    return workbook, rows


def column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


# --- sign-in, formats, bad filters ------------------------------------------------------------------------


@pytest.mark.parametrize("resource", EXPORTS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, resource, fmt):
    response = client.get(f"{EXPORTS[resource]}.{fmt}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not AuditEvent.objects.filter(event="export.download").exists()


@pytest.mark.parametrize("resource", EXPORTS)
def test_an_unknown_format_is_not_found(client, world, resource):
    client.force_login(world.alice)
    assert client.get(f"{EXPORTS[resource]}.pdf").status_code == 404


@pytest.mark.parametrize(
    ("url", "page"),
    [
        ("/assessments/export.csv?basis=opinion", "/assessments/?basis=opinion"),
        (
            "/recommendations/export.xlsx?implementation_status=maybe",
            "/recommendations/?implementation_status=maybe",
        ),
        ("/evidence/export.csv?kind=rumour", "/evidence/?kind=rumour"),
    ],
)
def test_an_invalid_filter_sends_back_to_the_page_that_explains_it(client, world, url, page):
    client.force_login(world.alice)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == page
    assert not AuditEvent.objects.filter(event="export.download").exists()


# --- the rows: as filtered, as sorted, only what the viewer may see ---------------------------------------


def test_assessments_download_holds_the_filtered_rows_in_both_formats(client, world):
    w = world
    client.force_login(w.alice)
    query = "?review_state=published&sort=oldest"
    body, rows = get_csv(client, f"/assessments/export.csv{query}")
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads the text as UTF-8
    _, xlsx_rows = get_xlsx(client, f"/assessments/export.xlsx{query}")
    assert xlsx_rows == rows
    # The API's columns plus the review state; never a person's name.
    assert rows[0][:6] == [
        "id",
        "recommendation",
        "implementation_status",
        "state_response",
        "basis",
        "assessed_on",
    ]
    assert rows[0][-1] == "review_state" and "author" not in rows[0] and "reviewer" not in rows[0]
    assert column(rows, "id") == [str(w.claim.pk), str(w.mallory_published.pk), str(w.finding.pk)]
    # The page lists the same rows in the same order.
    page = client.get(f"/assessments/{query}").content.decode()
    assert re.findall(r'<tr id="row-(\d+)"', page) == column(rows, "id")
    # Mallory's internal note is counted, never identified.
    mallory_row = dict(
        zip(rows[0], rows[column(rows, "id").index(str(w.mallory_published.pk)) + 1], strict=True)
    )
    assert mallory_row["evidence"] == "" and mallory_row["withheld_evidence"] == "1"


def test_another_organisations_unpublished_assessment_is_in_no_download(client, world):
    w = world
    client.force_login(w.alice)
    body, rows = get_csv(client, "/assessments/export.csv")
    _, xlsx_rows = get_xlsx(client, "/assessments/export.xlsx")
    assert xlsx_rows == rows
    assert set(column(rows, "id")) == {
        str(a.pk) for a in (w.finding, w.claim, w.pending, w.returned, w.mallory_published)
    }
    assert b"NINA-PENDING" not in body
    assert "NINA-PENDING" not in repr(xlsx_rows)
    # Her own organisation's work in review is there, marked as such, with no API link (the API has none).
    pending = dict(zip(rows[0], rows[column(rows, "id").index(str(w.pending.pk)) + 1], strict=True))
    assert pending["review_state"] == "submitted" and pending["url"] == ""
    # Nina's colleague sees it; Alice's work in review is not his.
    client.force_login(w.mallory)
    body, rows = get_csv(client, "/assessments/export.csv")
    assert b"NINA-PENDING" in body and b"ALICE-PENDING" not in body and b"ALICE-RETURNED" not in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("basis=state_claim", {"claim"}),
        ("author=mallory", {"mallory_published"}),
        ("assessed_on_after=2024-01-10&assessed_on_before=2024-06-01", {"pending", "mallory_published"}),
        ("implementation_status=partially_implemented&state_response=accepted", {"claim"}),
        ("recommendation=XJ22-151-i&review_state=returned", {"returned"}),
    ],
)
def test_assessments_download_applies_every_filter(client, world, query, expected):
    w = world
    client.force_login(w.alice)
    _, rows = get_csv(client, f"/assessments/export.csv?{query}")
    assert set(column(rows, "id")) == {str(getattr(w, name).pk) for name in expected}
    _, xlsx_rows = get_xlsx(client, f"/assessments/export.xlsx?{query}")
    assert xlsx_rows == rows


def test_downloads_hold_every_page_not_just_the_one_shown(client, world):
    w = world
    add_published(w, 55)
    client.force_login(w.alice)
    _, rows = get_csv(client, "/assessments/export.csv?recommendation=XJ22-152-i&page=2")
    assert len(rows) == 1 + 56


def test_recommendations_download_follows_the_list_filters_and_sort(client, world):
    w = world
    for n in range(3):
        make_recommendation(w.document, f"ZZ-{n}", f"300({n})", f"Bulk {n}", position=300 - n)
    client.force_login(w.alice)
    query = "?addressee=state&sort=code"
    _, rows = get_csv(client, f"/recommendations/export.csv{query}")
    _, xlsx_rows = get_xlsx(client, f"/recommendations/export.xlsx{query}")
    assert xlsx_rows == rows
    expected = list(
        Recommendation.objects.filter(addressee="state").order_by("code").values_list("code", flat=True)
    )
    assert column(rows, "code") == expected
    page = client.get(f"/recommendations/{query}").content.decode()
    listed = re.findall(r'<th scope="row" class="nowrap">\s*<a href="/recommendations/([^/]+)/"', page)
    assert listed == expected
    # The document order (the list's default) is kept too.
    _, rows = get_csv(client, "/recommendations/export.csv?addressee=state")
    assert column(rows, "code") == ["XJ22-151-i", "ZZ-2", "ZZ-1", "ZZ-0"]
    # The published State claim and the themes, as the API spells them.
    _, rows = get_csv(client, "/recommendations/export.csv?q=measures")
    assert column(rows, "code") == ["XJ22-152-i"]
    assert column(rows, "state_claim.id") == [str(w.claim.pk)]


def test_evidence_download_holds_only_what_the_viewer_may_see(client, world):
    w = world
    client.force_login(w.alice)
    body, rows = get_csv(client, "/evidence/export.csv")
    _, xlsx_rows = get_xlsx(client, "/evidence/export.xlsx")
    assert xlsx_rows == rows
    assert set(column(rows, "id")) == {str(e.pk) for e in (w.public_ev, w.partners_ev, w.internal_ev)}
    assert b"Mallory's note" not in body and b"mallory-internal" not in body
    client.force_login(w.mallory)
    body, rows = get_csv(client, "/evidence/export.csv?confidentiality=internal")
    assert column(rows, "id") == [str(w.mallory_internal.pk)]
    assert b"Witness statement 7" not in body


def test_formulas_are_defused_and_scripts_kept_intact(client, world):
    w = world
    make_evidence(
        w.alice,
        "https://news.example.org/formula",
        Confidentiality.PUBLIC,
        [w.rec],
        title='=HYPERLINK("https://evil.example/","Click")',
        publisher="+cmd|' /C calc'!A0",
        excerpt="-2+3\nئۇيغۇر تىلى — 新疆 «quoted»",
        kind=EvidenceKind.TESTIMONY,
        language="ug",
    )
    make_evidence(
        w.alice, "https://news.example.org/at", Confidentiality.PUBLIC, [w.rec], title="@SUM(A1:A9)"
    )
    client.force_login(w.alice)
    query = "?recommendation=XJ22-151-i&kind=testimony"
    _, rows = get_csv(client, f"/evidence/export.csv{query}")
    workbook, xlsx_rows = get_xlsx(client, f"/evidence/export.xlsx{query}")
    assert xlsx_rows == rows
    assert column(rows, "title") == ['\'=HYPERLINK("https://evil.example/","Click")']
    assert column(rows, "publisher") == ["'+cmd|' /C calc'!A0"]
    assert column(rows, "excerpt") == ["'-2+3\nئۇيغۇر تىلى — 新疆 «quoted»"]
    # No cell of the workbook is a formula.
    sheet = workbook.worksheets[0]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    _, rows = get_csv(client, "/evidence/export.csv?q=SUM")
    assert column(rows, "title") == ["'@SUM(A1:A9)"]


def test_xlsx_drops_characters_a_workbook_cannot_hold(client, world):
    w = world
    publish(
        w.rec2,
        w.alice,
        w.carol,
        [w.public_ev],
        rationale="Bell\x07 and form feed\x0c here",
        assessed_on=datetime.date(2024, 2, 2),
    )
    client.force_login(w.alice)
    _, rows = get_csv(
        client, "/assessments/export.csv?assessed_on_after=2024-02-02&assessed_on_before=2024-02-02"
    )
    assert column(rows, "rationale") == ["Bell\x07 and form feed\x0c here"]
    _, xlsx_rows = get_xlsx(
        client, "/assessments/export.xlsx?assessed_on_after=2024-02-02&assessed_on_before=2024-02-02"
    )
    assert column(xlsx_rows, "rationale") == ["Bell and form feed here"]


def test_an_empty_selection_still_has_its_header(client, world):
    client.force_login(world.alice)
    _, rows = get_csv(client, "/assessments/export.csv?recommendation=NO-SUCH")
    assert len(rows) == 1 and rows[0][0] == "id"
    _, xlsx_rows = get_xlsx(client, "/assessments/export.xlsx?recommendation=NO-SUCH")
    assert xlsx_rows == rows


# --- links on the pages, audit, query budget --------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "export"),
    [
        ("/recommendations/?addressee=state&sort=code&page=1", "/recommendations/export"),
        ("/assessments/?basis=state_claim&sort=oldest&page=1", "/assessments/export"),
        ("/evidence/?kind=news&page=1", "/evidence/export"),
    ],
)
def test_each_list_links_its_downloads_with_its_filters(client, world, page, export):
    client.force_login(world.alice)
    html = client.get(page).content.decode()
    query = page.split("?", 1)[1].removesuffix("&page=1").replace("&", "&amp;")
    assert f'href="{export}.csv?{query}" download>Download CSV' in html
    assert f'href="{export}.xlsx?{query}" download>Download XLSX' in html


def test_each_download_is_audited_with_the_filter_names_never_their_values(client, world):
    w = world
    client.force_login(w.alice)
    get_csv(client, "/evidence/export.csv?q=Witness+statement&kind=news")
    get_xlsx(client, "/assessments/export.xlsx?assessed_on_after=2024-01-01")
    rows = list(AuditEvent.objects.filter(event="export.download").order_by("id"))
    assert [(row.actor_id, row.organisation_id) for row in rows] == [(w.alice.pk, w.org.pk)] * 2
    assert rows[0].fields == {"resource": "evidence", "format": "csv", "filters": ["kind", "q"]}
    assert rows[1].fields == {"resource": "assessments", "format": "xlsx", "filters": ["assessed_on"]}
    assert "Witness" not in repr([row.fields for row in rows])


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("url", "budget"),
    [
        # session, user, membership; the audit row; the rows (document and State claim joined); their themes.
        ("/recommendations/export", 6),
        # session, user, membership; the audit row; the rows (recommendation and organisation joined, the
        # withheld count a subquery); their visible sources.
        ("/assessments/export", 6),
        # session, user, membership; the audit row; the rows; their recommendations.
        ("/evidence/export", 6),
    ],
)
def test_query_count_does_not_grow_with_the_rows(
    client, world, django_assert_max_num_queries, url, budget, fmt
):
    w = world
    client.force_login(w.alice)
    client.get("/")  # settles the session's bookkeeping
    with django_assert_max_num_queries(budget) as small:
        b"".join(client.get(f"{url}.{fmt}").streaming_content)
    add_published(w, 30)
    for n in range(30):
        make_evidence(w.alice, f"https://news.example.org/bulk-{n}", Confidentiality.PUBLIC, [w.rec, w.rec2])
        make_recommendation(w.document, f"BULK-{n}", f"400({n})", f"Bulk {n}", position=400 + n)
    with django_assert_max_num_queries(budget) as large:
        b"".join(client.get(f"{url}.{fmt}").streaming_content)
    assert len(small.captured_queries) == len(large.captured_queries)
