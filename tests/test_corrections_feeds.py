"""Issue 13, items 2-4: the correction log, permalinks with link-preview metadata and a citation, the status
image, and the Atom feeds (public, per language, and the partner key's).

Personas (tests/factories.py): Alice (monitor) records, Carol and Dave (curators) publish; the partner
organisation holds a `public` and a `partners` key. The record: an assessment of XJ22-151-i, published, then
corrected by a published assessment; a second correction submitted but never published; an assessment
returned to its author. Evidence: public, partners and internal sources are cited by the correction.
"""

from __future__ import annotations

import datetime
import html
import json
import re
import xml.etree.ElementTree as ET

import pytest

from cases import services
from cases.models import Confidentiality, ImplementationStatus, StateResponse
from tests.factories import make_evidence, submit

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SVG = "{http://www.w3.org/2000/svg}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LANGUAGES = {"": "en", "/zh-hans": "zh-hans", "/ug": "ug"}
USERNAMES = ("alice", "carol", "dave", "mallory")


def _parse(content: bytes) -> ET.Element:
    # Our own server's output, in a test: no untrusted XML is parsed here.
    return ET.fromstring(content)  # noqa: S314


@pytest.fixture
def record(personas, settings):
    """The record the tests read, with the public site on."""
    settings.PUBLIC_SITE = True
    p = personas
    original = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
        state_response=StateResponse.NO_RESPONSE,
        rationale="Original rationale: facilities remain.",
    )
    services.publish_assessment(original, reviewer=p.carol)
    replaced_source = make_evidence(
        p.alice,
        "https://news.example.org/second",
        Confidentiality.PUBLIC,
        [p.rec],
        title="Second public report",
    )
    correction = submit(
        p.rec,
        p.alice,
        [replaced_source, p.partners_ev, p.internal_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        rationale="Corrected rationale: some releases confirmed by the second report.",
        corrects=original,
    )
    services.publish_assessment(correction, reviewer=p.dave)
    pending = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.IMPLEMENTED,
        rationale="Unpublished correction: everyone released.",
        corrects=correction,
    )
    returned = submit(p.rec2, p.alice, [p.public_ev], rationale="Returned draft on business.")
    services.return_assessment(returned, reviewer=p.carol, comment="Needs a second source.")
    original.refresh_from_db()
    correction.refresh_from_db()
    p.original, p.correction, p.pending, p.returned, p.second = (
        original,
        correction,
        pending,
        returned,
        replaced_source,
    )
    return p


def _never_private(content: str, p) -> None:
    """Nothing unpublished, nothing partners or internal, no account's name."""
    for secret in (
        p.pending.rationale,
        p.returned.rationale,
        p.partners_ev.url,
        p.partners_ev.title,
        p.internal_ev.url,
        p.internal_ev.title,
        p.mallory_internal.title,
        "Needs a second source.",
    ):
        assert secret not in content
    for name in USERNAMES:
        assert not re.search(rf"\b{name}\b", content, re.IGNORECASE), name


# --- The correction log ----------------------------------------------------------------------------------


def test_correction_log_shows_what_changed_why_and_both_versions(client, record):
    response = client.get("/corrections/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "XJ22-151-i" in content
    # Before → after, for the implementation status and the State response.
    assert "<del>Not implemented</del>" in content
    assert "<ins>Partially implemented</ins>" in content
    assert "<del>No response</del>" in content and "<ins>Rejected</ins>" in content
    # Why: the correction's rationale; the sources it now cites and no longer cites (public ones only).
    assert "Corrected rationale: some releases confirmed by the second report." in content
    assert "Second public report" in content and record.public_ev.title in content
    assert "2 sources that are not public" in content
    # Both versions, at their permanent addresses.
    assert f'href="/public/assessments/{record.original.pk}/"' in content
    assert f'href="/public/assessments/{record.correction.pk}/"' in content
    # The feed is announced.
    assert 'href="/corrections/feed.atom"' in content
    _never_private(content, record)


def test_correction_log_lists_nothing_unpublished(client, record):
    # The published correction of the published correction is not there: only the one published.
    content = client.get("/corrections/").content.decode()
    assert content.count('class="correction"') == 1
    assert "Everyone released" not in content
    assert f"/public/assessments/{record.pending.pk}/" not in content


def test_correction_log_in_every_language(client, record):
    for prefix in ("/zh-hans", "/ug"):
        response = client.get(f"{prefix}/corrections/")
        assert response.status_code == 200
        content = response.content.decode()
        assert f'href="{prefix}/public/assessments/{record.correction.pk}/"' in content
        _never_private(content, record)


def test_correction_log_query_count_does_not_grow(client, record, django_assert_max_num_queries):
    # The page (with withheld counts), the paginator's count, the sources of the corrections and of the
    # versions they correct; session and language add none for an anonymous visitor.
    for index in range(3):
        extra = submit(
            record.rec,
            record.alice,
            [record.public_ev],
            rationale=f"Another correction {index}.",
            corrects=record.original,
        )
        services.publish_assessment(extra, reviewer=record.carol)
    with django_assert_max_num_queries(4):
        response = client.get("/corrections/")
    assert response.content.decode().count('class="correction"') == 4


# --- Off switch ------------------------------------------------------------------------------------------


def test_public_site_off_everything_public_is_404(client, record, settings):
    settings.PUBLIC_SITE = False
    for url in (
        "/corrections/",
        "/corrections/feed.atom",
        f"/public/assessments/{record.original.pk}/",
        "/public/recommendations/XJ22-151-i/status.svg",
        "/feeds/changes.atom",
        "/feeds/documents/xj22.atom",
        "/feeds/recommendations/XJ22-151-i.atom",
        "/feeds/themes/arbitrary-detention.atom",
        "/zh-hans/corrections/",
        "/ug/feeds/changes.atom",
    ):
        assert client.get(url).status_code == 404, url


# --- The permalink page, link previews and the citation ---------------------------------------------------


def test_assessment_permalink_page_is_public_and_shows_public_material_only(client, record):
    response = client.get(f"/public/assessments/{record.correction.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Corrected rationale" in content
    assert "Second public report" in content
    assert "2 sources that are not public" in content
    # Linked to the version it corrects; the corrected version says it was corrected and links here.
    assert f'href="/public/assessments/{record.original.pk}/"' in content
    original = client.get(f"/public/assessments/{record.original.pk}/").content.decode()
    assert "This assessment has been corrected." in original
    assert f'href="/public/assessments/{record.correction.pk}/"' in original
    _never_private(content, record)
    _never_private(original, record)


def test_unpublished_assessments_have_no_public_page(client, record):
    for pk in (record.pending.pk, record.returned.pk, 999999):
        assert client.get(f"/public/assessments/{pk}/").status_code == 404


def test_permalink_page_has_open_graph_and_twitter_card(client, record):
    content = client.get(f"/public/assessments/{record.correction.pk}/").content.decode()
    head = content.split("</head>")[0]
    url = f"http://testserver/public/assessments/{record.correction.pk}/"
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', head))
    assert meta["og:url"] == url
    assert meta["og:title"].startswith("XJ22-151-i")
    assert "Partially implemented" in meta["og:title"]
    assert html.unescape(meta["og:description"]).startswith("Corrected rationale")
    assert meta["og:image"] == "http://testserver/public/recommendations/XJ22-151-i/status.png"
    assert meta["og:image:type"] == "image/png"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["twitter:image"] == meta["og:image"]
    assert f'<link rel="canonical" href="{url}">' in head


def test_cite_block_plain_bibtex_and_csl_json_with_retrieval_date(client, record):
    content = client.get(f"/public/assessments/{record.correction.pk}/").content.decode()
    url = f"http://testserver/public/assessments/{record.correction.pk}/"
    today = datetime.date.today().isoformat()
    published = record.correction.published_at.date().isoformat()
    plain = html.unescape(re.search(r'<p class="cite__plain"[^>]*>(.*?)</p>', content, re.S).group(1))
    assert "Accountability Tracker" in plain and url in plain
    assert f"retrieved {today}" in plain and f"Published {published}" in plain
    codes = re.findall(r'<pre class="cite__code"[^>]*><code>(.*?)</code></pre>', content, re.S)
    bibtex, csl_text = (html.unescape(code) for code in codes)
    assert bibtex.startswith(f"@misc{{tracker-assessment-{record.correction.pk},")
    assert f"url = {{{url}}}" in bibtex
    assert f"urldate = {{{today}}}" in bibtex
    assert "author = {{Accountability Tracker}}" in bibtex
    csl = json.loads(csl_text)
    assert csl["type"] == "webpage"
    assert csl["URL"] == url
    assert csl["author"] == [{"literal": "Accountability Tracker"}]
    assert csl["accessed"]["date-parts"] == [[int(part) for part in today.split("-")]]
    assert csl["issued"]["date-parts"] == [[int(part) for part in published.split("-")]]
    _never_private(content, record)


def test_status_image_is_svg_with_the_status_text(client, record):
    response = client.get("/public/recommendations/XJ22-151-i/status.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = _parse(response.content)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 1200 630"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "XJ22-151-i" in texts
    assert "Partially implemented" in texts  # the recommendation's current status, after the correction
    assert "Rejected" in texts
    assert "style" not in response.content.decode()  # presentation attributes only (strict CSP)
    ug = _parse(client.get("/ug/public/recommendations/XJ22-151-i/status.svg").content)
    assert ug.get(XML_LANG) == "ug" and ug.get("direction") == "rtl"
    assert client.get("/public/recommendations/NO-SUCH/status.svg").status_code == 404


# --- Atom feeds ------------------------------------------------------------------------------------------


def _check_rfc4287(content: bytes, language: str) -> ET.Element:
    """The checks RFC 4287 asks of a feed: atom:feed with xml:lang, one id, title and updated, an author
    on the feed (or on every entry), an alternate link; every entry with one id, title, updated and an
    alternate link; ids unique; dates RFC 3339."""
    root = _parse(content)
    assert root.tag == f"{ATOM}feed"
    assert root.get(XML_LANG) == language
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
        assert root.find(f"{ATOM}{name}").text
    assert RFC3339.match(root.find(f"{ATOM}updated").text)
    feed_author = root.find(f"{ATOM}author/{ATOM}name")
    links = root.findall(f"{ATOM}link")
    assert any(link.get("rel") == "alternate" and link.get("href") for link in links)
    assert any(link.get("rel") == "self" for link in links)
    ids = [root.find(f"{ATOM}id").text]
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
            assert entry.find(f"{ATOM}{name}").text
        assert RFC3339.match(entry.find(f"{ATOM}updated").text)
        published = entry.find(f"{ATOM}published")
        assert published is None or RFC3339.match(published.text)
        assert feed_author is not None or entry.find(f"{ATOM}author/{ATOM}name") is not None
        assert any(
            link.get("rel") == "alternate" and link.get("href", "").startswith("http")
            for link in entry.findall(f"{ATOM}link")
        )
        ids.append(entry.find(f"{ATOM}id").text)
    assert len(ids) == len(set(ids))
    return root


FEEDS = (
    "/feeds/changes.atom",
    "/feeds/documents/xj22.atom",
    "/feeds/recommendations/XJ22-151-i.atom",
    "/feeds/themes/arbitrary-detention.atom",
    "/corrections/feed.atom",
)


@pytest.mark.parametrize("prefix", list(LANGUAGES))
def test_public_feeds_are_valid_atom_in_every_language(client, record, prefix):
    for path in FEEDS:
        response = client.get(prefix + path)
        assert response.status_code == 200, prefix + path
        assert response["Content-Type"].startswith("application/atom+xml")
        root = _check_rfc4287(response.content, LANGUAGES[prefix])
        entries = root.findall(f"{ATOM}entry")
        assert entries, path
        for entry in entries:
            link = next(link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate")
            assert link.get("href").startswith(f"http://testserver{prefix}/public/assessments/")
        _never_private(response.content.decode(), record)


def test_public_feeds_list_published_changes_only(client, record):
    root = _parse(client.get("/feeds/changes.atom").content)
    ids = {entry.find(f"{ATOM}id").text for entry in root.findall(f"{ATOM}entry")}
    assert ids == {
        f"tag:testserver,2022:assessment/{record.original.pk}",
        f"tag:testserver,2022:assessment/{record.correction.pk}",
    }
    # Newest publication first: the correction, marked as one.
    first = root.find(f"{ATOM}entry")
    assert first.find(f"{ATOM}title").text.startswith("Correction: XJ22-151-i")
    assert "Not implemented → Partially implemented" in first.find(f"{ATOM}summary").text
    corrections = _parse(client.get("/corrections/feed.atom").content)
    assert len(corrections.findall(f"{ATOM}entry")) == 1
    # A recommendation with only a returned assessment has an empty (but valid) feed.
    empty = client.get("/feeds/recommendations/XJ22-152-i.atom")
    assert _parse(empty.content).findall(f"{ATOM}entry") == []
    _check_rfc4287(empty.content, "en")
    assert client.get("/feeds/documents/no-such.atom").status_code == 404
    assert client.get("/feeds/themes/no-such.atom").status_code == 404


def test_public_feeds_are_cacheable(client, record):
    response = client.get("/feeds/changes.atom")
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]


# --- The partner feed ------------------------------------------------------------------------------------


def test_partner_feed_needs_a_key(client, record):
    assert client.get("/api/v1/feed.atom").status_code == 401
    bad = client.get("/api/v1/feed.atom", headers={"authorization": "Bearer 0123456789abcdef.nope"})
    assert bad.status_code == 401
    # A member's session is not a key: her organisation's internal sources must never reach a feed.
    client.force_login(record.alice)
    assert client.get("/api/v1/feed.atom").status_code in (401, 403)


def test_partner_feed_with_partners_key_shows_partners_material_never_internal(client, record):
    response = client.get("/api/v1/feed.atom", headers={"authorization": f"Bearer {record.partners_secret}"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    content = response.content.decode()
    _check_rfc4287(response.content, "en")
    assert record.partners_ev.url in content and record.partners_ev.title in content
    assert record.public_ev.url in content
    for secret in (record.internal_ev.url, record.internal_ev.title, record.mallory_internal.title):
        assert secret not in content
    assert record.pending.rationale not in content and record.returned.rationale not in content
    for name in USERNAMES:
        assert not re.search(rf"\b{name}\b", content, re.IGNORECASE)
    # The correction cites an internal source: withheld, counted, never named.
    assert "And 1 source that is not shown here." in html.unescape(content)


def test_partner_feed_with_public_key_shows_public_material_only(client, record, settings):
    # The partner feed does not depend on the public site's switch.
    settings.PUBLIC_SITE = False
    response = client.get("/api/v1/feed.atom", headers={"authorization": f"Bearer {record.public_secret}"})
    assert response.status_code == 200
    content = response.content.decode()
    _check_rfc4287(response.content, "en")
    assert record.public_ev.url in content
    assert record.partners_ev.url not in content and record.partners_ev.title not in content
    assert record.internal_ev.url not in content


def test_recommendation_share_metadata_for_the_public_recommendation_page(rf, record):
    from cases import access
    from cases.corrections import recommendation_share

    share = recommendation_share(rf.get("/"), access.get_recommendation("XJ22-151-i"))
    assert share["url"] == "http://testserver/public/recommendations/XJ22-151-i/"
    assert share["image"] == "http://testserver/public/recommendations/XJ22-151-i/status.png"
    assert share["title"].startswith("XJ22-151-i — Implementation: Partially implemented")
    assert share["description"].startswith("Takes prompt steps")
