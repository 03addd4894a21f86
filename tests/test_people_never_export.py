"""A curator marks a person's field "never export" (issue 12, item 5): it never leaves through the API
(JSON, CSV) or any download, whatever the clearance and whoever asks (the holder's own session too), and
it is not searchable there; the holding organisation's own pages and admin still show it. Only a curator of
the holder sets it; every change is audited (names of fields only, never values)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from cases import access
from cases.models import Confidentiality
from cases.people import services
from cases.people.models import NEVER_EXPORT_FIELDS, Consent, Person
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

OCCUPATION = "Qzneverjob"
XVDB = "XVNE-4242"
BIRTH_YEAR = 1913
NAME = "Qzshownname"
MARKED = "birth_year occupation xvdb_entry"


@pytest.fixture
def world(personas):
    from tests.factories import make_user

    personas.oscar = make_user("oscar", role="curator", organisation=personas.other_org)
    # Worst case for an export: consent, public, so every identifying field may otherwise travel.
    personas.person = services.add_person(
        created_by=personas.carol,
        name_latin=NAME,
        occupation=OCCUPATION,
        xvdb_entry=XVDB,
        wgeid_ref="WGNE-1",
        birth_year=BIRTH_YEAR,
        prefecture="Hotan",
        consent=Consent.YES,
        confidentiality=Confidentiality.PUBLIC,
        never_export=MARKED,
        recommendations=[personas.rec],
    )
    return personas


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _key(secret) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}"})


def _api_outputs(client, person) -> dict[str, str]:
    return {
        "json_list": client.get("/api/v1/people/").content.decode(),
        "json_detail": client.get(f"/api/v1/people/{person.reference}/").content.decode(),
        "csv": client.get("/api/v1/people/?format=csv").content.decode(),
    }


# --- Model and services ---------------------------------------------------------------------------------


def test_the_marked_set_is_stored_in_canonical_order(world):
    person = Person.objects.get(pk=world.person.pk)
    assert person.never_export == MARKED
    assert person.never_export_set == {"birth_year", "occupation", "xvdb_entry"}
    services.change_person(person, by=world.carol, never_export="wgeid_ref occupation")
    person.refresh_from_db()
    assert person.never_export == "occupation wgeid_ref"


def test_an_unknown_field_name_is_refused(world):
    person = Person.objects.get(pk=world.person.pk)
    for bad in ("consent", "occupation nonsense", "search_key", "reference"):
        with pytest.raises(ValidationError):
            services.change_person(person, by=world.carol, never_export=bad)
    person.refresh_from_db()
    assert person.never_export == MARKED


def test_only_a_curator_of_the_holder_marks_fields(world):
    # A monitor of the holder may record a person, and change details, but not what may be exported.
    with pytest.raises(PermissionDenied):
        services.add_person(created_by=world.alice, name_latin="Someone", never_export="occupation")
    person = Person.objects.get(pk=world.person.pk)
    with pytest.raises(PermissionDenied):
        services.change_person(person, by=world.alice, never_export="")
    services.change_person(person, by=world.alice, ethnicity="Uyghur")  # other fields: still hers
    # A curator of another organisation: not the holder.
    with pytest.raises(PermissionDenied):
        services.change_person(person, by=world.oscar, never_export="")
    person.refresh_from_db()
    assert person.never_export == MARKED


def test_marking_is_audited_with_field_names_only(world):
    row = AuditEvent.objects.get(event="person.never_export")
    assert row.fields["added"] == ["birth_year", "occupation", "xvdb_entry"]
    assert row.fields["removed"] == []
    person = Person.objects.get(pk=world.person.pk)
    services.change_person(person, by=world.dave, never_export="occupation wgeid_ref")
    row = AuditEvent.objects.filter(event="person.never_export").latest("pk")
    assert row.actor_id == world.dave.pk and row.target_id == str(person.pk)
    assert row.fields["added"] == ["wgeid_ref"]
    assert row.fields["removed"] == ["birth_year", "xvdb_entry"]
    assert OCCUPATION not in str(row.fields) and XVDB not in str(row.fields)
    # Unchanged: no row.
    services.change_person(person, by=world.dave, never_export="occupation wgeid_ref")
    assert AuditEvent.objects.filter(event="person.never_export").count() == 2


def test_every_identifying_field_can_be_marked_but_not_the_bookkeeping():
    assert "occupation" in NEVER_EXPORT_FIELDS and "birth_year" in NEVER_EXPORT_FIELDS
    assert "xvdb_entry" in NEVER_EXPORT_FIELDS and "name_latin" in NEVER_EXPORT_FIELDS
    assert not {"search_key", "reference", "consent", "risk", "never_export"} & set(NEVER_EXPORT_FIELDS)


# --- API and downloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["holder_curator", "holder_monitor", "other", "public_key", "partners_key"])
def test_marked_fields_never_leave_through_the_api(world, who):
    client = {
        "holder_curator": lambda: _session(world.carol),
        "holder_monitor": lambda: _session(world.alice),
        "other": lambda: _session(world.oscar),
        "public_key": lambda: _key(world.public_secret),
        "partners_key": lambda: _key(world.partners_secret),
    }[who]()
    outputs = _api_outputs(client, world.person)
    for name, text in outputs.items():
        assert OCCUPATION not in text, name
        assert XVDB not in text, name
        assert str(BIRTH_YEAR) not in text, name
        # The same outputs still carry what is not marked: a test that sees nothing proves nothing.
        assert NAME in text and "WGNE-1" in text, name
    detail = client.get(f"/api/v1/people/{world.person.reference}/").json()
    assert detail["occupation"] == "" and detail["xvdb_entry"] == "" and detail["birth_year"] is None
    assert detail["identified"] is True and detail["name_latin"] == NAME
    assert "never_export" not in detail


def test_the_streamed_export_redacts_as_the_api_and_the_csv_columns_stay(world):
    # The whole-set download of people redacts exactly as the API: marked fields empty for the holder too.
    response = _session(world.carol).get("/api/v1/export/people.csv")
    text = b"".join(response.streaming_content).decode()
    assert OCCUPATION not in text and XVDB not in text and NAME in text
    csv = _session(world.carol).get("/api/v1/people/?format=csv").content.decode()
    assert text == csv
    header = csv.lstrip("\ufeff").splitlines()[0]
    assert "occupation" in header and "xvdb_entry" in header  # the columns stay, empty


@pytest.mark.parametrize("who", ["holder_curator", "partners_key"])
def test_the_api_search_does_not_find_by_a_marked_field(world, who):
    client = _session(world.carol) if who == "holder_curator" else _key(world.partners_secret)
    found = client.get("/api/v1/people/", {"q": XVDB}).json()["results"]
    assert found == []
    # An unmarked reference still finds the person.
    found = client.get("/api/v1/people/", {"q": "WGNE-1"}).json()["results"]
    assert [row["reference"] for row in found] == [world.person.reference]


def test_marked_names_are_not_searchable_through_the_api(world):
    person = Person.objects.get(pk=world.person.pk)
    services.change_person(person, by=world.carol, never_export="name_latin")
    client = _key(world.partners_secret)
    assert client.get("/api/v1/people/", {"q": NAME}).json()["results"] == []
    assert NAME not in client.get("/api/v1/people/?format=csv").content.decode()
    # The holder still finds the person by name on her own page.
    page = _session(world.carol).get(reverse("cases:people-list"), {"q": NAME}).content.decode()
    assert world.person.reference in page


def test_an_exported_instance_cannot_be_saved(world):
    viewer = access.viewer_for_user(world.carol)
    person = access.exported_people(viewer).get(pk=world.person.pk)
    assert person.occupation == ""
    with pytest.raises(PermissionDenied):
        services.change_person(person, by=world.carol, ethnicity="x")
    assert Person.objects.get(pk=world.person.pk).occupation == OCCUPATION


def test_export_query_count_does_not_grow(world, django_assert_max_num_queries):
    client = _key(world.partners_secret)
    client.get("/api/v1/people/")
    with django_assert_max_num_queries(8):
        client.get("/api/v1/people/")


# --- Pages and admin ------------------------------------------------------------------------------------


def test_the_holders_own_page_still_shows_marked_fields_and_says_so(world):
    page = _session(world.alice).get(reverse("cases:person", args=[world.person.reference])).content.decode()
    assert OCCUPATION in page and XVDB in page and str(BIRTH_YEAR) in page
    assert 'id="never-export"' in page


def test_another_organisations_page_does_not_show_marked_fields(world):
    page = _session(world.oscar).get(reverse("cases:person", args=[world.person.reference])).content.decode()
    assert NAME in page  # consent: the name is shown
    assert OCCUPATION not in page and XVDB not in page
    assert 'id="never-export"' not in page
    listing = _session(world.oscar).get(reverse("cases:people-list"), {"q": XVDB}).content.decode()
    assert world.person.reference not in listing


def test_a_curator_marks_fields_in_the_person_form(world):
    client = _session(world.carol)
    page = client.get(reverse("cases:person-new")).content.decode()
    assert 'name="never_export"' in page
    response = client.post(
        reverse("cases:person-new"),
        {
            "name_latin": "Newperson Qzz",
            "gender": "unknown",
            "consent": "unknown",
            "risk": "high",
            "confidentiality": "internal",
            "never_export": ["occupation", "wgeid_ref"],
            "confirm_new": "1",
        },
    )
    assert response.status_code == 302
    person = Person.objects.get(name_latin="Newperson Qzz")
    assert person.never_export == "occupation wgeid_ref"


def test_a_monitor_does_not_get_the_choice_and_cannot_post_it(world):
    client = _session(world.alice)
    page = client.get(reverse("cases:person-new")).content.decode()
    assert 'name="never_export"' not in page
    response = client.post(
        reverse("cases:person-new"),
        {
            "name_latin": "Monitorperson Qzz",
            "gender": "unknown",
            "consent": "unknown",
            "risk": "high",
            "confidentiality": "internal",
            "never_export": ["occupation"],
            "confirm_new": "1",
        },
    )
    assert response.status_code == 302
    assert Person.objects.get(name_latin="Monitorperson Qzz").never_export == ""


def test_a_bad_choice_in_the_form_is_an_error_not_a_crash(world):
    response = _session(world.carol).post(
        reverse("cases:person-new"),
        {
            "name_latin": "Badchoice Qzz",
            "gender": "unknown",
            "consent": "unknown",
            "risk": "high",
            "confidentiality": "internal",
            "never_export": ["search_key"],
        },
    )
    assert response.status_code == 200
    assert not Person.objects.filter(name_latin="Badchoice Qzz").exists()


def test_a_curator_marks_fields_in_the_admin(world):
    client = _session(world.carol)
    url = f"/admin/cases/person/{world.person.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="never_export"' in page
    assert re.search(r'value="occupation"[^>]*checked', page)
    data = {
        "name_latin": NAME,
        "name_uyghur": "",
        "name_chinese": "",
        "aliases": "",
        "gender": "unknown",
        "birth_year": str(BIRTH_YEAR),
        "ethnicity": "",
        "prefecture": "Hotan",
        "occupation": OCCUPATION,
        "xvdb_entry": XVDB,
        "wgeid_ref": "WGNE-1",
        "un_communication_ref": "",
        "document_refs": "",
        "consent": "yes",
        "risk": "high",
        "confidentiality": "public",
        "never_export": ["ethnicity"],
        "recommendations": [str(world.rec.pk)],
        "statuses-TOTAL_FORMS": "0",
        "statuses-INITIAL_FORMS": "0",
        "statuses-MIN_NUM_FORMS": "0",
        "statuses-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Person.objects.get(pk=world.person.pk).never_export == "ethnicity"
    row = AuditEvent.objects.filter(event="person.never_export").latest("pk")
    assert row.actor_id == world.carol.pk and row.fields["added"] == ["ethnicity"]


def test_a_person_whose_names_are_all_withheld_is_headed_by_the_reference(world):
    person = Person.objects.get(pk=world.person.pk)
    services.change_person(person, by=world.carol, never_export="name_latin occupation")
    page = _session(world.oscar).get(reverse("cases:person", args=[person.reference])).content.decode()
    heading = re.search(r'<h1 id="person-name">(.*?)</h1>', page, re.S).group(1)
    assert person.reference in heading and NAME not in page
    own = _session(world.alice).get(reverse("cases:person", args=[person.reference])).content.decode()
    assert NAME in re.search(r'<h1 id="person-name">(.*?)</h1>', own, re.S).group(1)
