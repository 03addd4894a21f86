"""The access matrix for people (issue 12): each identifying field x persona x output, 0 leaks of a name or
identifying detail without consent. Unique marker strings fill every identifying field; the same request
for a person with consent (or for the holder) must show its markers, so an output that shows nothing at all
cannot pass for a safe one."""

from __future__ import annotations

import datetime
import re
from html import unescape
from urllib.parse import unquote_plus

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from cases.models import Confidentiality
from cases.people import services
from cases.people.models import Consent, Gender
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

FIELDS = {
    "name_latin": "Qwmarkerlatin",
    "name_uyghur": "قۋماركېر",
    "name_chinese": "甲乙丙丁标记",
    "aliases": "Qwmarkeralias",
    "ethnicity": "Qwmarkerethnic",
    "occupation": "Qwmarkerjob",
    "xvdb_entry": "XVQW-91919",
    "wgeid_ref": "WGQW-81818",
    "un_communication_ref": "CHN 77/2077",
    "document_refs": "Qwmarkerdocno",
}
BIRTH_YEAR = 1911  # a year no other column or timestamp in these outputs holds


def markers(prefix: str) -> dict:
    return {
        name: (f"{prefix}{value}" if name not in {"name_uyghur", "name_chinese"} else value + prefix)
        for name, value in FIELDS.items()
    }


@pytest.fixture
def world(personas, settings):
    from tests.factories import make_user

    settings.PUBLIC_SITE = True  # the public site's pages are outputs too

    personas.oscar = make_user("oscar", role="curator", organisation=personas.other_org)
    hidden = markers("Hid")
    shown = markers("Ok")
    personas.hidden_markers = [*hidden.values(), str(BIRTH_YEAR)]
    personas.shown_markers = list(shown.values())
    # Worst case: public confidentiality (everyone who may know of any case knows of this one), no consent.
    personas.hidden = services.add_person(
        created_by=personas.alice,
        consent=Consent.NO,
        confidentiality=Confidentiality.PUBLIC,
        prefecture="Aksu",
        birth_year=BIRTH_YEAR,
        gender=Gender.FEMALE,
        recommendations=[personas.rec],
        **hidden,
    )
    personas.unknown = services.add_person(
        created_by=personas.alice,
        consent=Consent.UNKNOWN,
        confidentiality=Confidentiality.PARTNERS,
        prefecture="Aksu",
        birth_year=BIRTH_YEAR,
        recommendations=[personas.rec],
        **markers("Unk"),
    )
    personas.hidden_markers += list(markers("Unk").values())
    personas.shown = services.add_person(
        created_by=personas.alice,
        consent=Consent.YES,
        confidentiality=Confidentiality.PUBLIC,
        prefecture="Aksu",
        birth_year=1950,
        recommendations=[personas.rec],
        **shown,
    )
    for person in (personas.hidden, personas.unknown, personas.shown):
        entry = services.submit_status(
            person,
            author=personas.alice,
            status="detained",
            facility_type="prison",
            basis="court_record",
            occurred_on=datetime.date(2019, 1, 1),
            note=f"note {person.name_latin}",
        )
        services.publish_status(entry, reviewer=personas.carol)
    return personas


def _has(text: str, marker: str) -> bool:
    # The birth year as a value of its own, not digits inside a timestamp's microseconds or a reference.
    if marker.isdigit():
        return re.search(rf"(?<![\w.:-]){marker}(?![\w.:-])", text) is not None
    return marker in text


def _text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _key(secret) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}"})


def _outputs(p, who: str) -> dict[str, str]:
    """Every output a persona can reach, by name, as text."""
    client = {
        "member": lambda: _session(p.carol),
        "other": lambda: _session(p.oscar),
        "public_key": lambda: _key(p.public_secret),
        "partners_key": lambda: _key(p.partners_secret),
        "anonymous": Client,
    }[who]()
    out = {}
    people = reverse("cases:people-list")
    for name, url in {
        "page_list": people,
        "page_person_hidden": reverse("cases:person", args=[p.hidden.reference]),
        "page_person_shown": reverse("cases:person", args=[p.shown.reference]),
        "page_recommendation": reverse("cases:recommendation", args=[p.rec.code]),
        "api_list": "/api/v1/people/",
        "api_hidden": f"/api/v1/people/{p.hidden.reference}/",
        "api_csv": "/api/v1/people/?format=csv",
        "admin_list": "/admin/cases/person/",
        "admin_hidden": f"/admin/cases/person/{p.hidden.pk}/change/",
        "export_csv": "/api/v1/export/people.csv",
        # Added with the scale work (issue 12): every other place a person's record can surface.
        "page_person_unknown": reverse("cases:person", args=[p.unknown.reference]),
        "page_list_filtered": f"{people}?prefecture=Aksu&status=detained&facility_type=prison"
        f"&recommendation={p.rec.code}",
        "page_review": reverse("cases:people-review"),
        "page_dashboard": "/",
        "page_recommendation_search": "/recommendations/?q=" + p.hidden_markers[0],
        "api_filtered": f"/api/v1/people/?prefecture=Aksu&status=detained&recommendation={p.rec.code}",
        "api_unknown": f"/api/v1/people/{p.unknown.reference}/",
        "api_csv_filtered": "/api/v1/people/?format=csv&status=detained",
        "admin_history_hidden": f"/admin/cases/person/{p.hidden.pk}/history/",
        "admin_statuses": "/admin/cases/personstatus/",
        "public_recommendation": reverse("public:recommendation", args=[p.rec.code]),
        "public_search": reverse("public:search") + "?q=" + p.hidden_markers[0],
        "public_home": reverse("public:home"),
        "public_status_svg": f"/public/recommendations/{p.rec.code}/status.svg",
        "public_feed": f"/feeds/recommendations/{p.rec.code}.atom",
    }.items():
        text = _text(client.get(url, follow=False))
        # A search box echoes its own query: not a leak.
        out[name] = text.replace(p.hidden_markers[0], "") if "q=" in url else text
    if who in {"member", "other"}:
        # Duplicate detection on the add form: the hidden person's own details typed in; the form echoes what
        # was typed (removed), and may show likely duplicates of the viewer's own organisation only.
        typed = {
            "name_latin": markers("Hid")["name_latin"],
            "xvdb_entry": markers("Hid")["xvdb_entry"],
            "birth_year": str(BIRTH_YEAR),
            "prefecture": "Aksu",
            "gender": "female",
            "consent": "unknown",
            "risk": "high",
            "confidentiality": "internal",
        }
        # Rolled back: without a duplicate in the viewer's organisation the form records the person.
        with transaction.atomic():
            text = unescape(client.post(reverse("cases:person-new"), typed).content.decode())
            transaction.set_rollback(True)
        for value in typed.values():
            if len(value) > 6:
                text = text.replace(value, "")
        out["dedupe_on_add"] = re.sub(r'value="1911"', "", text)
        # The counts cited as a source: what the snapshot says.
        client.post(reverse("cases:people-counts-cite", args=[p.rec.code]))
        from cases.models import Evidence

        out["counts_snapshot"] = " ".join(
            f"{e.title} {e.excerpt}" for e in Evidence.objects.filter(kind="dataset").order_by("pk")
        )
    for i, marker in enumerate(p.hidden_markers + p.shown_markers):
        # Search by every marker, on the page, in the API and in the admin.
        # The search box and the API's links echo the query itself: that is not a leak, so it is removed.
        for name, url in (("page", people), ("api", "/api/v1/people/"), ("admin", "/admin/cases/person/")):
            text = unquote_plus(client.get(url, {"q": marker}).content.decode())
            out[f"search_{name}_{i}"] = unescape(text).replace(marker, "")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("who", ["other", "public_key", "partners_key", "anonymous"])
def test_no_identifying_field_leaves_without_consent(world, who):
    outputs = _outputs(world, who)
    leaks = [
        (output, marker)
        for output, text in outputs.items()
        for marker in world.hidden_markers
        if _has(text, marker)
    ]
    assert leaks == []
    # Search never tells that a hidden name is on record: no result row carries the hidden reference.
    for output, text in outputs.items():
        if output.startswith("search_") and world.hidden.reference in text:
            raise AssertionError(f"{output} found the hidden person by a hidden marker")
    # Duplicate detection never offers another organisation's person, with or without consent.
    if "dedupe_on_add" in outputs:
        assert world.hidden.reference not in outputs["dedupe_on_add"]
    # The public site never shows a case without consent, not even by its reference.
    for output, text in outputs.items():
        if output.startswith("public_"):
            assert world.hidden.reference not in text and world.unknown.reference not in text, output


@pytest.mark.slow
def test_the_audit_trail_holds_no_name(world):
    """Every read is audited (who, which record, whether names were shown): the trail itself names nobody,
    whoever read what, with or without consent."""
    for who in ("member", "other", "public_key", "partners_key", "anonymous"):
        _outputs(world, who)
    rows = list(AuditEvent.objects.values())
    assert any(row["event"] == "person.read" for row in rows)
    text = " ".join(str(row) for row in rows)
    for marker in [*world.hidden_markers, *world.shown_markers]:
        if not marker.isdigit():
            assert marker not in text, marker


@pytest.mark.slow
def test_the_matrix_can_see_what_it_looks_for(world):
    """The same outputs show the markers where they may be shown: to the holder, and with consent."""
    member = _outputs(world, "member")
    for marker in [m for m in world.hidden_markers if not m.startswith("Unk") and "Unk" not in m]:
        assert marker in member["page_person_hidden"] and marker in member["admin_hidden"], marker
    assert world.hidden_markers[0] in member["api_csv"] and world.hidden_markers[0] in member["page_list"]
    other = _outputs(world, "other")
    assert world.shown_markers[0] in other["page_person_shown"]
    assert world.shown_markers[0] in other["api_list"] and world.shown_markers[0] in other["api_csv"]
    # Other organisation sees the case itself: reference, prefecture, status history, counts.
    assert world.hidden.reference in other["page_list"] and "Aksu" in other["page_person_hidden"]
    assert "Prison" in other["page_person_hidden"]
    assert "3 detained" in other["page_recommendation"]
    # The new outputs can see too: the holder's duplicate check offers the hidden person, the other
    # organisation's snapshot counts the cases it may know of, the public site names the consented one.
    assert world.hidden.reference in member["dedupe_on_add"]
    assert "3 detained" in other["counts_snapshot"]
    assert (
        world.hidden_markers[0] in member["page_list_filtered"]
        and world.hidden.reference in other["api_filtered"]
    )
    anonymous = _outputs(world, "anonymous")
    assert world.shown_markers[0] in anonymous["public_recommendation"]
    key = _outputs(world, "public_key")
    assert world.shown.reference in key["api_list"] and world.hidden.reference in key["api_list"]
    assert world.unknown.reference not in key["api_list"]  # partners level: not for a public key
    assert world.shown_markers[0] in key["api_csv"]
    # The streamed export: the same people and redaction as the API's CSV.
    assert world.hidden_markers[0] in member["export_csv"]
    assert world.shown_markers[0] in other["export_csv"] and world.hidden.reference in other["export_csv"]
    assert world.shown_markers[0] in key["export_csv"] and world.hidden.reference in key["export_csv"]
    assert world.unknown.reference not in key["export_csv"]


def test_every_read_is_audited(world):
    _session(world.oscar).get(reverse("cases:person", args=[world.hidden.reference]))
    row = AuditEvent.objects.get(event="person.read", actor_id=world.oscar.pk)
    assert row.target_id == str(world.hidden.pk)
    _key(world.partners_secret).get(f"/api/v1/people/{world.hidden.reference}/")
    assert AuditEvent.objects.filter(event="person.read", target_id=str(world.hidden.pk)).count() == 2
    _key(world.partners_secret).get("/api/v1/people/")
    assert AuditEvent.objects.filter(event="person.list").exists()


def test_api_golden_redacted_row(world):
    data = _key(world.partners_secret).get(f"/api/v1/people/{world.hidden.reference}/").json()
    assert data == {
        "reference": world.hidden.reference,
        "identified": False,
        "name_latin": "",
        "name_uyghur": "",
        "name_chinese": "",
        "aliases": "",
        "gender": "",
        "birth_year": None,
        "ethnicity": "",
        "occupation": "",
        "xvdb_entry": "",
        "wgeid_ref": "",
        "un_communication_ref": "",
        "prefecture": "Aksu",
        "current_status": "detained",
        "current_facility": "prison",
        "status_on": "2019-01-01",
        "recommendations": ["XJ22-151-i"],
        "statuses": [
            {
                "status": "detained",
                "facility_type": "prison",
                "term": "",
                "charge": "",
                "basis": "court_record",
                "occurred_on": "2019-01-01",
                "published_at": data["statuses"][0]["published_at"],
            }
        ],
        "updated_at": data["updated_at"],
    }


def test_api_list_query_budget(world, django_assert_num_queries, django_assert_max_num_queries):
    client = _key(world.partners_secret)
    client.get("/api/v1/people/")
    # key lookup, page, two prefetches (recommendations, published statuses), the audit row
    with django_assert_max_num_queries(8) as first:
        client.get("/api/v1/people/")
    for i in range(5):
        services.add_person(
            created_by=world.alice,
            name_latin=f"Extra {i}",
            confidentiality="partners",
            recommendations=[world.rec],
        )
    with django_assert_num_queries(len(first.captured_queries)):
        client.get("/api/v1/people/")


def test_other_organisation_admin_cannot_open_the_record(world):
    client = _session(world.oscar)
    assert client.get(f"/admin/cases/person/{world.hidden.pk}/change/").status_code in {302, 404}
    assert world.hidden.reference not in client.get("/admin/cases/person/").content.decode()
    member = _session(world.carol)
    assert world.hidden.reference in member.get("/admin/cases/person/").content.decode()


# --- Never export (issue 12, item 5): each field x persona x output that leaves (API JSON, CSV) --------------

_EXPORTS = {
    "api_list": lambda p: "/api/v1/people/",
    "api_shown": lambda p: f"/api/v1/people/{p.shown.reference}/",
    "api_csv": lambda p: "/api/v1/people/?format=csv",
    "export_csv": lambda p: "/api/v1/export/people.csv",
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_a_field_marked_never_export_leaves_through_no_output(world, field):
    from cases.people.models import Person

    services.change_person(Person.objects.get(pk=world.shown.pk), by=world.carol, never_export=field)
    marker = markers("Ok")[field]
    others = [value for name, value in markers("Ok").items() if name != field and name != "document_refs"]
    for who, client in {
        "member": _session(world.carol),
        "other": _session(world.oscar),
        "public_key": _key(world.public_secret),
        "partners_key": _key(world.partners_secret),
    }.items():
        for output, url in _EXPORTS.items():
            text = _text(client.get(url(world)))
            assert not _has(text, marker), (who, output, field)
            assert all(_has(text, other) for other in others), (who, output)  # the rest still travels
    # The holder's own page still shows it.
    page = _session(world.carol).get(reverse("cases:person", args=[world.shown.reference])).content.decode()
    assert marker in unescape(page)
