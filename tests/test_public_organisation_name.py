"""'A monitor of <organisation>' only where the organisation chose to be named (issue 13, item 1).

`Organisation.public_name_allowed` (off by default) decides it; the organisation's curators (and operators)
set it in the admin, nobody else (cases.access.may_choose_public_name). Every public place that says who
wrote an assessment follows it: the scorecard's latest changes, the recommendation's timeline, the
permalink page, the correction log, the public feeds. No account is ever named, in either state.
"""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from cases import services
from cases.models import ImplementationStatus, Organisation
from tests.factories import make_user, submit

pytestmark = pytest.mark.django_db

USERNAMES = ("alice", "carol", "dave", "mallory", "oscar")


@pytest.fixture
def world(personas, settings):
    settings.PUBLIC_SITE = True
    p = personas
    p.first = submit(p.rec, p.alice, [p.public_ev], assessed_on=datetime.date(2023, 1, 1))
    services.publish_assessment(p.first, reviewer=p.carol)
    p.correction = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        corrects=p.first,
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        assessed_on=datetime.date(2023, 1, 1),
    )
    services.publish_assessment(p.correction, reviewer=p.dave)
    p.oscar = make_user("oscar", role="curator", organisation=p.other_org)
    return p


def _pages(p) -> dict[str, str]:
    return {
        "scorecard": "/public/",
        "recommendation": f"/public/recommendations/{p.rec.code}/",
        "permalink": f"/public/assessments/{p.correction.pk}/",
        "corrections": "/corrections/",
        "site feed": "/feeds/changes.atom",
        "corrections feed": "/corrections/feed.atom",
        "recommendation feed": f"/feeds/recommendations/{p.rec.code}.atom",
    }


def _read(url: str) -> str:
    response = Client().get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def _no_account(content: str, where: str) -> None:
    for name in USERNAMES:
        assert f">{name}<" not in content and f" {name} " not in content, (name, where)


def test_by_default_no_organisation_is_named(world):
    assert Organisation._meta.get_field("public_name_allowed").default is False
    for where, url in _pages(world).items():
        content = _read(url)
        assert world.org.name not in content, where
        assert "a monitor of" not in content.lower(), where
        _no_account(content, where)
    assert "By a monitor · published" in _read(_pages(world)["recommendation"])


@pytest.mark.parametrize("prefix", ["", "/zh-hans", "/ug"])
def test_an_organisation_that_chose_to_be_named_is_named_everywhere(world, prefix):
    Organisation.objects.filter(pk=world.org.pk).update(public_name_allowed=True)
    for where, url in _pages(world).items():
        content = _read(prefix + url)
        assert world.org.name in content, where
        _no_account(content, where)
    if not prefix:
        assert f"By a monitor of {world.org.name} · published" in _read(_pages(world)["recommendation"])
        assert f"<name>A monitor of {world.org.name}</name>" in _read(_pages(world)["site feed"])


def test_another_organisation_naming_itself_names_only_its_own_work(world):
    Organisation.objects.filter(pk=world.other_org.pk).update(public_name_allowed=True)
    theirs = submit(world.rec2, world.mallory, [world.public_ev])
    services.publish_assessment(theirs, reviewer=world.oscar)
    content = _read(f"/public/recommendations/{world.rec.code}/")
    assert world.other_org.name not in content and world.org.name not in content
    assert world.other_org.name in _read(f"/public/recommendations/{world.rec2.code}/")


def test_choosing_changes_the_etag(world):
    client = Client()
    url = f"/public/recommendations/{world.rec.code}/"
    etag = client.get(url)["ETag"]
    world.org.public_name_allowed = True
    world.org.save()
    named = client.get(url, headers={"if-none-match": etag})
    assert named.status_code == 200 and world.org.name in named.content.decode()
    world.org.public_name_allowed = False
    world.org.save()
    again = client.get(url, headers={"if-none-match": named["ETag"]})
    assert again.status_code == 200 and world.org.name not in again.content.decode()


# --- Who chooses: the organisation's curators, in the admin -------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change_url(org) -> str:
    return reverse("admin:cases_organisation_change", args=[org.pk])


def test_a_curator_chooses_for_her_own_organisation(world):
    carol = _client(world.carol)
    listed = carol.get(reverse("admin:cases_organisation_changelist"))
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [world.org]
    page = carol.get(_change_url(world.org))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert list(form.fields) == ["public_name_allowed"]  # name and slug are the operators'
    response = carol.post(
        _change_url(world.org), {"public_name_allowed": "on", "name": "Renamed", "slug": "x"}
    )
    assert response.status_code == 302
    world.org.refresh_from_db()
    assert world.org.public_name_allowed is True
    assert world.org.name != "Renamed" and world.org.slug != "x"
    carol.post(_change_url(world.org), {})
    world.org.refresh_from_db()
    assert world.org.public_name_allowed is False


def test_nobody_else_chooses_for_an_organisation(world):
    oscar = _client(world.oscar)  # a curator of another organisation
    assert oscar.get(_change_url(world.org)).status_code in {302, 404}
    oscar.post(_change_url(world.org), {"public_name_allowed": "on"})
    alice = _client(world.alice)  # a monitor of the organisation
    assert alice.get(_change_url(world.org)).status_code == 302  # to the sign-in page: not staff
    alice.post(_change_url(world.org), {"public_name_allowed": "on"})
    world.org.refresh_from_db()
    assert world.org.public_name_allowed is False
    # Curators neither add nor delete organisations.
    carol = _client(world.carol)
    assert carol.get(reverse("admin:cases_organisation_add")).status_code == 403
    assert carol.get(reverse("admin:cases_organisation_delete", args=[world.org.pk])).status_code == 403


def test_an_operator_chooses_for_any_organisation(world):
    root = make_user("root", role=None, organisation=world.partner_org, is_superuser=True, is_staff=True)
    response = _client(root).post(
        _change_url(world.other_org),
        {"name": world.other_org.name, "slug": world.other_org.slug, "public_name_allowed": "on"},
    )
    assert response.status_code == 302
    world.other_org.refresh_from_db()
    assert world.other_org.public_name_allowed is True
