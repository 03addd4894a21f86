"""The curators' admin panel: who gets in, what each page shows, and that every write keeps the workflow's
rules (services, four eyes, visibility, the immutable public record)."""

from __future__ import annotations

import datetime
import re
from html import escape
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import (
    ApiKey,
    Assessment,
    AssessmentTransition,
    Basis,
    Confidentiality,
    Evidence,
    ImplementationStatus,
    Membership,
    Recommendation,
    ReviewState,
    StateResponse,
    Theme,
)
from tests.factories import make_evidence, make_recommendation, make_user, submit
from tracker.accounts.roles import CURATORS

# --- Helpers -------------------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collects the named fields of the page's forms as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str, str]] = []  # (tag, type, name)
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            self.fields.append((tag, kind, name))
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self.fields.append((tag, "", name))
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self.fields.append((tag, "", name))
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Django starts a textarea's content with a newline the browser drops.
            self.data[self._textarea] = [self._text.removeprefix("\n")]
            self._textarea = None


def parse_form(response) -> _FormParser:
    parser = _FormParser()
    parser.feed(response.content.decode())
    return parser


def form_data(response, **changes) -> dict:
    """The page's form as submitted unchanged, with `changes` applied."""
    data = {
        name: values if len(values) != 1 else values[0] for name, values in parse_form(response).data.items()
    }
    data.update(changes)
    return data


def editable_fields(response) -> list[tuple[str, str, str]]:
    """Named controls a user could change or submit: everything but hidden inputs."""
    return [field for field in parse_form(response).fields if field[1] != "hidden"]


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(model: str, view: str, *args, app: str = "cases") -> str:
    return reverse(f"admin:{app}_{model}_{view}", args=args)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def action(client: Client, model: str, name: str, objects, **extra):
    data = {"action": name, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(url(model, "changelist"), data)


# --- Fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
def world(personas):
    """Personas plus assessments in each state, including another organisation's (Mallory's)."""
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    published = submit(p.rec, p.alice, [p.public_ev, p.internal_ev], assessed_on=datetime.date(2023, 1, 10))
    services.publish_assessment(published, reviewer=p.dave)
    submitted = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        assessed_on=datetime.date(2024, 9, 1),
        rationale="Some detainees were released.",
    )
    carols_own = submit(p.rec2, p.carol, [p.public_ev], rationale="Carol's own reading.")
    mallory_submitted = submit(
        p.rec, p.mallory, [p.mallory_internal], rationale="Mallory's unpublished draft."
    )
    mallory_published = submit(
        p.rec, p.mallory, [p.public_ev, p.mallory_internal], rationale="Mallory's finding."
    )
    services.publish_assessment(mallory_published, reviewer=oscar)
    mallory_public_ev = make_evidence(
        p.mallory, "https://news.example.org/mallory-public", title="Other NGO's report"
    )
    own_public_key, own_public_secret = services.issue_api_key(p.org, clearance="public", name="ours")
    own_partners_key, own_partners_secret = services.issue_api_key(
        p.org, clearance="partners", name="ours, partners"
    )
    return SimpleNamespace(
        **vars(p),
        oscar=oscar,
        published=published,
        submitted=submitted,
        carols_own=carols_own,
        mallory_submitted=mallory_submitted,
        mallory_published=mallory_published,
        mallory_public_ev=mallory_public_ev,
        own_public_key=own_public_key,
        own_public_secret=own_public_secret,
        own_partners_key=own_partners_key,
        own_partners_secret=own_partners_secret,
    )


@pytest.fixture
def carol(world) -> Client:
    return client_for(world.carol)


def _objects(w) -> dict:
    """One real object per admin page, keyed by (app, model)."""
    return {
        ("cases", "organisation"): w.org,
        ("cases", "membership"): w.alice.membership,
        ("cases", "document"): w.document,
        ("cases", "theme"): w.theme,
        ("cases", "recommendation"): w.rec,
        ("cases", "evidence"): w.internal_ev,
        ("cases", "assessment"): w.published,
        ("cases", "assessmenttransition"): w.published.transitions.first(),
        ("cases", "apikey"): w.own_public_key,
        ("auth", "user"): w.alice,
    }


ADDABLE = {"organisation", "membership", "document", "theme", "recommendation", "evidence", "apikey", "user"}
# Issue 9: curators add no organisations, memberships or users (accounts come by invitation); of
# organisations a curator sees her own only, to choose whether the public site names it (issue 13).
CURATOR_ADDS = ADDABLE - {"organisation", "membership", "user"}
SUPERUSER_ONLY: set[str] = set()
WITH_SIMPLE_HISTORY = {"document", "theme", "recommendation", "evidence"}
MODELS = [
    ("cases", "organisation"),
    ("cases", "membership"),
    ("cases", "document"),
    ("cases", "theme"),
    ("cases", "recommendation"),
    ("cases", "evidence"),
    ("cases", "assessment"),
    ("cases", "assessmenttransition"),
    ("cases", "apikey"),
    ("auth", "user"),
]


def views_of(model: str) -> list[str]:
    return [view for view in ("changelist", "add", "change", "history") if view != "add" or model in ADDABLE]


def page_url(world, app: str, model: str, view: str) -> str:
    obj = _objects(world)[(app, model)]
    args = (obj.pk,) if view in {"change", "history"} else ()
    return url(model, view, *args, app=app)


# --- Who gets in ---------------------------------------------------------------------------------------


class TestAccess:
    # One test per model (not per page) keeps the suite fast: the world takes a while to build.
    @pytest.mark.parametrize(("app", "model"), [m for m in MODELS if m[1] not in SUPERUSER_ONLY])
    def test_curator_sees_every_page(self, world, carol, app, model):
        obj = _objects(world)[(app, model)]
        for view in views_of(model):
            if view == "add" and model not in CURATOR_ADDS:
                continue
            response = carol.get(page_url(world, app, model, view))
            assert response.status_code == 200, view
            content = response.content.decode()
            if view == "changelist":
                assert url(model, "change", obj.pk, app=app) in content
            elif view != "add":
                assert escape(str(obj)) in content, view
            if view == "history" and model in WITH_SIMPLE_HISTORY:
                assert "simple_history/object_history.html" in [t.name for t in response.templates]

    def test_other_organisations_are_for_operators_only(self, world, carol):
        """Issue 9: anything across organisations is for instance operators. A curator adds and deletes no
        organisation and sees no other one (issue 13 lets her see her own)."""
        root = client_for(
            make_user("root", role=None, organisation=world.org, is_superuser=True, is_staff=True)
        )
        for view, args in (("add", ()), ("delete", (world.org.pk,))):
            assert carol.get(url("organisation", view, *args)).status_code == 403, view
            assert root.get(url("organisation", view, *args)).status_code == 200, view
        for view in ("change", "history"):
            assert carol.get(url("organisation", view, world.other_org.pk)).status_code == 302, view
            assert root.get(url("organisation", view, world.other_org.pk)).status_code == 200, view
        assert world.other_org.name not in carol.get(url("organisation", "changelist")).content.decode()

    def test_curators_add_accounts_by_invitation_and_no_memberships(self, world, carol):
        """Issue 9: accounts are made by invitation (the user add page leads there); memberships come
        with the account and are not added by hand."""
        response = carol.get(url("user", "add", app="auth"))
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:accounts_invitation_add")
        assert carol.get(url("membership", "add")).status_code == 403

    @pytest.mark.parametrize(("app", "model"), MODELS)
    def test_monitor_and_anonymous_are_sent_to_the_admin_login(self, world, app, model):
        counts = {m: m.objects.count() for m in (Evidence, Assessment, ApiKey, Membership, Recommendation)}
        for client in (client_for(world.alice), Client()):
            for view in views_of(model):
                target = page_url(world, app, model, view)
                for response in (client.get(target), client.post(target, {"name": "x", "title": "x"})):
                    assert response.status_code == 302, (view, response.request["REQUEST_METHOD"])
                    assert response["Location"].startswith("/admin/login/?next=")
        assert counts == {m: m.objects.count() for m in counts}

    def test_assessments_and_transitions_cannot_be_added(self, carol):
        assert carol.get(url("assessment", "add")).status_code == 403
        assert carol.get(url("assessmenttransition", "add")).status_code == 403

    def test_admin_login_goes_through_the_accounts_pages(self, world):
        response = Client().get("/admin/login/?next=/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
        assert "next=%2Fadmin%2F" in response["Location"]
        # A signed-in monitor is refused outright rather than offered another password form.
        assert client_for(world.alice).get("/admin/login/?next=/admin/").status_code == 403

    def test_site_header(self, carol):
        response = carol.get(reverse("admin:index"))
        assert "Accountability Tracker administration" in response.content.decode()


# --- Visibility ----------------------------------------------------------------------------------------


class TestVisibility:
    def test_evidence_list_hides_other_organisations_internal_sources(self, world, carol):
        content = carol.get(url("evidence", "changelist")).content.decode()
        assert world.internal_ev.title in content
        assert escape(world.mallory_public_ev.title) in content
        assert escape(world.mallory_internal.title) not in content

    def test_other_organisations_internal_evidence_pages_are_closed(self, world, carol):
        pk = world.mallory_internal.pk
        response = carol.get(url("evidence", "change", pk))
        assert response.status_code == 302  # the admin's "does not exist" redirect
        assert carol.get(url("evidence", "history", pk)).status_code == 404
        version = world.mallory_internal.history.first().history_id
        assert carol.get(url("evidence", "simple_history", pk, version)).status_code == 404

    def test_assessment_lists_hide_other_organisations_unpublished_work(self, world, carol):
        content = carol.get(url("assessment", "changelist")).content.decode()
        assert reverse("admin:cases_assessment_change", args=[world.submitted.pk]) in content
        assert reverse("admin:cases_assessment_change", args=[world.mallory_published.pk]) in content
        assert reverse("admin:cases_assessment_change", args=[world.mallory_submitted.pk]) not in content
        assert carol.get(url("assessment", "change", world.mallory_submitted.pk)).status_code == 302
        transitions = carol.get(url("assessmenttransition", "changelist")).context["cl"].result_list
        assert world.mallory_submitted.pk not in {t.assessment_id for t in transitions}
        # The review trail is its organisation's alone, even once the assessment is published (issue 9).
        assert world.mallory_published.pk not in {t.assessment_id for t in transitions}
        assert world.submitted.pk in {t.assessment_id for t in transitions}

    def test_assessment_page_counts_withheld_sources_without_naming_them(self, world, carol):
        content = carol.get(url("assessment", "change", world.mallory_published.pk)).content.decode()
        assert world.public_ev.title in content
        assert "1 withheld source" in content
        assert "Mallory&#x27;s note" not in content and world.mallory_internal.url not in content

    def test_recommendation_page_lists_only_visible_evidence_and_assessments(self, world, carol):
        content = carol.get(url("recommendation", "change", world.rec.pk)).content.decode()
        assert world.internal_ev.title in content
        assert "Mallory&#x27;s note" not in content
        assert "Mallory&#x27;s unpublished draft" not in content
        change_link = reverse("admin:cases_assessment_change", args=[world.submitted.pk])
        assert change_link in content
        assert reverse("admin:cases_assessment_change", args=[world.mallory_submitted.pk]) not in content

    def test_saving_a_recommendation_keeps_links_the_curator_cannot_see(self, world, carol):
        page = carol.get(url("recommendation", "change", world.rec.pk))
        response = carol.post(url("recommendation", "change", world.rec.pk), form_data(page))
        assert response.status_code == 302, response.context and response.context["errors"]
        assert world.rec.evidence.filter(pk=world.mallory_internal.pk).exists()

    def test_user_list_shows_own_organisation_only(self, world, carol):
        users = carol.get(url("user", "changelist", app="auth")).context["cl"].result_list
        assert {u.username for u in users} == {"alice", "carol", "dave"}
        assert carol.get(url("user", "change", world.mallory.pk, app="auth")).status_code == 302


# --- Assessments: immutable record and review actions ---------------------------------------------------


class TestAssessmentRecord:
    def test_published_assessment_form_has_no_editable_inputs(self, world, carol):
        response = carol.get(url("assessment", "change", world.published.pk))
        assert response.status_code == 200
        assert editable_fields(response) == []
        content = response.content.decode()
        assert 'name="_save"' not in content
        assert world.published.rationale in content

    def test_posting_a_change_to_a_published_assessment_is_refused(self, world, carol):
        before = Assessment.objects.values().get(pk=world.published.pk)
        response = carol.post(
            url("assessment", "change", world.published.pk),
            {
                "rationale": "Rewritten history.",
                "implementation_status": "implemented",
                "review_state": "submitted",
            },
        )
        assert response.status_code == 403
        assert Assessment.objects.values().get(pk=world.published.pk) == before

    def test_published_assessment_cannot_be_deleted(self, world, carol):
        delete_url = url("assessment", "delete", world.published.pk)
        assert carol.get(delete_url).status_code == 403
        assert carol.post(delete_url, {"post": "yes"}).status_code == 403
        assert Assessment.objects.filter(pk=world.published.pk).exists()

    def test_bulk_delete_is_not_offered(self, world, carol):
        content = carol.get(url("assessment", "changelist")).content.decode()
        assert 'value="delete_selected"' not in content
        response = action(
            carol, "assessment", "delete_selected", [world.published, world.submitted], post="yes"
        )
        assert response.status_code == 302
        assert Assessment.objects.filter(pk__in=[world.published.pk, world.submitted.pk]).count() == 2

    def test_unpublished_assessment_can_be_deleted_one_at_a_time(self, world, carol):
        response = carol.post(url("assessment", "delete", world.submitted.pk), {"post": "yes"})
        assert response.status_code == 302
        assert not Assessment.objects.filter(pk=world.submitted.pk).exists()


class TestReviewActions:
    def test_publish_goes_through_the_service(self, world, carol):
        response = action(carol, "assessment", "publish_selected", [world.submitted])
        assert response.status_code == 302
        assert "Published 1 assessment." in message_texts(response)
        world.submitted.refresh_from_db()
        assert world.submitted.review_state == ReviewState.PUBLISHED
        assert world.submitted.reviewer == world.carol
        assert world.submitted.published_at is not None
        transition = world.submitted.transitions.last()
        assert (transition.from_state, transition.to_state, transition.actor) == (
            ReviewState.SUBMITTED,
            ReviewState.PUBLISHED,
            world.carol,
        )
        world.rec.refresh_from_db()
        assert world.rec.implementation_status == ImplementationStatus.PARTIALLY_IMPLEMENTED

    def test_four_eyes_curator_cannot_publish_own_assessment(self, world, carol):
        response = action(carol, "assessment", "publish_selected", [world.carols_own, world.submitted])
        assert response.status_code == 302
        texts = message_texts(response)
        assert any("Four eyes" in t and str(world.carols_own) in t for t in texts)
        assert "Published 1 assessment." in texts
        world.carols_own.refresh_from_db()
        assert world.carols_own.review_state == ReviewState.SUBMITTED
        assert world.carols_own.reviewer is None
        assert list(world.carols_own.transitions.values_list("to_state", flat=True)) == [
            ReviewState.SUBMITTED
        ]
        followed = carol.get(url("assessment", "changelist"))
        assert "Four eyes" in followed.content.decode()

    def test_publishing_a_published_assessment_is_an_error_not_a_crash(self, world, carol):
        response = action(carol, "assessment", "publish_selected", [world.published])
        assert response.status_code == 302
        assert any("cannot go from" in t for t in message_texts(response))
        assert world.published.transitions.count() == 2

    def test_other_organisations_submissions_cannot_be_acted_on(self, world, carol):
        response = action(carol, "assessment", "publish_selected", [world.mallory_submitted])
        assert response.status_code == 302
        world.mallory_submitted.refresh_from_db()
        assert world.mallory_submitted.review_state == ReviewState.SUBMITTED

    def test_return_asks_for_a_comment_first(self, world, carol):
        response = action(carol, "assessment", "return_selected", [world.submitted])
        assert response.status_code == 200
        assert "admin/cases/assessment/return_selected.html" in [t.name for t in response.templates]
        assert ("textarea", "", "comment") in parse_form(response).fields
        assert str(world.submitted) in response.content.decode()
        world.submitted.refresh_from_db()
        assert world.submitted.review_state == ReviewState.SUBMITTED

    def test_return_without_a_comment_is_refused(self, world, carol):
        response = action(carol, "assessment", "return_selected", [world.submitted], apply="1", comment="   ")
        assert response.status_code == 200
        assert "errorlist" in response.content.decode()
        world.submitted.refresh_from_db()
        assert world.submitted.review_state == ReviewState.SUBMITTED

    def test_return_with_the_intermediate_page_stores_the_comment(self, world, carol):
        page = action(carol, "assessment", "return_selected", [world.submitted])
        response = carol.post(
            url("assessment", "changelist"), form_data(page, comment="Cite the 2024 report.")
        )
        assert response.status_code == 302
        assert "Returned 1 assessment." in message_texts(response)
        world.submitted.refresh_from_db()
        assert world.submitted.review_state == ReviewState.RETURNED
        assert world.submitted.review_comment == "Cite the 2024 report."
        assert world.submitted.reviewer == world.carol
        transition = world.submitted.transitions.last()
        assert (transition.to_state, transition.comment, transition.actor) == (
            ReviewState.RETURNED,
            "Cite the 2024 report.",
            world.carol,
        )

    def test_return_of_own_assessment_is_refused(self, world, carol):
        response = action(
            carol, "assessment", "return_selected", [world.carols_own], apply="1", comment="Fix it."
        )
        assert response.status_code == 302
        assert any("Four eyes" in t for t in message_texts(response))
        world.carols_own.refresh_from_db()
        assert world.carols_own.review_state == ReviewState.SUBMITTED


# --- Recommendations, evidence, users ------------------------------------------------------------------


class TestRecommendationAdmin:
    def test_status_fields_are_read_only(self, world, carol):
        page = carol.get(url("recommendation", "change", world.rec.pk))
        names = {name for _tag, _kind, name in editable_fields(page)}
        assert {"code", "text", "paragraph"} <= names
        assert not names & {"implementation_status", "state_response", "state_claim", "status_updated_at"}
        data = form_data(page, implementation_status=ImplementationStatus.IMPLEMENTED)
        assert carol.post(url("recommendation", "change", world.rec.pk), data).status_code == 302
        world.rec.refresh_from_db()
        assert world.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED

    def test_reverting_to_an_old_version_keeps_the_current_status(self, world, carol):
        first = world.rec.history.earliest()
        assert first.implementation_status == ImplementationStatus.NOT_ASSESSED
        Recommendation.objects.filter(pk=world.rec.pk).update(text="A later wording.")
        version_url = url("recommendation", "simple_history", world.rec.pk, first.history_id)
        page = carol.get(version_url)
        assert page.status_code == 200
        assert carol.post(version_url, form_data(page)).status_code == 302
        world.rec.refresh_from_db()
        assert world.rec.text == first.text
        # The status is derived from the published assessments, not from the version reverted to.
        assert world.rec.implementation_status == ImplementationStatus.NOT_IMPLEMENTED
        assert world.rec.status_updated_at is not None

    def test_history_lists_an_admin_edit(self, world, carol):
        page = carol.get(url("recommendation", "change", world.rec.pk))
        data = form_data(page, text="Release all individuals arbitrarily deprived of liberty.")
        assert carol.post(url("recommendation", "change", world.rec.pk), data).status_code == 302
        latest = world.rec.history.first()
        assert latest.history_user == world.carol
        assert latest.text == "Release all individuals arbitrarily deprived of liberty."
        content = carol.get(url("recommendation", "history", world.rec.pk)).content.decode()
        assert "carol" in content
        assert "Release all individuals arbitrarily deprived of liberty." in content

    def test_history_revert_needs_change_permission(self, world, carol):
        version = world.mallory_public_ev.history.first().history_id
        page = carol.get(url("evidence", "simple_history", world.mallory_public_ev.pk, version))
        assert page.status_code == 200
        response = carol.post(
            url("evidence", "simple_history", world.mallory_public_ev.pk, version),
            form_data(page, title="Hijacked"),
        )
        assert response.status_code == 403
        world.mallory_public_ev.refresh_from_db()
        assert world.mallory_public_ev.title == "Other NGO's report"

    def _link_evidence(self, carol, recommendation, evidence):
        page = carol.get(url("recommendation", "change", recommendation.pk))
        prefix = "Evidence_recommendations"
        index = int(form_data(page)[f"{prefix}-TOTAL_FORMS"])
        data = form_data(
            page, **{f"{prefix}-TOTAL_FORMS": str(index + 1), f"{prefix}-{index}-evidence": str(evidence.pk)}
        )
        return carol.post(url("recommendation", "change", recommendation.pk), data)

    def test_evidence_can_be_linked_from_the_recommendation(self, world, carol):
        before = set(world.rec2.evidence.all())
        assert world.internal_ev not in before
        assert self._link_evidence(carol, world.rec2, world.internal_ev).status_code == 302
        assert set(world.rec2.evidence.all()) == before | {world.internal_ev}

    def test_invisible_evidence_cannot_be_linked(self, world, carol):
        response = self._link_evidence(carol, world.rec2, world.mallory_internal)
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not world.rec2.evidence.filter(pk=world.mallory_internal.pk).exists()


EVIDENCE_FORM = {
    "title": "Satellite imagery of a detention facility",
    "url": "https://research.example.org/imagery",
    "publisher": "Example Institute",
    "published_on": "2023-05-02",
    "kind": "academic",
    "language": "en",
    "excerpt": "The facility was expanded.",
    "confidentiality": Confidentiality.PARTNERS,
    "archive_url": "",
}


class TestEvidenceAdmin:
    def test_added_evidence_defaults_to_the_curators_organisation(self, world, carol):
        data = {**EVIDENCE_FORM, "organisation": "", "recommendations": [world.rec2.pk]}
        before = Recommendation.objects.get(pk=world.rec2.pk).updated_at
        response = carol.post(url("evidence", "add"), data)
        assert response.status_code == 302
        evidence = Evidence.objects.get(url=EVIDENCE_FORM["url"])
        assert evidence.organisation == world.org
        assert evidence.added_by == world.carol
        assert list(evidence.recommendations.all()) == [world.rec2]
        assert Recommendation.objects.get(pk=world.rec2.pk).updated_at > before
        assert evidence.history.first().history_user == world.carol

    def test_curator_cannot_file_evidence_under_another_organisation(self, world, carol):
        response = carol.post(url("evidence", "add"), {**EVIDENCE_FORM, "organisation": world.other_org.pk})
        assert response.status_code == 200
        assert "organisation" in response.context["adminform"].form.errors
        assert not Evidence.objects.filter(url=EVIDENCE_FORM["url"]).exists()

    def test_non_http_url_is_rejected(self, world, carol):
        response = carol.post(url("evidence", "add"), {**EVIDENCE_FORM, "url": "javascript:alert(1)"})
        assert response.status_code == 200
        assert not Evidence.objects.filter(title=EVIDENCE_FORM["title"]).exists()

    def test_another_organisations_evidence_is_view_only(self, world, carol):
        page = carol.get(url("evidence", "change", world.mallory_public_ev.pk))
        assert page.status_code == 200
        assert editable_fields(page) == []
        response = carol.post(url("evidence", "change", world.mallory_public_ev.pk), {**EVIDENCE_FORM})
        assert response.status_code == 403
        assert carol.get(url("evidence", "delete", world.mallory_public_ev.pk)).status_code == 403

    def test_evidence_cited_by_a_published_assessment_cannot_be_deleted(self, world, carol):
        assert carol.get(url("evidence", "delete", world.internal_ev.pk)).status_code == 403
        response = action(carol, "evidence", "delete_selected", [world.internal_ev], post="yes")
        assert response.status_code == 403
        assert Evidence.objects.filter(pk=world.internal_ev.pk).exists()

    def test_uncited_own_evidence_can_be_deleted(self, world, carol):
        response = carol.post(url("evidence", "delete", world.partners_ev.pk), {"post": "yes"})
        assert response.status_code == 302
        assert not Evidence.objects.filter(pk=world.partners_ev.pk).exists()


class TestUserAdmin:
    def test_list_shows_organisation_and_roles(self, world, carol):
        content = carol.get(url("user", "changelist", app="auth")).content.decode()
        assert "Curators" in content and "Monitors" in content
        assert world.org.name in content

    def test_user_form_creates_nobody_accounts_come_by_invitation(self, world, carol):
        """Issue 9: accounts come by invitation; the old user form creates nobody."""
        data = {
            "username": "erin",
            "password1": "a long and unusual passphrase",
            "password2": "a long and unusual passphrase",
            "usable_password": "true",
        }
        response = carol.post(url("user", "add", app="auth"), data)
        assert response.status_code in {302, 403}
        assert not Membership.objects.filter(user__username="erin").exists()

    def test_curator_cannot_grant_superuser(self, world, carol):
        page = carol.get(url("user", "change", world.alice.pk, app="auth"))
        assert "is_superuser" not in {n for _t, _k, n in editable_fields(page)}
        data = form_data(page, is_superuser="on", email="alice@example.org")
        assert carol.post(url("user", "change", world.alice.pk, app="auth"), data).status_code == 302
        world.alice.refresh_from_db()
        assert not world.alice.is_superuser

    def test_curator_cannot_move_anyone_into_another_organisation(self, world, carol):
        page = carol.get(url("membership", "change", world.carol.membership.pk))
        response = carol.post(
            url("membership", "change", world.carol.membership.pk),
            form_data(page, organisation=str(world.other_org.pk)),
        )
        # Memberships are read-only for curators (issue 9); before, the choice was refused in the form.
        assert response.status_code in {200, 403}
        assert Membership.objects.get(user=world.carol).organisation == world.org

    def test_curator_cannot_change_a_superuser(self, world, carol):
        root = make_user("root", role=None, organisation=world.org, is_superuser=True, is_staff=True)
        assert carol.get(url("user", "change", root.pk, app="auth")).status_code == 200
        assert carol.post(url("user", "change", root.pk, app="auth"), {"username": "x"}).status_code == 403
        assert carol.get(reverse("admin:auth_user_password_change", args=[root.pk])).status_code == 403


# --- API keys ------------------------------------------------------------------------------------------


class TestApiKeyAdmin:
    """A curator administers her own organisation's keys (Partner NGO's are its own curators' business)."""

    def test_new_key_is_shown_once_and_stored_hashed(self, world, carol):
        response = carol.post(
            url("apikey", "add"),
            {
                "organisation": world.org.pk,
                "name": "sync",
                "clearance": "partners",
                "expires_days": "30",
            },
        )
        assert response.status_code == 302
        key = ApiKey.objects.get(name="sync")
        assert response["Location"] == url("apikey", "changelist")
        secrets = [m for m in message_texts(response) if "not be shown again" in m]
        assert len(secrets) == 1
        secret = re.search(r"([0-9a-f]{8}\.\S+)$", secrets[0]).group(1)
        assert secret.startswith(key.prefix + ".")
        assert key.hashed_key == services.hash_key(secret)
        assert secret not in key.hashed_key
        assert (key.organisation, key.clearance, key.created_by) == (
            world.org,
            "partners",
            world.carol,
        )
        assert abs(key.expires_at - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(
            minutes=1
        )
        assert services.authenticate_api_key(secret) == key
        # The page after the redirect shows the secret; no later page does, and none shows the hash.
        first = carol.get(response["Location"]).content.decode()
        assert first.count(secret) == 1
        assert key.hashed_key not in first
        again = carol.get(url("apikey", "change", key.pk)).content.decode()
        assert secret not in again and key.hashed_key not in again

    def test_save_and_continue_opens_the_new_key(self, world, carol):
        response = carol.post(
            url("apikey", "add"),
            {
                "organisation": world.org.pk,
                "name": "edit me",
                "clearance": "public",
                "_continue": "1",
            },
        )
        key = ApiKey.objects.get(name="edit me")
        assert response["Location"] == url("apikey", "change", key.pk)
        assert key.expires_at is None
        assert sum("not be shown again" in m for m in message_texts(response)) == 1

    def test_invalid_expiry_creates_nothing(self, world, carol):
        count = ApiKey.objects.count()
        response = carol.post(
            url("apikey", "add"),
            {"organisation": world.org.pk, "name": "bad", "clearance": "public", "expires_days": "0"},
        )
        assert response.status_code == 200
        assert ApiKey.objects.count() == count

    def test_hash_and_fixed_fields_are_not_editable(self, world, carol):
        page = carol.get(url("apikey", "change", world.own_public_key.pk))
        names = {n for _t, _k, n in editable_fields(page)}
        assert not names & {"hashed_key", "prefix", "organisation", "clearance", "revoked_at", "last_used_at"}
        assert world.own_public_key.hashed_key not in page.content.decode()

    def test_revoke_action(self, world, carol):
        response = action(carol, "apikey", "revoke_selected", [world.own_public_key])
        assert response.status_code == 302
        assert "Revoked 1 key." in message_texts(response)
        world.own_public_key.refresh_from_db()
        assert world.own_public_key.revoked_at is not None
        assert services.authenticate_api_key(world.own_public_secret) is None
        assert services.authenticate_api_key(world.own_partners_secret) == world.own_partners_key
        revoked = carol.get(url("apikey", "changelist"), {"state": "revoked"}).context["cl"].result_list
        usable = carol.get(url("apikey", "changelist"), {"state": "usable"}).context["cl"].result_list
        assert list(revoked) == [world.own_public_key]
        assert list(usable) == [world.own_partners_key]

    def test_keys_cannot_be_deleted(self, world, carol):
        assert carol.get(url("apikey", "delete", world.own_public_key.pk)).status_code == 403


# --- Query budgets -------------------------------------------------------------------------------------


def _count_queries(client: Client, target: str, rows: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    assert response.context["cl"].result_count == rows
    return len(ctx.captured_queries)


class TestQueryBudgets:
    def test_recommendation_changelist(self, world, carol):
        target = url("recommendation", "changelist")
        small = _count_queries(carol, target, 2)
        second_theme = Theme.objects.create(name="Forced labour", slug="forced-labour")
        for n in range(18):
            rec = make_recommendation(world.document, f"XJ22-200-{n}", f"200({n})")
            rec.themes.add(world.theme, second_theme)
        assert _count_queries(carol, target, 20) == small

    def test_evidence_changelist(self, world, carol):
        target = url("evidence", "changelist")
        visible = Evidence.objects.exclude(pk=world.mallory_internal.pk).count()
        small = _count_queries(carol, target, visible)
        for n in range(20 - visible):
            author = (world.alice, world.mallory, world.dave)[n % 3]
            make_evidence(author, f"https://news.example.org/more-{n}", Confidentiality.PUBLIC, [world.rec])
        assert _count_queries(carol, target, 20) == small

    def test_assessment_changelist(self, world, carol):
        target = url("assessment", "changelist")
        visible = Assessment.objects.exclude(pk=world.mallory_submitted.pk).count()
        small = _count_queries(carol, target, visible)
        for n in range(20 - visible):
            submit(
                world.rec2,
                (world.alice, world.dave)[n % 2],
                [world.public_ev],
                basis=Basis.UN_FINDING,
                state_response=StateResponse.NOTED,
            )
        assert _count_queries(carol, target, 20) == small


def test_transition_admin_is_read_only(world, carol):
    transition = AssessmentTransition.objects.filter(assessment=world.published).first()
    page = carol.get(url("assessmenttransition", "change", transition.pk))
    assert editable_fields(page) == []
    assert (
        carol.post(url("assessmenttransition", "change", transition.pk), {"comment": "x"}).status_code == 403
    )
    assert carol.get(url("assessmenttransition", "delete", transition.pk)).status_code == 403


def test_migrate_gives_curators_their_admin_permissions(db):
    """The groups come from `migrate` alone (no factory re-syncs them here). The admin's autodiscovery imports
    tracker.accounts.roles before django.contrib.auth is ready, so its post_migrate receiver runs before auth's."""
    curators = Group.objects.get(name=CURATORS)
    codenames = set(curators.permissions.values_list("codename", flat=True))
    assert {"view_recommendation", "change_recommendation", "change_assessment", "add_apikey"} <= codenames


@pytest.mark.django_db
def test_curator_cannot_take_over_another_curator_or_mint_one(client, personas):
    """Four eyes would mean nothing if a curator could reset a fellow curator's password or make a second
    curator account of their own: only superusers change staff accounts and grant the Curators group."""
    from django.contrib.auth.models import Group

    from tracker.accounts.roles import CURATORS

    p = personas
    client.force_login(p.carol)
    response = client.get(f"/admin/auth/user/{p.dave.pk}/password/")
    assert response.status_code == 403
    response = client.post(
        f"/admin/auth/user/{p.dave.pk}/password/",
        {"password1": "a new long passphrase 1", "password2": "a new long passphrase 1"},
    )
    assert response.status_code == 403
    p.dave.refresh_from_db()
    assert p.dave.check_password("correct horse battery staple")
    page = client.get(f"/admin/auth/user/{p.alice.pk}/change/")
    assert page.status_code == 200
    groups_field = page.context["adminform"].form.fields["groups"]
    assert list(groups_field.queryset.values_list("name", flat=True)) == ["Monitors"]
    assert "is_staff" not in page.context["adminform"].form.fields
    curators = Group.objects.get(name=CURATORS)
    assert not p.alice.groups.filter(pk=curators.pk).exists()
