"""A notification e-mail through a real worker process (issue 16, item 4): a curator publishes in one process,
the worker is another process started as an operator starts it — `manage.py db_worker` on the database
queue, `manage.py rqworker` on the machine's Redis — and the e-mail comes out of the worker (the console
mail backend prints it), while the publishing process sent nothing itself.

Each run has a SQLite database file of its own, whatever database the rest of the suite uses: the worker is
a separate program and must see the same data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
REDIS = os.environ.get("WORKER_TEST_REDIS", "redis://127.0.0.1:6379/13")

PUBLISH = """
import datetime, json
from django.core import mail
from cases import services
from cases.models import Evidence, Recommendation
from tracker.accounts.services import create_user
org = services.default_organisation()
kw = dict(organisation=org, password=None, created_by=None)
alice = create_user('alice', role='monitor', email='alice@example.org', **kw)
carol = create_user('carol', role='curator', email='carol@example.org', **kw)
rec = Recommendation.objects.get(code='XJ22-151-i')
a = services.submit_assessment(rec, author=alice, implementation_status='not_implemented',
    state_response='no_response', basis='independent', assessed_on=datetime.date(2024, 1, 2),
    rationale='Still detained.', evidence=list(Evidence.objects.order_by('pk')[:1]))
services.publish_assessment(a, reviewer=carol, comment='Checked.')
print('PUBLISHED', json.dumps({'id': a.pk, 'sent_here': len(getattr(mail, 'outbox', []))}))
"""

DELIVERIES = """
import json
from tracker.notifications.models import Notification
print('DELIVERIES', json.dumps(sorted(
    [n.recipient.username, n.kind, n.delivery, n.attempts] for n in Notification.objects.all())))
"""


def manage(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def tagged(output: str, tag: str):
    line = next(line for line in output.splitlines() if line.startswith(tag + " "))
    return json.loads(line.removeprefix(tag + " "))


def redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping())
    except Exception:
        return False


@pytest.mark.parametrize("queue", ["database", "redis"])
def test_a_publication_is_mailed_to_its_author_by_a_worker_process(tmp_path, queue):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"TASKS_URL", "EMAIL_HOST"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "SITE_URL": "https://tracker.example.org",
    }
    if queue == "redis":
        if not redis_answers():
            if os.environ.get("CI"):
                pytest.fail(f"Redis does not answer at {REDIS}: CI must run the worker on Redis")
            pytest.skip(f"Redis does not answer at {REDIS}")
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        env["TASKS_URL"] = REDIS
        worker = ("rqworker", "--burst", "default")
    else:
        worker = ("db_worker", "--batch", "--no-reload")
    manage(env, "migrate", "-v0")
    manage(env, "load_dataset", "fixtures/ohchr-xinjiang-2022.json")

    published = tagged(manage(env, "shell", "--no-imports", "-c", PUBLISH).stdout, "PUBLISHED")
    assert published["sent_here"] == 0
    # Nothing is written or sent before a worker runs: the publication only queued the work.
    assert tagged(manage(env, "shell", "--no-imports", "-c", DELIVERIES).stdout, "DELIVERIES") == []

    # The fan-out task queues the e-mail task; a second burst picks up anything queued by the first.
    output = manage(env, *worker).stdout + manage(env, *worker).stdout
    assert "To: alice@example.org" in output, output[-3000:]
    assert "XJ22-151-i" in output
    assert "https://tracker.example.org/" in output
    assert "carol@example.org" not in output  # the acting curator is not told of her own publication
    assert "Checked." not in output  # e-mails never carry the reviewer's comment

    deliveries = tagged(manage(env, "shell", "--no-imports", "-c", DELIVERIES).stdout, "DELIVERIES")
    assert deliveries == [["alice", "published", "sent", 1]]

    # Running the worker again sends nothing twice.
    again = manage(env, *worker).stdout
    assert "To: alice@example.org" not in again
    if queue == "redis":
        import redis

        redis.Redis.from_url(REDIS).flushdb()
