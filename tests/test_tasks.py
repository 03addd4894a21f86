"""The task queue (issue 16, item 4), end to end on each backend: the database backend with its own worker,
and RQ with a real worker on the machine's Redis when TASKS_URL is set (CI sets it in a step of its own).

Each test runs once per backend: tasks enqueued through Django's tasks API, run by the backend's worker
(`tests.factories.run_tasks`), results read back from the backend; an upload parsed and applied by the
import tasks; retries with backoff on a transient failure, none on a permanent one; idempotence (a task
delivered twice does its work once).
"""

from __future__ import annotations

import datetime
import importlib
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from cases.imports import tasks as import_tasks
from cases.imports.tasks import Upload
from cases.models import ImportRun, ImportStatus, Recommendation
from cases.tasks import (
    TaskResultStatus,
    enqueue_on_commit,
    is_transient,
    retry_delay,
    retrying,
    task,
    task_backends,
)
from tests.factories import run_tasks
from tests.fixtures_import.build import upr_rows, write_csv
from tracker.accounts.models import AuditEvent

TASKS_URL = os.environ.get("TASKS_URL", "")
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RQ = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(
    params=[
        "database",
        pytest.param(
            "rq",
            marks=pytest.mark.skipif(
                not TASKS_URL,
                reason="TASKS_URL is not set: the RQ variant needs a Redis server "
                "(CI runs it with TASKS_URL=redis://127.0.0.1:6379/15)",
            ),
        ),
    ]
)
def backend(request, settings, tmp_path):
    """The task backend under test, configured as settings.py does for it, with an empty queue."""
    settings.PRIVATE_ROOT = tmp_path / "private"
    if request.param == "database":
        with override_settings(TASKS=DATABASE):
            yield "database"
        return
    import django_rq

    with override_settings(
        TASKS=RQ,
        RQ_QUEUES={"default": {"URL": TASKS_URL, "DEFAULT_TIMEOUT": 600}},
        RQ={"JOB_CLASS": "django_tasks_rq.Job"},
    ):
        queue = django_rq.get_queue("default")
        queue.empty()
        yield "rq"
        queue.empty()


# Tasks used only here. They take plain values (a path), never objects.


@task()
def add(a: int, b: int) -> int:
    return a + b


@retrying(attempts=3, backoff=0)
def flaky(path: str, fail_times: int, *, attempt: int = 1) -> int:
    """Fails with a transient error `fail_times` times, then succeeds; notes each attempt in the file."""
    with open(path, "a") as f:
        f.write(f"{attempt}\n")
    if attempt <= fail_times:
        raise OperationalError("database is locked")
    return attempt


@retrying(attempts=3, backoff=0)
def broken(path: str, *, attempt: int = 1) -> None:
    with open(path, "a") as f:
        f.write(f"{attempt}\n")
    raise ValueError("a bug, not a passing fault")


def _waiting(backend: str) -> int:
    if backend == "rq":
        import django_rq

        return django_rq.get_queue("default").count
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().count()


def _attempts(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_a_task_runs_on_the_worker_and_its_result_is_stored(backend):
    result = add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    assert type(task_backends["default"]).__name__ == ("RQBackend" if backend == "rq" else "DatabaseBackend")

    assert run_tasks() == 1

    stored = add.get_result(result.id)
    assert stored.status == TaskResultStatus.SUCCESSFUL
    assert stored.return_value == 5


def test_a_transient_failure_is_retried_until_it_succeeds(backend, tmp_path):
    notes = tmp_path / "attempts"
    first = flaky.enqueue(str(notes), 2)

    assert run_tasks() == 3  # two failures, then the success

    assert _attempts(notes) == [1, 2, 3]
    failed = flaky.get_result(first.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors and "OperationalError" in failed.errors[0].traceback


def test_retries_stop_after_the_last_attempt(backend, tmp_path):
    notes = tmp_path / "attempts"
    flaky.enqueue(str(notes), 10)

    assert run_tasks() == 3
    assert _attempts(notes) == [1, 2, 3]
    assert run_tasks() == 0  # nothing left waiting


def test_a_permanent_failure_is_not_retried(backend, tmp_path):
    notes = tmp_path / "attempts"
    result = broken.enqueue(str(notes))

    assert run_tasks() == 1
    assert _attempts(notes) == [1]
    assert broken.get_result(result.id).status == TaskResultStatus.FAILED


def test_enqueue_on_commit_waits_for_the_transaction(backend, tmp_path):
    from django.db import transaction

    notes = tmp_path / "attempts"
    with transaction.atomic():
        enqueue_on_commit(flaky, str(notes), 0)
        assert _waiting(backend) == 0  # not enqueued yet: the rows it is about might not exist
    assert _waiting(backend) == 1
    assert run_tasks() == 1
    assert _attempts(notes) == [1]


def _upload(personas, tmp_path, rows) -> Upload:
    path = write_csv(tmp_path / "china-upr.csv", rows)
    return Upload.create(
        SimpleUploadedFile("china-upr.csv", path.read_bytes(), content_type="text/csv"),
        user=personas.carol,
        organisation_id=personas.carol.membership.organisation_id,
        options={
            "format": "auto",
            "encoding": "",
            "map": {},
            "set": {"document": "A/HRC/40/6", "document_date": "2018-12-26"},
            "filter": {},
            "values": [],
        },
    )


def test_an_upload_is_parsed_then_applied_by_the_worker(backend, personas, tmp_path):
    before = Recommendation.objects.count()
    upload = _upload(personas, tmp_path, upr_rows())
    import_tasks.start_parse(upload)
    assert Upload.get(upload.token).status == import_tasks.QUEUED

    assert run_tasks() == 1

    parsed = Upload.get(upload.token)
    assert parsed.status == import_tasks.PREVIEW, parsed.state["error"]
    preview = parsed.state["preview"]
    assert preview["counts"]["recommendations"]["create"] == 3
    assert preview["counts"]["rows"]["read"] == 5
    assert Recommendation.objects.count() == before  # a preview writes nothing

    with parsed.change(expect={import_tasks.PREVIEW}, to=import_tasks.APPLY_QUEUED):
        pass
    import_tasks.start_apply(parsed)
    import_tasks.start_apply(parsed)  # delivered twice (a double click, a redelivery): applied once

    assert run_tasks() == 2

    done = Upload.get(upload.token)
    assert done.status == import_tasks.DONE, done.state["error"]
    run = ImportRun.objects.get()
    assert done.state["run_id"] == run.pk
    assert run.status == ImportStatus.DONE
    assert run.created_by == personas.carol
    assert run.sha256 == upload.state["sha256"]
    assert run.file_name == "china-upr.csv"
    assert Recommendation.objects.count() == before + 3
    assert AuditEvent.objects.filter(event="import.apply", actor=personas.carol).count() == 1
    assert AuditEvent.objects.filter(event="import.finish", target_id=str(run.pk)).count() == 1
    assert not done.path.exists()  # the file is not kept once applied; the report stays


def test_a_failed_apply_is_retried_and_resumes(backend, personas, tmp_path, monkeypatch):
    """The database refuses the first batch once (a transient fault): the task tries again and finishes;
    the curator sees the attempts; each try left its report."""
    upload = _upload(personas, tmp_path, upr_rows())
    for status in (import_tasks.PARSING, import_tasks.PREVIEW, import_tasks.APPLY_QUEUED):
        with upload.change(to=status):
            pass
    apply_module = importlib.import_module("cases.imports.apply")

    real = apply_module._Writer.save_batch
    calls = {"n": 0}

    def once_locked(self, batch, documents):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("database is locked")
        return real(self, batch, documents)

    monkeypatch.setattr(apply_module._Writer, "save_batch", once_locked)
    # No backoff in the test (the real one waits 30 s, then 60 s).
    import cases.tasks as tasks_module

    monkeypatch.setattr(tasks_module, "retry_delay", lambda attempt, backoff: 0)
    import_tasks.start_apply(upload)

    assert run_tasks() == 2

    done = Upload.get(upload.token)
    assert done.status == import_tasks.DONE
    assert done.state["attempts"]["apply"] == 2
    runs = list(ImportRun.objects.order_by("pk"))
    assert [r.status for r in runs] == [ImportStatus.FAILED, ImportStatus.DONE]
    assert done.state["failed_runs"] == [runs[0].pk]
    assert Recommendation.objects.filter(document__symbol="A/HRC/40/6").count() == 3


def test_a_file_that_is_not_what_it_claims_fails_once_with_its_reason(backend, personas, tmp_path):
    upload = Upload.create(
        SimpleUploadedFile("picture.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
        user=personas.carol,
        organisation_id=personas.carol.membership.organisation_id,
        options={"format": "auto", "encoding": "", "map": {}, "set": {}, "filter": {}, "values": []},
    )
    import_tasks.start_parse(upload)

    assert run_tasks() == 1

    failed = Upload.get(upload.token)
    assert failed.status == import_tasks.PARSE_FAILED
    assert "not a CSV, XLSX or JSON" in failed.state["error"]
    assert failed.state["attempts"]["parse"] == 1


def test_backoff_doubles_and_the_database_backend_defers_the_retry(settings, tmp_path):
    assert [retry_delay(n, 30) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(20, 30) == 3600
    assert is_transient(OperationalError("locked"))
    assert not is_transient(ValueError("bug"))
    with override_settings(TASKS=DATABASE):
        from django_tasks_db.models import DBTaskResult

        slow = retrying(attempts=2, backoff=45)(flaky.func.__wrapped__)
        # The same function under another task: run it by hand, as the worker would.
        with pytest.raises(OperationalError):
            slow.call(str(tmp_path / "n"), 5)
        retry = DBTaskResult.objects.get()
        assert retry.args_kwargs["kwargs"] == {"attempt": 2}
        wait = retry.run_after - timezone.now()
        assert datetime.timedelta(seconds=40) < wait <= datetime.timedelta(seconds=45)


# Notifications (tracker/notifications) on each backend: written and e-mailed by the worker, never in the
# request; a delivery run twice sends once. tests/test_notifications.py covers the rest on the database.


def _publish_for_notification(personas):
    from cases import services
    from tests.factories import submit

    assessment = submit(personas.rec, personas.alice, [personas.public_ev])
    services.publish_assessment(assessment, reviewer=personas.carol)
    return assessment


def test_a_publication_reaches_its_author_by_email_through_the_worker(backend, personas):
    from django.core import mail

    from tracker.notifications.models import Delivery, Kind, Notification

    assessment = _publish_for_notification(personas)
    assert not Notification.objects.exists() and mail.outbox == []  # nothing in the publishing "request"

    assert run_tasks() == 2  # the fan-out, then the e-mail it enqueued

    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (personas.alice, Kind.PUBLISHED)
    assert notification.assessment == assessment
    assert notification.delivery == Delivery.SENT
    [email] = mail.outbox
    assert email.to == ["alice@example.org"] and "XJ22-151-i" in email.subject


def test_a_notification_email_delivered_twice_is_sent_once(backend, personas):
    from django.core import mail

    from tracker.notifications.models import Notification
    from tracker.notifications.tasks import deliver_email

    _publish_for_notification(personas)
    assert run_tasks() == 2
    deliver_email.enqueue(Notification.objects.get().pk)  # a redelivery

    assert run_tasks() == 1
    assert len(mail.outbox) == 1
    assert Notification.objects.get().attempts == 1


# Webhooks (tracker/webhooks) on each backend: a receiver on loopback verifies the signature and fails on
# purpose twice; each retry is deferred by the backend itself, 1 min then 2 (read back from the backend:
# the database's `run_after`, RQ's scheduled-job registry), released by hand, and lands with the same
# idempotency id. tests/test_webhooks.py covers the rest on the database.


def _deferred_retry(backend: str) -> float:
    """Seconds from now until the one deferred task is due; then make it due now (as time passing would)."""
    if backend == "rq":
        import django_rq

        queue = django_rq.get_queue("default")
        registry = queue.scheduled_job_registry
        [job_id] = registry.get_job_ids()
        wait = (registry.get_scheduled_time(job_id) - datetime.datetime.now(datetime.UTC)).total_seconds()
        job = queue.fetch_job(job_id)
        registry.remove(job)
        queue.enqueue_job(job)
        return wait
    from django_tasks_db.models import DBTaskResult

    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    wait = (retry.run_after - timezone.now()).total_seconds()
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    return wait


def test_a_webhook_is_retried_with_backoff_on_the_worker_until_the_receiver_accepts_it(backend, personas):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cases import services
    from tests.factories import submit
    from tracker.webhooks import net
    from tracker.webhooks import services as webhooks
    from tracker.webhooks.models import Delivery, Status

    seen = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signed = net.verify(secret, self.headers["Tracker-Signature"], body)
            seen.append((self.headers["Tracker-Delivery"], signed))
            self.send_response(503 if len(seen) <= 2 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with override_settings(WEBHOOKS_ALLOW_LOOPBACK=True):
            _endpoint, secret = webhooks.create_endpoint(
                personas.partner_org,
                url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                events=["assessment.published"],
                clearance="partners",
            )
            assessment = submit(personas.rec, personas.alice, [personas.public_ev])
            services.publish_assessment(assessment, reviewer=personas.carol)

            run_tasks()  # the fan-outs (notifications, webhooks), then the first attempt: 503
            waits = []
            for _ in range(2):
                assert Delivery.objects.get().status == Status.FAILED
                waits.append(_deferred_retry(backend))
                run_tasks()
    finally:
        server.shutdown()
        server.server_close()

    delivery = Delivery.objects.get()
    assert delivery.status == Status.SUCCEEDED and delivery.response_code == 204 and delivery.attempts == 3
    assert 50 < waits[0] <= 60 and 110 < waits[1] <= 120  # 1 min, then 2
    assert seen == [(str(delivery.idempotency_id), True)] * 3
    assert json.loads(json.dumps(delivery.payload))["data"]["assessment"]["id"] == assessment.pk
