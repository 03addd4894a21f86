"""One decider (issue 9, "What to build" 1): cases/access.py decides every read and write of the pages and
the API, and each rule is written once.

- `require_role`: one role rule (membership + group + staff flag) for web views and the API permission; a
  signed-in user without a membership is refused (a 403 page that says why; a JSON 403), never moved into an
  organisation, and the refusal is audited.
- `with_cited_evidence`: the visible cited sources and the withheld count, the same for every viewer on every
  site that shows them.
- `review_queue`: the curators' queue and the dashboard's count.
- `.published()` is the only spelling of "published"; no raw review-state or confidentiality filter and no
  direct `security` logger in the pages and the API.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from cases import access, services
from cases.models import Assessment, Confidentiality, Membership
from tests.factories import make_evidence, make_user, submit
from tracker.accounts.models import AuditEvent
from tracker.accounts.roles import CURATORS, MONITORS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
REC = "XJ22-151-i"


@pytest.fixture
def outsider(personas):
    """A signed-in account with no membership, made past create_user (as a stray row would be): in the
    Monitors group, so only the membership rule can refuse it."""
    user = get_user_model().objects.create_user("outsider", email="outsider@example.org", password="x")
    user.groups.add(Group.objects.get(name=MONITORS))
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- a user without a membership is refused, never moved ---------------------------------------------


def _web_urls(p) -> list[tuple[str, str]]:
    return [
        ("get", "/"),
        ("get", "/recommendations/"),
        ("get", f"/recommendations/{REC}/"),
        ("get", "/evidence/"),
        ("get", f"/evidence/{p.public_ev.pk}/"),
        ("get", f"/recommendations/{REC}/assess/"),
        ("get", "/evidence/new/"),
        ("post", f"/recommendations/{REC}/assess/"),
    ]


def test_a_user_without_membership_is_refused_on_every_page(personas, outsider):
    client = _client(outsider)
    organisations_before = set(Membership.objects.values_list("organisation_id", flat=True))
    for method, url in _web_urls(personas):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        text = response.content.decode()
        assert "Your account belongs to no organisation" in text
        assert "is not a member of any organisation" in text
        # Nothing of the organisation's data is on the refusal page.
        assert "Witness statement" not in text and REC not in text
    # Refused, not moved: no membership was made, in any organisation.
    assert not Membership.objects.filter(user=outsider).exists()
    assert set(Membership.objects.values_list("organisation_id", flat=True)) == organisations_before
    refusals = AuditEvent.objects.filter(event="access.refused", actor_id=outsider.pk)
    assert refusals.count() == len(_web_urls(personas))
    first = refusals.order_by("pk").first()
    assert first.fields == {"role": "member", "reason": "no_membership", "view": "cases:dashboard"}
    assert first.organisation_id is None


def test_a_curator_without_membership_is_refused_too(personas):
    user = get_user_model().objects.create_user("stray", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=CURATORS))
    response = _client(user).get("/review/")
    assert response.status_code == 403
    assert not Membership.objects.filter(user=user).exists()


def test_the_api_refuses_a_user_without_membership_as_json(personas, outsider):
    client = _client(outsider)
    for url in ["/api/v1/recommendations/", "/api/v1/assessments/", "/api/v1/export/evidence.csv"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response["Content-Type"] == "application/json"
        assert "not a member of any organisation" in response.json()["detail"]
    assert not Membership.objects.filter(user=outsider).exists()
    row = AuditEvent.objects.filter(event="access.refused", actor_id=outsider.pk).first()
    assert row.fields["reason"] == "no_membership" and row.fields["role"] == "monitor"


def test_a_member_without_a_role_is_refused_by_the_api_with_the_role_message(personas):
    nobody = make_user("nobody", role=None)
    response = _client(nobody).get("/api/v1/themes/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your account has no monitor or curator role."}
    assert AuditEvent.objects.get(event="access.refused", actor_id=nobody.pk).fields["reason"] == "role"


def test_the_navigation_of_a_user_without_membership_offers_no_work(personas, outsider):
    """The context processor asks the same rule: a non-member sees no monitor or curator links."""
    outsider.is_staff = True
    outsider.save()
    outsider.groups.add(Group.objects.get(name=CURATORS))
    response = _client(outsider).get("/")
    assert response.context["is_curator"] is False
    assert response.context["is_monitor"] is False


# --- the role rule ----------------------------------------------------------------------------------


def test_the_curator_role_needs_the_group_the_staff_flag_and_a_membership(personas):
    p = personas
    viewer = access.viewer_for_user(p.carol)
    assert viewer.is_curator and viewer.is_monitor
    assert access.require_role("curator").allows(viewer)
    # In the group without the staff flag: not a curator (the admin would not let her in either).
    p.carol.is_staff = False
    p.carol.save()
    carol = get_user_model().objects.get(pk=p.carol.pk)
    assert not access.viewer_for_user(carol).is_curator
    assert access.viewer_for_user(carol).is_monitor
    response = _client(carol).get(reverse("cases:review-queue"))
    assert response.status_code == 403
    assert AuditEvent.objects.get(event="access.refused", actor_id=carol.pk).fields == {
        "role": "curator",
        "reason": "role",
        "view": "cases:review-queue",
    }


def test_monitors_are_refused_curator_pages_and_audited(personas):
    response = _client(personas.alice).get(reverse("cases:review-queue"))
    assert response.status_code == 403
    assert "does not have the rights this page needs" in response.content.decode()
    row = AuditEvent.objects.get(event="access.refused", actor_id=personas.alice.pk)
    assert row.organisation_id == personas.org.pk


def test_inactive_and_anonymous_viewers_have_no_role(personas):
    personas.alice.is_active = False
    for role in access.ROLES:
        assert not access.has_role(access.viewer_for_user(personas.alice), role)
        assert not access.has_role(access.ANONYMOUS, role)
    with pytest.raises(ValueError):
        access.require_role("admin")


def test_building_a_viewer_reads_membership_and_groups_in_one_query(personas, django_assert_num_queries):
    user = get_user_model().objects.get(pk=personas.carol.pk)
    with django_assert_num_queries(1):
        viewer = access.viewer_for_user(user)
        assert viewer.is_curator and viewer.organisation_id == personas.org.pk
        assert access.viewer_for_user(user).is_monitor  # cached on the user object
    outsider = get_user_model().objects.create_user("lonely", password="x")
    with django_assert_num_queries(1):
        assert access.viewer_for_user(outsider) == access.ANONYMOUS
        assert access.viewer_for_user(outsider) == access.ANONYMOUS


def test_a_viewer_has_no_key_field():
    assert "key" not in {field.name for field in dataclasses.fields(access.Viewer)}


# --- with_cited_evidence ------------------------------------------------------------------------------


def _cited(viewer, assessment):
    row = access.with_cited_evidence(viewer, Assessment.objects.filter(pk=assessment.pk)).get()
    return [e.title for e in row.visible_evidence], row.withheld_count


def test_with_cited_evidence_counts_what_each_viewer_may_not_see(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev, p.partners_ev, p.internal_ev])
    mallory = access.viewer_for_user(p.mallory)
    alice = access.viewer_for_user(p.alice)
    public_key = access.viewer_for_key(p.public_key)
    partners_key = access.viewer_for_key(p.partners_key)
    assert _cited(alice, assessment)[1] == 0 and len(_cited(alice, assessment)[0]) == 3
    assert _cited(mallory, assessment)[1] == 1
    assert "Witness statement 7" not in _cited(mallory, assessment)[0]
    assert _cited(partners_key, assessment)[1] == 1
    assert _cited(public_key, assessment) == ([p.public_ev.title], 2)


def test_pages_and_api_show_the_same_withheld_count(personas):
    """The timeline, the review queue and the API read the count from one function."""
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev, p.partners_ev, p.internal_ev])
    # The review queue (Dave, a curator of Alice's organisation): nothing withheld from a member.
    queue = _client(p.dave).get(reverse("cases:review-queue"))
    assert [item.withheld_count for item in queue.context["items"]] == [0]
    services.publish_assessment(assessment, reviewer=p.dave)
    # Mallory's timeline: Alice's internal source withheld.
    page = _client(p.mallory).get(f"/recommendations/{REC}/")
    [row] = [a for a in page.context["timeline"] if a.pk == assessment.pk]
    assert row.withheld_count == 1
    assert "1 withheld source" in page.content.decode()
    # A public key: partners and internal withheld.
    api = Client(headers={"authorization": f"Bearer {p.public_secret}"})
    body = api.get(f"/api/v1/assessments/{assessment.pk}/").json()
    assert body["withheld_evidence"] == 2 and body["evidence"] == [p.public_ev.pk]


def test_the_resubmit_page_counts_withheld_sources_through_the_same_function(personas):
    p = personas
    assessment = submit(p.rec, p.alice, [p.public_ev, p.internal_ev])
    services.return_assessment(assessment, reviewer=p.carol, comment="Add a source.")
    # Someone moved the internal source to another organisation: Alice can no longer see it.
    type(p.internal_ev).objects.filter(pk=p.internal_ev.pk).update(organisation=p.other_org)
    response = _client(p.alice).get(reverse("cases:assessment-resubmit", args=[assessment.pk]))
    assert response.status_code == 200
    assert response.context["withheld"] == 1


# --- review_queue -------------------------------------------------------------------------------------


def test_review_queue_is_the_curators_own_organisation_only(personas):
    p = personas
    own = submit(p.rec, p.alice, [p.public_ev])
    by_carol = submit(p.rec2, p.carol, [p.public_ev])
    other = submit(p.rec, p.mallory, [p.public_ev])
    assert set(access.review_queue(access.viewer_for_user(p.dave))) == {own, by_carol}
    assert other not in access.review_queue(access.viewer_for_user(p.dave))
    assert not access.review_queue(access.viewer_for_user(p.alice)).exists()
    assert not access.review_queue(access.viewer_for_user(p.mallory)).exists()
    # The dashboard counts the same queue less the curator's own (four eyes).
    response = _client(p.carol).get("/")
    assert response.context["waiting_for_review"] == 1


# --- audit of evidence reads --------------------------------------------------------------------------


def test_reading_internal_evidence_is_audited_on_the_page_and_in_the_api(personas):
    p = personas
    assert _client(p.alice).get(f"/evidence/{p.internal_ev.pk}/").status_code == 200
    assert _client(p.alice).get(f"/api/v1/evidence/{p.internal_ev.pk}/").status_code == 200
    rows = AuditEvent.objects.filter(event="evidence.read_internal", actor_id=p.alice.pk)
    assert rows.count() == 2
    assert {(r.target_type, r.target_id) for r in rows} == {("cases.evidence", str(p.internal_ev.pk))}
    # Public evidence is not audited.
    _client(p.alice).get(f"/evidence/{p.public_ev.pk}/")
    assert rows.count() == 2


def test_a_refused_evidence_read_is_a_404_audited_for_the_readers_organisation(personas, caplog):
    p = personas
    with caplog.at_level("INFO", logger="security"):
        response = _client(p.mallory).get(f"/evidence/{p.internal_ev.pk}/")
    assert response.status_code == 404
    row = AuditEvent.objects.get(event="evidence.refused")
    assert row.actor_id == p.mallory.pk
    assert row.organisation_id == p.other_org.pk
    assert f"evidence.refused user={p.mallory.pk} target=cases.evidence:{p.internal_ev.pk}" in caplog.text


def test_a_refused_duplicate_is_audited_without_its_text(personas):
    p = personas
    response = _client(p.mallory).post(
        "/evidence/new/",
        {
            "url": "https://news.example.org/internal",
            "title": "Copy",
            "kind": "news",
            "language": "en",
            "confidentiality": "public",
        },
    )
    assert response.status_code == 200
    row = AuditEvent.objects.get(event="evidence.duplicate_refused")
    assert row.organisation_id == p.other_org.pk
    assert "news.example.org" not in str(row.fields)


# --- one spelling per rule ----------------------------------------------------------------------------

WEB_AND_API = [
    *ROOT.glob("cases/views.py"),
    *ROOT.glob("cases/workflow_views.py"),
    *ROOT.glob("cases/filters.py"),
    *ROOT.glob("cases/search.py"),
    *ROOT.glob("cases/context_processors.py"),
    *ROOT.glob("cases/forms.py"),
    *ROOT.glob("cases/api/*.py"),
]


@pytest.mark.parametrize("path", WEB_AND_API, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_and_api_spell_no_rule_of_their_own(path):
    source = path.read_text()
    # "Published" is Assessment.objects.published(); review states are decided in access.py and models.py.
    # A FilterSet may declare a review-state *filter* (the viewer picks a state among what access allows);
    # what it must not do is decide visibility by a review state of its own.
    assert not re.search(r"review_state(__in)?\s*=(?!=)(?!\s*django_filters\.)", source), (
        "a raw review-state filter"
    )
    assert '"published"' not in source
    assert "published_assessments" not in source
    # Confidentiality filters live in access.py (a FilterSet's own `confidentiality` field is a choice the
    # user makes within what access.py already let through).
    assert not re.search(r"confidentiality(__in)?\s*=\s*(Confidentiality|\[|\")", source)
    # One audit function.
    assert 'getLogger("security")' not in source
    # One role rule.
    assert "is_curator(" not in source and "is_monitor(" not in source


def test_the_old_helpers_are_gone():
    assert not hasattr(access, "published_assessments")
    assert not hasattr(access, "security_log")


def test_internal_evidence_is_never_counted_visible_for_a_key(personas):
    """Guards the count against a later change to the levels: internal never leaves, whatever the key."""
    p = personas
    assessment = submit(
        p.rec, p.alice, [make_evidence(p.alice, "https://example.org/i2", Confidentiality.INTERNAL)]
    )
    assert _cited(access.viewer_for_key(p.partners_key), assessment) == ([], 1)
