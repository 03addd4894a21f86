"""Issue 9, the admin scoped to the curator's organisation: one test per finding (3 to 8), written from the
side of Carol, a curator of the default organisation, looking at what Other NGO (Mallory, Oscar) owns."""

from __future__ import annotations

from html import escape
from types import SimpleNamespace

import pytest
from django.test import Client

from cases import services
from cases.models import (
    ApiKey,
    Assessment,
    AssessmentTransition,
    Confidentiality,
    Evidence,
    Recommendation,
)
from tests.factories import make_evidence, make_user, submit
from tests.test_admin import action, client_for, editable_fields, form_data, url

HUGE = "99999999999999999999999"
SECRET_EXCERPT = "SECRET-B-EXCERPT the witness lives at 4 Example Street"
RETURN_COMMENT = "witness X is at risk"
DRAFT_RATIONALE = "SECRET-B-DRAFT rationale nobody outside may read"


@pytest.fixture
def w(personas):
    """Other NGO holds: an internal item later redacted and made public, a draft, an assessment that was
    returned with a comment and then published, its own API key; Hidden NGO holds only internal evidence."""
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    redacted = make_evidence(
        p.mallory,
        "https://news.example.org/redacted",
        Confidentiality.INTERNAL,
        [p.rec2],
        title="SECRET-B-TITLE before redaction",
        excerpt=SECRET_EXCERPT,
    )
    # Other NGO redacts the excerpt and publishes the item (as its curator would in the admin).
    redacted.title = "Public report"
    redacted.excerpt = "Redacted."
    redacted.confidentiality = Confidentiality.PUBLIC
    redacted._history_user = oscar
    redacted.save()
    draft = submit(p.rec, p.mallory, [p.mallory_internal], rationale=DRAFT_RATIONALE)
    reviewed = submit(p.rec2, p.mallory, [p.public_ev, p.mallory_internal], rationale="Mallory's finding.")
    services.return_assessment(reviewed, reviewer=oscar, comment=RETURN_COMMENT)
    services.resubmit_assessment(reviewed, author=p.mallory)
    services.publish_assessment(reviewed, reviewer=oscar)
    own_published = submit(p.rec, p.alice, [p.public_ev, p.internal_ev])
    services.publish_assessment(own_published, reviewer=p.dave)
    other_key, _secret = services.issue_api_key(p.other_org, name="Other NGO sync")
    own_key, _secret = services.issue_api_key(p.org, name="Our sync")
    mallory_public = make_evidence(
        p.mallory, "https://news.example.org/mallory-public", Confidentiality.PUBLIC, [p.rec2]
    )
    hidden_org = services.get_or_create_organisation("Hidden NGO")
    hidden_user = make_user("henry", role="monitor", organisation=hidden_org)
    hidden_ev = make_evidence(hidden_user, "https://news.example.org/hidden", Confidentiality.INTERNAL)
    return SimpleNamespace(**vars(p), **{k: v for k, v in locals().items() if k not in {"p", "personas"}})


@pytest.fixture
def carol(w) -> Client:
    return client_for(w.carol)


@pytest.fixture
def oscar(w) -> Client:
    return client_for(w.oscar)


def body(response) -> str:
    return response.content.decode()


# --- Finding 3: history pages show only the versions the viewer may see -------------------------------


class TestHistory:
    def test_versions_that_were_internal_to_another_organisation_are_not_shown(self, w, carol, oscar):
        versions = list(w.redacted.history.order_by("history_date"))
        internal, public = versions[0], versions[-1]
        assert internal.confidentiality == Confidentiality.INTERNAL
        page = carol.get(url("evidence", "history", w.redacted.pk))
        assert page.status_code == 200
        assert "SECRET-B" not in body(page)
        assert url("evidence", "simple_history", w.redacted.pk, public.history_id) in body(page)
        assert url("evidence", "simple_history", w.redacted.pk, internal.history_id) not in body(page)
        assert (
            carol.get(url("evidence", "simple_history", w.redacted.pk, internal.history_id)).status_code
            == 404
        )
        shown = carol.get(url("evidence", "simple_history", w.redacted.pk, public.history_id))
        assert shown.status_code == 200
        assert "Redacted." in body(shown) and "SECRET-B" not in body(shown)
        # Its own organisation still reads the whole record.
        assert "SECRET-B-EXCERPT" in body(oscar.get(url("evidence", "history", w.redacted.pk)))
        own = oscar.get(url("evidence", "simple_history", w.redacted.pk, internal.history_id))
        assert own.status_code == 200 and "SECRET-B-EXCERPT" in body(own)

    def test_another_organisations_history_does_not_name_who_changed_it(self, w, carol):
        page = body(carol.get(url("evidence", "history", w.redacted.pk)))
        assert "oscar" not in page and "mallory" not in page

    def test_recommendation_history_does_not_reveal_other_organisations_links(self, w, carol, oscar):
        page = oscar.get(url("recommendation", "change", w.rec2.pk))
        data = form_data(page, text="Takes all possible measures, now.")
        assert oscar.post(url("recommendation", "change", w.rec2.pk), data).status_code == 302
        history = carol.get(url("recommendation", "history", w.rec2.pk))
        assert history.status_code == 200
        pages = [body(history)] + [
            body(carol.get(url("recommendation", "simple_history", w.rec2.pk, v.history_id)))
            for v in w.rec2.history.all()
        ]
        for content in pages:
            assert "SECRET-B" not in content
            assert escape(w.mallory_internal.title) not in content
            assert w.mallory_internal.url not in content
        document = body(carol.get(url("document", "history", w.document.pk)))
        assert "SECRET-B" not in document and w.mallory_internal.url not in document


# --- Finding 4: another organisation's review comments and actors ---------------------------------------


class TestReviewTrail:
    def test_published_assessment_of_another_organisation_hides_its_review_trail(self, w, carol, oscar):
        page = carol.get(url("assessment", "change", w.reviewed.pk))
        assert page.status_code == 200
        assert "Mallory&#x27;s finding." in body(page)
        assert RETURN_COMMENT not in body(page)
        # The trail itself (who returned it, with what comment) stays with Other NGO.
        assert page.context["inline_admin_formsets"] == [] or all(
            len(formset.formset.queryset) == 0 for formset in page.context["inline_admin_formsets"]
        )
        assert RETURN_COMMENT in body(oscar.get(url("assessment", "change", w.reviewed.pk)))

    def test_transition_list_and_search_show_own_organisation_only(self, w, carol):
        listed = carol.get(url("assessmenttransition", "changelist")).context["cl"].result_list
        assert {t.assessment.organisation_id for t in listed} == {w.org.pk}
        searched = carol.get(url("assessmenttransition", "changelist"), {"q": "witness"})
        assert searched.status_code == 200
        assert list(searched.context["cl"].result_list) == []
        assert RETURN_COMMENT not in body(searched)
        by_actor = carol.get(url("assessmenttransition", "changelist"), {"q": "oscar"})
        assert list(by_actor.context["cl"].result_list) == []

    def test_another_organisations_transition_pages_are_closed(self, w, carol):
        transition = AssessmentTransition.objects.get(assessment=w.reviewed, comment=RETURN_COMMENT)
        response = carol.get(url("assessmenttransition", "change", transition.pk))
        assert response.status_code in {302, 404}
        assert RETURN_COMMENT not in body(response)

    def test_drafts_of_another_organisation_stay_closed(self, w, carol):
        assert carol.get(url("assessment", "change", w.draft.pk)).status_code == 302
        for query in ({"q": "SECRET-B-DRAFT"}, {"q": "rationale"}, {}):
            response = carol.get(url("assessment", "changelist"), query)
            assert DRAFT_RATIONALE not in body(response)
            assert w.draft.pk not in {a.pk for a in response.context["cl"].result_list}


# --- Finding 5: lookups, list filters and counts --------------------------------------------------------


class TestLookups:
    @pytest.mark.parametrize(
        ("model", "lookup"),
        [
            ("recommendation", "evidence"),
            ("recommendation", "assessments"),
            ("recommendation", "evidence__confidentiality"),
            ("document", "recommendations__evidence"),
            ("theme", "recommendations__assessments"),
            ("evidence", "assessments"),
            ("assessment", "evidence"),
            ("assessment", "corrections"),
        ],
    )
    def test_lookups_through_owned_rows_are_refused(self, w, carol, model, lookup):
        target = w.mallory_internal.pk if "evidence" in lookup else w.draft.pk
        value = "internal" if lookup.endswith("confidentiality") else str(target)
        response = carol.get(url(model, "changelist"), {lookup: value})
        assert response.status_code == 400, lookup

    def test_superuser_may_still_look_up_through_relations(self, w):
        root = make_user("root", role=None, organisation=w.org, is_superuser=True, is_staff=True)
        response = client_for(root).get(
            url("recommendation", "changelist"), {"evidence": w.mallory_internal.pk}
        )
        assert response.status_code == 200
        assert {r.pk for r in response.context["cl"].result_list} == {w.rec.pk, w.rec2.pk}

    def test_organisation_filter_lists_only_organisations_of_visible_rows(self, w, carol):
        for model in ("evidence", "assessment", "apikey"):
            page = carol.get(url(model, "changelist"))
            assert page.status_code == 200
            assert "Hidden NGO" not in body(page), model
        evidence_filter = body(carol.get(url("evidence", "changelist")))
        assert "Other NGO" in evidence_filter  # Other NGO holds public sources Carol can read

    def test_facet_counts_count_visible_rows_only(self, w, carol):
        response = carol.get(url("evidence", "changelist"), {"_facets": "1"})
        assert response.status_code == 200
        visible = Evidence.objects.exclude(confidentiality=Confidentiality.INTERNAL).count() + 1
        assert response.context["cl"].result_count == visible
        internal_choice = [
            choice
            for spec in response.context["cl"].filter_specs
            if getattr(spec, "field_path", "") == "confidentiality"
            for choice in spec.choices(response.context["cl"])
            if "internal" in choice["query_string"]
        ]
        assert len(internal_choice) == 1
        # Carol's own internal source, nobody else's (facets append the count to the label).
        assert str(internal_choice[0]["display"]).endswith("(1)")

    def test_recommendation_delete_page_does_not_list_other_organisations_rows(self, w, carol):
        """The confirmation page lists what a deletion takes along or is protected by: another
        organisation's draft and internal links would show there."""
        response = carol.get(url("recommendation", "delete", w.rec.pk))
        assert response.status_code == 403
        assert str(w.draft) not in body(response) and "Mallory" not in body(response)
        assert carol.post(url("recommendation", "delete", w.rec.pk), {"post": "yes"}).status_code == 403
        assert Recommendation.objects.filter(pk=w.rec.pk).exists()

    def test_organisation_lookup_by_evidence(self, w, carol):
        response = carol.get(url("organisation", "changelist"), {"evidence": w.hidden_ev.pk})
        assert response.status_code in {400, 403}
        assert "Hidden NGO" not in body(response)


# --- Finding 6: administering other organisations -------------------------------------------------------


class TestOtherOrganisations:
    def test_api_keys_list_and_pages_are_own_organisation_only(self, w, carol):
        listed = carol.get(url("apikey", "changelist")).context["cl"].result_list
        assert {k.organisation_id for k in listed} == {w.org.pk}
        assert carol.get(url("apikey", "change", w.other_key.pk)).status_code == 302
        page = carol.get(url("apikey", "change", w.own_key.pk))
        assert page.status_code == 200

    def test_another_organisations_key_cannot_be_renamed_or_revoked(self, w, carol):
        response = carol.post(url("apikey", "change", w.other_key.pk), {"name": "Renamed by Carol"})
        assert response.status_code in {302, 403, 404}
        action(carol, "apikey", "revoke_selected", [w.other_key])
        w.other_key.refresh_from_db()
        assert w.other_key.name == "Other NGO sync"
        assert w.other_key.revoked_at is None

    def test_keys_are_issued_for_the_curators_organisation_only(self, w, carol):
        page = carol.get(url("apikey", "add"))
        choices = list(page.context["adminform"].form.fields["organisation"].queryset)
        assert choices == [w.org]
        count = ApiKey.objects.count()
        response = carol.post(
            url("apikey", "add"), {"organisation": w.other_org.pk, "name": "x", "clearance": "public"}
        )
        assert response.status_code == 200
        assert ApiKey.objects.count() == count

    def _recommendation_form(self, client, recommendation):
        page = client.get(url("recommendation", "change", recommendation.pk))
        return page, form_data(page)

    def test_another_organisations_evidence_cannot_be_unlinked(self, w, carol):
        _page, data = self._recommendation_form(carol, w.rec2)
        prefix = "Evidence_recommendations"
        rows = int(data[f"{prefix}-TOTAL_FORMS"])
        for index in range(rows):
            data[f"{prefix}-{index}-DELETE"] = "on"
        carol.post(url("recommendation", "change", w.rec2.pk), data)
        linked = set(Recommendation.objects.get(pk=w.rec2.pk).evidence.values_list("pk", flat=True))
        assert {w.mallory_public.pk, w.redacted.pk, w.mallory_internal.pk} <= linked

    def test_another_organisations_public_evidence_cannot_be_linked(self, w, carol):
        _page, data = self._recommendation_form(carol, w.rec)
        prefix = "Evidence_recommendations"
        index = int(data[f"{prefix}-TOTAL_FORMS"])
        data.update(
            {f"{prefix}-TOTAL_FORMS": str(index + 1), f"{prefix}-{index}-evidence": str(w.mallory_public.pk)}
        )
        carol.post(url("recommendation", "change", w.rec.pk), data)
        assert not w.rec.evidence.filter(pk=w.mallory_public.pk).exists()

    def test_link_autocomplete_offers_own_sources_only(self, w, carol):
        params = {"app_label": "cases", "model_name": "evidence_recommendations", "field_name": "evidence"}
        own = carol.get("/admin/autocomplete/", {**params, "term": "Witness statement"}).json()["results"]
        assert [r["id"] for r in own] == [str(w.internal_ev.pk)]
        other = carol.get("/admin/autocomplete/", {**params, "term": "Public report"}).json()["results"]
        assert other == []  # Other NGO's public source: readable, not Carol's to link
        # The evidence form's own autocomplete (recommendations) is shared reference data.
        params = {"app_label": "cases", "model_name": "evidence", "field_name": "recommendations"}
        recs = carol.get("/admin/autocomplete/", {**params, "term": "XJ22"}).json()["results"]
        assert {r["text"] for r in recs} == {"XJ22-151-i", "XJ22-152-i"}

    def test_other_organisations_links_are_still_listed_read_only(self, w, carol):
        content = body(carol.get(url("recommendation", "change", w.rec2.pk)))
        assert "Public report" in content  # Other NGO's public source, shown
        assert "SECRET-B" not in content


# --- Finding 7: cited evidence is read-only; the admin writes through the services ---------------------

CITED_FIELDS = {"url", "title", "excerpt", "published_on", "confidentiality", "kind", "publisher"}


class TestCitedEvidence:
    def test_cited_evidence_form_does_not_offer_the_recorded_fields(self, w, carol):
        page = carol.get(url("evidence", "change", w.internal_ev.pk))
        assert page.status_code == 200
        names = {name for _tag, _kind, name in editable_fields(page)}
        assert not names & CITED_FIELDS
        assert w.internal_ev.title in body(page)

    def test_posting_new_values_for_cited_evidence_changes_nothing_recorded(self, w, carol):
        before = Evidence.objects.values(*CITED_FIELDS).get(pk=w.internal_ev.pk)
        page = carol.get(url("evidence", "change", w.internal_ev.pk))
        data = form_data(
            page,
            url="https://evil.example.org/",
            title="Rewritten",
            excerpt="Rewritten",
            confidentiality=Confidentiality.PUBLIC,
            published_on="2020-01-01",
            kind="other",
            publisher="Rewritten",
        )
        response = carol.post(url("evidence", "change", w.internal_ev.pk), data)
        assert response.status_code == 302, response.context and response.context["errors"]
        assert Evidence.objects.values(*CITED_FIELDS).get(pk=w.internal_ev.pk) == before

    def test_reverting_cited_evidence_to_an_older_version_changes_nothing_recorded(self, w, carol):
        Evidence.objects.filter(pk=w.partners_ev.pk).update(title="Old title")
        evidence = Evidence.objects.get(pk=w.partners_ev.pk)
        evidence.save()  # a version with the old title
        Evidence.objects.filter(pk=w.partners_ev.pk).update(title="Recorded title")
        assessment = submit(w.rec, w.alice, [w.partners_ev])
        services.publish_assessment(assessment, reviewer=w.dave)
        version = w.partners_ev.history.first()
        page = carol.get(url("evidence", "simple_history", w.partners_ev.pk, version.history_id))
        carol.post(url("evidence", "simple_history", w.partners_ev.pk, version.history_id), form_data(page))
        assert Evidence.objects.get(pk=w.partners_ev.pk).title == "Recorded title"

    def test_uncited_own_evidence_stays_editable(self, w, carol):
        page = carol.get(url("evidence", "change", w.partners_ev.pk))
        assert {name for _tag, _kind, name in editable_fields(page)} >= CITED_FIELDS

    def test_admin_adds_evidence_through_the_service(self, w, carol, monkeypatch):
        calls = []
        original = services.add_evidence

        def spy(**kwargs):
            calls.append(kwargs)
            return original(**kwargs)

        monkeypatch.setattr(services, "add_evidence", spy)
        data = {
            "title": "Satellite imagery",
            "url": "https://research.example.org/imagery",
            "publisher": "Example Institute",
            "published_on": "2023-05-02",
            "kind": "academic",
            "language": "en",
            "excerpt": "Expanded.",
            "confidentiality": Confidentiality.PARTNERS,
            "organisation": "",
            "recommendations": [w.rec2.pk],
            "archive_url": "",
        }
        response = carol.post(url("evidence", "add"), data)
        assert response.status_code == 302
        assert len(calls) == 1 and calls[0]["added_by"] == w.carol
        evidence = Evidence.objects.get(url="https://research.example.org/imagery")
        assert list(evidence.recommendations.all()) == [w.rec2]
        assert evidence.organisation == w.org


# --- Finding 8: huge ids never crash the admin ----------------------------------------------------------


class TestHugeIds:
    @pytest.mark.parametrize(
        "target",
        [
            f"/admin/cases/recommendation/?evidence={HUGE}",
            f"/admin/cases/recommendation/?document__id__exact={HUGE}",
            f"/admin/cases/recommendation/?themes__id__exact={HUGE}",
            f"/admin/cases/evidence/?organisation__id__exact={HUGE}",
            f"/admin/cases/evidence/?recommendations={HUGE}",
            f"/admin/cases/evidence/?id={HUGE}",
            f"/admin/cases/evidence/?id__in=1,{HUGE}",
            f"/admin/cases/assessment/?organisation__id__exact={HUGE}",
            f"/admin/cases/assessment/?recommendation={HUGE}",
            f"/admin/cases/apikey/?organisation__id__exact={HUGE}",
            f"/admin/cases/organisation/?evidence={HUGE}",
            f"/admin/cases/evidence/{HUGE}/change/",
            f"/admin/cases/evidence/{HUGE}/history/",
            f"/admin/cases/evidence/1/history/{HUGE}/",
            f"/admin/cases/recommendation/{HUGE}/history/",
            f"/admin/cases/assessment/{HUGE}/change/",
            f"/admin/cases/apikey/{HUGE}/change/",
            f"/admin/autocomplete/?app_label=cases&model_name=evidence&field_name=recommendations&term={HUGE}",
            f"/admin/autocomplete/?app_label=cases&model_name=evidence&field_name=recommendations&term=x&page={HUGE}",
            f"/admin/autocomplete/?app_label=cases&model_name=evidence_recommendations&field_name=evidence&term={HUGE}",
            f"/admin/autocomplete/?app_label=cases&model_name=membership&field_name=user&term={HUGE}",
        ],
    )
    def test_no_server_error(self, w, target):
        root = make_user("root", role=None, organisation=w.org, is_superuser=True, is_staff=True)
        for client in (Client(raise_request_exception=False), client_for(root), client_for(w.carol)):
            response = client.get(target)
            assert response.status_code in {200, 302, 400, 403, 404}, (target, response.status_code)
            if response.status_code == 200 and "autocomplete" in target:
                assert response.json()["results"] == []


def test_assessment_of_another_organisation_is_not_deletable(w, carol):
    response = carol.post(url("assessment", "delete", w.draft.pk), {"post": "yes"})
    assert response.status_code in {302, 403, 404}
    assert Assessment.objects.filter(pk=w.draft.pk).exists()
