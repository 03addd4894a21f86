"""Webhooks for partner organisations (issue 13, item 5), on the database backend with its own worker
(`run_tasks`) and a real receiver: an HTTP server on loopback in a thread, which verifies each signature and
fails on purpose when told to. tests/test_tasks.py runs the retry path once more on a real RQ worker.

Time is moved with freezegun (tick=True: it keeps running), so the retries' growing delays are the real ones
(1 min, 2, 4, …), read back from the backend's `run_after` and the delivery row.
"""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from freezegun import freeze_time

from cases import services as case_services
from tests.factories import make_evidence, make_user, run_tasks, submit
from tests.fixtures_import.build import upr_rows, write_csv
from tracker.accounts.models import AuditEvent
from tracker.webhooks import net, services
from tracker.webhooks.models import Delivery, Endpoint, Event, Status

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
PUBLIC_IP = "93.184.215.14"  # stands in for a partner's public server (never contacted)
PARTNER_HOST = "hooks.partner.example"


@pytest.fixture(autouse=True)
def database_queue():
    with override_settings(
        TASKS=DATABASE, SITE_URL="https://tracker.example.org", WEBHOOKS_ALLOW_LOOPBACK=True
    ):
        yield


# --- The receiver ----------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every delivery, verifies its signature as a partner's
    receiver would (with `secret`, once the test sets it) and answers 500 to the first `fail_first`."""

    def __init__(self) -> None:
        self.requests: list[SimpleNamespace] = []
        self.fail_first = 0
        self.secret = ""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signature = self.headers.get("Tracker-Signature", "")
                verified = bool(receiver.secret) and net.verify(receiver.secret, signature, body)
                with receiver.lock:
                    receiver.requests.append(
                        SimpleNamespace(
                            headers=dict(self.headers), body=body, path=self.path, verified=verified
                        )
                    )
                    fail = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if fail else 200)
                self.end_headers()
                self.wfile.write(b"receiver down for maintenance" if fail else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def w(personas):
    """The personas, plus Petra (a curator of Partner NGO, whose keys these are) and Olga (a curator of
    Other NGO), and a key of Other NGO."""
    p = personas
    petra = make_user("petra", role="curator", organisation=p.partner_org, is_staff=True)
    olga = make_user("olga", role="curator", organisation=p.other_org, is_staff=True)
    other_key, other_secret = case_services.issue_api_key(p.other_org, clearance="partners", name="other")
    return SimpleNamespace(**vars(p), petra=petra, olga=olga, other_key=other_key, other_secret=other_secret)


def endpoint_for(w, url: str, *, events=(Event.ASSESSMENT_PUBLISHED,), clearance="partners"):
    return services.create_endpoint(w.partner_org, url=url, events=events, clearance=clearance)


def publish(w, evidence=None, **fields):
    assessment = submit(w.rec, w.alice, evidence or [w.public_ev, w.partners_ev, w.internal_ev], **fields)
    case_services.publish_assessment(assessment, reviewer=w.carol)
    return assessment


def api(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


# --- Signed deliveries -------------------------------------------------------------------------------------


def test_a_publication_is_delivered_signed_with_the_api_representation(w, receiver):
    _endpoint, secret = endpoint_for(w, receiver.url)
    receiver.secret = secret
    assessment = publish(w)

    run_tasks()

    [request] = receiver.requests
    assert request.verified
    delivery = Delivery.objects.get()
    assert delivery.status == Status.SUCCEEDED and delivery.response_code == 200
    assert delivery.response_excerpt == "ok" and delivery.attempts == 1
    assert net.verify(secret, request.headers["Tracker-Signature"], request.body)
    assert not net.verify("whsec_wrong", request.headers["Tracker-Signature"], request.body)
    assert not net.verify(secret, request.headers["Tracker-Signature"], request.body + b" ")
    assert request.headers["Tracker-Event"] == "assessment.published"
    assert request.headers["Tracker-Delivery"] == str(delivery.idempotency_id)
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["id"] == str(delivery.idempotency_id) and body["event"] == "assessment.published"
    data = body["data"]["assessment"]
    # What a partners key reads from /api/v1/assessments/<id>/, field for field.
    from_api = api(w.partners_secret).get(f"/api/v1/assessments/{assessment.pk}/").json()
    assert {k: v for k, v in data.items() if k != "url"} == {k: v for k, v in from_api.items() if k != "url"}
    assert data["url"] == f"https://tracker.example.org/api/v1/assessments/{assessment.pk}/"
    assert data["evidence"] == sorted([w.public_ev.pk, w.partners_ev.pk])
    assert data["withheld_evidence"] == 1  # the internal source: counted, never shown


def test_a_correction_is_its_own_event(w, receiver):
    endpoint_for(w, receiver.url, events=[Event.ASSESSMENT_CORRECTED])
    first = publish(w)
    run_tasks()
    assert receiver.requests == []  # not subscribed to publications
    publish(w, [w.public_ev], corrects=first, rationale="Corrected: the camp closed in May.")

    run_tasks()

    [request] = receiver.requests
    assert request.headers["Tracker-Event"] == "assessment.corrected"
    assert json.loads(request.body)["data"]["assessment"]["corrects"] == first.pk


def test_payloads_obey_the_endpoints_clearance_and_internal_never_leaves(w, receiver):
    events = [Event.ASSESSMENT_PUBLISHED, Event.EVIDENCE_LINKED]
    public, _s1 = endpoint_for(w, receiver.url + "/public", events=events, clearance="public")
    partners, _s2 = endpoint_for(w, receiver.url + "/partners", events=events, clearance="partners")

    secret_ev = make_evidence(
        w.alice, "https://a.example.org/secret", "internal", [w.rec2], title="SECRET witness list"
    )
    partners_ev = make_evidence(w.alice, "https://a.example.org/partners", "partners", [w.rec2])
    public_ev = make_evidence(w.alice, "https://a.example.org/public", "public", [w.rec2])
    publish(w)
    run_tasks()

    by_path: dict[str, list[dict]] = {"/hook/public": [], "/hook/partners": []}
    for request in receiver.requests:
        assert b"SECRET" not in request.body and b"Witness statement 7" not in request.body
        by_path[request.path].append(json.loads(request.body))
    linked = {
        path: sorted(b["data"]["evidence"]["id"] for b in bodies if b["event"] == "evidence.linked")
        for path, bodies in by_path.items()
    }
    assert linked == {
        "/hook/public": [public_ev.pk],
        "/hook/partners": sorted([partners_ev.pk, public_ev.pk]),
    }
    assert not Delivery.objects.filter(subject__startswith=f"evidence:{secret_ev.pk}:").exists()
    [public_assessment] = [b for b in by_path["/hook/public"] if b["event"] == "assessment.published"]
    assert public_assessment["data"]["assessment"]["evidence"] == [w.public_ev.pk]
    assert public_assessment["data"]["assessment"]["withheld_evidence"] == 2
    assert Delivery.objects.filter(endpoint=public).count() == 2
    assert Delivery.objects.filter(endpoint=partners).count() == 3


def test_evidence_made_internal_before_its_delivery_is_not_sent(w, receiver):
    from tracker.webhooks.tasks import fan_out_evidence_linked

    endpoint_for(w, receiver.url, events=[Event.EVIDENCE_LINKED])
    ev = make_evidence(w.alice, "https://a.example.org/soon-internal", "partners", [w.rec2])
    fan_out_evidence_linked.call(ev.pk, [w.rec2.pk])  # the fan-out ran: a delivery waits to be sent
    assert Delivery.objects.get().status == Status.PENDING
    case_services.change_evidence(ev, by=w.alice, confidentiality="internal")

    run_tasks()

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert delivery.status == Status.GAVE_UP and "no longer visible" in delivery.last_error


def test_an_import_delivers_the_recommendations_it_created(w, receiver, tmp_path, settings):
    settings.PRIVATE_ROOT = tmp_path / "private"
    endpoint_for(w, receiver.url, events=[Event.RECOMMENDATION_IMPORTED])
    path = write_csv(tmp_path / "china-upr.csv", upr_rows())
    call_command(
        "import_recommendations",
        str(path),
        "--set",
        "document=A/HRC/40/6",
        "--set",
        "document_date=2018-12-26",
        "--as",
        "carol",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )

    run_tasks()

    bodies = [json.loads(r.body) for r in receiver.requests]
    assert len(bodies) == 3
    assert {b["event"] for b in bodies} == {"recommendation.imported"}
    assert {b["data"]["action"] for b in bodies} == {"created"}
    assert all(b["data"]["recommendation"]["document"] for b in bodies)


def test_nothing_is_enqueued_when_no_endpoint_wants_the_event(w, receiver):
    from django_tasks_db.models import DBTaskResult

    endpoint_for(w, receiver.url, events=[Event.RECOMMENDATION_IMPORTED])
    before = DBTaskResult.objects.count()
    make_evidence(w.alice, "https://a.example.org/x", "public", [w.rec2])
    assert DBTaskResult.objects.count() == before


# --- Retries, idempotency, pausing ---------------------------------------------------------------------


def _due(delivery: Delivery) -> datetime.datetime:
    return delivery.next_attempt_at + datetime.timedelta(seconds=1)


def test_failures_are_retried_with_growing_delays_and_the_same_idempotency_id(w, receiver):
    from django_tasks_db.models import DBTaskResult

    _endpoint, secret = endpoint_for(w, receiver.url)
    receiver.secret = secret
    receiver.fail_first = 3
    with freeze_time("2026-01-05 09:00:00", tick=True) as clock:
        publish(w)
        run_tasks()
        delays, waits = [], []
        for _ in range(3):
            delivery = Delivery.objects.get()
            assert delivery.status == Status.FAILED and delivery.response_code == 500
            assert delivery.response_excerpt == "receiver down for maintenance"
            delays.append(round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()))
            retry = DBTaskResult.objects.filter(status="READY").get()
            waits.append(round((retry.run_after - delivery.last_attempt_at).total_seconds()))
            assert run_tasks() == 0  # not due yet
            clock.move_to(_due(delivery))
            run_tasks()

    delivery = Delivery.objects.get()
    assert delivery.status == Status.SUCCEEDED and delivery.attempts == 4
    assert delays == [60, 120, 240]
    assert all(abs(wait - delay) <= 1 for wait, delay in zip(waits, delays, strict=True))
    assert len(receiver.requests) == 4
    ids = {r.headers["Tracker-Delivery"] for r in receiver.requests}
    assert ids == {str(delivery.idempotency_id)}
    assert {json.loads(r.body)["id"] for r in receiver.requests} == ids
    assert all(r.verified for r in receiver.requests)  # checked by the receiver, at the (frozen) time
    stamps = [int(r.headers["Tracker-Signature"].split(",")[0][2:]) for r in receiver.requests]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4  # signed afresh at each attempt
    assert Endpoint.objects.get().consecutive_failures == 0  # a success resets the count


def test_retries_stop_a_day_after_the_first_attempt(w, receiver, settings):
    settings.WEBHOOKS_PAUSE_AFTER = 1000
    endpoint_for(w, receiver.url)
    receiver.fail_first = 10**6
    with freeze_time("2026-01-05 09:00:00", tick=True) as clock:
        publish(w)
        run_tasks()
        gaps = []
        while (delivery := Delivery.objects.get()).status == Status.FAILED:
            gaps.append(round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()))
            clock.move_to(_due(delivery))
            run_tasks()
    delivery = Delivery.objects.get()
    assert delivery.status == Status.GAVE_UP and delivery.next_attempt_at is None
    assert gaps[:7] == [60, 120, 240, 480, 960, 1920, 3600] and max(gaps) == 3600
    span = delivery.last_attempt_at - delivery.first_attempt_at
    assert datetime.timedelta(hours=23) < span <= datetime.timedelta(hours=24)
    assert delivery.attempts == len(receiver.requests) == len(gaps) + 1
    assert run_tasks() == 0


def test_an_endpoint_is_paused_after_repeated_failures_and_its_curators_are_told(
    w, receiver, settings, monkeypatch
):
    import cases.tasks

    settings.WEBHOOKS_PAUSE_AFTER = 3
    monkeypatch.setattr(cases.tasks, "retry_delay", lambda attempt, backoff: 0)  # retries at once
    endpoint, _secret = endpoint_for(w, receiver.url)
    receiver.fail_first = 10**6
    publish(w)

    run_tasks()

    assert len(receiver.requests) == 3
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.paused_at is not None and endpoint.consecutive_failures == 3
    assert Delivery.objects.get().status == Status.GAVE_UP
    notice = AuditEvent.objects.get(event="webhook.pause")
    assert notice.organisation_id == w.partner_org.pk and notice.target_id == str(endpoint.pk)
    # The curators of the endpoint's organisation see it on the admin's list; another's do not.
    changelist = reverse("admin:webhooks_endpoint_changelist")
    petra, olga = Client(), Client()
    petra.force_login(w.petra)
    olga.force_login(w.olga)
    assert "paused after repeated failed deliveries" in petra.get(changelist).content.decode()
    assert "paused after repeated failed deliveries" not in olga.get(changelist).content.decode()

    # Nothing more is sent to a paused endpoint; a curator resumes it.
    publish(w, [w.public_ev], rationale="Another finding.")
    run_tasks()
    assert len(receiver.requests) == 3 and Delivery.objects.count() == 1
    response = petra.post(changelist, {"action": "resume_selected", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0 and endpoint.paused_at is None
    assert AuditEvent.objects.filter(event="webhook.resume", actor=w.petra).count() == 1


def test_a_delivery_task_run_twice_sends_once(w, receiver):
    from tracker.webhooks.tasks import deliver

    endpoint_for(w, receiver.url)
    publish(w)
    run_tasks()
    deliver.enqueue(Delivery.objects.get().pk)  # a redelivery of the task

    run_tasks()

    assert len(receiver.requests) == 1 and Delivery.objects.get().attempts == 1


# --- SSRF ---------------------------------------------------------------------------------------------------

REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost/hook",  # a name resolving to loopback
    "ftp://example.org/hook",
    "file:///etc/passwd",
    "http://user:password@93.184.215.14/hook",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_registration_refuses_inside_addresses(w, url, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(net.Refused):
        services.create_endpoint(w.partner_org, url=url, events=[Event.ASSESSMENT_PUBLISHED])
    response = api(w.partners_secret).post(
        "/api/v1/webhooks/", {"url": url, "events": ["assessment.published"]}, content_type="application/json"
    )
    assert response.status_code == 400 and "url" in response.json()
    assert not Endpoint.objects.exists()
    assert not AuditEvent.objects.filter(event="webhook.create").exists()


def test_loopback_is_allowed_only_with_the_setting_and_private_never(w, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    assert not net.address_refused("127.0.0.1") and not net.address_refused("::1")
    assert net.address_refused("10.0.0.1") and net.address_refused("169.254.169.254")
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    assert net.address_refused("127.0.0.1") and net.address_refused("::1")
    assert not net.address_refused(PUBLIC_IP)


def test_a_name_that_rebinds_to_loopback_after_registration_is_refused_at_delivery(
    w, receiver, settings, monkeypatch
):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    answers = {"now": [PUBLIC_IP]}
    monkeypatch.setattr(net, "resolve", lambda host, port: answers["now"] if host == PARTNER_HOST else [])
    endpoint_for(w, f"http://{PARTNER_HOST}:{receiver.port}/hook")
    answers["now"] = ["127.0.0.1"]  # DNS rebinding: public at registration, loopback at delivery

    with freeze_time("2026-01-05 09:00:00", tick=True) as clock:
        publish(w)
        run_tasks()
        delivery = Delivery.objects.get()
        assert receiver.requests == []
        assert delivery.status == Status.FAILED and delivery.response_code is None
        assert "public addresses" in delivery.last_error

        # The control: with loopback allowed, the retry reaches the address that was checked (the name
        # itself resolves nowhere), with the URL's host in the Host header.
        settings.WEBHOOKS_ALLOW_LOOPBACK = True
        clock.move_to(_due(delivery))
        run_tasks()
    [request] = receiver.requests
    assert request.headers["Host"] == f"{PARTNER_HOST}:{receiver.port}"
    assert Delivery.objects.get().status == Status.SUCCEEDED


def test_redirects_are_not_followed(w, settings):
    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outcome = net.send(
            f"http://127.0.0.1:{server.server_address[1]}/", "whsec_x", b"{}", event="e", delivery_id="d"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert not outcome.ok and outcome.code == 307


# --- The API: a partner key manages its organisation's endpoints ----------------------------------------


@pytest.fixture
def public_resolver(monkeypatch):
    monkeypatch.setattr(net, "resolve", lambda host, port: [PUBLIC_IP])


def test_a_key_registers_lists_and_deletes_its_endpoints(w, public_resolver):
    client = api(w.partners_secret)
    response = client.post(
        "/api/v1/webhooks/",
        {"url": f"https://{PARTNER_HOST}/tracker", "events": ["assessment.published", "evidence.linked"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["clearance"] == "partners"
    assert "Location" not in response
    endpoint = Endpoint.objects.get()
    assert endpoint.secret == created["secret"] and endpoint.created_by_key == w.partners_key
    assert endpoint.organisation == w.partner_org
    assert AuditEvent.objects.filter(event="webhook.create", key_prefix=w.partners_key.prefix).count() == 1

    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [endpoint.pk]
    assert "secret" not in listed[0]  # shown once
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"] == []

    assert client.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    assert not Endpoint.objects.exists()
    assert AuditEvent.objects.filter(event="webhook.delete", target_id=str(endpoint.pk)).count() == 1


def test_the_delivery_log_shows_attempts_and_response_codes(w, receiver):
    endpoint, _secret = endpoint_for(w, receiver.url)
    receiver.fail_first = 1
    publish(w)
    run_tasks()

    [row] = api(w.partners_secret).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert row["status"] == "failed" and row["response_code"] == 500 and row["attempts"] == 1
    assert row["next_attempt_at"] and row["idempotency_id"] == str(Delivery.objects.get().idempotency_id)
    petra = Client()
    petra.force_login(w.petra)
    page = petra.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    assert "assessment.published" in page and ">500<" in page


def test_a_public_key_cannot_register_a_partners_endpoint(w, public_resolver):
    response = api(w.public_secret).post(
        "/api/v1/webhooks/",
        {"url": f"https://{PARTNER_HOST}/", "events": ["assessment.published"], "clearance": "partners"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "clearance" in response.json()
    response = api(w.public_secret).post(
        "/api/v1/webhooks/",
        {"url": f"https://{PARTNER_HOST}/", "events": ["assessment.published"]},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["clearance"] == "public"


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.partner.example/", "events": []},
        {"url": "https://hooks.partner.example/", "events": ["assessment.deleted"]},
        {"url": "not a url", "events": ["assessment.published"]},
        {"events": ["assessment.published"]},
    ],
)
def test_bad_registrations_are_400(w, public_resolver, body):
    response = api(w.partners_secret).post("/api/v1/webhooks/", body, content_type="application/json")
    assert response.status_code == 400
    assert not Endpoint.objects.exists()


def test_another_organisation_can_neither_see_nor_manage_the_endpoints(w, receiver):
    endpoint, _secret = endpoint_for(w, receiver.url)
    publish(w)
    run_tasks()
    other = api(w.other_secret)
    assert other.get("/api/v1/webhooks/").json()["results"] == []
    assert other.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert other.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code == 404
    assert other.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()

    # No key, or a signed-in session instead of a key: refused.
    assert Client().get("/api/v1/webhooks/").status_code == 401
    session = Client()
    session.force_login(w.carol)
    assert session.get("/api/v1/webhooks/").status_code == 401

    # The admin: Olga (a curator of Other NGO) sees none of it; Petra (Partner NGO's) sees it all.
    olga = Client()
    olga.force_login(w.olga)
    assert receiver.url not in olga.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    change = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    assert olga.get(change).status_code == 302  # "does not exist", back to the index
    delete = reverse("admin:webhooks_endpoint_delete", args=[endpoint.pk])
    olga.post(delete, {"post": "yes"})
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    deliveries = olga.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    assert "assessment:" not in deliveries
    petra = Client()
    petra.force_login(w.petra)
    assert receiver.url in petra.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    assert "assessment:" in petra.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    # A monitor has no admin.
    alice = Client()
    alice.force_login(w.alice)
    assert alice.get(reverse("admin:webhooks_endpoint_changelist")).status_code in (302, 403)


def test_a_curator_registers_an_endpoint_in_the_admin_and_sees_its_secret_once(w, receiver, settings):
    petra = Client()
    petra.force_login(w.petra)
    add = reverse("admin:webhooks_endpoint_add")
    form = {
        "organisation": w.partner_org.pk,
        "url": receiver.url,
        "description": "our receiver",
        "events": ["assessment.published"],
        "clearance": "public",
    }
    response = petra.post(add, form, follow=True)
    endpoint = Endpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    assert endpoint.created_by == w.petra and endpoint.organisation == w.partner_org
    page = petra.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in page
    assert AuditEvent.objects.filter(event="webhook.create", actor=w.petra).count() == 1

    # Another organisation is not hers to choose; an inside address is refused in the form as well.
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = petra.post(add, {**form, "organisation": w.other_org.pk, "url": "http://10.0.0.1/"})
    assert response.status_code == 200 and Endpoint.objects.count() == 1
    errors = response.context["adminform"].form.errors
    assert "organisation" in errors and "url" in errors

    petra.post(reverse("admin:webhooks_endpoint_delete", args=[endpoint.pk]), {"post": "yes"})
    assert not Endpoint.objects.exists()
    assert AuditEvent.objects.filter(event="webhook.delete", actor=w.petra).count() == 1


def test_the_schema_describes_the_webhooks_api(w):
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/webhooks/"])
    assert {"get", "delete"} <= set(schema["paths"]["/api/v1/webhooks/{id}/"])
    assert "get" in schema["paths"]["/api/v1/webhooks/{id}/deliveries/"]


def test_the_signature_helper_matches_the_documented_recipe():
    body = b'{"id":"x"}'
    header = net.sign("whsec_test", 1700000000, body)
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert net.verify("whsec_test", header, body, now=1700000100)
    assert not net.verify("whsec_test", header, body, now=1700000000 + 301)  # too old: a replay
