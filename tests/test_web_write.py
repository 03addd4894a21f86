"""The writing pages: new assessment, new evidence, the review queue, publish/return, resubmit.

Personas (tests/factories.py): Alice monitor, Carol and Dave curators (one organisation), Mallory monitor of
another organisation; here also Bob (signed in, no role) and Olga (curator of Mallory's organisation).
"""

from __future__ import annotations

import datetime
import re
from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.forms import normalise_url, published_marker
from cases.models import (
    Assessment,
    AssessmentTransition,
    Basis,
    Confidentiality,
    Evidence,
    ImplementationStatus,
    ReviewState,
    StateResponse,
)
from tests.factories import make_evidence, make_recommendation, make_user, submit

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"


@pytest.fixture
def w(personas):
    """The personas plus a user without a role, a curator of the other organisation, and one of Alice's
    assessments in each review state that matters here."""
    p = personas
    bob = make_user("bob", role=None)
    olga = make_user("olga", role="curator", organisation=p.other_org)
    submitted = submit(p.rec, p.alice, [p.public_ev], rationale="Alice's submitted rationale.")
    returned = submit(p.rec2, p.alice, [p.public_ev], rationale="Alice's first draft.")
    services.return_assessment(returned, reviewer=p.carol, comment="Cite the OHCHR update of 27 August 2024.")
    return SimpleNamespace(**vars(p), bob=bob, olga=olga, submitted=submitted, returned=returned)


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def content(response) -> str:
    return response.content.decode()


def assessment_data(w, **overrides) -> dict:
    data = {
        "implementation_status": ImplementationStatus.NOT_IMPLEMENTED,
        "state_response": StateResponse.REJECTED,
        "basis": Basis.INDEPENDENT,
        "assessed_on": "2024-08-27",
        "rationale": "OHCHR's update says the problematic laws remain in place.",
        "evidence": [w.public_ev.pk],
        "seen": published_marker(w.rec),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def evidence_data(**overrides) -> dict:
    data = {
        "url": "https://www.ohchr.org/en/press-releases/2024/08/update",
        "title": "OHCHR update on Xinjiang",
        "publisher": "OHCHR",
        "published_on": "2024-08-27",
        "kind": "un_document",
        "excerpt": "Many problematic laws and policies remain in place.",
        "language": "en",
        "archive_url": "",
        "confidentiality": Confidentiality.PUBLIC,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def publish_other(w, rationale="China's UPR response rejects the recommendation.", **fields):
    """Dave writes and Carol publishes an assessment of w.rec: "someone else" publishing meanwhile."""
    assessment = submit(w.rec, w.dave, [w.public_ev], rationale=rationale, **fields)
    return services.publish_assessment(assessment, reviewer=w.carol)


# --- Role x page matrix ---------------------------------------------------------------------------------

PERSONAS = ["anonymous", "alice", "carol", "mallory", "bob", "olga"]

# (page, method) → expected status per persona. 302 for anonymous is the redirect to sign-in; for a
# curator's POST it is the redirect back to the queue (PRG). 403: signed in without the role; 404: an
# object the user may not see.
MATRIX = {
    ("assess", "get"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 200,
        "mallory": 200,
        "bob": 403,
        "olga": 200,
    },
    ("assess", "post"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 200,
        "mallory": 200,
        "bob": 403,
        "olga": 200,
    },
    ("evidence-new", "get"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 200,
        "mallory": 200,
        "bob": 403,
        "olga": 200,
    },
    ("evidence-new", "post"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 200,
        "mallory": 200,
        "bob": 403,
        "olga": 200,
    },
    ("review-queue", "get"): {
        "anonymous": 302,
        "alice": 403,
        "carol": 200,
        "mallory": 403,
        "bob": 403,
        "olga": 200,
    },
    ("review-queue", "post"): {
        "anonymous": 302,
        "alice": 405,
        "carol": 405,
        "mallory": 405,
        "bob": 405,
        "olga": 405,
    },
    ("review-publish", "get"): {
        "anonymous": 302,
        "alice": 405,
        "carol": 405,
        "mallory": 405,
        "bob": 405,
        "olga": 405,
    },
    ("review-publish", "post"): {
        "anonymous": 302,
        "alice": 403,
        "carol": 302,
        "mallory": 403,
        "bob": 403,
        "olga": 404,
    },
    ("review-return", "post"): {
        "anonymous": 302,
        "alice": 403,
        "carol": 302,
        "mallory": 403,
        "bob": 403,
        "olga": 404,
    },
    ("assessment-resubmit", "get"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 404,
        "mallory": 404,
        "bob": 403,
        "olga": 404,
    },
    ("assessment-resubmit", "post"): {
        "anonymous": 302,
        "alice": 200,
        "carol": 404,
        "mallory": 404,
        "bob": 403,
        "olga": 404,
    },
}


def _url(w, page: str) -> str:
    if page == "assess":
        return reverse("cases:assess", args=[w.rec.code])
    if page in {"review-publish", "review-return"}:
        return reverse(f"cases:{page}", args=[w.submitted.pk])
    if page == "assessment-resubmit":
        return reverse("cases:assessment-resubmit", args=[w.returned.pk])
    return reverse(f"cases:{page}")


@pytest.mark.parametrize(
    ("page", "method", "who"),
    [(page, method, who) for (page, method) in MATRIX for who in PERSONAS],
)
def test_role_page_matrix(w, page, method, who):
    client = client_for(None if who == "anonymous" else getattr(w, who))
    url = _url(w, page)
    # POSTs that would succeed are harmless ones: an empty assessment or evidence form (re-rendered with
    # errors), a return with a comment, or the curator's publish.
    data = {"comment": "Please add a source."} if page == "review-return" else {}
    if page == "review-publish":
        data = {"confirm": "on"}  # Publish asks for confirmation (tests/test_editorial.py)
    before = (Assessment.objects.count(), Evidence.objects.count(), AssessmentTransition.objects.count())

    response = getattr(client, method)(url, data)

    assert response.status_code == MATRIX[(page, method)][who]
    if who == "anonymous":
        assert response["Location"].startswith(LOGIN_URL)
    after = (Assessment.objects.count(), Evidence.objects.count(), AssessmentTransition.objects.count())
    w.submitted.refresh_from_db()
    w.returned.refresh_from_db()
    if response.status_code == 302 and who == "carol":
        assert after[2] == before[2] + 1  # the publish or return transition, and nothing else
    else:
        assert after == before, "a refused or invalid request changed the database"
        assert w.submitted.review_state == ReviewState.SUBMITTED
        assert w.returned.review_state == ReviewState.RETURNED


def test_unknown_recommendation_and_assessment_are_404(w):
    alice, carol = client_for(w.alice), client_for(w.carol)
    assert alice.get(reverse("cases:assess", args=["no-such-code"])).status_code == 404
    assert alice.get(reverse("cases:assessment-resubmit", args=[999999])).status_code == 404
    assert carol.post(reverse("cases:review-publish", args=[999999])).status_code == 404
    assert carol.post(reverse("cases:review-return", args=[999999]), {"comment": "x"}).status_code == 404


# --- Submitting an assessment ----------------------------------------------------------------------------


def test_assess_form_lists_only_evidence_the_user_may_see(w):
    page = content(client_for(w.alice).get(reverse("cases:assess", args=[w.rec.code])))
    assert "Witness statement 7" in page  # Alice's own organisation's internal source
    assert "Mallory&#x27;s note" not in page and "Mallory's note" not in page
    assert f'value="{w.mallory_internal.pk}"' not in page
    assert 'name="seen"' in page and 'type="date"' in page

    mallory_page = content(client_for(w.mallory).get(reverse("cases:assess", args=[w.rec.code])))
    assert "Witness statement 7" not in mallory_page
    assert "Mallory&#x27;s note" in mallory_page


def test_assess_without_evidence_links_to_the_evidence_form(w):
    bare = make_recommendation(w.document, "XJ22-153-i", "153(i)")
    page = content(client_for(w.alice).get(reverse("cases:assess", args=[bare.code])))
    assert "No evidence yet" in page
    # "Add evidence first" submits the form's draft (kept in the session, see test_draft_kept.py), then
    # goes to the evidence form.
    assert 'form="assessment-form" name="add_source"' in page
    # Sources linked elsewhere stay available in the "other evidence" list, newest first.
    # "Other evidence" is a checkbox list with whole titles (issue 16, gap 4).
    assert re.search(
        rf'<input type="checkbox" name="other_evidence" value="{w.internal_ev.pk}"[^>]*>\s*<label[^>]*>\s*'
        r'<span class="choice__title" dir="auto">Witness statement 7',
        page,
    )
    assert "Mallory" not in page


def test_assess_happy_path(w):
    client = client_for(w.alice)
    other = make_evidence(
        w.carol, "https://example.org/cerd-2022", recommendations=[w.rec2], title="CERD decision"
    )

    response = client.post(
        reverse("cases:assess", args=[w.rec.code]),
        assessment_data(w, evidence=[w.public_ev.pk, w.internal_ev.pk], other_evidence=[other.pk]),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:recommendation", args=[w.rec.code])
    assert any("submitted for review" in m for m in messages_of(response))
    assessment = Assessment.objects.filter(author=w.alice, recommendation=w.rec).latest("id")
    assert assessment.pk != w.submitted.pk
    assert assessment.review_state == ReviewState.SUBMITTED
    assert assessment.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    assert assessment.state_response == StateResponse.REJECTED
    assert assessment.assessed_on == datetime.date(2024, 8, 27)
    assert assessment.organisation == w.org
    assert set(assessment.evidence.all()) == {w.public_ev, w.internal_ev, other}
    # Cited evidence supports the recommendation only once the assessment is published.
    assert other not in w.rec.evidence.all()
    transition = assessment.transitions.get()
    assert (transition.from_state, transition.to_state, transition.actor) == (
        "",
        ReviewState.SUBMITTED,
        w.alice,
    )
    w.rec.refresh_from_db()
    assert w.rec.implementation_status == ImplementationStatus.NOT_ASSESSED  # nothing public before review


def test_assess_correction_of_a_published_assessment(w):
    published = publish_other(w)
    client = client_for(w.alice)
    page = content(client.get(reverse("cases:assess", args=[w.rec.code])))
    assert f'<option value="{published.pk}"' in page

    response = client.post(
        reverse("cases:assess", args=[w.rec.code]), assessment_data(w, corrects=published.pk)
    )

    assert response.status_code == 302
    assert Assessment.objects.filter(author=w.alice, corrects=published).count() == 1


def test_assess_preselects_evidence_from_the_query_string_only_if_visible(w):
    other = make_evidence(
        w.alice, "https://example.org/other", recommendations=[w.rec2], title="Other source"
    )
    url = reverse("cases:assess", args=[w.rec.code])
    page = content(client_for(w.alice).get(f"{url}?evidence={w.public_ev.pk}&evidence={other.pk}"))
    assert re.search(rf'value="{w.public_ev.pk}" id="id_evidence_\d+" checked', page)
    assert re.search(rf'name="other_evidence" value="{other.pk}" id="id_other_evidence_\d+" checked', page)

    page = content(client_for(w.alice).get(f"{url}?evidence={w.mallory_internal.pk}&evidence=junk"))
    assert "Mallory" not in page


ASSESS_ERRORS = [
    ("future date", lambda w: {"assessed_on": _tomorrow()}, "cannot be in the future"),
    ("no evidence", lambda w: {"evidence": []}, "Choose at least one piece of evidence"),
    ("invisible evidence", lambda w: {"evidence": [w.mallory_internal.pk]}, "not available to you"),
    ("invisible other", lambda w: {"other_evidence": [w.mallory_internal.pk]}, "not available to you"),
    ("unknown evidence", lambda w: {"other_evidence": [999999]}, "not available to you"),
    ("garbage evidence id", lambda w: {"evidence": ["1 OR 1=1"]}, "not available to you"),
    ("over-long rationale", lambda w: {"rationale": "x" * 5001}, "at most 5000 characters"),
    ("empty rationale", lambda w: {"rationale": "   "}, "This field is required"),
    ("unknown status", lambda w: {"implementation_status": "done"}, "Select a valid choice"),
    ("corrects another recommendation", lambda w: {"corrects": _published_on_rec2(w).pk}, "Only a published"),
]  # fmt: skip


def _tomorrow() -> str:
    return (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


def _published_on_rec2(w):
    assessment = submit(w.rec2, w.dave, [w.public_ev])
    return services.publish_assessment(assessment, reviewer=w.carol)


@pytest.mark.parametrize(("case", "overrides", "message"), ASSESS_ERRORS, ids=[c[0] for c in ASSESS_ERRORS])
def test_assess_validation_keeps_what_was_typed(w, case, overrides, message):
    client = client_for(w.alice)
    typed = "My careful reasoning about detention <b>facilities</b>."
    data = assessment_data(w, rationale=typed)
    data.update(overrides(w))
    before = Assessment.objects.count()

    response = client.post(reverse("cases:assess", args=[w.rec.code]), data)

    assert response.status_code == 200
    page = content(response)
    assert message in page
    assert Assessment.objects.count() == before
    assert 'class="error-summary"' in page
    # What the user typed is still in the form (escaped), and their choices are still chosen.
    if case not in {"over-long rationale", "empty rationale"}:
        assert "My careful reasoning about detention &lt;b&gt;facilities&lt;/b&gt;." in page
    if case == "over-long rationale":
        assert "x" * 5001 in page
    if case != "unknown status":
        assert 'value="not_implemented" required id="id_implementation_status_1" checked' in page
    assert 'value="rejected" required id="id_state_response_3" checked' in page
    assert "Mallory&#x27;s note" not in page


def test_rationale_length_counts_a_line_break_once(w):
    # Browsers count a line break as one character for maxlength but send it as two (CR LF).
    rationale = ("y" * 99 + "\r\n") * 50  # 5,000 characters as the browser counts them
    response = client_for(w.alice).post(
        reverse("cases:assess", args=[w.rec.code]), assessment_data(w, rationale=rationale)
    )
    assert response.status_code == 302
    saved = Assessment.objects.filter(author=w.alice).latest("id")
    assert len(saved.rationale) <= 5000 and "\r" not in saved.rationale


# --- The edit conflict -----------------------------------------------------------------------------------


def _form_value(response, name: str) -> str:
    return response.context["form"][name].value() or ""


def test_conflict_keeps_input_then_submits_with_confirmation(w):
    client = client_for(w.alice)
    url = reverse("cases:assess", args=[w.rec.code])
    seen = _form_value(client.get(url), "seen")
    typed = "Detention continues according to satellite imagery."
    publish_other(w, rationale="China's UPR response: rejected.", state_response=StateResponse.REJECTED)
    before = Assessment.objects.count()

    response = client.post(url, assessment_data(w, seen=seen, rationale=typed))

    assert response.status_code == 200
    page = content(response)
    assert "A new assessment was published while you were writing" in page
    assert "China&#x27;s UPR response: rejected." in page  # the new assessment's rationale
    assert "By dave" in page  # its author
    assert typed in page  # nothing the user typed is lost
    assert "I have read the new assessment; submit mine anyway" in page
    assert Assessment.objects.count() == before

    # Submitting again without the confirmation is still refused.
    again = client.post(
        url,
        assessment_data(w, seen=seen, rationale=typed, acknowledged=_form_value(response, "acknowledged")),
    )
    assert again.status_code == 200
    assert Assessment.objects.count() == before

    confirmed = client.post(
        url,
        assessment_data(
            w,
            seen=seen,
            rationale=typed,
            acknowledged=_form_value(response, "acknowledged"),
            confirm_conflict="on",
        ),
    )
    assert confirmed.status_code == 302
    assert Assessment.objects.filter(author=w.alice, rationale=typed).count() == 1


def test_confirmation_does_not_cover_a_later_publication(w):
    client = client_for(w.alice)
    url = reverse("cases:assess", args=[w.rec.code])
    seen = _form_value(client.get(url), "seen")
    publish_other(w, rationale="First publication.")
    shown = client.post(url, assessment_data(w, seen=seen))
    acknowledged = _form_value(shown, "acknowledged")
    publish_other(w, rationale="Second publication, after the notice.")

    response = client.post(
        url, assessment_data(w, seen=seen, acknowledged=acknowledged, confirm_conflict="on")
    )

    assert response.status_code == 200
    page = content(response)
    assert "Second publication, after the notice." in page and "First publication." in page
    assert "2 new assessments were published while you were writing" in page
    assert not re.search(r'name="confirm_conflict"[^>]*checked', page)  # confirmation asked for again
    assert (
        not Assessment.objects.filter(author=w.alice, recommendation=w.rec)
        .exclude(pk=w.submitted.pk)
        .exists()
    )


def test_no_conflict_when_the_publication_predates_the_form(w):
    publish_other(w)
    client = client_for(w.alice)
    url = reverse("cases:assess", args=[w.rec.code])
    seen = _form_value(client.get(url), "seen")
    assert seen  # the marker names the existing publication

    assert client.post(url, assessment_data(w, seen=seen)).status_code == 302


def test_a_tampered_marker_counts_as_nothing_seen(w):
    publish_other(w)
    response = client_for(w.alice).post(
        reverse("cases:assess", args=[w.rec.code]), assessment_data(w, seen="not-a-date")
    )
    assert response.status_code == 200
    assert "published while you were writing" in content(response)


# --- Adding evidence -------------------------------------------------------------------------------------


def test_evidence_form_defaults_to_internal_and_preselects_the_recommendation(w):
    page = content(client_for(w.alice).get(reverse("cases:evidence-new") + f"?recommendation={w.rec.code}"))
    assert re.search(r'value="internal" required id="id_confidentiality_\d" checked', page)
    assert re.search(rf'value="{w.rec.code}" id="id_recommendations_\d+" checked', page)
    assert not re.search(rf'value="{w.rec2.code}" id="id_recommendations_\d+" checked', page)


def test_evidence_happy_path_normalises_and_returns_to_the_recommendation(w):
    client = client_for(w.alice)
    url = reverse("cases:evidence-new") + f"?recommendation={w.rec.code}"
    response = client.post(
        url,
        evidence_data(
            url="  HTTPS://WWW.OHCHR.org/en/Press?id=7#top ",
            archive_url="https://web.archive.org/web/2024/https://www.ohchr.org/en/Press?id=7",
            confidentiality=Confidentiality.PARTNERS,
            recommendations=[w.rec.code, w.rec2.code],
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:recommendation", args=[w.rec.code])
    evidence = Evidence.objects.get(title="OHCHR update on Xinjiang")
    assert evidence.url == "https://www.ohchr.org/en/Press?id=7"
    assert evidence.confidentiality == Confidentiality.PARTNERS
    assert evidence.organisation == w.org and evidence.added_by == w.alice
    assert evidence.published_on == datetime.date(2024, 8, 27)
    assert set(evidence.recommendations.all()) == {w.rec, w.rec2}
    assert any("was recorded" in m for m in messages_of(response))


def test_evidence_without_origin_goes_to_the_evidence_page(w):
    response = client_for(w.alice).post(reverse("cases:evidence-new"), evidence_data())
    evidence = Evidence.objects.get(title="OHCHR update on Xinjiang")
    assert response["Location"] == reverse("cases:evidence", args=[evidence.pk])
    assert evidence.recommendations.count() == 0


def test_evidence_from_the_assessment_form_returns_there_with_it_chosen(w):
    client = client_for(w.alice)
    response = client.post(
        reverse("cases:evidence-new") + f"?recommendation={w.rec2.code}&then=assess",
        evidence_data(recommendations=[w.rec2.code]),
    )
    evidence = Evidence.objects.get(title="OHCHR update on Xinjiang")
    assert response["Location"] == reverse("cases:assess", args=[w.rec2.code]) + f"?evidence={evidence.pk}"
    page = content(client.get(response["Location"]))
    assert re.search(rf'value="{evidence.pk}" id="id_evidence_\d+" checked', page)


EVIDENCE_ERRORS = [
    ("ftp url", {"url": "ftp://files.example.org/report.pdf"}, "“ftp:” addresses are not accepted"),
    (
        "javascript url",
        {"url": "javascript:alert(document.cookie)"},
        "“javascript:” addresses are not accepted",
    ),
    (
        "javascript url, mixed case",
        {"url": " JavaScript:alert(1)"},
        "“javascript:” addresses are not accepted",
    ),
    ("data url", {"url": "data:text/html;base64,PHNjcmlwdD4="}, "“data:” addresses are not accepted"),
    ("no scheme", {"url": "www.ohchr.org/en/report"}, "starting with https:// or http://"),
    ("credentials", {"url": "https://ohchr.org@evil.example/"}, "user name or password"),
    ("no host", {"url": "https:///path"}, "Enter a valid web address"),
    (
        "archive url scheme",
        {"archive_url": "javascript:alert(1)"},
        "“javascript:” addresses are not accepted",
    ),
    ("future publication", {"published_on": "2999-01-01"}, "cannot be in the future"),
    ("long excerpt", {"excerpt": "z" * 2001}, "at most 2000 characters"),
    ("bad language", {"language": "English!"}, "Enter a language tag"),
    ("missing title", {"title": ""}, "This field is required"),
    ("unknown recommendation", {"recommendations": ["XJ99-nope"]}, "XJ99-nope is not a recommendation code"),
    ("unknown confidentiality", {"confidentiality": "secret"}, "Select a valid choice"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "message"), EVIDENCE_ERRORS, ids=[c[0] for c in EVIDENCE_ERRORS]
)
def test_evidence_validation_keeps_what_was_typed(w, case, overrides, message):
    before = Evidence.objects.count()
    data = evidence_data(
        title="Typed <title>" if case != "missing title" else "",
        **{k: v for k, v in overrides.items() if k != "title"},
    )

    response = client_for(w.alice).post(reverse("cases:evidence-new"), data)

    assert response.status_code == 200
    page = content(response)
    assert message in page
    assert Evidence.objects.count() == before
    assert (
        'value="Many problematic laws and policies remain in place."' not in page
    )  # textarea, not attribute
    assert "Many problematic laws and policies remain in place." in page or case == "long excerpt"
    if case != "missing title":
        assert 'value="Typed &lt;title&gt;"' in page
    assert 'href="javascript' not in page.lower()


@pytest.mark.parametrize(
    "typed",
    [
        "https://news.example.org/public",
        "HTTPS://NEWS.EXAMPLE.ORG/public#comments",
        "  https://news.example.org/public  ",
    ],
)
def test_duplicate_visible_url_redirects_to_the_existing_entry(w, typed):
    before = Evidence.objects.count()
    response = client_for(w.mallory).post(
        reverse("cases:evidence-new"), evidence_data(url=typed, title="Again")
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:evidence", args=[w.public_ev.pk])
    assert "This source was already recorded, so no second entry was made." in messages_of(response)
    assert Evidence.objects.count() == before


def test_duplicate_of_own_internal_url_redirects(w):
    response = client_for(w.carol).post(
        reverse("cases:evidence-new"), evidence_data(url="https://news.example.org/internal")
    )
    assert response["Location"] == reverse("cases:evidence", args=[w.internal_ev.pk])


@pytest.mark.parametrize(
    ("who", "url", "secret_title"),
    [
        ("alice", "https://news.example.org/mallory-internal", "Mallory"),
        ("mallory", "https://NEWS.example.org/internal#x", "Witness statement 7"),
    ],
)
def test_duplicate_invisible_url_gets_a_neutral_error(w, who, url, secret_title):
    before = Evidence.objects.count()
    response = client_for(getattr(w, who)).post(reverse("cases:evidence-new"), evidence_data(url=url))
    assert response.status_code == 200
    page = content(response)
    assert "This address cannot be recorded" in page
    assert secret_title not in page
    assert "already recorded" not in page.replace("If its address is already recorded", "")
    assert Evidence.objects.count() == before


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.ORG", "https://example.org/"),
        (" http://example.org/a/B?x=1&y=2#frag ", "http://example.org/a/B?x=1&y=2"),
        ("HTTPS://example.org:8443/path", "https://example.org:8443/path"),
        ("https://[2001:DB8::1]/x", "https://[2001:db8::1]/x"),
        ("https://例え.テスト/パス", "https://例え.テスト/パス"),
    ],
)
def test_normalise_url(raw, expected):
    assert normalise_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["javascript:alert(1)", "data:,x", "file:///etc/passwd", "ftp://x.org/", "mailto:a@b.org",
     "//example.org/x", "https://exa mple.org/", "https://example.org:99999/", "", "   "],
)  # fmt: skip
def test_normalise_url_rejects(raw):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        normalise_url(raw)


# --- Review queue ----------------------------------------------------------------------------------------


def test_queue_shows_submissions_oldest_first_with_current_state(w):
    second = submit(w.rec2, w.alice, [w.internal_ev], rationale="Second in line.")
    other_org = submit(w.rec, w.mallory, [w.mallory_internal], rationale="Mallory's assessment.")
    publish_other(w, implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED)

    response = client_for(w.carol).get(reverse("cases:review-queue"))

    page = content(response)
    assert page.index("Alice&#x27;s submitted rationale.") < page.index("Second in line.")
    assert "Mallory&#x27;s assessment." not in page and f"review-{other_org.pk}" not in page
    assert "Witness statement 7" in page  # the curator's own organisation's internal source
    # Beside the proposal: the recommendation's current, published state.
    item = page[page.index(f'id="review-{w.submitted.pk}"') : page.index(f'id="review-{second.pk}"')]
    assert "Current (published)" in item and "badge--partially_implemented" in item
    assert f'action="{reverse("cases:review-publish", args=[w.submitted.pk])}"' in item
    assert f'formaction="{reverse("cases:review-return", args=[w.submitted.pk])}"' in item
    assert [a.pk for a in response.context["items"]] == [w.submitted.pk, second.pk]


def test_queue_of_another_organisation_is_separate(w):
    page = content(client_for(w.olga).get(reverse("cases:review-queue")))
    assert "Alice&#x27;s submitted rationale." not in page
    assert "Nothing waits for review." in page


def test_publish_happy_path(w):
    response = client_for(w.carol).post(
        reverse("cases:review-publish", args=[w.submitted.pk]), {"confirm": "on"}
    )

    assert response.status_code == 302 and response["Location"] == reverse("cases:review-queue")
    w.submitted.refresh_from_db()
    w.rec.refresh_from_db()
    assert w.submitted.review_state == ReviewState.PUBLISHED
    assert w.submitted.reviewer == w.carol and w.submitted.published_at is not None
    assert w.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    last = w.submitted.transitions.last()
    assert (last.from_state, last.to_state, last.actor) == (
        ReviewState.SUBMITTED,
        ReviewState.PUBLISHED,
        w.carol,
    )
    assert any("was published" in m for m in messages_of(response))


def test_return_happy_path_and_author_resubmits(w):
    carol, alice = client_for(w.carol), client_for(w.alice)
    comment = "Add the CERD decision of 24 November 2022 <please>."
    response = carol.post(reverse("cases:review-return", args=[w.submitted.pk]), {"comment": comment})

    assert response.status_code == 302
    w.submitted.refresh_from_db()
    assert w.submitted.review_state == ReviewState.RETURNED and w.submitted.review_comment == comment
    last = w.submitted.transitions.last()
    assert (last.to_state, last.actor, last.comment) == (ReviewState.RETURNED, w.carol, comment)

    # The author sees the comment and the form prefilled with their assessment.
    url = reverse("cases:assessment-resubmit", args=[w.submitted.pk])
    page = content(alice.get(url))
    assert "Add the CERD decision of 24 November 2022 &lt;please&gt;." in page
    assert "returned it with this comment" in page
    assert "Alice&#x27;s submitted rationale.</textarea>" in page
    assert re.search(rf'value="{w.public_ev.pk}" id="id_evidence_\d+" checked', page)
    assert 'value="not_implemented" required id="id_implementation_status_1" checked' in page

    response = alice.post(
        url,
        assessment_data(
            w, rationale="Now citing the CERD decision.", evidence=[w.public_ev.pk, w.partners_ev.pk],
            implementation_status=ImplementationStatus.REGRESSED,
        ),
    )  # fmt: skip
    assert response.status_code == 302
    w.submitted.refresh_from_db()
    assert w.submitted.review_state == ReviewState.SUBMITTED and w.submitted.reviewer is None
    assert w.submitted.rationale == "Now citing the CERD decision."
    assert w.submitted.implementation_status == ImplementationStatus.REGRESSED
    assert set(w.submitted.evidence.all()) == {w.public_ev, w.partners_ev}
    last = w.submitted.transitions.last()
    assert (last.from_state, last.to_state, last.actor) == (
        ReviewState.RETURNED,
        ReviewState.SUBMITTED,
        w.alice,
    )

    # It is back in the queue, with the earlier comment beside it, and can be published.
    assert "Returned earlier with this comment" in content(carol.get(reverse("cases:review-queue")))
    carol.post(reverse("cases:review-publish", args=[w.submitted.pk]), {"confirm": "on"})
    w.submitted.refresh_from_db()
    assert w.submitted.review_state == ReviewState.PUBLISHED
    # Once resubmitted, the resubmit page is gone.
    assert alice.get(url).status_code == 404


def test_resubmit_validation_changes_nothing(w):
    url = reverse("cases:assessment-resubmit", args=[w.returned.pk])
    response = client_for(w.alice).post(
        url, assessment_data(w, assessed_on="2999-01-01", rationale="Edited.")
    )
    assert response.status_code == 200
    assert "cannot be in the future" in content(response) and "Edited." in content(response)
    w.returned.refresh_from_db()
    assert w.returned.review_state == ReviewState.RETURNED and w.returned.rationale == "Alice's first draft."


def test_resubmit_only_when_returned(w):
    url = reverse("cases:assessment-resubmit", args=[w.submitted.pk])
    assert client_for(w.alice).get(url).status_code == 404
    assert client_for(w.alice).post(url, assessment_data(w)).status_code == 404


@pytest.mark.parametrize("comment", ["", "   ", "c" * 2001])
def test_return_needs_a_comment(w, comment):
    response = client_for(w.carol).post(
        reverse("cases:review-return", args=[w.submitted.pk]), {"comment": comment}
    )
    assert response.status_code == 200
    page = content(response)
    assert "The assessment was not returned" in page
    assert ("Say what the author should change." in page) or ("at most 2000 characters" in page)
    if comment.strip():
        assert comment in page  # the typed comment is kept
    w.submitted.refresh_from_db()
    assert w.submitted.review_state == ReviewState.SUBMITTED


def test_four_eyes_via_the_web(w):
    own = submit(w.rec2, w.carol, [w.public_ev], rationale="Carol's own assessment.")
    carol = client_for(w.carol)
    page = content(carol.get(reverse("cases:review-queue")))
    item = page[page.index(f'id="review-{own.pk}"') :]
    assert "You wrote this — another curator must review it." in item
    assert reverse("cases:review-publish", args=[own.pk]) not in page
    assert reverse("cases:review-return", args=[own.pk]) not in page

    # The missing button is not the protection: a hand-made POST is refused on the server.
    for name, data in (
        ("cases:review-publish", {"confirm": "on"}),
        ("cases:review-return", {"comment": "Fine by me."}),
    ):
        response = carol.post(reverse(name, args=[own.pk]), data)
        assert response.status_code == 302
        assert any("Four eyes" in m for m in messages_of(response))
    own.refresh_from_db()
    assert own.review_state == ReviewState.SUBMITTED and own.reviewer is None
    assert own.transitions.count() == 1

    client_for(w.dave).post(reverse("cases:review-publish", args=[own.pk]), {"confirm": "on"})
    own.refresh_from_db()
    assert own.review_state == ReviewState.PUBLISHED and own.reviewer == w.dave


def test_second_review_of_a_reviewed_assessment_is_a_clear_error(w):
    carol, dave = client_for(w.carol), client_for(w.dave)
    carol.post(reverse("cases:review-publish", args=[w.submitted.pk]), {"confirm": "on"})

    response = dave.post(reverse("cases:review-publish", args=[w.submitted.pk]), {"confirm": "on"})
    assert response.status_code == 302
    assert "This assessment was already published by carol." in messages_of(response)
    response = dave.post(reverse("cases:review-return", args=[w.submitted.pk]), {"comment": "Too late?"})
    assert "This assessment was already published by carol." in messages_of(response)

    w.submitted.refresh_from_db()
    assert w.submitted.reviewer == w.carol and w.submitted.review_state == ReviewState.PUBLISHED
    assert w.submitted.transitions.count() == 2
    # And on the next page the error is shown to the curator.
    assert "already published by carol" in content(dave.get(reverse("cases:review-queue")))


def test_publishing_a_returned_assessment_is_refused(w):
    response = client_for(w.dave).post(
        reverse("cases:review-publish", args=[w.returned.pk]), {"confirm": "on"}
    )
    assert "already returned to its author by carol" in " ".join(messages_of(response))
    w.returned.refresh_from_db()
    assert w.returned.review_state == ReviewState.RETURNED


def test_user_text_is_escaped_in_the_queue(w):
    evidence = make_evidence(w.alice, "https://example.org/x", title="<script>alert('t')</script>")
    submit(w.rec, w.alice, [evidence], rationale="<img src=x onerror=alert(1)>")
    page = content(client_for(w.carol).get(reverse("cases:review-queue")))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page


# --- CSRF ------------------------------------------------------------------------------------------------


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_csrf_is_enforced_on_every_write(w):
    alice, carol = _csrf_client(w.alice), _csrf_client(w.carol)
    before = (Assessment.objects.count(), Evidence.objects.count(), AssessmentTransition.objects.count())
    assert alice.post(reverse("cases:assess", args=[w.rec.code]), assessment_data(w)).status_code == 403
    assert alice.post(reverse("cases:evidence-new"), evidence_data()).status_code == 403
    assert (
        alice.post(reverse("cases:assessment-resubmit", args=[w.returned.pk]), assessment_data(w)).status_code
        == 403
    )
    assert carol.post(reverse("cases:review-publish", args=[w.submitted.pk])).status_code == 403
    assert (
        carol.post(reverse("cases:review-return", args=[w.submitted.pk]), {"comment": "x"}).status_code == 403
    )
    assert (
        Assessment.objects.count(),
        Evidence.objects.count(),
        AssessmentTransition.objects.count(),
    ) == before


def test_csrf_token_from_the_page_is_accepted(w):
    # The positive control for the test above: the same client succeeds with the page's token.
    carol = _csrf_client(w.carol)
    page = content(carol.get(reverse("cases:review-queue")))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = carol.post(
        reverse("cases:review-publish", args=[w.submitted.pk]),
        {"csrfmiddlewaretoken": token, "confirm": "on"},
    )
    assert response.status_code == 302
    w.submitted.refresh_from_db()
    assert w.submitted.review_state == ReviewState.PUBLISHED


# --- Query budgets ---------------------------------------------------------------------------------------


def _fill_queue(w, n: int) -> None:
    for i in range(n):
        rec = make_recommendation(w.document, f"XJ22-Q-{i}", f"Q({i})")
        evidence = make_evidence(w.dave, f"https://example.org/q{i}", recommendations=[rec])
        submit(rec, w.dave, [evidence, w.internal_ev, w.public_ev], rationale=f"Queue item {i}.")


# Session, user, membership with the user's groups joined (the viewer and the role check, cached on the user
# for the request); the queue (assessments with recommendation, State claim, author and corrected
# assessment joined, withheld evidence counted), and one prefetch of the visible evidence.
REVIEW_QUEUE_QUERIES = 5


@pytest.mark.parametrize("rows", [2, 10])
def test_review_queue_query_budget_is_constant(w, rows, django_assert_num_queries):
    _fill_queue(w, rows - 1)  # plus w.submitted
    client = client_for(w.carol)
    client.get(reverse("cases:review-queue"))  # the first request after a login also saves the session
    with django_assert_num_queries(REVIEW_QUEUE_QUERIES):
        response = client.get(reverse("cases:review-queue"))
    assert len(response.context["items"]) == rows


# Session, user, membership with the groups joined; the recommendation, the published marker, the linked
# evidence (checkboxes), the other evidence (list), whether there is anything to correct.
ASSESS_FORM_QUERIES = 8


@pytest.mark.parametrize("extra_evidence", [0, 16])
def test_assess_form_query_budget_is_constant(w, extra_evidence, django_assert_num_queries):
    for i in range(extra_evidence):
        make_evidence(w.alice, f"https://example.org/more{i}", recommendations=[w.rec if i % 2 else w.rec2])
    client = client_for(w.alice)
    url = reverse("cases:assess", args=[w.rec.code])
    client.get(url)  # the first request after a login also saves the session
    with django_assert_num_queries(ASSESS_FORM_QUERIES):
        response = client.get(url)
    assert len(response.context["linked_evidence"]) == 3 + extra_evidence // 2
