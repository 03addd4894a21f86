# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""The export API: endpoints, fields, visibility per viewer, filters, ordering, pagination, CSV pages, query
budgets, golden responses, schema and docs."""

from __future__ import annotations

import base64
import csv
import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.models import Addressee, Confidentiality, Evidence, Recommendation, Theme
from tests.factories import make_document, make_evidence, make_recommendation, make_user, submit
from tests.test_api_support import (  # noqa: F401  (fixtures)
    INTERNAL_TITLE,
    INTERNAL_URL,
    LISTS,
    MALLORY_TITLE,
    MALLORY_URL,
    PARTNERS_URL,
    PUBLIC_URL,
    RETURNED_RATIONALE,
    SUBMITTED_RATIONALE,
    _fresh_throttles,
    _module_world,
    assert_golden,
    key_client,
    normalise,
    session_client,
    viewer_client,
    world,
    world_labels,
)

pytestmark = pytest.mark.django_db

REC_FIELDS = [
    "code",
    "document",
    "paragraph",
    "text",
    "addressee",
    "themes",
    "implementation_status",
    "state_response",
    "state_claim",
    "status_updated_at",
    "updated_at",
    "url",
    "translations",
]
ASSESSMENT_FIELDS = [
    "id",
    "recommendation",
    "implementation_status",
    "state_response",
    "basis",
    "assessed_on",
    "rationale",
    "organisation",
    "evidence",
    "withheld_evidence",
    "corrects",
    "published_at",
    "updated_at",
    "url",
]
EVIDENCE_FIELDS = [
    "id",
    "url",
    "title",
    "publisher",
    "published_on",
    "kind",
    "excerpt",
    "language",
    "archive_url",
    "confidentiality",
    "recommendations",
    "updated_at",
    "link",
]
DOCUMENT_FIELDS = [
    "slug",
    "title",
    "short_name",
    "symbol",
    "issuing_body",
    "published_on",
    "url",
    "updated_at",
    "link",
]
THEME_FIELDS = ["slug", "name", "description", "updated_at", "url", "translations"]
UTC_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


# --- Fields -------------------------------------------------------------------------------------------


def test_recommendation_fields_are_the_contract(world):
    client = key_client(world.partners_secret)
    rows = results(client.get("/api/v1/recommendations/"))
    assert [row["code"] for row in rows] == ["XJ22-151-i", "XJ22-152-i"]
    row = rows[0]
    assert list(row) == REC_FIELDS
    assert row["document"] == "xj22"
    assert row["paragraph"] == "151(i)"
    assert row["addressee"] == "state"
    assert row["themes"] == ["arbitrary-detention"]
    assert row["implementation_status"] == "not_implemented"
    assert row["state_response"] == "rejected"
    # The current claim is the published correction, summarised with a link to the full assessment.
    assert row["state_claim"] == {
        "id": world.correction.pk,
        "implementation_status": "partially_implemented",
        "state_response": "rejected",
        "assessed_on": "2024-08-27",
        "url": f"http://testserver/api/v1/assessments/{world.correction.pk}/",
    }
    assert UTC_ISO.match(row["updated_at"]) and UTC_ISO.match(row["status_updated_at"])
    assert row["url"] == "http://testserver/api/v1/recommendations/XJ22-151-i/"
    assert rows[1]["state_claim"] is None and rows[1]["status_updated_at"] is None


def test_recommendation_detail_by_code(world):
    client = key_client(world.public_secret)
    response = client.get("/api/v1/recommendations/XJ22-151-i/")
    assert response.status_code == 200
    assert "release all individuals" in response.json()["text"]
    assert list(response.json()) == REC_FIELDS


@pytest.mark.parametrize("path", ["NOPE-1", "a.b", "%20", "x" * 300, "XJ22-151-i%00"])
def test_unknown_or_malformed_code_is_a_json_404(world, path):
    response = key_client(world.public_secret).get(f"/api/v1/recommendations/{path}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/evidence/abc/", "/api/v1/evidence/99999999999999999999999/", "/api/v1/nope/"]
)
def test_bad_ids_and_unknown_paths_are_json_404s(world, path):
    response = key_client(world.public_secret).get(path)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_missing_trailing_slash_redirects_like_the_site(world):
    response = key_client(world.public_secret).get("/api/v1/themes?format=csv")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/themes/?format=csv"


def test_assessment_fields_name_the_organisation_never_a_person(world):
    client = key_client(world.partners_secret)
    response = client.get(f"/api/v1/assessments/{world.published.pk}/")
    body = response.json()
    assert list(body) == ASSESSMENT_FIELDS
    assert body["recommendation"] == "XJ22-151-i"
    assert body["basis"] == "independent"
    assert body["organisation"] == "Default organisation"
    assert body["corrects"] is None
    assert UTC_ISO.match(body["published_at"])
    raw = response.content.decode()
    for username in ("alice", "carol", "dave"):
        assert username not in raw
    correction = client.get(f"/api/v1/assessments/{world.correction.pk}/").json()
    assert correction["corrects"] == world.claim.pk


def test_evidence_document_theme_fields(world):
    client = key_client(world.partners_secret)
    evidence = client.get(f"/api/v1/evidence/{world.public_ev.pk}/").json()
    assert list(evidence) == EVIDENCE_FIELDS
    assert evidence["url"] == PUBLIC_URL
    assert evidence["confidentiality"] == "public"
    assert evidence["kind"] == "news"
    # Only publication links cited evidence to a recommendation; drafts citing it leave no trace here.
    assert evidence["recommendations"] == ["XJ22-151-i"]
    assert evidence["link"] == f"http://testserver/api/v1/evidence/{world.public_ev.pk}/"
    document = client.get("/api/v1/documents/xj22/").json()
    assert list(document) == DOCUMENT_FIELDS
    assert document["issuing_body"] == "ohchr" and document["published_on"] == "2022-08-31"
    assert document["link"] == "http://testserver/api/v1/documents/xj22/"
    theme = client.get("/api/v1/themes/arbitrary-detention/").json()
    assert list(theme) == THEME_FIELDS
    assert theme["name"] == "Arbitrary detention"


def test_links_do_not_carry_the_format_parameter(world):
    client = key_client(world.partners_secret)
    rows = csv_rows(client.get("/api/v1/recommendations/?format=csv"))
    assert rows[0]["url"] == "http://testserver/api/v1/recommendations/XJ22-151-i/"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(world, method):
    response = getattr(key_client(world.partners_secret), method)(
        "/api/v1/recommendations/XJ22-151-i/", data="{}", content_type="application/json"
    )
    assert response.status_code == 405
    assert Recommendation.objects.filter(code="XJ22-151-i").exists()


# --- Visibility: each viewer against each kind of object, in JSON and CSV ----------------------------

# What each viewer must see and must never see, anywhere in any response body.
VISIBILITY = {
    "public_key": (
        [PUBLIC_URL],
        [
            PARTNERS_URL,
            INTERNAL_URL,
            INTERNAL_TITLE,
            MALLORY_URL,
            MALLORY_TITLE,
            SUBMITTED_RATIONALE,
            RETURNED_RATIONALE,
        ],
    ),
    "partners_key": (
        [PUBLIC_URL, PARTNERS_URL],
        [INTERNAL_URL, INTERNAL_TITLE, MALLORY_URL, MALLORY_TITLE, SUBMITTED_RATIONALE, RETURNED_RATIONALE],
    ),
    "alice": (
        [PUBLIC_URL, PARTNERS_URL, INTERNAL_URL, INTERNAL_TITLE],
        [MALLORY_URL, MALLORY_TITLE, SUBMITTED_RATIONALE, RETURNED_RATIONALE],
    ),
    "mallory": (
        [PUBLIC_URL, PARTNERS_URL, MALLORY_URL, MALLORY_TITLE],
        [INTERNAL_URL, INTERNAL_TITLE, SUBMITTED_RATIONALE, RETURNED_RATIONALE],
    ),
}


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("viewer", list(VISIBILITY))
def test_nothing_leaks_from_any_list(world, viewer, fmt):
    client = viewer_client(world, viewer)
    bodies = ""
    for resource in LISTS:
        response = client.get(f"/api/v1/{resource}/", {"format": fmt})
        assert response.status_code == 200, (resource, response.content[:200])
        bodies += response.content.decode("utf-8")
    shown, hidden = VISIBILITY[viewer]
    for text in shown:
        assert text in bodies, f"{viewer} should see {text!r}"
    for text in hidden:
        assert text not in bodies, f"{viewer} must not see {text!r}"


# Published assessment cites public, partners and Alice's internal evidence: what each viewer is shown.
CITED = {
    "public_key": (["public_ev"], 2),
    "partners_key": (["public_ev", "partners_ev"], 1),
    "alice": (["public_ev", "partners_ev", "internal_ev"], 0),
    "mallory": (["public_ev", "partners_ev"], 1),
}


@pytest.mark.parametrize("viewer", list(CITED))
def test_assessment_lists_only_visible_evidence_and_counts_the_rest(world, viewer):
    client = viewer_client(world, viewer)
    body = client.get(f"/api/v1/assessments/{world.published.pk}/").json()
    names, withheld = CITED[viewer]
    assert body["evidence"] == sorted(getattr(world, name).pk for name in names)
    assert body["withheld_evidence"] == withheld
    csv_body = csv_rows(client.get(f"/api/v1/assessments/{world.published.pk}/?format=csv"))[0]
    assert csv_body["evidence"] == "; ".join(str(pk) for pk in body["evidence"])
    assert csv_body["withheld_evidence"] == str(withheld)


@pytest.mark.parametrize("viewer", list(VISIBILITY))
def test_unpublished_assessments_are_not_found_for_anyone(world, viewer):
    client = viewer_client(world, viewer)
    for assessment in (world.submitted, world.returned):
        assert client.get(f"/api/v1/assessments/{assessment.pk}/").status_code == 404
    ids = {row["id"] for row in results(client.get("/api/v1/assessments/"))}
    assert ids == {world.published.pk, world.claim.pk, world.correction.pk}


@pytest.mark.parametrize(
    ("viewer", "visible"),
    [
        ("public_key", {"public_ev"}),
        ("partners_key", {"public_ev", "partners_ev"}),
        ("alice", {"public_ev", "partners_ev", "internal_ev"}),
        ("mallory", {"public_ev", "partners_ev", "mallory_internal"}),
    ],
)
def test_evidence_detail_follows_clearance(world, viewer, visible):
    client = viewer_client(world, viewer)
    for name in ("public_ev", "partners_ev", "internal_ev", "mallory_internal"):
        status = client.get(f"/api/v1/evidence/{getattr(world, name).pk}/").status_code
        assert status == (200 if name in visible else 404), name


def test_a_key_never_sees_internal_evidence_even_of_its_own_organisation(world):
    partner_org = world.public_key.organisation
    partner = make_user("pat", role="monitor", organisation=partner_org)
    own_internal = make_evidence(
        partner, "https://partner.example.org/own-internal", Confidentiality.INTERNAL
    )
    client = key_client(world.partners_secret)
    assert client.get(f"/api/v1/evidence/{own_internal.pk}/").status_code == 404
    assert "own-internal" not in client.get("/api/v1/evidence/").content.decode()
    # The organisation's member does see it through their session.
    assert session_client(partner).get(f"/api/v1/evidence/{own_internal.pk}/").status_code == 200


def test_confidentiality_filter_cannot_widen_a_clearance(world):
    client = key_client(world.public_secret)
    for level in ("partners", "internal"):
        assert results(client.get("/api/v1/evidence/", {"confidentiality": level})) == []


# --- Filters ------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(world):
    """A second document, themes and statuses to filter on."""
    cerd = make_document(
        "cerd18", title="CERD concluding observations", short_name="CERD 2018", issuing_body="cerd"
    )
    torture = Theme.objects.create(name="Torture and ill-treatment", slug="torture")
    rec3 = make_recommendation(
        cerd, "CERD18-42-a", "42(a)", "Investigate all allegations of torture.", addressee="un"
    )
    rec3.themes.add(torture)
    return world


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ({}, ["CERD18-42-a", "XJ22-151-i", "XJ22-152-i"]),
        ({"document": "cerd18"}, ["CERD18-42-a"]),
        ({"addressee": "business"}, ["XJ22-152-i"]),
        ({"theme": "torture"}, ["CERD18-42-a"]),
        ({"implementation_status": "not_implemented"}, ["XJ22-151-i"]),
        ({"implementation_status": "not_assessed"}, ["CERD18-42-a", "XJ22-152-i"]),
        ({"state_response": "rejected"}, ["XJ22-151-i"]),
        ({"state_response": "no_response", "document": "xj22"}, ["XJ22-152-i"]),
        ({"q": "TORTURE"}, ["CERD18-42-a"]),
        ({"q": "151(i)"}, ["XJ22-151-i"]),
    ],
)
def test_recommendation_filters(catalogue, query, codes):
    rows = results(key_client(catalogue.public_secret).get("/api/v1/recommendations/", query))
    assert [row["code"] for row in rows] == codes


@pytest.mark.parametrize(
    "query",
    [
        {"document": "no-such-document"},
        {"theme": "no-such-theme"},
        {"addressee": "everyone"},
        {"implementation_status": "done"},
        {"q": "x" * 201},
        {"q": "nul\x00byte"},
    ],
)
def test_invalid_filter_values_are_400_json(catalogue, query):
    response = key_client(catalogue.public_secret).get("/api/v1/recommendations/", query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json(), dict) and response.json()


@pytest.mark.parametrize("value", [s.value for s in Addressee])
def test_every_addressee_code_is_accepted(world, value):
    assert (
        key_client(world.public_secret).get("/api/v1/recommendations/", {"addressee": value}).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"kind": "news"}, {"public_ev", "partners_ev", "cited"}),
        ({"kind": "testimony"}, set()),
        ({"confidentiality": "partners"}, {"partners_ev"}),
        ({"recommendation": "XJ22-151-i"}, {"public_ev", "partners_ev"}),
        ({"recommendation": "XJ22-152-i"}, set()),  # cited by unpublished work only
        ({"language": "en"}, {"public_ev", "partners_ev", "cited"}),
        ({"q": "partners"}, {"partners_ev"}),
    ],
)
def test_evidence_filters(world, query, names):
    cited = world.cited_only
    ids = {world.public_ev.pk: "public_ev", world.partners_ev.pk: "partners_ev", cited.pk: "cited"}
    rows = results(key_client(world.partners_secret).get("/api/v1/evidence/", query))
    assert {ids[row["id"]] for row in rows} == names


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"recommendation": "XJ22-151-i"}, {"published", "claim", "correction"}),
        ({"recommendation": "XJ22-152-i"}, set()),
        ({"basis": "state_claim"}, {"claim", "correction"}),
        ({"implementation_status": "not_implemented"}, {"published"}),
        ({"state_response": "rejected"}, {"claim", "correction"}),
        ({"document": "xj22"}, {"published", "claim", "correction"}),
        (
            {"assessed_on_after": "2024-08-27", "assessed_on_before": "2024-08-27"},
            {"published", "claim", "correction"},
        ),
        ({"assessed_on_after": "2024-08-28"}, set()),
    ],
)
def test_assessment_filters(world, query, names):
    labels = world_labels(world)["assessments"]
    rows = results(key_client(world.public_secret).get("/api/v1/assessments/", query))
    assert {labels[row["id"]] for row in rows} == names


def test_document_and_theme_filters(catalogue):
    client = key_client(catalogue.public_secret)
    assert [r["slug"] for r in results(client.get("/api/v1/documents/", {"issuing_body": "cerd"}))] == [
        "cerd18"
    ]
    assert client.get("/api/v1/documents/", {"issuing_body": "unicef"}).status_code == 400
    assert [r["slug"] for r in results(client.get("/api/v1/themes/"))] == ["arbitrary-detention", "torture"]


@pytest.mark.parametrize("resource", LISTS)
def test_updated_since_on_every_list(world, resource):
    client = key_client(world.partners_secret)
    assert results(client.get(f"/api/v1/{resource}/", {"updated_since": "2000-01-01T00:00:00Z"}))
    assert results(client.get(f"/api/v1/{resource}/", {"updated_since": "2999-01-01T00:00:00Z"})) == []
    response = client.get(f"/api/v1/{resource}/", {"updated_since": "last tuesday"})
    assert response.status_code == 400
    assert response.json() == {
        "updated_since": ["Enter an ISO 8601 date and time, for example 2024-08-31T00:00:00Z."]
    }


@pytest.mark.parametrize(
    "value",
    [
        "2000-01-01",
        "2000-01-01T00:00:00",
        "2000-01-01t00:00:00z",
        "2000-01-01T05:30:00+05:30",
        "2016-12-31T23:59:60Z",
    ],
)
def test_updated_since_accepts_iso_8601_forms(world, value):
    assert results(key_client(world.public_secret).get("/api/v1/themes/", {"updated_since": value}))


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-13-01", "1e9"]
)
def test_updated_since_out_of_range_is_400_not_500(world, value):
    assert (
        key_client(world.public_secret).get("/api/v1/recommendations/", {"updated_since": value}).status_code
        == 400
    )


# --- Ordering and pagination --------------------------------------------------------------------------


@pytest.fixture
def many(world):
    """25 more recommendations with a mix of statuses (to order on a column full of ties)."""
    document = world.document
    statuses = ["not_assessed", "not_implemented", "regressed"]
    Recommendation.objects.bulk_create(
        Recommendation(
            document=document,
            code=f"XJ22-200-{n:02d}",
            paragraph=f"200({n})",
            text=f"Synthetic {n}",
            addressee="state",
            implementation_status=statuses[n % 3],
            position=n,
        )
        for n in range(25)
    )
    return world


def walk_pages(client, url, params, direction="next") -> list[list[dict]]:
    pages = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content[:300]
        pages.append(response.json()["results"])
        link = response.json()[direction]
        if not link:
            return pages
        response = client.get(link)


@pytest.mark.parametrize(
    "ordering",
    [
        "code",
        "-code",
        "implementation_status",
        "-implementation_status,code",
        "updated_at",
        "-updated_at",
        "nonsense",
    ],
)
def test_pages_cover_every_row_once_in_order(many, ordering):
    client = key_client(many.public_secret)
    pages = walk_pages(client, "/api/v1/recommendations/", {"ordering": ordering, "page_size": 4})
    assert all(len(page) == 4 for page in pages[:-1])
    codes = [row["code"] for page in pages for row in page]
    # The same order as one query over everything (the database's collation decides text order), with
    # `code` completing a non-unique ordering in the direction of its first term; unknown names are ignored.
    terms = ["code"] if ordering == "nonsense" else ordering.split(",")
    if "code" not in {term.lstrip("-") for term in terms}:
        terms.append("-code" if terms[0].startswith("-") else "code")
    assert codes == list(Recommendation.objects.order_by(*terms).values_list("code", flat=True))
    assert len(set(codes)) == len(codes) == Recommendation.objects.count()


def test_previous_links_walk_back_over_the_same_pages(many):
    client = key_client(many.public_secret)
    forward = walk_pages(
        client, "/api/v1/recommendations/", {"ordering": "implementation_status", "page_size": 5}
    )
    last = client.get("/api/v1/recommendations/", {"ordering": "implementation_status", "page_size": 5})
    while last.json()["next"]:
        last = client.get(last.json()["next"])
    assert last.json()["previous"]
    backward = [last.json()["results"]]
    response = last
    while response.json()["previous"]:
        response = client.get(response.json()["previous"])
        backward.append(response.json()["results"])
    assert backward[::-1] == forward
    assert response.json()["previous"] is None


def test_pages_stay_stable_when_rows_change_between_requests(many):
    client = key_client(many.public_secret)
    first = client.get("/api/v1/recommendations/", {"page_size": 10})
    seen = [row["code"] for row in first.json()["results"]]
    # A row already delivered and a row not yet delivered both change meanwhile.
    Recommendation.objects.filter(code__in=[seen[0], "XJ22-200-20"]).update(text="changed")
    rest = walk_pages(client, first.json()["next"], {})
    codes = seen + [row["code"] for page in rest for row in page]
    assert len(codes) == len(set(codes)) == Recommendation.objects.count()


def test_page_size_is_capped_and_defaults(world):
    document = world.document
    Recommendation.objects.bulk_create(
        Recommendation(
            document=document, code=f"BULK-{n:04d}", paragraph=f"9{n}", text="x", addressee="state"
        )
        for n in range(520)
    )
    client = key_client(world.public_secret)
    assert len(results(client.get("/api/v1/recommendations/"))) == 50
    assert len(results(client.get("/api/v1/recommendations/", {"page_size": 100000}))) == 500
    assert len(results(client.get("/api/v1/recommendations/", {"page_size": 3}))) == 3
    for bad in ("0", "-1", "many"):
        assert len(results(client.get("/api/v1/recommendations/", {"page_size": bad}))) == 50


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "x" * 3000,
        _cursor({"o": ["code"], "v": ["A"], "r": 0}),  # another resource's ordering
        _cursor({"o": ["-updated_at", "-id"], "v": ["yesterday", 1]}),
        _cursor({"o": ["-updated_at", "-id"], "v": ["9999-12-31T23:59:59-23:00", 1]}),
        _cursor({"o": ["-updated_at", "-id"], "v": [{"a": 1}, 1]}),
        _cursor({"o": ["-updated_at", "-id"], "v": ["2024-01-01T00:00:00Z"]}),
        _cursor({"o": ["-updated_at", "-id"], "v": ["2024-01-01T00:00:00Z", 1], "r": 7}),
        _cursor([1, 2]),
    ],
)
def test_invalid_cursors_are_400(world, cursor):
    response = key_client(world.public_secret).get("/api/v1/evidence/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_cursor_of_another_ordering_is_refused(many):
    client = key_client(many.public_secret)
    link = client.get("/api/v1/recommendations/", {"page_size": 2}).json()["next"]
    assert client.get(link.replace("page_size=2", "page_size=2&ordering=-code")).status_code == 400


def test_link_header_carries_the_page_links(many):
    response = key_client(many.public_secret).get(
        "/api/v1/recommendations/", {"page_size": 2, "format": "csv"}
    )
    assert response.status_code == 200
    assert re.fullmatch(
        r'<http://testserver/api/v1/recommendations/\?[^>]*cursor=[^>]+>; rel="next"', response["Link"]
    )
    assert "format=csv" in response["Link"]
    assert len(csv_rows(response)) == 2


# --- CSV pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", LISTS)
def test_csv_header_matches_json_fields(world, resource):
    client = key_client(world.partners_secret)
    row = results(client.get(f"/api/v1/{resource}/"))[0]
    response = client.get(f"/api/v1/{resource}/", {"format": "csv"})
    header = next(csv.reader(io.StringIO(response.content.decode())))
    expected = []
    for name in row:
        if name == "state_claim":
            expected += [
                f"state_claim.{sub}"
                for sub in ("id", "implementation_status", "state_response", "assessed_on", "url")
            ]
        elif name == "translations":
            # One column per content language (cases/translations).
            expected += ["translations.zh-hans", "translations.ug"]
        else:
            expected.append(name)
    assert header == expected


def test_csv_joins_lists_and_flattens_nested_objects(world):
    rows = csv_rows(key_client(world.partners_secret).get("/api/v1/recommendations/?format=csv"))
    assert rows[0]["themes"] == "arbitrary-detention"
    assert rows[0]["state_claim.id"] == str(world.correction.pk)
    assert rows[0]["state_claim.implementation_status"] == "partially_implemented"
    assert rows[1]["state_claim.id"] == "" and rows[1]["themes"] == ""
    evidence = csv_rows(
        key_client(world.partners_secret).get(f"/api/v1/evidence/{world.public_ev.pk}/?format=csv")
    )
    assert evidence[0]["recommendations"] == "XJ22-151-i"


@pytest.mark.parametrize(
    "payload", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]
)
def test_csv_cells_are_escaped_against_formula_injection(world, payload):
    evidence = services.add_evidence(
        added_by=world.alice,
        url="https://news.example.org/hostile",
        title="Hostile",
        publisher="Hostile",
        excerpt="Hostile",
        confidentiality="public",
        recommendations=[world.rec],
    )
    # Written past the validators, which now refuse control characters in titles on the way in: rows stored
    # before them, or by any other writer, must still leave the export safely.
    Evidence.objects.filter(pk=evidence.pk).update(title=payload, publisher=payload, excerpt=payload)
    client = key_client(world.public_secret)
    rows = [r for r in csv_rows(client.get("/api/v1/evidence/?format=csv")) if r["url"].endswith("/hostile")]
    assert rows[0]["title"] == "'" + payload
    assert rows[0]["excerpt"] == "'" + payload
    # JSON is data, not a spreadsheet: it stays as typed.
    json_rows = [r for r in results(client.get("/api/v1/evidence/")) if r["url"].endswith("/hostile")]
    assert json_rows[0]["title"] == payload


def test_csv_is_utf8(world):
    Theme.objects.create(name="Uyghur: ئۇيغۇر 维吾尔", slug="uyghur")
    response = key_client(world.public_secret).get("/api/v1/themes/?format=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "Uyghur: ئۇيغۇر 维吾尔" in response.content.decode("utf-8")


def test_errors_are_json_even_when_csv_was_asked_for(world):
    client = key_client(world.public_secret)
    response = client.get("/api/v1/recommendations/", {"format": "csv", "updated_since": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    anonymous = key_client("").get(
        "/api/v1/recommendations/", {"format": "csv"}, headers={"authorization": ""}
    )
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"


# --- Query budgets ------------------------------------------------------------------------------------


def _grow(world, n: int) -> None:
    """n more recommendations, each with a theme, evidence and a published assessment."""
    theme = Theme.objects.get(slug="arbitrary-detention")
    for i in range(n):
        rec = make_recommendation(world.document, f"XJ22-3{i:02d}-a", f"3{i:02d}(a)")
        rec.themes.add(theme)
        ev = make_evidence(world.alice, f"https://news.example.org/grow-{i}", "public", [rec])
        internal = make_evidence(
            world.alice, f"https://news.example.org/grow-internal-{i}", "internal", [rec]
        )
        assessment = submit(rec, world.alice, [ev, internal])
        services.publish_assessment(assessment, reviewer=world.carol)


# Key request: 1 key lookup (the last_used_at write happened on the warm-up request) + the page +
# one query per prefetched relation.
KEY_BUDGETS = {
    "recommendations": 3,  # key, page (document and state claim joined), themes
    "assessments": 3,  # key, page (recommendation and organisation joined, withheld count), visible evidence
    "evidence": 3,  # key, page, recommendation codes
    "documents": 2,  # key, page
    "themes": 2,  # key, page
}


@pytest.mark.parametrize("resource", LISTS)
def test_key_query_budget_is_constant_per_page(world, resource, django_assert_num_queries):
    client = key_client(world.partners_secret)
    client.get("/api/v1/themes/")  # warm-up: writes last_used_at once
    with django_assert_num_queries(KEY_BUDGETS[resource]):
        small = client.get(f"/api/v1/{resource}/")
    _grow(world, 6)
    with django_assert_num_queries(KEY_BUDGETS[resource]):
        large = client.get(f"/api/v1/{resource}/", {"page_size": 500})
    assert small.status_code == large.status_code == 200
    if resource not in ("documents", "themes"):
        assert len(large.json()["results"]) > len(small.json()["results"])
    # A deep page costs the same as the first.
    second = client.get(f"/api/v1/{resource}/", {"page_size": 2}).json()["next"]
    if second:
        with django_assert_num_queries(KEY_BUDGETS[resource]):
            assert client.get(second).status_code == 200


# Session: session, user, and the membership with the role groups joined (one query, access.viewer_for_user)
# instead of the key. The role rule needs the membership, so every resource reads it.
SESSION_BUDGETS = {"recommendations": 3 + 2, "assessments": 3 + 2, "evidence": 3 + 2}


@pytest.mark.parametrize("resource", ["recommendations", "assessments", "evidence"])
def test_session_query_budget_is_constant_per_page(world, resource):
    client = session_client(world.alice)
    client.get("/api/v1/themes/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/api/v1/{resource}/").status_code == 200
    _grow(world, 6)
    with CaptureQueriesContext(connection) as large:
        assert client.get(f"/api/v1/{resource}/").status_code == 200
    assert len(small) == len(large) == SESSION_BUDGETS[resource]


def test_detail_query_budget(world, django_assert_num_queries):
    client = key_client(world.partners_secret)
    client.get("/api/v1/themes/")
    with django_assert_num_queries(3):  # key, the assessment (joined, withheld count), visible evidence
        assert client.get(f"/api/v1/assessments/{world.published.pk}/").status_code == 200
    with django_assert_num_queries(3):  # key, the recommendation (document, claim joined), themes
        assert client.get("/api/v1/recommendations/XJ22-151-i/").status_code == 200


# --- Golden responses ---------------------------------------------------------------------------------

GOLDEN_DETAILS = {
    "recommendations": "XJ22-151-i",
    "assessments": None,  # the published assessment (id set in the test)
    "evidence": None,  # the partners evidence
    "documents": "xj22",
    "themes": "arbitrary-detention",
}


@pytest.mark.parametrize("resource", LISTS)
def test_golden_responses(world, resource):
    client = key_client(world.partners_secret)
    labels = world_labels(world)
    listing = client.get(
        f"/api/v1/{resource}/", {"ordering": "-updated_at"} if resource == "evidence" else {}
    )
    assert listing.status_code == 200
    assert_golden(f"{resource}_list", normalise(listing.json(), labels))
    lookup = (
        GOLDEN_DETAILS[resource]
        or {
            "assessments": world.published.pk,
            "evidence": world.partners_ev.pk,
        }[resource]
    )
    detail = client.get(f"/api/v1/{resource}/{lookup}/")
    assert detail.status_code == 200
    assert_golden(f"{resource}_detail", normalise(detail.json(), labels))


# --- Schema and docs ----------------------------------------------------------------------------------


def test_schema_is_public_and_describes_the_api(client):
    response = client.get(
        "/api/schema/", headers={"accept": "application/json", "authorization": "Bearer broken"}
    )
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    bearer = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert "Authorization: Bearer <key>" in bearer["description"]
    assert "Incremental sync" in schema["info"]["description"]
    paths = schema["paths"]
    for resource in LISTS:
        operation = paths[f"/api/v1/{resource}/"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"updated_since", "ordering", "cursor", "page_size", "format"} <= names
        assert set(operation["responses"]) >= {"200", "400", "401", "429"}
        assert "text/csv" in operation["responses"]["200"]["content"]
        export = paths[f"/api/v1/export/{resource}.csv"]["get"]
        assert "updated_since" in {p["name"] for p in export["parameters"]}
    rec_params = {p["name"] for p in paths["/api/v1/recommendations/"]["get"]["parameters"]}
    assert {"document", "addressee", "theme", "implementation_status", "state_response", "q"} <= rec_params
    # Every field of every representation is described.
    for name, component in schema["components"]["schemas"].items():
        if name.startswith("Paginated"):
            continue  # the envelope: next/previous are described, results is the list of the described rows
        for field, spec in component.get("properties", {}).items():
            assert spec.get("description") or "$ref" in spec or spec.get("allOf"), f"{name}.{field}"
    assert "/api/docs/" not in paths and "/api/schema/" not in paths


def test_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_page_runs_under_the_strict_csp(client):
    response = client.get("/api/docs/", headers={"authorization": "Basic broken"})
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and "style=" not in html
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not src.startswith(("http:", "https:", "//")), src
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src
    script = client.get(re.findall(r'<script src="([^"]+\?script)"', html)[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.content.decode() and "/api/schema/" in script.content.decode()
    assert "default-src 'self'" in response["Content-Security-Policy"]
