"""The maintained status counts (cases.status_counts, issue 14): the dashboard and the public scorecards read
counts that database triggers keep in step with the recommendations, checked here against a full recount
after random sequences of every kind of write, after a restore, and through `check_status_counts`; the same
for their whole-index totals (cases.models.StatusTotal, migration 0019), which the dashboard reads."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import services, status_counts
from cases.models import (
    Addressee,
    Document,
    ImplementationStatus,
    Recommendation,
    StateResponse,
    StatusCount,
    StatusTotal,
)
from tests.factories import make_document, make_recommendation, submit

STATUSES = ImplementationStatus.values
RESPONSES = StateResponse.values


def _new_recommendation(document: Document, n: int) -> Recommendation:
    return make_recommendation(document, f"SC-{n}", f"{n}", f"Status count test {n}.")


class World:
    """The personas plus a counter for unique codes and a second document."""

    def __init__(self, p):
        self.p = p
        self.n = 0
        self.other = Document.objects.filter(slug="other").first() or make_document(
            "other", short_name="Other", title="Other document"
        )

    def code(self) -> int:
        self.n += 1
        return self.n

    def pick(self, index: int) -> Recommendation | None:
        ids = list(Recommendation.objects.order_by("pk").values_list("pk", flat=True))
        return Recommendation.objects.get(pk=ids[index % len(ids)]) if ids else None

    def create(self, index: int, _status: str, _response: str) -> None:
        _new_recommendation(self.p.document if index % 2 else self.other, self.code())

    def bulk_create(self, index: int, status: str, response: str) -> None:
        Recommendation.objects.bulk_create(
            Recommendation(
                document=self.other if i % 2 else self.p.document,
                code=f"SC-BULK-{self.code()}",
                paragraph=f"b{self.n}",
                text="Bulk.",
                addressee=Addressee.STATE,
                implementation_status=status,
                state_response=response,
            )
            for i in range(index % 4 + 1)
        )

    def publish(self, index: int, status: str, response: str) -> None:
        # Through the services, as a curator publishes: recompute_current_status writes the statuses.
        rec = self.pick(index)
        if rec is None:
            return
        assessment = submit(
            rec,
            self.p.alice,
            [self.p.public_ev],
            implementation_status=status,
            state_response=response,
            assessed_on=datetime.date(2024, 1, 1) + datetime.timedelta(days=self.code()),
        )
        services.publish_assessment(assessment, reviewer=self.p.carol)

    def bulk_update(self, index: int, status: str, response: str) -> None:
        # A queryset update (no signals, no save()): a data fix, an import, the bench's generator.
        Recommendation.objects.filter(
            pk__in=[r.pk for r in [self.pick(index), self.pick(index + 3)] if r]
        ).update(implementation_status=status, state_response=response)

    def move(self, index: int, _status: str, _response: str) -> None:
        # An admin edit that moves a recommendation to another document.
        rec = self.pick(index)
        if rec is not None:
            rec.document = self.other if rec.document_id == self.p.document.pk else self.p.document
            rec.save()

    def delete(self, index: int, _status: str, _response: str) -> None:
        rec = self.pick(index)
        if rec is not None and not rec.assessments.exists():
            rec.delete()

    def rolled_back(self, index: int, status: str, response: str) -> None:
        # A failed transaction leaves the counts as they were.
        with transaction.atomic():
            self.bulk_create(index, status, response)
            transaction.set_rollback(True)


OPERATIONS = ["create", "bulk_create", "publish", "bulk_update", "move", "delete", "rolled_back"]


@pytest.fixture
def world(personas):
    return World(personas)


def test_triggers_are_there_after_all_migrations(db):
    # A later migration that rebuilds cases_recommendation on SQLite drops them (migration 0011's note).
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cases_recommendation'"
            )
            wanted = {
                f"cases_{table}_{event}"
                for table in ("statuscount", "statustotal")
                for event in ("insert", "delete", "update")
            }
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'cases_recommendation'::regclass")
            wanted = {"cases_statuscount_maintain", "cases_statustotal_maintain"}
        assert wanted <= {row[0] for row in cursor.fetchall()}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(OPERATIONS),
            st.integers(min_value=0, max_value=50),
            st.sampled_from(STATUSES),
            st.sampled_from(RESPONSES),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_maintained_counts_equal_a_full_recount_after_any_sequence_of_writes(world, steps):
    for name, index, status, response in steps:
        getattr(world, name)(index, status, response)
        # Per document and for the whole index (the totals' keys have document None).
        assert status_counts.mismatches() == {}, name
    # No row is left at zero, and every count is a positive number of real recommendations.
    for table in (StatusCount, StatusTotal):
        assert not table.objects.filter(count__lte=0).exists()
        assert sum(table.objects.values_list("count", flat=True)) == Recommendation.objects.count()


def test_publishing_moves_one_recommendation_between_counts(world):
    p = world.p
    key = (p.document.pk, ImplementationStatus.NOT_ASSESSED, StateResponse.NO_RESPONSE)
    assert status_counts.maintained()[key] == 2
    world.publish(0, ImplementationStatus.REGRESSED, StateResponse.REJECTED)
    kept = status_counts.maintained()
    assert kept[key] == 1
    assert kept[(p.document.pk, ImplementationStatus.REGRESSED, StateResponse.REJECTED)] == 1


def _chart(html: str, label: str) -> str:
    """The number beside a chart row's label in the dashboard's table."""
    found = re.search(rf"{re.escape(label)}(?:</[^>]+>\s*)+<td[^>]*>\s*(\d+)", html)
    return found.group(1) if found else ""


def test_dashboard_and_public_scorecard_show_the_maintained_counts(world, settings):
    p = world.p
    for _ in range(3):
        _new_recommendation(p.document, world.code())
    world.publish(0, ImplementationStatus.IMPLEMENTED, StateResponse.ACCEPTED)
    world.publish(1, ImplementationStatus.IMPLEMENTED, StateResponse.NOTED)
    client = Client()
    client.force_login(p.alice)
    implementation, responses = status_counts.totals()
    assert {r["value"]: r["count"] for r in implementation} == {
        "not_assessed": 3,
        "not_implemented": 0,
        "partially_implemented": 0,
        "implemented": 2,
        "regressed": 0,
    }
    assert {r["value"]: r["count"] for r in responses} == {
        "no_response": 3,
        "accepted": 1,
        "noted": 1,
        "rejected": 0,
    }
    html = client.get("/").content.decode()
    assert "5 recommendations" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    settings.PUBLIC_SITE = True
    public = Client().get("/public/")
    assert public.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", public.content.decode()))
    assert "2 of 5" in text


def test_dashboard_reads_the_whole_index_totals(world):
    """The dashboard's charts come from the totals (at most 20 rows), not from the documents' counts: a total
    changed behind the triggers' back shows on the page, and a document move leaves the totals alone."""
    p = world.p
    _new_recommendation(world.other, world.code())  # a second document, so the totals sum two
    world.publish(0, ImplementationStatus.IMPLEMENTED, StateResponse.ACCEPTED)
    assert status_counts.maintained_totals() == {
        (None, ImplementationStatus.NOT_ASSESSED, StateResponse.NO_RESPONSE): 2,
        (None, ImplementationStatus.IMPLEMENTED, StateResponse.ACCEPTED): 1,
    }
    moved = Recommendation.objects.get(document=world.other)
    moved.document = p.document
    moved.save()
    assert status_counts.maintained_totals()[(None, "not_assessed", "no_response")] == 2
    assert status_counts.mismatches() == {}
    client = Client()
    client.force_login(p.alice)
    assert _chart(client.get("/").content.decode(), "Fully implemented") == "1"
    StatusTotal.objects.filter(implementation_status=ImplementationStatus.IMPLEMENTED).update(count=41)
    assert _chart(client.get("/").content.decode(), "Fully implemented") == "41"


@pytest.mark.django_db(transaction=True)
def test_portable_restore_into_an_empty_database_recounts(world, tmp_path, settings):
    import base64
    import os

    from cases.backup import restore_backup, write_backup
    from tests.test_backup import wipe

    settings.BACKUP_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    settings.BACKUP_PASSPHRASE = ""
    world.publish(0, ImplementationStatus.IMPLEMENTED, StateResponse.ACCEPTED)
    world.bulk_create(3, ImplementationStatus.REGRESSED, StateResponse.NOTED)
    before = status_counts.maintained()
    totals = status_counts.maintained_totals()
    path = tmp_path / "b.backup"
    write_backup(path, format="portable")
    wipe()
    # The tables, left out of the backup, as a fresh database has them.
    StatusCount.objects.all().delete()
    StatusTotal.objects.all().delete()
    assert Recommendation.objects.count() == 0
    restore_backup(path)
    assert status_counts.maintained() == before
    assert status_counts.maintained_totals() == totals
    assert status_counts.mismatches() == {}
    # And a restore over a database with other counts replaces them.
    _new_recommendation(world.p.document, world.code())
    StatusCount.objects.update(count=99)
    StatusTotal.objects.update(count=99)
    restore_backup(path, replace=True)
    assert status_counts.maintained() == before
    assert status_counts.maintained_totals() == totals


def test_check_status_counts_finds_and_fixes_a_wrong_count(world):
    out = io.StringIO()
    call_command("check_status_counts", stdout=out)
    assert "match a full recount" in out.getvalue()
    row = StatusCount.objects.get(document=world.p.document)
    StatusCount.objects.filter(pk=row.pk).update(count=7)
    with pytest.raises(CommandError, match="1 status counts differ"):
        call_command("check_status_counts", stdout=io.StringIO())
    out = io.StringIO()
    call_command("check_status_counts", "--fix", stdout=out)
    assert "maintained 7, recounted 2" in out.getvalue()
    assert status_counts.mismatches() == {}
    assert StatusCount.objects.get(document=world.p.document).count == 2


def test_check_status_counts_finds_and_fixes_a_wrong_total(world):
    StatusTotal.objects.update(count=7)
    StatusTotal.objects.create(implementation_status="regressed", state_response="noted", count=3)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 status counts differ"):
        call_command("check_status_counts", stdout=out)
    assert "all documents not_assessed no_response: maintained 7, recounted 2" in out.getvalue()
    assert "all documents regressed noted: maintained 3, recounted 0" in out.getvalue()
    call_command("check_status_counts", "--fix", stdout=io.StringIO())
    assert status_counts.mismatches() == {}
    assert status_counts.maintained_totals() == {(None, "not_assessed", "no_response"): 2}
