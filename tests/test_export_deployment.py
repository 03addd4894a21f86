"""The full export completes through the deployment the README describes (issue 14): gunicorn with
tracker/gunicorn.conf.py, sync workers, its worker timeout. Sync workers beat their heartbeat only between
requests, so a streamed export that outlasted the timeout was killed mid-file. Here the timeout is 2 s and
the export is paced (tests/deployment_urls.py) to take several times that: it must arrive whole, while a
stream that stops writing for longer than the timeout is still ended."""

from __future__ import annotations

import csv
import http.client
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from cases import services
from cases.models import Recommendation
from tests.factories import make_document

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 2
ROWS = 200  # chunks of 10, 0.25 s apart: about 5 s, 2.5 timeouts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return (
        f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


class Gunicorn:
    """gunicorn as deployed (`-c tracker/gunicorn.conf.py`), one worker, a short timeout, on the test
    database; its log kept."""

    def __init__(self, log: Path):
        self.port, self.log_path = _free_port(), log
        self.env = {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_", "GUNICORN_"))
            },
            "DJANGO_SETTINGS_MODULE": "tests.deployment_settings",
            "DATABASE_URL": _database_url(),
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_TIMEOUT": str(TIMEOUT),
            # Below the worker timeout, as gunicorn.conf.py requires.
            "DATABASE_CONNECT_TIMEOUT": "1",
            "DATABASE_STATEMENT_TIMEOUT": "1",
            "DATABASE_BUSY_TIMEOUT": "1",
        }

    def __enter__(self) -> Gunicorn:
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "tracker/gunicorn.conf.py"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise AssertionError("gunicorn did not answer:\n" + self.log())

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        """Status and body; raises http.client.IncompleteRead if the stream is cut."""
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            client.request("GET", path, headers=headers or {})
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def exportable(transactional_db):
    """ROWS recommendations and a key, committed, so that the gunicorn process sees them."""
    document = make_document()
    Recommendation.objects.bulk_create(
        Recommendation(
            document=document,
            code=f"LONG-{i:04d}",
            paragraph=str(i),
            text=f'Recommendation {i}, with a comma and a "quote"\nover two lines.',
            addressee="state",
        )
        for i in range(ROWS)
    )
    organisation = services.get_or_create_organisation("Partner NGO")
    _key, secret = services.issue_api_key(organisation, clearance="partners", name="deployment test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.slow
def test_a_long_export_completes_and_a_stalled_one_is_still_ended(exportable, tmp_path):
    with Gunicorn(tmp_path / "gunicorn.log") as server:
        started = time.monotonic()
        status, body = server.get("/api/v1/export/recommendations.csv", exportable)
        took = time.monotonic() - started
        assert status == 200
        # It did outlast the worker timeout, and arrived whole: every row, in order, the last one complete.
        assert took > 2 * TIMEOUT, took
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert [row["code"] for row in rows] == [f"LONG-{i:04d}" for i in range(ROWS)]
        assert rows[-1]["text"] == f'Recommendation {ROWS - 1}, with a comma and a "quote"\nover two lines.'
        assert (
            rows[-1]["url"] == f"http://127.0.0.1:{server.port}/api/v1/recommendations/LONG-{ROWS - 1:04d}/"
        )
        assert body.endswith(b"\r\n")
        assert "WORKER TIMEOUT" not in server.log()

        # A stream that stops writing is not kept alive: the worker is killed at the timeout and the client
        # gets a cut response, not a complete one.
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            server.get("/_silent/recommendations.csv", exportable)
        assert "WORKER TIMEOUT" in server.log()

        # A new worker took its place and serves the export again.
        assert server.get("/healthz")[0] == 200
