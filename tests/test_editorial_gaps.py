"""Issue 16, gaps 2, 4 and 8 (what tests/test_editorial.py left): corrected entries struck through and
counted nowhere; "Status last changed" from the assessments' dates, not the load time; evidence chosen from a
searchable checkbox list; a warning before the lockout; one name for the signed-in devices page; sign-in
continues to the page first asked for."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.forms import published_marker
from cases.models import Assessment, Basis, ImplementationStatus, Recommendation, StateResponse
from tests.factories import PASSWORD, make_evidence, submit
from tests.mfa_helpers import activate_totp, totp_code

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "ohchr-xinjiang-2022.json"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def publish(recommendation, author, reviewer, evidence, **fields):
    return services.publish_assessment(submit(recommendation, author, evidence, **fields), reviewer=reviewer)


def timeline_item(html: str, pk: int) -> str:
    start = html.index(f'id="assessment-{pk}"')
    start = html.rindex("<li", 0, start)
    return html[start : html.index("</li>\n", html.index("</article>", start))]


# --- Gap 2: a corrected entry is struck through and counts nowhere ---------------------------------------


@pytest.fixture
def corrected(personas):
    p = personas
    original = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        implementation_status=ImplementationStatus.IMPLEMENTED,
        state_response=StateResponse.ACCEPTED,
        assessed_on=datetime.date(2024, 3, 1),
        rationale="Mistaken: all released.",
    )
    correction = publish(
        p.rec,
        p.alice,
        p.dave,
        [p.public_ev],
        corrects=original,
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
        assessed_on=datetime.date(2023, 3, 1),
        rationale="The release was not confirmed.",
    )
    return original, correction


def test_corrected_entry_is_struck_through_with_a_link_to_its_correction(personas, corrected):
    original, correction = corrected
    html = _client(personas.alice).get(f"/recommendations/{personas.rec.code}/").content.decode()
    item = timeline_item(html, original.pk)
    assert "timeline__item--corrected" in item
    assert "<del" in item and "Corrected" in item
    assert f'href="#assessment-{correction.pk}"' in item
    # The correction itself is not struck through.
    assert "<del" not in timeline_item(html, correction.pk)
    assert "timeline__item--corrected" not in timeline_item(html, correction.pk)


def test_an_unpublished_correction_strikes_nothing(personas):
    p = personas
    original = publish(p.rec, p.alice, p.carol, [p.public_ev])
    submit(p.rec, p.alice, [p.public_ev], corrects=original, rationale="Pending correction.")
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    item = timeline_item(html, original.pk)
    assert "<del" not in item and "timeline__item--corrected" not in item
    assert "A correction of this assessment waits for review" in item


def test_corrected_entry_counts_nowhere(personas, corrected):
    p = personas
    original, correction = corrected
    p.rec.refresh_from_db()
    # Status computation: the later-dated original no longer outranks its earlier-dated correction.
    assert p.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
    assert p.rec.state_response == StateResponse.NO_RESPONSE
    # Dashboard counts and charts.
    response = _client(p.alice).get("/")
    counts = {row["value"]: row["count"] for row in response.context["implementation_counts"]}
    assert counts[ImplementationStatus.IMPLEMENTED] == 0 and counts[ImplementationStatus.NOT_IMPLEMENTED] == 1
    responses = {row["value"]: row["count"] for row in response.context["response_counts"]}
    assert responses[StateResponse.ACCEPTED] == 0
    # The list's filters.
    listing = _client(p.alice).get("/recommendations/?implementation_status=implemented").content.decode()
    assert 'href="/recommendations/XJ22-151-i/"' not in listing
    # The dashboard's latest list shows the corrected entry struck through, linked to its correction.
    html = response.content.decode()
    latest = html[html.index('id="latest-published"') :]
    entry = latest[latest.index(f"#assessment-{original.pk}") :]
    entry = entry[: entry.index("</li>")]
    assert "<del" in entry and "Corrected" in entry
    assert f"#assessment-{correction.pk}" in entry
    # The evidence page's list of citing assessments too.
    evidence = _client(p.alice).get(f"/evidence/{p.public_ev.pk}/").content.decode()
    cited = evidence[evidence.index('id="citing-assessments"') :]
    entry = cited[cited.index(f"#assessment-{original.pk}") :]
    entry = entry[: entry.index("</li>")]
    assert "<del" in entry and f"#assessment-{correction.pk}" in entry


def test_a_corrected_claim_is_no_longer_the_states_latest_claim(personas):
    p = personas
    first = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        assessed_on=datetime.date(2023, 1, 1),
    )
    wrong = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        assessed_on=datetime.date(2024, 1, 1),
    )
    p.rec.refresh_from_db()
    assert p.rec.state_claim == wrong
    publish(
        p.rec,
        p.alice,
        p.dave,
        [p.public_ev],
        basis=Basis.INDEPENDENT,
        corrects=wrong,
        assessed_on=datetime.date(2024, 2, 1),
        rationale="The State made no such claim; the source was misread.",
    )
    p.rec.refresh_from_db()
    assert p.rec.state_claim == first
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert f'<a href="#assessment-{first.pk}">Claimed as of' in html


# --- Gap 2: "Status last changed" is the date the status changed, not the time it was computed ------------


def _last_changed(html: str) -> str | None:
    match = re.search(r'Status last changed on <time datetime="([\d-]+)">', html)
    return match.group(1) if match else None


def test_loaded_data_set_never_says_the_status_changed_today(db):
    call_command("load_dataset", str(FIXTURE), stdout=io.StringIO(), stderr=io.StringIO())
    from tests.factories import make_user

    viewer = _client(make_user("reader", role="monitor"))
    today = timezone.localdate().isoformat()
    seen = {}
    for code in Recommendation.objects.values_list("code", flat=True):
        html = viewer.get(f"/recommendations/{code}/").content.decode()
        assert f'Status last changed on <time datetime="{today}">' not in html, code
        seen[code] = _last_changed(html)
    # China's rejection of 1 September 2022 set the State response; the 2024 rejection repeated it.
    assert seen["XJ22-151-i"] == "2022-09-01"
    # OHCHR's finding of 27 August 2024 set the implementation status of 151(iii).
    assert seen["XJ22-151-iii"] == "2024-08-27"
    # Nothing published about 152(i): no sentence at all.
    assert seen["XJ22-152-i"] is None


def test_status_last_changed_ignores_repeats_and_corrected_entries(personas):
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], assessed_on=datetime.date(2023, 1, 10))
    # The same status again later: the status did not change.
    publish(p.rec, p.alice, p.carol, [p.public_ev], assessed_on=datetime.date(2024, 1, 10))
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert _last_changed(html) == "2023-01-10"
    wrong = publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        implementation_status=ImplementationStatus.IMPLEMENTED,
        assessed_on=datetime.date(2024, 5, 1),
    )
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert _last_changed(html) == "2024-05-01"
    publish(
        p.rec,
        p.alice,
        p.dave,
        [p.public_ev],
        corrects=wrong,
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
        assessed_on=datetime.date(2024, 5, 1),
    )
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert _last_changed(html) == "2023-01-10"
    # A submitted (unpublished) assessment changes nothing.
    submit(p.rec, p.alice, [p.public_ev], implementation_status=ImplementationStatus.REGRESSED)
    html = _client(p.alice).get(f"/recommendations/{p.rec.code}/").content.decode()
    assert _last_changed(html) == "2023-01-10"


# --- Gap 4: evidence chosen from a searchable checkbox list ---------------------------------------------

LONG_TITLE = (
    "Report of the Special Rapporteur on contemporary forms of slavery, including its causes and "
    "consequences: forced labour among Uyghur and other minorities in the Xinjiang Uyghur Autonomous Region"
)


@pytest.fixture
def other_source(personas):
    return make_evidence(personas.alice, "https://un.example.org/a-hrc-51-26", title=LONG_TITLE)


def test_other_evidence_is_a_checkbox_list_with_a_filter_box(personas, other_source):
    html = _client(personas.alice).get(reverse("cases:assess", args=[personas.rec.code])).content.decode()
    assert "<select" not in html.split('name="other_evidence"')[0][-300:]
    assert re.search(rf'<input type="checkbox" name="other_evidence" value="{other_source.pk}"', html)
    assert LONG_TITLE in html  # whole, not truncated
    assert "Ctrl" not in html and "⌘" not in html
    # The filter box is there for JavaScript to enable; the script is a static file (CSP: no inline script).
    assert 'data-filter-list="' in html
    assert re.search(r'<script src="/static/js/evidence-filter(\.[0-9a-f]+)?\.js" defer></script>', html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert (REPO / "static" / "js" / "evidence-filter.js").exists()


def test_ticked_other_evidence_is_kept_on_errors_and_submitted(personas, other_source):
    p = personas
    alice = _client(p.alice)
    url = reverse("cases:assess", args=[p.rec.code])
    data = {
        "implementation_status": "not_implemented",
        "state_response": "no_response",
        "basis": "independent",
        "assessed_on": "2024-08-27",
        "rationale": "",  # missing: the form comes back
        "other_evidence": [str(other_source.pk)],
        "seen": published_marker(p.rec),
    }
    response = alice.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(
        rf'<input type="checkbox" name="other_evidence" value="{other_source.pk}"[^>]*checked', html
    )
    data["rationale"] = "Forced labour continues."
    response = alice.post(url, data)
    assert response.status_code == 302
    assessment = Assessment.objects.get(rationale="Forced labour continues.")
    assert list(assessment.evidence.all()) == [other_source]


def test_other_evidence_refuses_what_the_viewer_may_not_see(personas):
    p = personas
    url = reverse("cases:assess", args=[p.rec2.code])
    response = _client(p.alice).post(
        url,
        {
            "implementation_status": "not_implemented",
            "state_response": "no_response",
            "basis": "independent",
            "assessed_on": "2024-08-27",
            "rationale": "Mallory's source.",
            "other_evidence": [str(p.mallory_internal.pk)],
            "seen": published_marker(p.rec2),
        },
    )
    assert response.status_code == 200
    assert "not available to you" in response.content.decode()
    assert "Mallory&#x27;s note" not in response.content.decode()
    assert not Assessment.objects.filter(rationale="Mallory's source.").exists()


def test_filter_script_is_csp_safe():
    script = (REPO / "static" / "js" / "evidence-filter.js").read_text()
    assert "eval(" not in script and "innerHTML" not in script and ".style" not in script


# --- Gap 8: a warning before the lockout -----------------------------------------------------------------

LOGIN = reverse("account_login")
WARNING = "before signing in with this name is paused"


@pytest.fixture(autouse=False)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _fail(client: Client, login: str) -> str:
    return client.post(LOGIN, {"login": login, "password": "not the password at all"}).content.decode()


@pytest.mark.usefixtures("fresh_cache")
def test_warning_when_one_or_two_attempts_remain(personas, settings):
    settings.AXES_FAILURE_LIMIT = 5
    client = Client()
    pages = [_fail(client, "carol") for _ in range(4)]
    assert [WARNING in page for page in pages] == [False, False, True, True]
    assert "2 attempts left" in pages[2]
    assert "1 attempt left" in pages[3]
    assert "carol" not in pages[3].split("<form")[0]


@pytest.mark.usefixtures("fresh_cache")
def test_warning_does_not_reveal_whether_the_account_exists(personas, settings):
    settings.AXES_FAILURE_LIMIT = 5

    def strip(page: str) -> str:
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
        return re.sub(r'value="(carol|nobody-here)"', "", page)

    real = [_fail(Client(), "carol") for _ in range(3)][-1]
    unknown = [_fail(Client(), "nobody-here") for _ in range(3)][-1]
    assert WARNING in real
    assert strip(real) == strip(unknown)


@pytest.mark.usefixtures("fresh_cache")
def test_no_warning_after_a_successful_sign_in_reset(personas, settings):
    settings.AXES_FAILURE_LIMIT = 5
    client = Client()
    for _ in range(3):
        _fail(client, "alice")
    assert client.post(LOGIN, {"login": "alice", "password": PASSWORD}).status_code == 302
    assert WARNING not in _fail(Client(), "alice")


# --- Gap 8: one name for the signed-in devices page ------------------------------------------------------


def test_the_sessions_page_has_one_name_everywhere(personas):
    alice = _client(personas.alice)
    dashboard = alice.get("/").content.decode()
    page = alice.get(reverse("usersessions_list")).content.decode()
    password = alice.get(reverse("account_change_password")).content.decode()
    url = reverse("usersessions_list")
    for html in (dashboard, password):
        assert re.search(rf'<a href="{url}"[^>]*>Signed-in devices</a>', html)
    assert "<title>Signed-in devices" in page
    assert re.search(r"<h1[^>]*>\s*Signed-in devices\s*</h1>", page)
    for html in (dashboard, page, password):
        assert not re.search(r">\s*(Signed-in sessions|Sessions)\s*<", html)
        assert "Sign Out Other Sessions" not in html


# --- Gap 8: sign-in continues to the page first asked for -----------------------------------------------


@pytest.mark.usefixtures("fresh_cache")
def test_sign_in_continues_to_the_requested_page(personas):
    client = Client()
    target = f"/recommendations/{personas.rec.code}/"
    response = client.get(target)
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next={target}"
    page = client.get(response["Location"]).content.decode()
    assert f'name="next" value="{target}"' in page
    response = client.post(LOGIN, {"login": "alice", "password": PASSWORD, "next": target})
    assert response["Location"] == target


@pytest.mark.usefixtures("fresh_cache")
@pytest.mark.parametrize("unsafe", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_sign_in_refuses_a_next_off_the_site(personas, unsafe):
    response = Client().post(LOGIN, {"login": "alice", "password": PASSWORD, "next": unsafe})
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:dashboard")


@pytest.mark.usefixtures("fresh_cache")
def test_the_second_factor_step_continues_to_the_requested_page(personas, settings):
    settings.MFA_ENFORCE = True
    _authenticator, secret = activate_totp(personas.carol)
    client = Client()
    target = reverse("cases:review-queue")
    response = client.post(LOGIN, {"login": "carol", "password": PASSWORD, "next": target})
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == target
    assert client.get(target).status_code == 200
