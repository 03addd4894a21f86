"""Cite the people counts (issue 12, item 3): on a recommendation page a monitor turns "3 detained, 1
released" into an internal Evidence item (kind `dataset`) holding a dated snapshot of the counts she could
see — counts only, never a name or a reference — and lands on the assessment form with it ticked, her kept
draft (the "Record it first" mechanism) still there."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import access
from cases.models import Confidentiality, Evidence, EvidenceKind
from cases.people import services
from cases.people.models import Consent, PersonStatusKind, StatusBasis
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

RATIONALE = "Camps still operate; counts of our cases say so."


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def checked(page: str, name: str, value) -> bool:
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*value="{value}"[^>]*>', page)
    return any("checked" in tag for tag in inputs)


def _person(p, name, status, *, confidentiality=Confidentiality.INTERNAL, consent=Consent.NO, rec=None):
    person = services.add_person(
        created_by=p.alice,
        name_latin=name,
        consent=consent,
        confidentiality=confidentiality,
        recommendations=[rec or p.rec],
    )
    entry = services.submit_status(
        person,
        author=p.alice,
        status=status,
        basis=StatusBasis.FAMILY_TESTIMONY,
        occurred_on=datetime.date(2020, 1, 1),
    )
    services.publish_status(entry, reviewer=p.carol)
    return person


@pytest.fixture
def world(personas):
    p = personas
    p.people = [
        _person(p, "Qsnapone Internal", PersonStatusKind.DETAINED),
        _person(p, "Qsnaptwo Internal", PersonStatusKind.DETAINED),
        _person(
            p, "Qsnapthree Partners", PersonStatusKind.DETAINED, confidentiality=Confidentiality.PARTNERS
        ),
        _person(p, "Qsnapfour Public", PersonStatusKind.RELEASED, confidentiality=Confidentiality.PUBLIC),
    ]
    p.cite_url = reverse("cases:people-counts-cite", args=[p.rec.code])
    p.assess_url = reverse("cases:assess", args=[p.rec.code])
    return p


def _the_snapshot(organisation=None) -> Evidence:
    queryset = Evidence.objects.filter(kind=EvidenceKind.DATASET)
    if organisation is not None:
        queryset = queryset.filter(organisation=organisation)
    return queryset.get()


def test_the_recommendation_page_offers_cite_to_a_monitor(world):
    page = (
        client_for(world.alice).get(reverse("cases:recommendation", args=[world.rec.code])).content.decode()
    )
    assert "3 detained" in page and "1 released" in page
    assert f'action="{world.cite_url}"' in page


def test_no_cite_button_for_a_member_without_the_monitor_role(world):
    from tests.factories import make_user

    reader = make_user("reader", role=None, organisation=world.org)
    page = client_for(reader).get(reverse("cases:recommendation", args=[world.rec.code])).content.decode()
    assert "3 detained" in page
    assert world.cite_url not in page


def test_citing_makes_an_internal_dated_snapshot_and_ticks_it(world):
    response = client_for(world.alice).post(world.cite_url)
    evidence = _the_snapshot()
    assert response.status_code == 302
    assert response["Location"] == f"{world.assess_url}?evidence={evidence.pk}"
    today = timezone.localdate()
    assert evidence.kind == EvidenceKind.DATASET
    assert evidence.confidentiality == Confidentiality.INTERNAL
    assert evidence.organisation == world.org and evidence.added_by == world.alice
    assert evidence.published_on == today
    assert list(evidence.recommendations.all()) == [world.rec]
    assert world.rec.code in evidence.title and today.isoformat() in evidence.title
    assert "3 detained" in evidence.excerpt and "1 released" in evidence.excerpt
    assert today.isoformat() in evidence.excerpt and world.rec.code in evidence.excerpt
    assert evidence.url.startswith("http") and f"recommendation={world.rec.code}" in evidence.url
    # Counts only: never a name or a reference, though she may see all of them.
    for person in world.people:
        for text in (evidence.title, evidence.excerpt, evidence.url):
            assert person.reference not in text and person.name_latin not in text
    page = client_for(world.alice).get(response["Location"]).content.decode()
    assert checked(page, "evidence", evidence.pk)


def test_the_snapshot_says_what_the_viewer_could_see(world):
    client_for(world.alice).post(world.cite_url)
    excerpt = _the_snapshot().excerpt
    # 4 held by her organisation, none shared by another.
    assert f"4 held by {world.org.name}" in excerpt and "0 shared by other organisations" in excerpt
    assert "Counts only" in excerpt


def test_another_organisations_monitor_counts_what_she_may_see_and_keeps_it_to_herself(world):
    response = client_for(world.mallory).post(world.cite_url)
    assert response.status_code == 302
    evidence = _the_snapshot(world.other_org)
    # Alice's internal cases are not hers to know: 1 detained (partners) and 1 released (public).
    assert "1 detained" in evidence.excerpt and "1 released" in evidence.excerpt
    assert "3 detained" not in evidence.excerpt
    assert f"0 held by {world.other_org.name}" in evidence.excerpt
    assert "2 shared by other organisations" in evidence.excerpt
    assert evidence.organisation == world.other_org
    # Internal to Mallory's organisation: Alice's organisation does not see it.
    assert not access.visible_evidence(access.viewer_for_user(world.alice)).filter(pk=evidence.pk).exists()
    assert access.visible_evidence(access.viewer_for_user(world.mallory)).filter(pk=evidence.pk).exists()


def test_the_kept_draft_survives_citing(world):
    alice = client_for(world.alice)
    # She typed a rationale and followed "Record it first" earlier: the draft is in her session.
    alice.post(
        world.assess_url,
        {
            "implementation_status": "not_implemented",
            "state_response": "no_response",
            "basis": "independent",
            "assessed_on": "2024-08-27",
            "rationale": RATIONALE,
            "evidence": [world.public_ev.pk],
            "add_source": "1",
        },
    )
    response = alice.post(world.cite_url)
    evidence = _the_snapshot()
    page = alice.get(response["Location"]).content.decode()
    assert RATIONALE in page
    assert checked(page, "evidence", evidence.pk) and checked(page, "evidence", world.public_ev.pk)
    assert checked(page, "basis", "independent")


def test_a_draft_posted_with_the_cite_is_kept(world):
    alice = client_for(world.alice)
    response = alice.post(world.cite_url, {"rationale": RATIONALE, "basis": "independent"})
    page = alice.get(response["Location"]).content.decode()
    assert RATIONALE in page and checked(page, "evidence", _the_snapshot().pk)


def test_citing_is_audited(world):
    client_for(world.alice).post(world.cite_url)
    evidence = _the_snapshot()
    row = AuditEvent.objects.get(event="person.counts_cite")
    assert row.actor_id == world.alice.pk and row.target_id == str(evidence.pk)
    assert row.fields["recommendation"] == world.rec.pk and row.fields["people"] == 4
    assert AuditEvent.objects.filter(event="evidence.add", target_id=str(evidence.pk)).exists()


def test_nothing_to_cite_is_refused_without_a_snapshot(world):
    alice = client_for(world.alice)
    response = alice.post(reverse("cases:people-counts-cite", args=[world.rec2.code]))
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:recommendation", args=[world.rec2.code])
    assert not Evidence.objects.filter(kind=EvidenceKind.DATASET).exists()
    page = alice.get(response["Location"]).content.decode()
    assert "No people with a status are linked to this recommendation: there is nothing to cite." in page


def test_two_snapshots_the_same_day_are_two_sources(world):
    alice = client_for(world.alice)
    alice.post(world.cite_url)
    alice.post(world.cite_url)
    assert Evidence.objects.filter(kind=EvidenceKind.DATASET).count() == 2


def test_refusals(world):
    from tests.factories import make_user

    reader = make_user("reader", role=None, organisation=world.org)
    assert client_for(reader).post(world.cite_url).status_code == 403
    anonymous = Client().post(world.cite_url)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert client_for(world.alice).get(world.cite_url).status_code == 405
    unknown = reverse("cases:people-counts-cite", args=["XJ22-999"])
    assert client_for(world.alice).post(unknown).status_code == 404
    assert not Evidence.objects.filter(kind=EvidenceKind.DATASET).exists()


def test_a_service_call_by_someone_without_the_role_is_refused(world):
    from django.core.exceptions import PermissionDenied

    from tests.factories import make_user

    reader = make_user("reader", role=None, organisation=world.org)
    with pytest.raises(PermissionDenied):
        services.cite_people_counts(world.rec, by=reader)
    assert not Evidence.objects.filter(kind=EvidenceKind.DATASET).exists()
