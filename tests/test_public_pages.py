"""The public site (issue 13, item 1): /public/ pages for anonymous readers, in three languages.

What they must never show (the access matrix): an unpublished assessment (submitted, returned, withdrawn),
`partners` or `internal` evidence, a person without consent, any account. How they are cached: ETag and
Last-Modified from the newest public change, 304 on a match, `public, max-age=300` for anonymous readers,
`private` for signed-in ones. And a fixed number of queries per page.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.translation import gettext
from freezegun import freeze_time

from cases import services
from cases.models import Basis, Confidentiality, ImplementationStatus, StateResponse, Theme
from cases.people import services as people_services
from cases.people.models import Consent, Person
from tests.factories import make_evidence, make_recommendation, submit

pytestmark = pytest.mark.django_db

LANGUAGES = {"en": "", "zh-hans": "/zh-hans", "ug": "/ug"}

# What may never appear on a public page.
SECRETS = {
    "submitted rationale": "Qsubmitted rationale marker",
    "returned rationale": "Qreturned rationale marker",
    "withdrawn rationale": "Qwithdrawn rationale marker",
    "partners evidence": "Qpartners source marker",
    "internal evidence": "Qinternal source marker",
    "other organisation's internal evidence": "Qmallory source marker",
    "non-consenting person": "Qhiddenperson",
    "person of unknown consent": "Qunknownperson",
    "consented but partners-only person": "Qpartnersperson",
    "monitor's username": "alice",
    "curator's username": "carol",
    "second curator's username": "dave",
    "monitor's full name": "Qalicefullname",
    "curator's full name": "Qcarolfullname",
    "an account's e-mail address": "@example.org",
}


@pytest.fixture
def public_on(settings):
    settings.PUBLIC_SITE = True
    return settings


def _person(p, marker: str, *, consent: str, confidentiality: str):
    person = people_services.add_person(
        created_by=p.alice,
        consent=consent,
        confidentiality=confidentiality,
        name_latin=marker,
        recommendations=[p.rec],
    )
    entry = people_services.submit_status(
        person, author=p.alice, status="detained", basis="court_record", occurred_on=datetime.date(2019, 1, 1)
    )
    people_services.publish_status(entry, reviewer=p.carol)
    return person


@pytest.fixture
def world(personas, public_on):
    p = personas
    # Names that would show if an account were named anywhere.
    type(p.alice).objects.filter(pk=p.alice.pk).update(first_name="Qalicefullname")
    type(p.carol).objects.filter(pk=p.carol.pk).update(first_name="Qcarolfullname")
    p.alice.refresh_from_db()
    p.carol.refresh_from_db()
    services.change_evidence(p.partners_ev, by=p.alice, title="Qpartners source marker")
    services.change_evidence(p.internal_ev, by=p.alice, title="Qinternal source marker")
    services.change_evidence(p.mallory_internal, by=p.mallory, title="Qmallory source marker")
    services.change_evidence(p.public_ev, by=p.alice, title="Qpublic source title")
    # Published, citing a public and an internal source (one withheld), then corrected.
    p.first = submit(
        p.rec,
        p.alice,
        [p.public_ev, p.internal_ev],
        rationale="Qpublished rationale marker",
        assessed_on=datetime.date(2023, 1, 1),
    )
    services.publish_assessment(p.first, reviewer=p.carol)
    p.correction = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        rationale="Qcorrection rationale marker",
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        corrects=p.first,
        assessed_on=datetime.date(2023, 1, 1),
    )
    services.publish_assessment(p.correction, reviewer=p.dave)
    # Never public: submitted, returned, withdrawn.
    submit(p.rec, p.alice, [p.public_ev], rationale="Qsubmitted rationale marker")
    returned = submit(p.rec, p.alice, [p.public_ev], rationale="Qreturned rationale marker")
    services.return_assessment(returned, reviewer=p.carol, comment="Qreturn comment marker")
    withdrawn = submit(p.rec, p.alice, [p.public_ev], rationale="Qwithdrawn rationale marker")
    services.withdraw_assessment(withdrawn, author=p.alice)
    # People: only the consented public one is counted and named.
    p.named = _person(p, "Qnamedperson", consent=Consent.YES, confidentiality=Confidentiality.PUBLIC)
    _person(p, "Qhiddenperson", consent=Consent.NO, confidentiality=Confidentiality.PUBLIC)
    _person(p, "Qunknownperson", consent=Consent.UNKNOWN, confidentiality=Confidentiality.PUBLIC)
    _person(p, "Qpartnersperson", consent=Consent.YES, confidentiality=Confidentiality.PARTNERS)
    return p


def _pages(p) -> dict[str, str]:
    return {
        "scorecard": "/public/",
        "recommendation": f"/public/recommendations/{p.rec.code}/",
        "document": f"/public/documents/{p.document.slug}/",
        "theme": f"/public/themes/{p.theme.slug}/",
        "search": "/public/search/?q=release",
    }


def _get(client: Client, url: str, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code)
    return response, response.content.decode()


# --- What the anonymous reader sees ---------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_anonymous_reads_every_page_in_every_language(world, language):
    prefix = LANGUAGES[language]
    client = Client()
    with translation.override(language):
        implementation_status = gettext("Implementation status")
    for name, url in _pages(world).items():
        response, html = _get(client, prefix + url)
        assert f'<html lang="{language}" dir="{"rtl" if language == "ug" else "ltr"}">' in html, name
        assert response["Content-Language"] == language
        if name in ("scorecard", "document"):
            assert implementation_status in html, (name, language)
    if language != "en":
        assert implementation_status != "Implementation status"  # the catalogue is there: a real check


def test_scorecard_counts_each_document_and_the_headline(world):
    other = make_recommendation(world.document, "XJ22-153-i", "153(i)")
    first = submit(other, world.alice, [world.public_ev], implementation_status="implemented")
    services.publish_assessment(first, reviewer=world.carol)
    _, html = _get(Client(), "/public/")
    # Three recommendations: one fully implemented, one partially (the correction), one not assessed.
    assert "1 of 3 recommendations implemented" in html
    assert 'id="implementation-counts-xj22"' in html and 'id="response-counts-xj22"' in html
    assert '<svg class="bar-chart"' in html
    # The chart's rows lead to the public search, never to the signed-in list.
    assert "/public/search/?document=xj22&amp;implementation_status=implemented" in html
    assert "/recommendations/?" not in html
    # The latest changes: the correction, and the corrected entry struck through with a link to it.
    assert f"/public/recommendations/{other.code}/#assessment-{first.pk}" in html
    assert f"#assessment-{world.correction.pk}" in html
    assert '<del class="corrected">' in html
    assert "by a monitor" in html


def test_recommendation_page(world):
    _, html = _get(Client(), f"/public/recommendations/{world.rec.code}/")
    assert world.rec.text in html
    assert 'class="status-card status-card--detail"' in html
    # Published only: the first assessment struck through, linked to its correction, and the correction.
    assert "Qpublished rationale marker" in html and "Qcorrection rationale marker" in html
    assert f'id="assessment-{world.first.pk}"' in html and "timeline__item--corrected" in html
    assert f'href="#assessment-{world.correction.pk}"' in html
    assert "Qpublic source title" in html and world.public_ev.url in html
    assert "1 source not public" in html  # the internal source's existence, never its title
    # People: counts and names of the consented public person only.
    assert 'id="people-counts"' in html
    assert "1 detained" in html
    assert "Qnamedperson" in html


def test_a_name_marked_never_export_stays_off_the_public_page(world):
    """A curator's "never export" covers the public site too: the name goes, the count stays."""
    named = Person.objects.get(pk=world.named.pk)  # with the status published since it was made
    people_services.change_person(named, by=world.carol, never_export="name_latin")
    _, html = _get(Client(), f"/public/recommendations/{world.rec.code}/")
    assert "Qnamedperson" not in html
    assert "1 detained" in html


def test_document_and_theme_pages_list_their_recommendations(world):
    _, html = _get(Client(), f"/public/documents/{world.document.slug}/")
    assert (
        f"/public/recommendations/{world.rec.code}/" in html
        and f"/public/recommendations/{world.rec2.code}/" in html
    )
    assert "0 of 2 recommendations implemented" in html
    _, html = _get(Client(), f"/public/themes/{world.theme.slug}/")
    assert f"/public/recommendations/{world.rec.code}/" in html
    assert f"/public/recommendations/{world.rec2.code}/" not in html  # not on this theme


def test_search_finds_by_text_and_filters(world):
    _, html = _get(Client(), "/public/search/?q=release")
    assert world.rec.code in html and world.rec2.code not in html
    _, html = _get(Client(), "/public/search/?implementation_status=partially_implemented")
    assert world.rec.code in html and world.rec2.code not in html
    _, html = _get(Client(), "/public/search/?implementation_status=nonsense")
    assert "Correct the filters to see results." in html


def test_unknown_objects_are_404(world):
    client = Client()
    for url in ("/public/recommendations/NOPE/", "/public/documents/nope/", "/public/themes/nope/"):
        assert client.get(url).status_code == 404


# --- The access matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_beyond_published_and_public_on_any_page(world, language, signed_in):
    """Every public page, in every language, anonymous or signed in (a public page shows a signed-in
    reader the public copy too): none of the secrets."""
    client = Client()
    if signed_in:
        client.force_login(world.alice)
    extra = {"search-all": "/public/search/"}  # every recommendation, as search shows them
    for name, url in {**_pages(world), **extra}.items():
        _, html = _get(client, LANGUAGES[language] + url)
        if signed_in:
            html = html.replace("/accounts/", "")  # the header's own link to the tracker is not a name
        for what, secret in SECRETS.items():
            if signed_in and what == "monitor's username":
                continue  # checked anonymously; the signed-in header shows no account name either
            assert secret.lower() not in html.lower(), f"{what} on {name} ({language})"
        assert "Qreturn comment marker" not in html


def _every_public_address(p) -> dict[str, list[str]]:
    """Every address of the public site (cases/public/urls.py) and of the correction log, permalinks,
    status images and public feeds (cases/public_feeds_urls.py), by URL name, with real objects."""
    published = [p.first.pk, p.correction.pk]
    return {
        "public:home": ["/public/"],
        "public:recommendation": [
            f"/public/recommendations/{p.rec.code}/",
            f"/public/recommendations/{p.rec2.code}/",
        ],
        "public:status-png": [f"/public/recommendations/{p.rec.code}/status.png"],
        "public:document": [f"/public/documents/{p.document.slug}/"],
        "public:theme": [f"/public/themes/{p.theme.slug}/"],
        "public:search": ["/public/search/", "/public/search/?q=release", "/public/search/?q=Qsubmitted"],
        "public:language": ["/public/language/ug/?next=/ug/public/"],
        "public_feeds:corrections": ["/corrections/"],
        "public_feeds:corrections-feed": ["/corrections/feed.atom"],
        "public_feeds:assessment": [f"/public/assessments/{pk}/" for pk in published],
        "public_feeds:status-svg": [f"/public/recommendations/{p.rec.code}/status.svg"],
        "public_feeds:site-feed": ["/feeds/changes.atom"],
        "public_feeds:document-feed": [f"/feeds/documents/{p.document.slug}.atom"],
        "public_feeds:recommendation-feed": [f"/feeds/recommendations/{p.rec.code}.atom"],
        "public_feeds:theme-feed": [f"/feeds/themes/{p.theme.slug}.atom"],
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_anonymous_sees_nothing_beyond_published_and_public_on_every_public_address(world, language):
    """The access matrix of the public face: every public URL name (a new one fails here until it is
    listed), anonymously, in every language: answered, with none of the secrets and no return comment;
    every unpublished assessment's permalink a 404."""
    from cases import public_feeds_urls
    from cases.models import Assessment, ReviewState
    from cases.public import urls as public_urls

    addresses = _every_public_address(world)
    names = {f"public:{u.name}" for u in public_urls.urlpatterns}
    names |= {f"public_feeds:{u.name}" for u in public_feeds_urls.urlpatterns}
    assert set(addresses) == names
    prefix = LANGUAGES[language]
    for name, urls in addresses.items():
        for url in urls:
            # A new visitor each time: the language link's cookie would redirect the unprefixed addresses.
            response = Client().get(prefix + url)
            expected = 302 if name == "public:language" else 200
            assert response.status_code == expected, (name, url, response.status_code)
            assert not response.cookies or name == "public:language", (name, "sets a cookie")
            content = response.content.decode(errors="replace").lower()
            for what, secret in SECRETS.items():
                assert secret.lower() not in content, f"{what} at {url} ({language})"
            assert "qreturn comment marker" not in content
    unpublished = Assessment.objects.exclude(review_state=ReviewState.PUBLISHED).values_list("pk", flat=True)
    assert len(unpublished) == 3  # submitted, returned, withdrawn
    for pk in unpublished:
        assert Client().get(f"{prefix}/public/assessments/{pk}/").status_code == 404, pk


def test_a_source_made_confidential_leaves_the_public_pages(world):
    """Uncited public evidence made internal: gone from the page at once (and its ETag changes)."""
    loose = make_evidence(world.alice, "https://news.example.org/loose", recommendations=[world.rec2])
    services.change_evidence(loose, by=world.alice, title="Qloose source")
    client = Client()
    url = f"/public/recommendations/{world.rec2.code}/"
    response, html = _get(client, url)
    assert "Qloose source" in html
    services.change_evidence(loose, by=world.alice, confidentiality=Confidentiality.INTERNAL)
    again = client.get(url, headers={"if-none-match": response["ETag"]})
    assert again.status_code == 200
    assert "Qloose source" not in again.content.decode()


def test_withdrawn_consent_removes_the_name_and_the_count(world):
    named = Person.objects.get(pk=world.named.pk)
    people_services.change_person(named, by=world.alice, consent=Consent.NO)
    _, html = _get(Client(), f"/public/recommendations/{world.rec.code}/")
    assert "Qnamedperson" not in html
    assert 'id="people-counts"' not in html


# --- Off by default ------------------------------------------------------------------------------------


def test_every_public_address_is_404_when_the_site_is_off(world, settings):
    settings.PUBLIC_SITE = False
    client = Client()
    for prefix in LANGUAGES.values():
        for url in [*_pages(world).values(), "/public/language/ug/?next=/ug/public/"]:
            assert client.get(prefix + url).status_code == 404, prefix + url
    signed_in = Client()
    signed_in.force_login(world.alice)
    assert signed_in.get("/public/").status_code == 404


def test_the_setting_is_off_unless_asked_for():
    import subprocess
    import sys

    code = "import django,os;os.environ['DJANGO_SETTINGS_MODULE']='tracker.settings';django.setup();"
    code += "from django.conf import settings;print(settings.PUBLIC_SITE)"
    env = {k: v for k, v in __import__("os").environ.items() if k != "PUBLIC_SITE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    env["PUBLIC_SITE"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_the_signed_in_pages_still_need_a_sign_in(world):
    response = Client().get("/recommendations/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_safe_methods(world):
    assert Client().post("/public/").status_code == 405


# --- Caching -------------------------------------------------------------------------------------------


def test_anonymous_pages_are_publicly_cacheable_and_set_no_cookie(world):
    client = Client()
    for name, url in _pages(world).items():
        response, _ = _get(client, url)
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert cache_control == {"public", "max-age=300"}, name
        vary = {part.strip().lower() for part in response["Vary"].split(",")}
        assert {"accept-language", "cookie"} <= vary
        assert not response.cookies, (name, response.cookies)  # no CSRF, no session: one copy for all
        assert response["ETag"].startswith('W/"') and response["Last-Modified"]


def test_signed_in_pages_are_private(world):
    client = Client()
    client.force_login(world.alice)
    for name, url in _pages(world).items():
        response, _ = _get(client, url)
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert "private" in cache_control and "public" not in cache_control, name


def test_conditional_get_answers_304_and_changes_with_a_publication(world):
    client = Client()
    url = f"/public/recommendations/{world.rec.code}/"
    response, _ = _get(client, url)
    etag, last_modified = response["ETag"], response["Last-Modified"]
    with CaptureQueriesContext(connection) as queries:
        not_modified = client.get(url, headers={"if-none-match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert len(queries) == 1  # the validators' one query; the page is never built
    assert "public" in not_modified["Cache-Control"]
    assert client.get(url, headers={"if-modified-since": last_modified}).status_code == 304
    # The same validators on every page of the same language.
    assert client.get("/public/", headers={"if-none-match": etag}).status_code == 304
    # Another language is another page.
    assert client.get("/ug" + url, headers={"if-none-match": etag}).status_code == 200
    # A new publication changes both.
    new = submit(world.rec2, world.alice, [world.public_ev], basis=Basis.UN_FINDING)
    # HTTP dates count whole seconds: publish in a later one.
    with freeze_time(timezone.now() + datetime.timedelta(seconds=2)):
        services.publish_assessment(new, reviewer=world.carol)
    fresh = client.get(url, headers={"if-none-match": etag})
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    assert client.get(url, headers={"if-modified-since": last_modified}).status_code == 200


def test_unpublished_work_does_not_change_the_validators(world):
    """A submission is nobody's business outside its organisation: not even its time shows."""
    client = Client()
    url = "/public/"
    response, _ = _get(client, url)
    submit(world.rec, world.alice, [world.public_ev], rationale="another draft")
    make_evidence(world.alice, "https://news.example.org/internal-2", Confidentiality.INTERNAL, [world.rec])
    again = client.get(url, headers={"if-none-match": response["ETag"]})
    assert again.status_code == 304
    assert client.get(url, headers={"if-modified-since": response["Last-Modified"]}).status_code == 304


def test_signed_in_and_anonymous_copies_differ(world):
    anonymous, _ = _get(Client(), "/public/")
    client = Client()
    client.force_login(world.alice)
    assert client.get("/public/", headers={"if-none-match": anonymous["ETag"]}).status_code == 200


# --- The language links --------------------------------------------------------------------------------


def test_language_links_remember_the_choice_and_open_the_page_in_it(world):
    client = Client(headers={"accept-language": "ug"})
    # Accept-Language sends the unprefixed page to Uyghur…
    assert client.get("/public/")["Location"] == "/ug/public/"
    _, html = _get(client, "/ug/public/")
    assert 'href="/ug/public/language/en/?next=/public/"' in html or "language/en/?next=/public/" in html
    # …and the English link makes English stick.
    response = client.get("/ug/public/language/en/?next=/public/")
    assert response.status_code == 302 and response["Location"] == "/public/"
    assert response.cookies["django_language"].value == "en"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert client.get("/public/").status_code == 200


def test_language_link_refuses_an_offsite_next(world):
    response = Client().get("/public/language/ug/?next=https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/public/"


# --- Query counts --------------------------------------------------------------------------------------


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        _get(client, url)
    return len(queries)


def _grow(p) -> None:
    """More of everything a page lists: recommendations, themes, assessments, corrections, sources, people."""
    for n in range(5):
        rec = make_recommendation(p.document, f"XJ22-160-{n}", f"160({n})", f"More text {n} release")
        theme = Theme.objects.create(name=f"Theme {n}", slug=f"theme-{n}")
        rec.themes.add(theme, p.theme)
        evidence = make_evidence(p.alice, f"https://news.example.org/more-{n}", recommendations=[rec, p.rec])
        first = submit(rec, p.alice, [evidence, p.internal_ev])
        services.publish_assessment(first, reviewer=p.carol)
        more = submit(p.rec, p.alice, [evidence], assessed_on=datetime.date(2024, 1, n + 1))
        services.publish_assessment(more, reviewer=p.carol)
        correction = submit(rec, p.alice, [evidence], corrects=first, implementation_status="regressed")
        services.publish_assessment(correction, reviewer=p.dave)
        _person(p, f"Qmore{n}", consent=Consent.YES, confidentiality=Confidentiality.PUBLIC)


# Budgets (anonymous; no session, so no session or user query). Every page: the validators' one query.
# scorecard: documents; their maintained status counts (cases.status_counts); latest publications; themes.
# recommendation: the recommendation; themes; timeline; its sources (prefetch); public evidence; people's
# counts; people's names.
# document: the document; its maintained status counts; the recommendations; their themes (prefetch).
# theme: the theme; the recommendations; their themes (prefetch).
# search: the count; the page's rows; their themes (prefetch); the form's document and theme choices.
BUDGETS = {"scorecard": 5, "recommendation": 8, "document": 5, "theme": 4, "search": 6}


def test_query_counts_are_constant(world):
    client = Client()
    before = {name: _count(client, url) for name, url in _pages(world).items()}
    _grow(world)
    after = {name: _count(client, url) for name, url in _pages(world).items()}
    assert before == after
    assert after == BUDGETS


def test_query_counts_signed_in_add_only_the_session(world):
    client = Client()
    client.force_login(world.alice)
    counts = {name: _count(client, url) for name, url in _pages(world).items()}
    # The session, the user, and her membership with her groups (the template context's roles,
    # cases.context_processors, one query for any page).
    assert counts == {name: budget + 3 for name, budget in BUDGETS.items()}
