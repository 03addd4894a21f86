"""The reading pages: dashboard, recommendations, evidence, and the account and error pages.

Personas (tests/factories.py): Alice (monitor) and Carol, Dave (curators) share the default organisation;
Mallory is a monitor of another organisation. Each organisation holds `internal` evidence the other must
never see, on any page, in any form other than "a withheld source exists".
"""

from __future__ import annotations

import datetime
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from cases import services
from cases.models import (
    Addressee,
    Basis,
    Confidentiality,
    EvidenceKind,
    ImplementationStatus,
    Recommendation,
    StateResponse,
    Theme,
)
from tests.factories import make_document, make_evidence, make_recommendation, submit

pytestmark = pytest.mark.django_db

REC = "XJ22-151-i"


# --- helpers -------------------------------------------------------------------------------------------


class _ElementText(HTMLParser):
    """Collects the text of the element with a given id (and of everything inside it)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "rect", "path"}

    def __init__(self, element_id: str):
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.found = True
            self.depth = 1

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(response, element_id: str) -> str:
    """The whitespace-normalised text inside the element with this id; fails if there is none."""
    parser = _ElementText(element_id)
    parser.feed(response.content.decode())
    assert parser.found, f"no element with id={element_id!r}"
    return " ".join(" ".join(parser.parts).split())


def page_text(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace normalised."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def codes_in_order(response) -> list[str]:
    """Recommendation codes as the list page shows them, top to bottom."""
    return re.findall(r'<a href="/recommendations/([\w-]+)/">', response.content.decode())


def publish(recommendation, author, reviewer, evidence, **fields):
    assessment = submit(recommendation, author, evidence, **fields)
    return services.publish_assessment(assessment, reviewer=reviewer)


def add_recommendations(document, count: int, theme: Theme | None = None) -> list[Recommendation]:
    recommendations = []
    for n in range(count):
        rec = make_recommendation(
            document, f"T-{n:03d}", f"200({n})", f"Bulk recommendation number {n}.", position=100 + n
        )
        if theme:
            rec.themes.add(theme)
        recommendations.append(rec)
    return recommendations


def get_within_budget(client, assert_num_queries, url: str, budget: int):
    """GET `url` and assert it runs exactly `budget` queries.

    A first, unmeasured request settles per-session bookkeeping (the session clocks of tracker.accounts.security are
    written on a session's first request and then at most once a minute), so the measured request counts
    what the page itself costs.
    """
    client.get(url)
    with assert_num_queries(budget):
        return client.get(url)


READING_URLS = ["/", "/recommendations/", f"/recommendations/{REC}/", "/evidence/"]


# --- sign-in required ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [*READING_URLS, "/recommendations/?state_response=rejected"])
def test_anonymous_visitors_are_sent_to_sign_in(client, personas, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url.replace('?', '%3F').replace('=', '%3D')}"


def test_anonymous_visitors_cannot_open_evidence(client, personas):
    url = f"/evidence/{personas.public_ev.pk}/"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/evidence/")
    # The redirect does not reveal anything about the evidence itself.
    assert "Source at" not in response.content.decode()


@pytest.mark.parametrize("who", ["alice", "carol", "mallory"])
@pytest.mark.parametrize("url", READING_URLS)
def test_every_signed_in_role_reads_every_page(client, personas, who, url):
    client.force_login(getattr(personas, who))
    response = client.get(url)
    assert response.status_code == 200
    assert response.templates[0].name.startswith("cases/")
    assert "base.html" in [t.name for t in response.templates]


def test_reading_pages_refuse_posts(client, personas):
    client.force_login(personas.alice)
    for url in READING_URLS:
        assert client.post(url).status_code == 405


def test_inactive_user_is_treated_as_anonymous(client, personas):
    personas.alice.is_active = False
    personas.alice.save()
    client.force_login(personas.alice)
    assert client.get("/").status_code == 302


# --- base layout ---------------------------------------------------------------------------------------


def test_layout_has_language_direction_skip_link_and_landmarks(client, personas):
    client.force_login(personas.alice)
    html = client.get("/").content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert "<header" in html
    assert "<footer" in html


def test_right_to_left_language_sets_dir(client, personas):
    client.force_login(personas.alice)
    # Accept-Language sends the unprefixed address to the Uyghur one (tests/test_languages.py).
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ug", follow=True)
    assert response.redirect_chain == [("/ug/", 302)]
    assert '<html lang="ug" dir="rtl">' in response.content.decode()


def test_monitor_navigation_has_no_review_or_admin(client, personas):
    client.force_login(personas.alice)
    nav = client.get("/").content.decode()
    assert 'href="/recommendations/"' in nav
    assert 'href="/evidence/"' in nav
    assert 'href="/people/"' in nav
    assert 'href="/review/"' not in nav
    assert 'href="/admin/"' not in nav
    assert 'href="/import/"' not in nav


def test_curator_navigation_has_review_and_admin(client, personas):
    client.force_login(personas.carol)
    html = client.get("/").content.decode()
    assert 'href="/review/"' in html
    assert 'href="/admin/"' in html
    assert 'href="/import/"' in html


def test_account_menu_names_the_user_and_signs_out_with_a_post(client, personas):
    personas.alice.first_name, personas.alice.last_name = "Alice", "Rahman"
    personas.alice.save()
    client.force_login(personas.alice)
    html = client.get("/").content.decode()
    assert "Alice Rahman</summary>" in html
    assert re.search(
        r'<form method="post" action="/accounts/logout/">\s*<input type="hidden" name="csrfmiddlewaretoken"',
        html,
    )
    assert 'href="/accounts/password/change/"' in html
    assert 'href="/accounts/2fa/"' in html
    # Signing out by GET would let any page sign a user out; allauth is configured against it.
    assert 'href="/accounts/logout/"' not in html


def test_current_page_is_marked_in_the_navigation(client, personas):
    client.force_login(personas.alice)
    html = client.get("/evidence/").content.decode()
    assert '<a href="/evidence/" aria-current="page">' in html
    assert '<a href="/recommendations/" aria-current="page">' not in html


def test_pages_carry_no_inline_style_or_script(client, personas):
    """The Content-Security-Policy forbids both; a stray one would break the page in browsers."""
    publish(personas.rec, personas.alice, personas.carol, [personas.public_ev])
    client.force_login(personas.carol)
    for url in [*READING_URLS, f"/evidence/{personas.public_ev.pk}/", "/recommendations/?q=x&page=2"]:
        html = client.get(url).content.decode()
        assert "style=" not in html, url
        assert "<style" not in html, url
        assert "<script" not in html, url


# --- sign-in and account pages -------------------------------------------------------------------------


def test_login_page_uses_our_layout_and_offers_no_sign_up(client, personas):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert "tracker.css" in html
    assert '<label for="id_login">Username or e-mail address</label>' in html
    assert 'href="/accounts/password/reset/"' in html
    assert "signup" not in html.lower()
    assert "sign up" not in html.lower()
    # Signed out: no navigation to pages that would only redirect back here.
    assert 'href="/recommendations/"' not in html


def test_login_with_wrong_password_shows_an_error_in_our_layout(client, personas):
    response = client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="error-summary"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_by_username_and_by_email_lands_on_the_dashboard(client, personas):
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    client.logout()
    response = client.post("/accounts/login/", {"login": "alice@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_sign_up_is_closed_and_says_so(client, personas):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert "No self sign-up" in response.content.decode()
    assert '<form method="post" action="/accounts/signup/"' not in response.content.decode()


def test_password_change_and_two_factor_pages_use_our_layout(client, personas):
    client.force_login(personas.alice)
    for url in ["/accounts/password/change/", "/accounts/2fa/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'class="site-header"' in html
        assert '<nav class="manage__nav"' in html
        assert "style=" not in html


# --- error pages ---------------------------------------------------------------------------------------


def test_404_page_is_ours_and_reveals_nothing(client, personas):
    client.force_login(personas.alice)
    response = client.get("/recommendations/NO-SUCH-CODE/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "Traceback" not in html
    assert "NO-SUCH-CODE" not in html
    assert "cases." not in html


def test_500_page_renders_without_request_or_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert '<html lang="en" dir="ltr">' in html


@pytest.mark.parametrize("name", ["400.html", "403.html", "403_csrf.html", "404.html"])
def test_other_error_pages_render_without_a_request(name):
    html = render_to_string(name)
    assert "Accountability Tracker" in html
    assert "{%" not in html


# --- dashboard -----------------------------------------------------------------------------------------


def test_dashboard_counts_recommendations_by_status_in_a_table_and_a_chart(client, personas):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.REJECTED)
    extra = make_recommendation(p.document, "XJ22-152-ii", "152(ii)")
    publish(
        extra,
        p.alice,
        p.carol,
        [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
    )
    client.force_login(p.alice)
    response = client.get("/")
    implementation = text_of(response, "implementation-counts")
    assert "Not assessed 1" in implementation  # rec2
    assert "Not implemented 1" in implementation
    assert "Partially implemented 1" in implementation
    assert "Fully implemented 0" in implementation
    assert "Regressed 0" in implementation
    responses = text_of(response, "response-counts")
    assert "No response 2" in responses
    assert "Rejected 1" in responses
    assert "Accepted 0" in responses
    html = response.content.decode()
    assert html.count('<svg class="bar-chart"') == 2
    assert 'class="bar-chart__bar bar--rejected"' in html
    # Each count links to the list filtered on it.
    assert 'href="/recommendations/?implementation_status=partially_implemented"' in html
    assert "3 recommendations are tracked." in page_text(response)


def test_dashboard_chart_bars_scale_with_the_counts(client, personas):
    p = personas
    for n in range(3):
        rec = make_recommendation(p.document, f"XJ22-16{n}", f"16{n}")
        publish(rec, p.alice, p.carol, [p.public_ev])
    client.force_login(p.alice)
    html = client.get("/").content.decode()
    # 3 not implemented is the largest count (full bar, 340 units); 2 not assessed is two thirds of it.
    assert re.search(r'class="bar-chart__bar bar--not_implemented" x="0" y="\d+" width="340"', html)
    assert re.search(r'class="bar-chart__bar bar--not_assessed" x="0" y="\d+" width="227"', html)
    # Zero counts draw no bar at all.
    assert "bar--regressed" not in html


def test_dashboard_lists_latest_published_assessments_newest_first(client, personas):
    p = personas
    recs = add_recommendations(p.document, 12)
    for rec in recs:
        publish(rec, p.alice, p.carol, [p.public_ev])
    submit(p.rec, p.alice, [p.public_ev])  # unpublished: never in "latest published"
    client.force_login(p.mallory)
    latest = text_of(client.get("/"), "latest-published")
    shown = re.findall(r"T-\d{3}", latest)
    assert shown == [f"T-{n:03d}" for n in range(11, 1, -1)]
    assert REC not in latest


def test_dashboard_shows_own_returned_work_with_comment_and_resubmit_link(client, personas):
    p = personas
    returned = submit(p.rec, p.alice, [p.public_ev])
    services.return_assessment(returned, reviewer=p.carol, comment="Cite the <b>camp</b> imagery.")
    waiting = submit(p.rec2, p.alice, [p.public_ev])
    others = submit(p.rec2, p.dave, [p.public_ev])
    client.force_login(p.alice)
    response = client.get("/")
    html = response.content.decode()
    own = page_text(response)
    assert "Returned to you" in own
    assert "Cite the &lt;b&gt;camp&lt;/b&gt; imagery." in html  # escaped, not rendered as markup
    assert reverse("cases:assessment-resubmit", args=[returned.pk]) in html
    assert "Waiting for review" in own
    assert f"#assessment-{waiting.pk}" in html
    assert f"#assessment-{others.pk}" not in html  # Dave's work is not Alice's
    assert reverse("cases:assessment-resubmit", args=[waiting.pk]) not in html


def test_dashboard_tells_curators_how_many_wait_for_their_review(client, personas):
    p = personas
    submit(p.rec, p.alice, [p.public_ev])
    submit(p.rec2, p.alice, [p.public_ev])
    submit(p.rec2, p.carol, [p.public_ev])  # her own: four eyes, not hers to review
    submit(p.rec2, p.mallory, [p.public_ev])  # another organisation's queue
    client.force_login(p.carol)
    response = client.get("/")
    assert "2 assessments wait for your review." in page_text(response)
    assert '<a href="/review/">Open the review queue</a>' in response.content.decode()
    client.force_login(p.dave)
    assert "3 assessments wait for your review." in page_text(client.get("/"))


def test_dashboard_does_not_show_the_review_count_to_monitors(client, personas):
    submit(personas.rec, personas.dave, [personas.public_ev])
    client.force_login(personas.alice)
    text = page_text(client.get("/"))
    assert "wait for your review" not in text
    assert "waits for your review" not in text


def test_dashboard_query_count_is_constant(client, personas, django_assert_num_queries):
    p = personas
    client.force_login(p.carol)
    # session, user, membership with the user's groups joined (the viewer and the roles), both status charts
    # from the maintained counts (cases.status_counts), latest published (with recommendation and author),
    # own open work, the review count.
    get_within_budget(client, django_assert_num_queries, "/", 7)
    for rec in add_recommendations(p.document, 15):
        publish(rec, p.alice, p.dave, [p.public_ev])
        submit(rec, p.carol, [p.public_ev])
        submit(rec, p.alice, [p.public_ev])
    response = get_within_budget(client, django_assert_num_queries, "/", 7)
    assert len(re.findall(r"T-\d{3}", text_of(response, "latest-published"))) == 10


# --- recommendation list -------------------------------------------------------------------------------


@pytest.fixture
def catalogue(personas):
    """Recommendations that differ in every filtered dimension."""
    p = personas
    other_doc = make_document("cerd22", short_name="CERD 2022", title="CERD concluding observations")
    labour = Theme.objects.create(name="Forced labour", slug="forced-labour")
    business = make_recommendation(
        other_doc,
        "CERD22-40-a",
        "40(a)",
        "Ensure due diligence on forced labour in supply chains.",
        addressee=Addressee.BUSINESS,
    )
    business.themes.add(labour)
    publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.REJECTED)
    publish(
        business,
        p.alice,
        p.carol,
        [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.NOTED,
    )
    return p


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"XJ22-151-i", "XJ22-152-i", "CERD22-40-a"}),
        ("document=cerd22", {"CERD22-40-a"}),
        ("document=xj22", {"XJ22-151-i", "XJ22-152-i"}),
        ("addressee=business", {"XJ22-152-i", "CERD22-40-a"}),
        ("addressee=state", {"XJ22-151-i"}),
        ("theme=arbitrary-detention", {"XJ22-151-i"}),
        ("theme=forced-labour", {"CERD22-40-a"}),
        ("implementation_status=not_implemented", {"XJ22-151-i"}),
        ("implementation_status=not_assessed", {"XJ22-152-i"}),
        ("state_response=noted", {"CERD22-40-a"}),
        ("state_response=rejected", {"XJ22-151-i"}),
        ("q=supply+chains", {"CERD22-40-a"}),
        ("q=152(i)", {"XJ22-152-i"}),
        ("q=xj22-151", {"XJ22-151-i"}),
        ("addressee=business&document=xj22", {"XJ22-152-i"}),
        ("q=nothing-matches-this", set()),
    ],
)
def test_each_filter_narrows_the_list(client, catalogue, query, expected):
    client.force_login(catalogue.alice)
    response = client.get(f"/recommendations/?{query}")
    assert response.status_code == 200
    assert set(codes_in_order(response)) == expected


def test_list_shows_status_badges_and_result_count(client, catalogue):
    client.force_login(catalogue.alice)
    response = client.get("/recommendations/")
    html = response.content.decode()
    # The status card (tests/test_status_card.py): each value with its visible label.
    assert (
        '<dt class="status-card__label">Implementation</dt>\n'
        '<dd class="status-card__value"><span class="badge badge--partially_implemented">Partially implemented'
        in html
    )
    assert (
        '<dt class="status-card__label">State response</dt>\n'
        '<dd class="status-card__value"><span class="badge badge--noted">Noted</span>' in html
    )
    assert '<span class="badge badge--rejected">' in html
    assert "1\N{EN DASH}3 of 3 recommendations" in text_of(response, "result-count")
    assert "(filtered)" not in text_of(response, "result-count")
    filtered = client.get("/recommendations/?state_response=noted")
    assert "1 recommendation (filtered)" in text_of(filtered, "result-count")
    assert 'href="/recommendations/"' in filtered.content.decode()  # clear filters
    empty = client.get("/recommendations/?q=nothing-matches-this")
    assert "No recommendation matches these filters." in text_of(empty, "result-count")


def test_filter_form_keeps_the_chosen_values(client, catalogue):
    client.force_login(catalogue.alice)
    html = client.get(
        "/recommendations/?document=cerd22&state_response=noted&q=chains&sort=code"
    ).content.decode()
    assert '<option value="cerd22" selected>' in html
    assert '<option value="noted" selected>' in html
    assert 'name="q" value="chains"' in html
    assert '<input type="hidden" name="sort" value="code">' in html
    assert '<option value="" selected>Any</option>' in html  # unchosen filters read "Any", not dashes


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("implementation_status=bogus", "Select a valid choice"),
        ("state_response=maybe", "Select a valid choice"),
        ("addressee=%3Cscript%3E", "Select a valid choice"),
        ("document=no-such-document", "Select a valid choice"),
        ("theme=no-such-theme", "Select a valid choice"),
        ("q=" + "x" * 201, "at most 200 characters"),
    ],
)
def test_invalid_filters_show_an_error_not_a_500(client, catalogue, query, message):
    client.force_login(catalogue.alice)
    response = client.get(f"/recommendations/?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error-summary"' in html
    assert message in html
    assert "Correct the filters to see results." in text_of(response, "result-count")
    # An invalid filter never silently shows the unfiltered list as if it were filtered.
    assert codes_in_order(response) == []
    assert "<script>" not in html


def test_sorting_by_each_whitelisted_key(client, catalogue):
    p = catalogue
    client.force_login(p.alice)
    by_code = codes_in_order(client.get("/recommendations/?sort=code"))
    assert by_code == sorted(by_code)
    by_paragraph = codes_in_order(client.get("/recommendations/?sort=paragraph"))
    # Document order: the newest document first (the model's order), then position within each.
    assert by_paragraph == codes_in_order(client.get("/recommendations/"))
    by_status = codes_in_order(client.get("/recommendations/?sort=status"))
    assert by_status == [
        "XJ22-152-i",
        "XJ22-151-i",
        "CERD22-40-a",
    ]  # not assessed, not implemented, partially
    Recommendation.objects.filter(code="XJ22-152-i").update(
        updated_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    )
    assert codes_in_order(client.get("/recommendations/?sort=updated"))[0] == "XJ22-152-i"


def test_unknown_sort_falls_back_to_document_order(client, catalogue):
    client.force_login(catalogue.alice)
    response = client.get("/recommendations/?sort=text;drop table")
    assert response.status_code == 200
    assert codes_in_order(response) == codes_in_order(client.get("/recommendations/?sort=paragraph"))
    assert '<input type="hidden" name="sort" value="paragraph">' in response.content.decode()


def test_sort_links_keep_the_filters_and_reset_the_page(client, catalogue):
    client.force_login(catalogue.alice)
    html = client.get("/recommendations/?addressee=business&page=1").content.decode()
    assert 'href="?addressee=business&amp;sort=code"' in html
    assert 'href="?addressee=business&amp;sort=status"' in html


def test_pagination_is_50_per_page_and_page_links_keep_the_filters(client, personas):
    p = personas
    theme = Theme.objects.create(name="Forced labour", slug="forced-labour")
    add_recommendations(p.document, 55, theme=theme)
    client.force_login(p.alice)
    first = client.get("/recommendations/?theme=forced-labour&sort=code")
    assert len(codes_in_order(first)) == 50
    assert "1\N{EN DASH}50 of 55 recommendations" in text_of(first, "result-count")
    html = first.content.decode()
    assert 'href="?theme=forced-labour&amp;sort=code&amp;page=2" rel="next"' in html
    second = client.get("/recommendations/?theme=forced-labour&sort=code&page=2")
    assert codes_in_order(second) == [f"T-{n:03d}" for n in range(50, 55)]
    assert "51\N{EN DASH}55 of 55 recommendations" in text_of(second, "result-count")
    assert 'href="?theme=forced-labour&amp;sort=code&amp;page=1" rel="prev"' in second.content.decode()
    # Malformed and out-of-range pages land on a real page rather than failing.
    assert (
        codes_in_order(client.get("/recommendations/?theme=forced-labour&sort=code&page=abc"))[0] == "T-000"
    )
    assert (
        codes_in_order(client.get("/recommendations/?theme=forced-labour&sort=code&page=99"))[-1] == "T-054"
    )


@pytest.mark.parametrize("sort", ["paragraph", "code", "status", "updated"])
def test_list_query_count_does_not_grow_with_the_page(client, personas, django_assert_num_queries, sort):
    p = personas
    client.force_login(p.alice)
    theme = Theme.objects.get(slug="arbitrary-detention")
    url = f"/recommendations/?sort={sort}"
    # session, user, the membership with the user's groups joined (the page is for members; the groups
    # also serve the navigation), count, page rows (with document), themes of the page's rows, the document
    # and theme options of the filter form. Recommendations are not confidential: nothing else depends on
    # the viewer.
    response = get_within_budget(client, django_assert_num_queries, url, 8)
    assert len(codes_in_order(response)) == 2
    add_recommendations(p.document, 28, theme=theme)
    response = get_within_budget(client, django_assert_num_queries, url, 8)
    assert len(codes_in_order(response)) == 30


def test_list_escapes_recommendation_text(client, personas):
    make_recommendation(personas.document, "XSS-1", "999", '<img src=x onerror="alert(1)"> release all')
    client.force_login(personas.alice)
    html = client.get("/recommendations/").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; release all" in html


# --- recommendation page -------------------------------------------------------------------------------


def test_recommendation_page_shows_text_document_themes_and_status_facts(client, personas):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.REJECTED)
    publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        assessed_on=datetime.date(2024, 1, 15),
        rationale="The State says all trainees graduated.",
    )
    client.force_login(p.mallory)
    response = client.get(f"/recommendations/{REC}/")
    text = page_text(response)
    assert "Takes prompt steps to release all individuals arbitrarily deprived" in text
    assert "OHCHR Xinjiang 2022 · paragraph 151(i)" in text
    assert "Arbitrary detention" in text
    assert "The State" in text
    status = text
    assert "Implementation Not implemented" in status
    assert "State response Rejected" in status
    assert "State claim Fully implemented Claimed as of 2024-01-15" in status
    html = response.content.decode()
    assert 'href="/recommendations/?theme=arbitrary-detention"' in html
    assert 'href="/recommendations/XJ22-151-i/assess/"' in html
    assert 'href="/evidence/new/?recommendation=XJ22-151-i"' in html


def test_recommendation_without_claim_or_assessments(client, personas):
    client.force_login(personas.alice)
    response = client.get("/recommendations/XJ22-152-i/")
    text = page_text(response)
    # No claim: nothing about a claim at all (issue 16, gap 3).
    assert "Claimed as of" not in text and "latest claim" not in text
    assert "State claim Not assessed" not in text and "No claim recorded" not in text
    assert "No assessment has been published for this recommendation yet." in text
    assert "No evidence is linked to this recommendation yet." in text


def test_timeline_is_newest_first_with_basis_author_and_rationale(client, personas):
    p = personas
    old = publish(
        p.rec, p.alice, p.carol, [p.public_ev], assessed_on=datetime.date(2022, 9, 1), rationale="First."
    )
    new = publish(
        p.rec, p.alice, p.dave, [p.public_ev], assessed_on=datetime.date(2024, 8, 27), rationale="Third."
    )
    middle = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        assessed_on=datetime.date(2023, 3, 1),
        rationale="Second.",
        basis=Basis.UN_FINDING,
    )
    client.force_login(p.alice)
    response = client.get(f"/recommendations/{REC}/")
    html = response.content.decode()
    order = [int(pk) for pk in re.findall(r'<li class="timeline__item[^"]*" id="assessment-(\d+)">', html)]
    assert order == [new.pk, middle.pk, old.pk]
    timeline = text_of(response, "timeline")
    assert timeline.index("Third.") < timeline.index("Second.") < timeline.index("First.")
    assert "Finding of a UN body" in timeline
    assert "By alice · published" in timeline
    assert "after review by dave" in timeline


def test_corrections_are_shown_as_corrections(client, personas):
    p = personas
    original = publish(p.rec, p.alice, p.carol, [p.public_ev], assessed_on=datetime.date(2023, 8, 31))
    correction = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        corrects=original,
        assessed_on=datetime.date(2023, 9, 2),
        implementation_status=ImplementationStatus.REGRESSED,
    )
    client.force_login(p.alice)
    response = client.get(f"/recommendations/{REC}/")
    html = response.content.decode()
    assert (
        f'<a href="#assessment-{original.pk}">Corrects the assessment of <time datetime="2023-08-31">2023-08-31</time></a>'
        in html
    )
    assert (
        f'<a href="#assessment-{correction.pk}">Corrected by the assessment of <time datetime="2023-09-02">2023-09-02</time></a>'
        in html
    )
    assert 'class="timeline__item timeline__item--correction"' in html


def test_members_see_their_unpublished_assessments_marked_others_do_not(client, personas):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], rationale="Public record.")
    submit(p.rec, p.alice, [p.public_ev], rationale="Draft by Alice.")
    returned = submit(p.rec, p.alice, [p.public_ev], rationale="Sent back.")
    services.return_assessment(returned, reviewer=p.carol, comment="Needs a second source.")
    client.force_login(p.carol)
    timeline = text_of(client.get(f"/recommendations/{REC}/"), "timeline")
    assert "Draft by Alice." in timeline
    assert "Submitted — not public" in timeline
    assert "Returned" in timeline
    assert "Needs a second source." in timeline
    client.force_login(p.mallory)
    timeline = text_of(client.get(f"/recommendations/{REC}/"), "timeline")
    assert "Public record." in timeline
    assert "Draft by Alice." not in timeline
    assert "Sent back." not in timeline
    assert "not public" not in timeline
    assert "Needs a second source." not in timeline


def test_evidence_another_organisation_may_not_see_is_withheld_not_shown(client, personas):
    p = personas
    # Mallory's published assessment rests on her organisation's internal note and a public source.
    publish(p.rec, p.mallory, p.carol, [p.mallory_internal, p.public_ev], rationale="Mallory's finding.")
    client.force_login(p.alice)
    response = client.get(f"/recommendations/{REC}/")
    html = response.content.decode()
    timeline = text_of(response, "timeline")
    assert "Mallory's finding." in timeline
    assert "1 withheld source" in timeline
    assert "Source at https://news.example.org/public" in timeline
    assert "Mallory" not in timeline.replace("Mallory's finding.", "")
    assert "mallory-internal" not in html
    assert f"/evidence/{p.mallory_internal.pk}/" not in html
    # Mallory sees her own note and nothing withheld.
    client.force_login(p.mallory)
    timeline = text_of(client.get(f"/recommendations/{REC}/"), "timeline")
    assert "Mallory's note" in timeline
    assert "withheld" not in timeline


def test_withheld_count_counts_every_hidden_source(client, personas):
    p = personas
    second = make_evidence(p.alice, "https://news.example.org/internal-2", Confidentiality.INTERNAL, [p.rec])
    publish(p.rec, p.alice, p.carol, [p.internal_ev, second, p.partners_ev])
    client.force_login(p.mallory)
    timeline = text_of(client.get(f"/recommendations/{REC}/"), "timeline")
    assert "2 withheld sources" in timeline
    assert "Witness statement 7" not in timeline


def test_recommendation_evidence_is_only_what_the_viewer_may_see(client, personas):
    p = personas
    client.force_login(p.alice)
    response = client.get(f"/recommendations/{REC}/")
    evidence = text_of(response, "evidence")
    assert "Witness statement 7" in evidence  # Alice's own organisation's internal source
    assert "Mallory's note" not in evidence
    assert "A short quotation." in evidence
    assert "Example News" in evidence
    assert "2022-09-01" in evidence
    assert 'href="https://news.example.org/public"' in response.content.decode()
    client.force_login(p.mallory)
    evidence = text_of(client.get(f"/recommendations/{REC}/"), "evidence")
    assert "Mallory's note" in evidence
    assert "Witness statement 7" not in evidence


def test_evidence_card_links_the_archived_copy(client, personas):
    p = personas
    make_evidence(
        p.alice,
        "https://example.org/statement",
        Confidentiality.PUBLIC,
        [p.rec2],
        archive_url="https://web.archive.org/web/2022/https://example.org/statement",
    )
    client.force_login(p.alice)
    html = client.get("/recommendations/XJ22-152-i/").content.decode()
    assert 'href="https://web.archive.org/web/2022/https://example.org/statement"' in html
    assert "Archived copy" in html


def test_recommendation_page_hides_write_buttons_from_users_without_a_role(client, personas):
    from tests.factories import make_user

    reader = make_user("reader", role=None)
    client.force_login(reader)
    html = client.get(f"/recommendations/{REC}/").content.decode()
    assert "/assess/" not in html
    assert "/evidence/new/" not in html


def test_unknown_recommendation_is_404(client, personas):
    client.force_login(personas.alice)
    assert client.get("/recommendations/XJ99-1/").status_code == 404


@pytest.mark.parametrize("viewer", ["alice", "mallory"])
def test_recommendation_page_query_count_is_constant(client, personas, django_assert_num_queries, viewer):
    p = personas
    client.force_login(getattr(p, viewer))
    url = f"/recommendations/{REC}/"
    publish(p.rec, p.alice, p.carol, [p.public_ev, p.internal_ev])
    # session, user, membership with the user's groups joined (viewer and roles), organisation, the
    # recommendation (with document and State claim), the timeline (with authors, reviewers, corrected rows
    # and the withheld count), the visible cited evidence, the recommendation's visible evidence, its themes,
    # the counts of the people linked to it (cases.people, one query), whether the viewer follows it
    # (tracker.notifications' Follow button).
    response = get_within_budget(client, django_assert_num_queries, url, 10)
    assert response.content.decode().count('class="timeline__item') == 1
    previous = None
    for n in range(9):
        ev = make_evidence(p.mallory, f"https://example.org/m{n}", Confidentiality.INTERNAL, [p.rec])
        previous = publish(
            p.rec,
            p.mallory if n % 2 else p.alice,
            p.dave,
            [p.public_ev, ev, p.partners_ev],
            corrects=previous,
            assessed_on=datetime.date(2023, 1, 1 + n),
        )
    submit(p.rec, p.alice, [p.public_ev])
    response = get_within_budget(client, django_assert_num_queries, url, 10)
    assert response.content.decode().count('class="timeline__item') == (11 if viewer == "alice" else 10)


# --- evidence list and page ----------------------------------------------------------------------------


def test_evidence_list_shows_only_what_the_viewer_may_see(client, personas):
    p = personas
    client.force_login(p.alice)
    response = client.get("/evidence/")
    text = page_text(response)
    assert "Witness statement 7" in text
    assert "Source at https://news.example.org/partners" in text
    assert "Mallory's note" not in text
    assert "1\N{EN DASH}3 of 3 sources" in text_of(response, "result-count")
    client.force_login(p.mallory)
    text = page_text(client.get("/evidence/"))
    assert "Mallory's note" in text
    assert "Witness statement 7" not in text


def test_filtering_for_internal_evidence_never_reaches_another_organisation(client, personas):
    client.force_login(personas.mallory)
    response = client.get("/evidence/?confidentiality=internal")
    assert "Mallory's note" in page_text(response)
    assert "Witness statement 7" not in page_text(response)
    assert "1 source" in text_of(response, "result-count")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=government", {"Ministry statement"}),
        ("confidentiality=partners", {"Source at https://news.example.org/partners"}),
        ("recommendation=XJ22-152-i", {"Ministry statement"}),
        ("language=zh", {"Ministry statement"}),
        ("q=ministry", {"Ministry statement"}),
        ("q=news.example.org%2Fpublic", {"Source at https://news.example.org/public"}),
    ],
)
def test_each_evidence_filter_narrows_the_list(client, personas, query, expected):
    p = personas
    make_evidence(
        p.alice,
        "https://gov.example.cn/statement",
        Confidentiality.PUBLIC,
        [p.rec2],
        title="Ministry statement",
        kind=EvidenceKind.GOVERNMENT,
        language="zh",
    )
    client.force_login(p.alice)
    response = client.get(f"/evidence/?{query}")
    assert response.status_code == 200
    titles = set(re.findall(r'<a href="/evidence/\d+/"[^>]*>([^<]+)</a>', response.content.decode()))
    assert titles == expected


@pytest.mark.parametrize(
    "query", ["kind=rumour", "confidentiality=secret", "q=" + "y" * 201, "language=" + "z" * 36]
)
def test_invalid_evidence_filters_show_an_error(client, personas, query):
    client.force_login(personas.alice)
    response = client.get(f"/evidence/?{query}")
    assert response.status_code == 200
    assert 'class="error-summary"' in response.content.decode()
    assert "Correct the filters to see results." in text_of(response, "result-count")


def test_evidence_list_paginates_and_keeps_filters(client, personas):
    p = personas
    for n in range(52):
        make_evidence(
            p.alice, f"https://example.org/bulk/{n}", Confidentiality.PUBLIC, kind=EvidenceKind.NGO_REPORT
        )
    client.force_login(p.alice)
    response = client.get("/evidence/?kind=ngo_report")
    assert "1\N{EN DASH}50 of 52 sources" in text_of(response, "result-count")
    assert 'href="?kind=ngo_report&amp;page=2" rel="next"' in response.content.decode()
    assert "51\N{EN DASH}52 of 52 sources" in text_of(
        client.get("/evidence/?kind=ngo_report&page=2"), "result-count"
    )


def test_evidence_list_query_count_is_constant(client, personas, django_assert_num_queries):
    p = personas
    client.force_login(p.alice)
    # session, user, membership with the user's groups joined (viewer and roles), organisation, count,
    # page rows.
    get_within_budget(client, django_assert_num_queries, "/evidence/", 5)
    for n in range(30):
        make_evidence(p.alice, f"https://example.org/more/{n}", Confidentiality.PARTNERS)
    response = get_within_budget(client, django_assert_num_queries, "/evidence/", 5)
    assert "1\N{EN DASH}33 of 33 sources" in text_of(response, "result-count")


def test_evidence_page_shows_source_recommendations_and_citing_assessments(client, personas):
    p = personas
    published = publish(p.rec, p.alice, p.carol, [p.public_ev], rationale="Published one.")
    draft = submit(p.rec2, p.alice, [p.public_ev])
    client.force_login(p.alice)
    response = client.get(f"/evidence/{p.public_ev.pk}/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Source at https://news.example.org/public" in text
    assert "A short quotation." in text
    assert "Example News" in text
    supports = text_of(response, "supported-recommendations")
    assert "XJ22-151-i" in supports
    # A draft's citation links nothing until it is published: the link would leave the organisation.
    assert "XJ22-152-i" not in supports
    citing = text_of(response, "citing-assessments")
    assert "Submitted — not public" in citing
    html = response.content.decode()
    assert f"#assessment-{published.pk}" in html
    assert f"#assessment-{draft.pk}" in html
    # Another organisation sees the published citation only.
    client.force_login(p.mallory)
    html = client.get(f"/evidence/{p.public_ev.pk}/").content.decode()
    assert f"#assessment-{published.pk}" in html
    assert f"#assessment-{draft.pk}" not in html


def test_internal_evidence_is_marked_and_shown_to_its_organisation(client, personas):
    client.force_login(personas.carol)
    response = client.get(f"/evidence/{personas.internal_ev.pk}/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Witness statement 7" in text
    assert "Only members of your organisation can see this source." in text
    assert "held by your organisation" in text


def test_internal_evidence_of_another_organisation_is_404(client, personas):
    client.force_login(personas.alice)
    response = client.get(f"/evidence/{personas.mallory_internal.pk}/")
    assert response.status_code == 404
    assert "Mallory" not in response.content.decode()
    client.force_login(personas.mallory)
    assert client.get(f"/evidence/{personas.internal_ev.pk}/").status_code == 404
    # The same answer as for evidence that does not exist at all: existence is not revealed.
    assert client.get("/evidence/999999/").status_code == 404


def test_evidence_page_does_not_name_another_organisation_as_holder(client, personas):
    client.force_login(personas.mallory)
    text = page_text(client.get(f"/evidence/{personas.public_ev.pk}/"))
    assert "held by your organisation" not in text
    assert "Default organisation" not in text


def test_evidence_page_query_count(client, personas, django_assert_num_queries):
    p = personas
    client.force_login(p.alice)
    url = f"/evidence/{p.public_ev.pk}/"
    # session, user, membership with the user's groups joined (viewer and roles), organisation, the evidence
    # (with organisation), its recommendations (with documents), the visible assessments citing it.
    get_within_budget(client, django_assert_num_queries, url, 6)
    for rec in add_recommendations(p.document, 10):
        publish(rec, p.alice, p.carol, [p.public_ev])
    response = get_within_budget(client, django_assert_num_queries, url, 6)
    assert len(re.findall(r"T-\d{3}", text_of(response, "citing-assessments"))) == 10


def test_document_filter_renders_options_and_keeps_the_choice(client, personas):
    """The document <select> is rendered in one pass (cases.filters.OnePassSelect); it must still mark the
    chosen document and escape names."""
    from tests.factories import make_document

    make_document("evil", short_name='<script>alert("x")</script>')
    client.force_login(personas.alice)
    response = client.get("/recommendations/", {"document": "xj22"})
    body = response.content.decode()
    assert '<option value="xj22" selected>OHCHR Xinjiang 2022</option>' in body
    assert '<option value="evil">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</option>' in body
    assert '<script>alert("x")' not in body
