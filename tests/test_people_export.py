"""`/api/v1/export/people.csv` (issue 12): the whole set of people a viewer may know of, streamed, redacted
exactly as `/api/v1/people/` (pseudonymous reference without consent, "never export" fields never), with
a constant number of queries and the read audited. The persona x field matrix is in test_people_matrix.py."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.api import export
from cases.models import Confidentiality
from cases.people import services
from cases.people.models import Consent
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/export/people.csv"


def _body(response) -> str:
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_body(response))))


def _key(secret) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}"})


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(personas):
    p = personas
    p.consented = services.add_person(
        created_by=p.alice,
        name_latin="Ilham Consented",
        consent=Consent.YES,
        confidentiality=Confidentiality.PARTNERS,
        prefecture="Kashgar",
        recommendations=[p.rec],
    )
    p.withheld = services.add_person(
        created_by=p.alice,
        name_latin="Nurmemet Withheld",
        name_uyghur="نۇرمەمەت",
        consent=Consent.NO,
        confidentiality=Confidentiality.PARTNERS,
        prefecture="Hotan",
        birth_year=1977,
    )
    p.internal = services.add_person(created_by=p.alice, name_latin="Internal Only", consent=Consent.YES)
    return p


def test_the_export_is_the_api_csv_streamed(world):
    client = _key(world.partners_secret)
    response = client.get(URL)
    assert response["Content-Disposition"].startswith('attachment; filename="people-')
    assert "no-store" in response["Cache-Control"]
    text = _body(response)
    assert text == client.get("/api/v1/people/", {"format": "csv"}).content.decode()
    rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(text))}
    # Internal never leaves through a key; without consent only the reference and the prefecture.
    assert set(rows) == {world.consented.reference, world.withheld.reference}
    assert rows[world.consented.reference]["name_latin"] == "Ilham Consented"
    withheld = rows[world.withheld.reference]
    assert withheld["identified"] == "false" and withheld["prefecture"] == "Hotan"
    assert withheld["name_latin"] == withheld["name_uyghur"] == withheld["birth_year"] == ""
    assert "Nurmemet" not in text and "نۇرمەمەت" not in text and "1977" not in text


def test_the_holder_sees_its_names_but_never_a_field_marked_never_export(world):
    from cases.people.models import Person

    services.change_person(
        Person.objects.get(pk=world.withheld.pk), by=world.carol, never_export="name_uyghur"
    )
    text = _body(_session(world.carol).get(URL))
    assert "Nurmemet Withheld" in text and "Internal Only" in text
    assert "نۇرمەمەت" not in text


def test_other_organisation_and_anonymous(world):
    text = _body(_session(world.mallory).get(URL))
    assert world.withheld.reference in text and "Nurmemet" not in text
    assert world.internal.reference not in text
    assert Client().get(URL).status_code in {401, 403}


def test_filters_apply(world):
    rows = _rows(_key(world.partners_secret).get(URL, {"recommendation": world.rec.code}))
    assert [row["reference"] for row in rows] == [world.consented.reference]
    # A search by a hidden name finds nothing (it would tell that the name is on record).
    assert _rows(_key(world.partners_secret).get(URL, {"q": "Nurmemet"})) == []


def test_the_read_is_audited_with_what_left(world):
    _body(_key(world.partners_secret).get(URL))
    event = AuditEvent.objects.filter(event="person.list").latest("id")
    assert event.fields["export"] is True
    assert event.fields["count"] == 2 and event.fields["identified"] == 1


def test_queries_do_not_grow_with_rows(world, monkeypatch):
    monkeypatch.setattr(export.CSVExportMixin, "chunk_size", 50)
    client = _key(world.partners_secret)
    _body(client.get(URL))

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            lines = _body(client.get(URL)).count("\n")
        return len(ctx.captured_queries), lines

    small, small_lines = count()
    for i in range(40):
        services.add_person(
            created_by=world.alice,
            name_latin=f"Bulk {i}",
            consent=Consent.NO,
            confidentiality=Confidentiality.PARTNERS,
            recommendations=[world.rec],
        )
    same, same_lines = count()
    assert same_lines == small_lines + 40
    assert same == small  # still one chunk: the same queries
    for i in range(60):
        services.add_person(created_by=world.alice, name_latin=f"More {i}", confidentiality="partners")
    large, large_lines = count()
    assert large_lines == small_lines + 100
    # Three chunks instead of one: the page and each prefetch once more per chunk, never once per row.
    assert large <= small + 2 * 3
