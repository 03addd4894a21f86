"""People (issue 12): the model, the four-eyes status workflow, redaction in the database, search across
scripts, duplicates and merge, the pages with their query budgets, and the counts on a recommendation."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from cases import access
from cases.models import Confidentiality, ReviewState
from cases.people import dedupe, services
from cases.people.models import (
    Consent,
    FacilityType,
    Person,
    PersonStatus,
    PersonStatusKind,
    PublishedStatusImmutable,
    StatusBasis,
)
from cases.services import TransitionError
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

UYGHUR = "ئابدۇرېھىم ھېيىت"
SECRET = "Zebulonmarker Qxyzt"


def add(user, **fields):
    defaults = {"name_latin": SECRET, "prefecture": "Kashgar", "birth_year": 1970}
    defaults.update(fields)
    return services.add_person(created_by=user, **defaults)


def publish(person, author, reviewer, status=PersonStatusKind.DETAINED, **fields):
    entry = services.submit_status(
        person,
        author=author,
        status=status,
        basis=StatusBasis.FAMILY_TESTIMONY,
        occurred_on=datetime.date(2019, 3, 1),
        **fields,
    )
    return services.publish_status(entry, reviewer=reviewer)


# --- Model and services ---------------------------------------------------------------------------------


def test_add_person_generates_a_stable_reference_and_defaults_to_internal(personas):
    person = add(personas.alice, recommendations=[personas.rec])
    assert person.reference.startswith("P-") and len(person.reference) == 6
    assert person.confidentiality == Confidentiality.INTERNAL
    assert person.consent == Consent.UNKNOWN
    assert person.organisation == personas.org
    assert list(person.recommendations.all()) == [personas.rec]
    assert str(person) == person.reference  # never the name
    services.change_person(person, by=personas.alice, occupation="Teacher")
    person.refresh_from_db()
    assert person.reference.startswith("P-") and person.occupation == "Teacher"
    row = AuditEvent.objects.get(event="person.add")
    assert row.target_id == str(person.pk) and SECRET not in str(row.__dict__)


def test_a_person_needs_a_name_or_reference(personas):
    with pytest.raises(ValidationError):
        services.add_person(created_by=personas.alice, prefecture="Kashgar")


def test_only_the_holder_changes_a_person(personas):
    person = add(personas.alice)
    with pytest.raises(PermissionDenied):
        services.change_person(person, by=personas.mallory, name_latin="x")


def test_constraints_hold_in_the_database(personas):
    person = add(personas.alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.filter(pk=person.pk).update(consent="maybe")
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonStatus.objects.create(
            person=person,
            status=PersonStatusKind.RELEASED,
            facility_type=FacilityType.PRISON,
            basis=StatusBasis.MEDIA,
            occurred_on=datetime.date(2020, 1, 1),
            author=personas.alice,
            organisation=personas.org,
        )


def test_status_four_eyes_and_current_status(personas):
    person = add(personas.alice)
    entry = services.submit_status(
        person,
        author=personas.carol,
        status=PersonStatusKind.DETAINED,
        facility_type=FacilityType.VOCATIONAL,
        basis=StatusBasis.LEAKED_DOCUMENT,
        occurred_on=datetime.date(2018, 5, 1),
    )
    person.refresh_from_db()
    assert person.current_status == ""  # nothing changes before publication
    with pytest.raises(TransitionError):
        services.publish_status(entry, reviewer=personas.carol)  # own entry
    with pytest.raises(PermissionDenied):
        services.publish_status(entry, reviewer=personas.alice)  # not a curator
    services.publish_status(entry, reviewer=personas.dave)
    person.refresh_from_db()
    assert (person.current_status, person.current_facility) == ("detained", "vocational_centre")
    assert list(entry.transitions.values_list("to_state", flat=True)) == ["submitted", "published"]
    assert AuditEvent.objects.filter(event="person.status_publish", actor_id=personas.dave.pk).exists()
    with pytest.raises(TransitionError):
        services.publish_status(entry, reviewer=personas.dave)  # already published
    # Append-only: a published entry neither changes nor goes away.
    entry.note = "changed"
    with pytest.raises(PublishedStatusImmutable):
        entry.save()
    with pytest.raises(PublishedStatusImmutable):
        PersonStatus.objects.filter(pk=entry.pk).update(note="x")
    with pytest.raises(PublishedStatusImmutable):
        PersonStatus.objects.filter(pk=entry.pk).delete()
    # A correction is a new entry; the latest by date wins.
    released = publish(
        person, personas.alice, personas.carol, status=PersonStatusKind.RELEASED, corrects=None
    )
    released.refresh_from_db()
    person.refresh_from_db()
    assert person.current_status == "released" and person.current_facility == ""


def test_return_needs_a_comment_and_another_organisation_cannot_review(personas):
    from tests.factories import make_user

    person = add(personas.alice)
    entry = services.submit_status(
        person,
        author=personas.alice,
        status="whereabouts_unknown",
        basis="family_testimony",
        occurred_on=datetime.date(2020, 1, 1),
    )
    with pytest.raises(ValidationError):
        services.return_status(entry, reviewer=personas.carol, comment=" ")
    other_curator = make_user("oscar", role="curator", organisation=personas.other_org)
    with pytest.raises(PermissionDenied):
        services.publish_status(entry, reviewer=other_curator)
    services.return_status(entry, reviewer=personas.carol, comment="Which source?")
    assert PersonStatus.objects.get(pk=entry.pk).review_state == ReviewState.RETURNED


def test_future_dates_and_facility_for_release_are_refused(personas):
    person = add(personas.alice)
    with pytest.raises(ValidationError):
        services.submit_status(
            person,
            author=personas.alice,
            status="detained",
            basis="media",
            occurred_on=datetime.date.today() + datetime.timedelta(days=2),
        )
    with pytest.raises(ValidationError):
        services.submit_status(
            person,
            author=personas.alice,
            status="released",
            basis="media",
            facility_type="prison",
            occurred_on=datetime.date(2020, 1, 1),
        )
    with pytest.raises(PermissionDenied):
        services.submit_status(
            person,
            author=personas.mallory,
            status="released",
            basis="media",
            occurred_on=datetime.date(2020, 1, 1),
        )


# --- Names across scripts ----------------------------------------------------------------------------------


def test_fold_converts_uyghur_and_chinese_to_latin():
    assert dedupe.fold(UYGHUR) == "abdurehim heyit"
    assert dedupe.fold("阿不都热合曼·海依提") == "abudoureheman haiyiti"
    assert dedupe.fold("Abduréhim  HEYIT") == "abdurehim heyit"
    assert dedupe.skeleton("abdurahim") == dedupe.skeleton("abdurehim")


def test_search_finds_a_uyghur_script_name_by_latin_spellings(personas, client):
    person = add(personas.alice, name_latin="", name_uyghur=UYGHUR)
    viewer = access.viewer_for_user(personas.carol)
    from cases.people.forms import PersonFilter

    for query in ("Abdurehim", "abdurahim heyit", UYGHUR, person.reference):
        found = PersonFilter({"q": query}, queryset=access.visible_people(viewer), viewer=viewer).qs
        assert [p.reference for p in found] == [person.reference], query


# --- Access: redaction in the database -------------------------------------------------------------------


def test_other_organisations_see_reference_not_name(personas):
    person = add(personas.alice, confidentiality=Confidentiality.PARTNERS, xvdb_entry="XV-999")
    publish(person, personas.alice, personas.carol)
    mallory = access.viewer_for_user(personas.mallory)
    seen = access.visible_people(mallory).get(pk=person.pk)
    assert seen.reference == person.reference and seen.prefecture == "Kashgar"
    assert (seen.name_latin, seen.birth_year, seen.xvdb_entry, seen.identified) == ("", None, "", False)
    with pytest.raises(PermissionDenied):
        services.change_person(seen, by=personas.alice, occupation="x")  # a redacted instance never saves
    # A search by the hidden name or reference finds nothing for her.
    from cases.people.forms import PersonFilter

    for query in ("Zebulonmarker", "XV-999"):
        assert not PersonFilter(
            {"q": query}, queryset=access.visible_people(mallory), viewer=mallory
        ).qs.exists()
    # With consent, the name travels.
    Person.objects.filter(pk=person.pk).update(consent=Consent.YES)
    assert access.visible_people(mallory).get(pk=person.pk).name_latin == SECRET


def test_internal_people_are_invisible_outside_and_keys_see_by_clearance(personas):
    internal = add(personas.alice)
    partners = add(personas.alice, name_latin="B", confidentiality=Confidentiality.PARTNERS)
    public = add(personas.alice, name_latin="C", confidentiality=Confidentiality.PUBLIC)
    assert set(access.visible_people(access.viewer_for_user(personas.mallory))) == {partners, public}
    assert set(access.visible_people(access.viewer_for_key(personas.public_key))) == {public}
    assert set(access.visible_people(access.viewer_for_key(personas.partners_key))) == {partners, public}
    assert not access.visible_people(access.ANONYMOUS).exists()
    assert set(access.visible_people(access.viewer_for_user(personas.alice))) == {internal, partners, public}


# --- Duplicates and merge -----------------------------------------------------------------------------------


def test_likely_duplicates_across_scripts_and_ids(personas):
    first = add(personas.alice, name_latin="", name_uyghur=UYGHUR, birth_year=1964)
    matches = services.likely_duplicates(personas.org.pk, names=["Abdurahim Heyit"], birth_year=1964)
    assert [m.person for m in matches] == [first]
    add(personas.alice, name_latin="Ilham Tohti", birth_year=1969, un_communication_ref="CHN 18/2019")
    matches = services.likely_duplicates(
        personas.org.pk, names=["Someone Else"], refs={"un_communication_ref": "chn 18/2019"}
    )
    assert [m.person.name_latin for m in matches] == ["Ilham Tohti"]
    assert not services.likely_duplicates(personas.org.pk, names=["Gulshan Abbas"], birth_year=1962)
    # Another organisation's records are never candidates.
    assert not services.likely_duplicates(personas.other_org.pk, names=["Abdurahim Heyit"], birth_year=1964)


def test_merge_keeps_both_histories(personas):
    a = add(personas.alice, name_latin="Abdurehim Heyit", recommendations=[personas.rec])
    b = add(personas.alice, name_latin="", name_uyghur=UYGHUR, recommendations=[personas.rec2])
    publish(a, personas.alice, personas.carol, status=PersonStatusKind.DETAINED)
    publish(b, personas.alice, personas.carol, status=PersonStatusKind.WHEREABOUTS_UNKNOWN)
    with pytest.raises(PermissionDenied):
        services.merge_people(a, b, by=personas.alice)  # monitors do not merge
    services.merge_people(a, b, by=personas.carol)
    a.refresh_from_db()
    b.refresh_from_db()
    assert b.merged_into == a and a.statuses.count() == 2
    assert UYGHUR in a.aliases
    assert set(a.recommendations.all()) == {personas.rec, personas.rec2}
    assert AuditEvent.objects.filter(event="person.merge", target_id=str(a.pk)).exists()
    assert b not in access.visible_people(access.viewer_for_user(personas.alice))


# --- Pages ------------------------------------------------------------------------------------------------------


def test_people_list_filters_and_budget(personas, client, django_assert_num_queries):
    for i in range(3):
        p = add(
            personas.alice,
            name_latin=f"Person {i}",
            prefecture="Hotan" if i else "Kashgar",
            recommendations=[personas.rec],
        )
        publish(p, personas.alice, personas.carol, status="detained" if i else "released")
    client.force_login(personas.alice)
    url = reverse("cases:people-list")
    client.get(url)  # warm caches (sessions, content types)
    # session, user, membership+groups, count, rows, audit insert (+ savepoints of the audit row)
    with django_assert_num_queries(6, exact=False) as first:
        response = client.get(url, {"status": "detained", "recommendation": personas.rec.code})
    for i in range(3, 13):
        add(personas.alice, name_latin=f"Person {i}", prefecture="Hotan", recommendations=[personas.rec])
    with django_assert_num_queries(len(first.captured_queries)):
        client.get(url)
    body = response.content.decode()
    assert "Person 1" in body and "Person 2" in body and "Person 0" not in body
    assert AuditEvent.objects.filter(event="person.list", actor_id=personas.alice.pk).exists()


def test_person_page_audits_the_read_and_404s_outside(personas, client):
    person = add(personas.alice)
    client.force_login(personas.alice)
    response = client.get(reverse("cases:person", args=[person.reference]))
    assert SECRET in response.content.decode()
    assert AuditEvent.objects.filter(
        event="person.read", target_id=str(person.pk), actor_id=personas.alice.pk
    ).exists()
    client.force_login(personas.mallory)
    assert client.get(reverse("cases:person", args=[person.reference])).status_code == 404


def test_add_form_shows_duplicates_then_records_on_confirmation(personas, client):
    add(personas.alice, name_latin="", name_uyghur=UYGHUR, birth_year=1964)
    client.force_login(personas.alice)
    data = {
        "name_latin": "Abdurahim Heyit",
        "birth_year": "1964",
        "gender": "male",
        "consent": "unknown",
        "risk": "high",
        "confidentiality": "internal",
        "recommendations": "XJ22-151-i",
    }
    response = client.post(reverse("cases:person-new"), data)
    assert response.status_code == 200 and 'id="duplicates"' in response.content.decode()
    assert Person.objects.count() == 1
    response = client.post(reverse("cases:person-new"), {**data, "confirm_new": "1"})
    assert response.status_code == 302
    created = Person.objects.get(name_latin="Abdurahim Heyit")
    assert list(created.recommendations.values_list("code", flat=True)) == ["XJ22-151-i"]


def test_status_form_review_and_counts_on_recommendation(personas, client):
    person = add(personas.alice, recommendations=[personas.rec], confidentiality=Confidentiality.PARTNERS)
    client.force_login(personas.alice)
    response = client.post(
        reverse("cases:person-status-new", args=[person.reference]),
        {"status": "died_in_custody", "basis": "official_statement", "occurred_on": "2021-02-03"},
    )
    assert response.status_code == 302
    entry = PersonStatus.objects.get(person=person)
    client.force_login(personas.carol)
    assert entry.person.reference in client.get(reverse("cases:people-review")).content.decode()
    client.post(reverse("cases:people-review-publish", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.review_state == ReviewState.PUBLISHED and entry.reviewer == personas.carol
    page = client.get(reverse("cases:recommendation", args=[personas.rec.code])).content.decode()
    assert "1 died in custody" in page
    assert "?recommendation=XJ22-151-i&amp;status=died_in_custody" in page
    # Mallory (another organisation) sees the partners-level case counted, never the name.
    client.force_login(personas.mallory)
    page = client.get(reverse("cases:recommendation", args=[personas.rec.code])).content.decode()
    assert "1 died in custody" in page and SECRET not in page
    # A monitor cannot publish; another organisation's monitor cannot add a status.
    client.force_login(personas.mallory)
    response = client.post(
        reverse("cases:person-status-new", args=[person.reference]),
        {"status": "released", "basis": "media", "occurred_on": "2021-02-03"},
    )
    assert response.status_code == 404
