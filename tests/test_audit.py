"""Issue 9, "one audit trail": `audit.record` writes an append-only AuditEvent row and its log line; curators
read their own organisation's events in a read-only admin page, superusers every event."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_user
from tests.test_admin import client_for
from tracker.accounts import audit
from tracker.accounts.models import AuditEvent, AuditTrailImmutable

CHANGELIST = reverse("admin:accounts_auditevent_changelist")


@pytest.fixture
def w(personas):
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    root = make_user("root", role="operator", organisation=p.org)
    return SimpleNamespace(**vars(p), oscar=oscar, root=root)


def listed(response) -> list[AuditEvent]:
    return list(response.context["cl"].result_list)


class TestAppendOnly:
    def test_a_row_cannot_be_changed_or_deleted(self, w):
        event = audit.record("user.change", actor=w.carol, target=w.alice, changed="email")
        event.event = "user.create"
        with pytest.raises(AuditTrailImmutable):
            event.save()
        with pytest.raises(AuditTrailImmutable):
            event.delete()
        with pytest.raises(AuditTrailImmutable):
            AuditEvent.objects.filter(pk=event.pk).update(event="user.create")
        with pytest.raises(AuditTrailImmutable):
            AuditEvent.objects.filter(pk=event.pk).delete()
        with pytest.raises(AuditTrailImmutable):
            AuditEvent.objects.all().delete()
        assert AuditEvent.objects.get(pk=event.pk).event == "user.change"

    def test_unknown_event_names_are_a_programming_error(self, db):
        with pytest.raises(audit.UnknownAuditEvent):
            audit.record("user.befriend")
        assert not AuditEvent.objects.filter(event="user.befriend").exists()

    def test_the_admin_offers_no_add_change_or_delete(self, w):
        event = audit.record("user.change", actor=w.carol, target=w.alice, changed="email")
        for client in (client_for(w.carol), client_for(w.root)):
            assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
            change = reverse("admin:accounts_auditevent_change", args=[event.pk])
            page = client.get(change)
            assert page.status_code == 200
            assert "<textarea" not in page.content.decode() and 'name="event"' not in page.content.decode()
            assert client.post(change, {"event": "user.create"}).status_code == 403
            delete = reverse("admin:accounts_auditevent_delete", args=[event.pk])
            assert client.get(delete).status_code == 403
            assert client.post(delete, {"post": "yes"}).status_code == 403
            response = client.post(
                CHANGELIST, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
            )
            assert response.status_code in {200, 302}
            assert "delete_selected" not in client.get(CHANGELIST).content.decode()
        assert AuditEvent.objects.get(pk=event.pk).event == "user.change"


class TestAuditPage:
    def test_curator_sees_her_own_organisations_events_only(self, w):
        ours = audit.record("user.change", actor=w.carol, target=w.alice, changed="first_name")
        theirs = audit.record("user.change", actor=w.oscar, target=w.mallory, changed="first_name")
        response = client_for(w.carol).get(CHANGELIST)
        assert response.status_code == 200
        events = listed(response)
        assert ours in events and theirs not in events
        assert {e.organisation_id for e in events} == {w.org.pk}
        assert "Other NGO" not in response.content.decode()
        assert (
            client_for(w.carol).get(reverse("admin:accounts_auditevent_change", args=[theirs.pk])).status_code
            == 302
        )
        oscar_sees = listed(client_for(w.oscar).get(CHANGELIST))
        assert theirs in oscar_sees and ours not in oscar_sees

    def test_superuser_sees_every_event(self, w):
        ours = audit.record("user.change", actor=w.carol, target=w.alice, changed="first_name")
        theirs = audit.record("user.change", actor=w.oscar, target=w.mallory, changed="first_name")
        system = audit.record("backup.create")
        events = listed(client_for(w.root).get(CHANGELIST))
        assert {ours, theirs, system} <= set(events)

    def test_filters_by_event_and_date(self, w):
        change = audit.record("user.change", actor=w.carol, target=w.alice, changed="first_name")
        carol = client_for(w.carol)
        by_event = listed(carol.get(CHANGELIST, {"event": "user.change"}))
        assert by_event == [change]
        today = timezone.localdate()
        by_day = listed(
            carol.get(
                CHANGELIST,
                {
                    "created_at__year": today.year,
                    "created_at__month": today.month,
                    "created_at__day": today.day,
                },
            )
        )
        assert change in by_day and len(by_day) == AuditEvent.objects.filter(organisation=w.org).count()
        assert listed(carol.get(CHANGELIST, {"created_at__year": today.year - 1})) == []
        # The organisation filter is the superusers' alone: for a curator it opens nobody else's events.
        theirs = audit.record("user.change", actor=w.oscar, target=w.mallory, changed="first_name")
        response = carol.get(CHANGELIST, {"organisation__id__exact": w.other_org.pk}, follow=True)
        assert response.status_code == 200
        assert f"/{theirs.pk}/change/" not in response.content.decode()
        assert "Other NGO" not in response.content.decode()

    def test_monitor_and_anonymous_cannot_read_it(self, w):
        for client in (client_for(w.alice), Client()):
            response = client.get(CHANGELIST)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_record_writes_the_row_and_the_line_together(w, caplog):
    caplog.set_level(logging.INFO, logger="security")
    logger = logging.getLogger("security")
    logger.addHandler(caplog.handler)
    try:
        row = audit.record("lockout.clear", actor=w.carol, target=w.alice)
    finally:
        logger.removeHandler(caplog.handler)
    line = f"lockout.clear user={w.carol.pk} target=auth.user:{w.alice.pk}"
    assert line in [r.getMessage() for r in caplog.records if r.name == "security"]
    assert (row.event, row.actor, row.target_type, row.target_id, row.organisation, row.fields) == (
        "lockout.clear",
        w.carol,
        "auth.user",
        str(w.alice.pk),
        w.org,
        {},
    )


def test_events_recorded_by_the_accounts_code_are_on_the_closed_list():
    for name in (
        "user.invite",
        "invitation.accept",
        "invitation.refused",
        "invitation.revoke",
        "membership.change",
        "lockout.clear",
        "user.change",
        "user.password_reset_sent",
        "user.mfa_reset",
    ):
        assert name in audit.EVENTS
