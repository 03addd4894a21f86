"""Shared set-up for the export API tests (test_api*.py): the personas plus assessments in every review
state, clients for each kind of viewer, and the golden-file helper. Holds no tests itself."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from cases import services
from cases.models import Basis, Confidentiality, ImplementationStatus, StateResponse
from tests.factories import make_evidence, submit

GOLDEN = Path(__file__).parent / "golden"

SUBMITTED_RATIONALE = "SUBMITTED-ONLY rationale: detainee names pending review"
RETURNED_RATIONALE = "RETURNED-ONLY rationale: unverified claim"
PUBLISHED_RATIONALE = "Detention facilities remain in operation."
INTERNAL_URL = "https://news.example.org/internal"
INTERNAL_TITLE = "Witness statement 7"
MALLORY_URL = "https://news.example.org/mallory-internal"
MALLORY_TITLE = "Mallory's note"
PARTNERS_URL = "https://news.example.org/partners"
PUBLIC_URL = "https://news.example.org/public"
SUBMITTED_ONLY_URL = "https://news.example.org/cited-by-submitted-only"

LISTS = ["recommendations", "assessments", "evidence", "documents", "themes"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle buckets live in the cache; ids repeat across tests, so start every test with empty buckets.
    cache.clear()
    yield
    cache.clear()


def build_world(personas) -> SimpleNamespace:
    """The personas plus one assessment in each review state and a published State claim.

    The published independent assessment cites public, partners and Alice's internal evidence, so each
    viewer sees a different part of it."""
    p = personas
    published = submit(
        p.rec,
        p.alice,
        [p.public_ev, p.partners_ev, p.internal_ev],
        implementation_status=ImplementationStatus.NOT_IMPLEMENTED,
        rationale=PUBLISHED_RATIONALE,
    )
    services.publish_assessment(published, reviewer=p.carol)
    claim = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        rationale="The State says the centres have closed.",
    )
    services.publish_assessment(claim, reviewer=p.dave)
    correction = submit(
        p.rec,
        p.alice,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.PARTIALLY_IMPLEMENTED,
        state_response=StateResponse.REJECTED,
        rationale="Corrected: the State says some centres have closed.",
        corrects=claim,
    )
    services.publish_assessment(correction, reviewer=p.carol)
    cited_only = make_evidence(
        p.alice, SUBMITTED_ONLY_URL, Confidentiality.PUBLIC, title="Cited by submitted only"
    )
    submitted = submit(p.rec2, p.alice, [cited_only], rationale=SUBMITTED_RATIONALE)
    returned = submit(p.rec2, p.alice, [p.public_ev], rationale=RETURNED_RATIONALE)
    services.return_assessment(returned, reviewer=p.carol, comment="Cite a second source.")
    for obj in (p.rec, p.rec2):
        obj.refresh_from_db()
    return SimpleNamespace(
        **vars(p),
        published=published,
        claim=claim,
        correction=correction,
        submitted=submitted,
        returned=returned,
        cited_only=cited_only,
    )


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """The world, built once per test module inside a transaction that is rolled back at the end of the
    module (what TestCase.setUpTestData does); each test still runs in its own savepoint."""
    from tests.factories import make_personas

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world(make_personas())
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(_module_world, db):
    # A copy per test, so one test changing an instance in memory cannot affect the next.
    return copy.deepcopy(_module_world)


def key_client(secret: str) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}"})


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def viewer_client(world, viewer: str) -> Client:
    return {
        "public_key": lambda: key_client(world.public_secret),
        "partners_key": lambda: key_client(world.partners_secret),
        "alice": lambda: session_client(world.alice),
        "mallory": lambda: session_client(world.mallory),
    }[viewer]()


# --- golden files ---------------------------------------------------------------------------------------

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
API_ID_LINK = re.compile(r"/api/v1/(evidence|assessments)/(\d+)/")


def normalise(data, labels: dict[str, dict[int, str]]):
    """Replace what changes from run to run (timestamps, database ids) with stable placeholders. Ids of
    known objects become their persona names, so the golden file still shows *which* object is meant."""

    def label(kind: str, pk):
        return labels.get(kind, {}).get(pk, f"<{kind}:?>")

    def text(value: str) -> str:
        value = TIMESTAMP.sub("<timestamp>", value)
        return API_ID_LINK.sub(lambda m: f"/api/v1/{m[1]}/{label(m[1], int(m[2]))}/", value)

    def walk(value):
        if isinstance(value, dict):
            api_link = value.get("link") or value.get("url") or ""
            kind = next((k for k in ("evidence", "assessments") if f"/api/v1/{k}/" in api_link), None)
            out = {}
            for key, item in value.items():
                if key == "id" and kind:
                    out[key] = label(kind, item)
                elif key == "evidence" and isinstance(item, list):
                    out[key] = [label("evidence", pk) for pk in item]
                elif key == "corrects" and item is not None:
                    out[key] = label("assessments", item)
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return text(value)
        return value

    return walk(data)


def world_labels(world) -> dict[str, dict[int, str]]:
    return {
        "evidence": {
            world.public_ev.pk: "public_ev",
            world.partners_ev.pk: "partners_ev",
            world.internal_ev.pk: "internal_ev",
            world.mallory_internal.pk: "mallory_internal",
            world.cited_only.pk: "cited_only",
        },
        "assessments": {
            world.published.pk: "published",
            world.claim.pk: "claim",
            world.correction.pk: "correction",
            world.submitted.pk: "submitted",
            world.returned.pk: "returned",
        },
    }


def assert_golden(name: str, data) -> None:
    """Compare with tests/golden/<name>.json; UPDATE_GOLDEN=1 rewrites the file (review the diff)."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"wrote missing golden file {path.name}; review it and run again")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from tests/golden/{name}.json"
