"""Test personas and small builders. Everything goes through the services, as production code does.

Personas: Alice (monitor), Carol (curator), Dave (a second curator), Mallory (a monitor of another
organisation), keys of each clearance for Partner NGO, and anonymous visitors (no object needed).
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

from cases import services
from cases.models import (
    Addressee,
    Basis,
    Confidentiality,
    Document,
    EvidenceKind,
    ImplementationStatus,
    IssuingBody,
    Recommendation,
    StateResponse,
    Theme,
)
from tracker.accounts.services import create_user

PASSWORD = "correct horse battery staple"


def make_user(username: str, *, role: str | None, organisation=None, **extra):
    return create_user(
        username,
        role=role,
        organisation=organisation or services.default_organisation(),
        email=f"{username}@example.org",
        password=PASSWORD,
        **extra,
    )


def make_document(slug: str = "xj22", **fields) -> Document:
    defaults = {
        "title": "OHCHR Assessment of human rights concerns in the Xinjiang Uyghur Autonomous Region",
        "short_name": "OHCHR Xinjiang 2022",
        "issuing_body": IssuingBody.OHCHR,
        "published_on": datetime.date(2022, 8, 31),
        "url": "https://www.ohchr.org/en/documents/country-reports/example",
    }
    defaults.update(fields)
    return Document.objects.create(slug=slug, **defaults)


def make_recommendation(
    document: Document, code: str, paragraph: str, text: str = "", **fields
) -> Recommendation:
    defaults = {"addressee": Addressee.STATE, "text": text or f"Recommendation {paragraph}."}
    defaults.update(fields)
    return Recommendation.objects.create(document=document, code=code, paragraph=paragraph, **defaults)


def make_evidence(
    user, url: str, confidentiality: str = Confidentiality.PUBLIC, recommendations=(), **fields
):
    defaults = {
        "title": f"Source at {url}",
        "publisher": "Example News",
        "published_on": datetime.date(2022, 9, 1),
        "kind": EvidenceKind.NEWS,
        "excerpt": "A short quotation.",
    }
    defaults.update(fields)
    return services.add_evidence(
        added_by=user, url=url, confidentiality=confidentiality, recommendations=recommendations, **defaults
    )


def submit(recommendation, author, evidence, **fields):
    defaults = {
        "implementation_status": ImplementationStatus.NOT_IMPLEMENTED,
        "state_response": StateResponse.NO_RESPONSE,
        "basis": Basis.INDEPENDENT,
        "assessed_on": datetime.date(2024, 8, 27),
        "rationale": "Detention facilities remain in operation.",
    }
    defaults.update(fields)
    return services.submit_assessment(recommendation, author=author, evidence=evidence, **defaults)


def make_personas() -> SimpleNamespace:
    org = services.default_organisation()
    other_org = services.get_or_create_organisation("Other NGO")
    partner_org = services.get_or_create_organisation("Partner NGO")
    alice = make_user("alice", role="monitor", organisation=org)
    carol = make_user("carol", role="curator", organisation=org)
    dave = make_user("dave", role="curator", organisation=org)
    mallory = make_user("mallory", role="monitor", organisation=other_org)
    document = make_document()
    theme = Theme.objects.create(name="Arbitrary detention", slug="arbitrary-detention")
    rec = make_recommendation(
        document,
        "XJ22-151-i",
        "151(i)",
        "Takes prompt steps to release all individuals arbitrarily deprived of their liberty in XUAR.",
    )
    rec.themes.add(theme)
    rec2 = make_recommendation(
        document, "XJ22-152-i", "152(i)", "Takes all possible measures.", addressee=Addressee.BUSINESS
    )
    public_ev = make_evidence(alice, "https://news.example.org/public", Confidentiality.PUBLIC, [rec])
    partners_ev = make_evidence(alice, "https://news.example.org/partners", Confidentiality.PARTNERS, [rec])
    internal_ev = make_evidence(
        alice,
        "https://news.example.org/internal",
        Confidentiality.INTERNAL,
        [rec],
        title="Witness statement 7",
    )
    mallory_internal = make_evidence(
        mallory,
        "https://news.example.org/mallory-internal",
        Confidentiality.INTERNAL,
        [rec],
        title="Mallory's note",
    )
    public_key, public_secret = services.issue_api_key(partner_org, clearance="public", name="public key")
    partners_key, partners_secret = services.issue_api_key(
        partner_org, clearance="partners", name="partners key"
    )
    return SimpleNamespace(**locals())


def run_tasks(backend: str = "default") -> int:
    """Run every task waiting in the queue, in this process, as the real worker does; returns how many ran.

    The database backend: django-tasks-db's own `Worker` in batch mode (what `manage.py db_worker --batch`
    runs). RQ (TASKS_URL set): RQ's `SimpleWorker` in burst mode on the real Redis (it runs jobs in this
    process instead of forking, so the test database, even SQLite in memory, is the one the tasks see).
    Tasks enqueued while it runs (retries) are run too, unless they wait for a later time."""
    from cases.tasks import task_backends

    the_backend = task_backends[backend]
    if type(the_backend).__name__ == "RQBackend":
        import django_rq
        from rq.worker import SimpleWorker

        worker = django_rq.get_worker(*the_backend.queues, worker_class=SimpleWorker)

        def ended() -> int:
            return sum(q.finished_job_registry.count + q.failed_job_registry.count for q in worker.queues)

        before = ended()
        worker.work(burst=True, with_scheduler=False)
        return ended() - before
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name=backend,
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    worker.run()
    return worker._run_tasks
