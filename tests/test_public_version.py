"""The public record's version (issue 13/14): the one row behind the public pages' ETag and Last-Modified,
bumped by database triggers (migration 0018_public_version) whatever makes a public change — services, the
admin's saves, `QuerySet.update()`, raw SQL — and by nothing the public cannot see. A 304 costs one
primary-key lookup."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import public_version, services
from cases.models import (
    Assessment,
    Confidentiality,
    Document,
    Evidence,
    Organisation,
    PublicVersion,
    Recommendation,
    Theme,
)
from cases.people import services as people_services
from cases.people.models import Consent, Person
from cases.translations.models import RecommendationTranslation
from tests.factories import make_evidence, make_recommendation, submit

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("cases.migrations.0018_public_version")


@pytest.fixture
def p(personas, settings):
    settings.PUBLIC_SITE = True
    return personas


def _bumps(change) -> bool:
    before = public_version.read()
    change()
    after = public_version.read()
    assert after[0] >= before[0] and (before[1] is None or after[1] >= before[1])  # never goes back
    return after[0] > before[0]


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_every_trigger_is_there_after_all_migrations():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        found = {row[0] for row in cursor.fetchall()}
    wanted = {
        f"{table}_public_{event}" for table in MIGRATION.TABLES for event in ("insert", "update", "delete")
    }
    assert wanted <= found, sorted(wanted - found)
    assert PublicVersion.objects.filter(pk=1).exists()


# --- Assessments --------------------------------------------------------------------------------------


def test_a_publication_bumps_and_a_submission_does_not(p):
    draft = submit(p.rec, p.alice, [p.public_ev])
    assert not _bumps(lambda: submit(p.rec, p.alice, [p.public_ev]))
    assert not _bumps(lambda: services.return_assessment(draft, reviewer=p.carol, comment="again"))
    other = submit(p.rec2, p.alice, [p.public_ev])
    assert _bumps(lambda: services.publish_assessment(other, reviewer=p.carol))
    correction = submit(p.rec2, p.alice, [p.public_ev], corrects=other, implementation_status="regressed")
    assert _bumps(lambda: services.publish_assessment(correction, reviewer=p.dave))


def test_raw_changes_of_published_assessments_bump(p):
    published = submit(p.rec, p.alice, [p.public_ev])
    services.publish_assessment(published, reviewer=p.carol)
    draft = submit(p.rec2, p.alice, [p.public_ev])
    # Bulk update, entering and leaving `published`, and a citation added by hand.
    assert not _bumps(lambda: Assessment.objects.filter(pk=draft.pk).update(rationale="draft text"))
    assert _bumps(lambda: _raw("UPDATE cases_assessment SET rationale = 'x' WHERE id = %s", [published.pk]))
    assert _bumps(
        lambda: _raw(
            "UPDATE cases_assessment SET review_state = 'returned', published_at = NULL WHERE id = %s",
            [published.pk],
        )
    )
    assert _bumps(
        lambda: _raw(
            "UPDATE cases_assessment SET review_state = 'published', published_at = %s WHERE id = %s",
            [timezone.now(), published.pk],
        )
    )
    link = Assessment.evidence.through
    assert _bumps(lambda: link.objects.create(assessment_id=published.pk, evidence_id=p.internal_ev.pk))
    assert not _bumps(lambda: link.objects.create(assessment_id=draft.pk, evidence_id=p.internal_ev.pk))
    assert _bumps(
        lambda: _raw("DELETE FROM cases_assessment_evidence WHERE assessment_id = %s", [published.pk])
    )
    _raw("DELETE FROM cases_assessmenttransition WHERE assessment_id = %s", [published.pk])
    assert _bumps(lambda: _raw("DELETE FROM cases_assessment WHERE id = %s", [published.pk]))


# --- Reference data: recommendations, documents, themes, translations --------------------------------


def test_reference_data_changes_bump(p):
    assert _bumps(lambda: make_recommendation(p.document, "XJ22-153-i", "153(i)", "New text."))
    assert _bumps(lambda: Recommendation.objects.filter(pk=p.rec.pk).update(text="Edited in bulk."))
    assert _bumps(lambda: _raw("UPDATE cases_recommendation SET text = 'raw' WHERE id = %s", [p.rec2.pk]))
    assert _bumps(lambda: Document.objects.filter(pk=p.document.pk).update(title="Renamed"))
    assert _bumps(lambda: Theme.objects.filter(pk=p.theme.pk).update(name="Renamed theme"))
    theme = Theme.objects.create(name="Other", slug="other")
    assert _bumps(lambda: p.rec2.themes.add(theme))
    assert _bumps(lambda: p.rec2.themes.remove(theme))
    assert _bumps(
        lambda: RecommendationTranslation.objects.create(
            recommendation=p.rec, language="zh-hans", text="文本", created_by=p.carol
        )
    )
    assert _bumps(lambda: RecommendationTranslation.objects.filter(recommendation=p.rec).update(text="新"))
    assert _bumps(lambda: Recommendation.objects.filter(code="XJ22-153-i").delete())


# --- Evidence ---------------------------------------------------------------------------------------------


def test_public_evidence_bumps_and_confidential_evidence_does_not(p):
    assert _bumps(lambda: make_evidence(p.alice, "https://news.example.org/new", Confidentiality.PUBLIC))
    assert not _bumps(
        lambda: make_evidence(p.alice, "https://news.example.org/secret", Confidentiality.INTERNAL, [p.rec])
    )
    loose = make_evidence(p.alice, "https://news.example.org/loose", Confidentiality.PUBLIC)
    secret = make_evidence(p.alice, "https://news.example.org/secret-2", Confidentiality.INTERNAL)
    assert not _bumps(lambda: Evidence.objects.filter(pk=secret.pk).update(title="still secret"))
    assert not _bumps(lambda: secret.recommendations.add(p.rec2))
    assert _bumps(lambda: Evidence.objects.filter(pk=loose.pk).update(title="edited in bulk"))
    assert _bumps(lambda: loose.recommendations.add(p.rec2))
    # Made confidential (leaves the pages), then public again (comes back), by raw SQL.
    assert _bumps(
        lambda: _raw("UPDATE cases_evidence SET confidentiality = 'internal' WHERE id = %s", [loose.pk])
    )
    assert not _bumps(lambda: _raw("UPDATE cases_evidence SET title = 'hidden' WHERE id = %s", [loose.pk]))
    assert _bumps(
        lambda: _raw("UPDATE cases_evidence SET confidentiality = 'public' WHERE id = %s", [loose.pk])
    )
    assert _bumps(lambda: loose.recommendations.remove(p.rec2))
    assert _bumps(lambda: Evidence.objects.filter(pk=loose.pk).delete())
    assert not _bumps(lambda: Evidence.objects.filter(pk=secret.pk).delete())


# --- People -----------------------------------------------------------------------------------------------


def _person(p, consent: str, confidentiality: str = Confidentiality.PUBLIC) -> Person:
    return people_services.add_person(
        created_by=p.alice, consent=consent, confidentiality=confidentiality, name_latin="Qname"
    )


def test_people_counted_in_public_bump_and_others_do_not(p):
    hidden = _person(p, Consent.NO)
    assert not _bumps(lambda: Person.objects.filter(pk=hidden.pk).update(name_latin="other"))
    assert not _bumps(lambda: hidden.recommendations.add(p.rec))
    partners = _person(p, Consent.YES, Confidentiality.PARTNERS)
    assert not _bumps(lambda: Person.objects.filter(pk=partners.pk).update(name_latin="other"))
    assert _bumps(lambda: _person(p, Consent.YES))
    named = _person(p, Consent.YES)
    assert _bumps(lambda: named.recommendations.add(p.rec))
    assert _bumps(lambda: Person.objects.filter(pk=named.pk).update(never_export="name_latin"))
    # Consent withdrawn (the name and the count leave), then given again, in bulk.
    assert _bumps(lambda: Person.objects.filter(pk=named.pk).update(consent=Consent.NO))
    assert not _bumps(lambda: Person.objects.filter(pk=named.pk).update(name_latin="unseen"))
    assert _bumps(lambda: Person.objects.filter(pk=hidden.pk).update(consent=Consent.YES))
    assert _bumps(lambda: hidden.recommendations.remove(p.rec))


# --- Organisations ----------------------------------------------------------------------------------------


def test_a_named_organisation_bumps(p):
    org = Organisation.objects.get(pk=p.org.pk)
    assert not _bumps(lambda: Organisation.objects.filter(pk=org.pk).update(name="Unnamed NGO"))
    assert _bumps(lambda: Organisation.objects.filter(pk=org.pk).update(public_name_allowed=True))
    assert _bumps(lambda: Organisation.objects.filter(pk=org.pk).update(name="Named NGO"))
    assert _bumps(lambda: Organisation.objects.filter(pk=org.pk).update(public_name_allowed=False))


# --- What the pages answer --------------------------------------------------------------------------------


def test_a_raw_change_changes_the_etag_and_last_modified(p):
    client = Client()
    url = f"/public/recommendations/{p.rec.code}/"
    first = client.get(url)
    assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
    later = timezone.now() + datetime.timedelta(seconds=5)
    Recommendation.objects.filter(pk=p.rec.pk).update(text="Changed by hand", updated_at=later)
    fresh = client.get(url, headers={"if-none-match": first["ETag"]})
    assert fresh.status_code == 200 and fresh["ETag"] != first["ETag"]
    assert "Changed by hand" in fresh.content.decode()
    assert client.get(url, headers={"if-modified-since": first["Last-Modified"]}).status_code == 200


def test_a_304_costs_one_small_query(p):
    client = Client()
    url = f"/public/recommendations/{p.rec.code}/"
    etag = client.get(url)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert "cases_publicversion" in sql and "JOIN" not in sql.upper() and "UNION" not in sql.upper()
    # Signed in: the same one query plus the session and its user.
    signed_in = Client()
    signed_in.force_login(p.alice)
    etag = signed_in.get(url)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert signed_in.get(url, headers={"if-none-match": etag}).status_code == 304
    assert len(queries) == 3
    assert sum("cases_publicversion" in q["sql"] for q in queries) == 1


def test_bump_and_a_missing_row(p):
    version, changed_at = public_version.read()
    public_version.bump()
    assert public_version.read()[0] == version + 1 and public_version.read()[1] >= changed_at
    PublicVersion.objects.all().delete()
    assert public_version.read() == (0, None)
    # The triggers bring the row back with the next public change; so does bump.
    Recommendation.objects.filter(pk=p.rec.pk).update(text="again")
    assert public_version.read()[0] == 1
    PublicVersion.objects.all().delete()
    public_version.bump()
    assert public_version.read()[0] == 1


# --- Restores ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["native", "portable"])
def test_a_restore_leaves_a_version_no_reader_has_seen(personas, tmp_path, settings, fmt):
    """The row is not in a portable backup, and a native one brings back an old version: either way the
    restore bumps it past the target's own, so no reader's ETag matches the restored record."""
    import base64
    import io
    import os

    from django.core.management import call_command

    settings.BACKUP_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.BACKUP_PASSPHRASE = ""
    settings.PUBLIC_SITE = True
    path = tmp_path / "tracker.backup"
    call_command("backup", str(path), "--format", fmt, stdout=io.StringIO())
    Recommendation.objects.filter(pk=personas.rec.pk).update(text="changed after the backup")
    client = Client()
    url = f"/public/recommendations/{personas.rec.code}/"
    etag = client.get(url)["ETag"]
    seen = public_version.read()
    call_command("restore", str(path), "--replace", stdout=io.StringIO())
    restored = public_version.read()
    assert restored[0] > seen[0] and restored[1] >= seen[1]
    fresh = client.get(url, headers={"if-none-match": etag})
    assert fresh.status_code == 200 and "changed after the backup" not in fresh.content.decode()


# --- The triggers' conditions agree with the decider (cases/access.py) ------------------------------------


@pytest.mark.parametrize("consent", [Consent.YES, Consent.NO, Consent.UNKNOWN])
@pytest.mark.parametrize("confidentiality", [Confidentiality.PUBLIC, Confidentiality.PARTNERS])
def test_a_person_bumps_exactly_when_the_public_site_counts_them(p, consent, confidentiality):
    from cases import access

    person = _person(p, consent, confidentiality)
    counted = access.public_people().filter(pk=person.pk).exists()
    assert _bumps(lambda: Person.objects.filter(pk=person.pk).update(name_latin="changed")) == counted


@pytest.mark.parametrize("confidentiality", list(Confidentiality))
def test_evidence_bumps_exactly_when_the_public_site_shows_it(p, confidentiality):
    from cases import access

    evidence = make_evidence(p.alice, f"https://news.example.org/{confidentiality}-x", confidentiality)
    shown = access.public_evidence().filter(pk=evidence.pk).exists()
    assert _bumps(lambda: Evidence.objects.filter(pk=evidence.pk).update(title="changed")) == shown
    assert _bumps(lambda: evidence.recommendations.add(p.rec2)) == shown


def test_an_assessment_bumps_exactly_when_the_public_site_shows_it(p):
    from cases import access

    for state in ("submitted", "returned", "withdrawn"):
        draft = submit(p.rec, p.alice, [p.public_ev])
        Assessment.objects.filter(pk=draft.pk).update(review_state=state)
        assert not access.public_assessments().filter(pk=draft.pk).exists()
        assert not _bumps(lambda draft=draft: Assessment.objects.filter(pk=draft.pk).update(rationale="x"))
    published = submit(p.rec, p.alice, [p.public_ev])
    services.publish_assessment(published, reviewer=p.carol)
    assert access.public_assessments().filter(pk=published.pk).exists()
    # The model refuses to change it; the trigger sees a change made around the model too.
    assert _bumps(lambda: _raw("UPDATE cases_assessment SET rationale = 'y' WHERE id = %s", [published.pk]))
