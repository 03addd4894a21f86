"""Faults are answered, not hung (issue 15, findings 6-8): /healthz says 503 within 2 s when the database
silently stops answering, requests fail within the database timeouts, and the deployment's gunicorn
configuration (tracker/gunicorn.conf.py) serves, logs without query strings, and gives each instance its own
control socket or none.

The database that stops answering is a TCP proxy of the tests' own on 127.0.0.1 in front of PostgreSQL
(127.0.0.1:5432): forwarding, it passes bytes both ways; dropping, it accepts connections and never answers
(no refusal, no reset), as a firewall that drops packets looks to the application. Loopback only.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
CONFIG = ROOT / "tracker" / "gunicorn.conf.py"
POSTGRES = ("127.0.0.1", 5432)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(POSTGRES, timeout=2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DroppingProxy:
    """A threaded TCP proxy on 127.0.0.1 that can switch between forwarding and silently dropping."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.dropping = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                if self.dropping:
                    self.held.append(client)  # accepted, never read from, never answered
                    continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        source.settimeout(0.2)
        while not self.closed.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if self.dropping:
                continue  # swallowed: the other side never hears of it
            try:
                target.sendall(data)
            except OSError:
                break
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        self.dropping = True

    def forward(self) -> None:
        """Forward again; connections held while dropping are closed (their clients gave up long ago)."""
        with self.lock:
            self.dropping = False
            held, self.held = self.held, []
        for sock in held:
            sock.close()

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            for sock in self.held + self.sockets:
                sock.close()


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GUNICORN_", "DEBUG"))}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="tracker.settings",
        PYTHONUNBUFFERED="1",
    )
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(extra)
    return env


def get(port: int, path: str, timeout: float = 10, headers: dict | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace"), time.monotonic() - started
    finally:
        connection.close()


class Gunicorn:
    """`gunicorn -c tracker/gunicorn.conf.py tracker.wsgi` on a free loopback port, output kept."""

    def __init__(self, env: dict[str, str], log_path: Path, app: str = "tracker.wsgi"):
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log_path = log_path
        self.app = app

    def __enter__(self) -> Gunicorn:
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", str(CONFIG), self.app],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.process.returncode}):\n{self.output()}")
            try:
                get(self.port, "/healthz", timeout=5)
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise AssertionError(f"gunicorn did not answer:\n{self.output()}")

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def proxy():
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    proxy = DroppingProxy(POSTGRES)
    yield proxy
    proxy.close()


@pytest.mark.slow
def test_healthz_answers_503_within_two_seconds_when_the_database_stops_answering(proxy, tmp_path):
    url = f"postgres://postgres@127.0.0.1:{proxy.port}/postgres"
    # Plain HTTP on loopback: no redirect to HTTPS before a request reaches the database.
    env = production_env(DATABASE_URL=url, SECURE_SSL_REDIRECT="0")
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        status, body, _seconds = get(server.port, "/healthz")
        assert (status, body) == (200, "ok")

        proxy.drop()
        for _attempt in range(3):  # later checks may meet an earlier probe still waiting: 503 all the same
            status, body, seconds = get(server.port, "/healthz", timeout=10)
            assert status == 503, body
            assert body == "database unavailable\n"
            assert seconds < 2, f"/healthz took {seconds:.2f} s"

        # A request that needs the database fails within the connect timeout (5 s), not at gunicorn's 30 s
        # worker timeout; the worker survives to answer the next request.
        # (A session cookie: reading it needs the database.)
        status, _body, seconds = get(
            server.port, "/recommendations/", timeout=40, headers={"Cookie": "sessionid=" + "x" * 32}
        )
        assert status >= 500
        assert seconds < 10, f"a request waited {seconds:.1f} s on the silent database"

        proxy.forward()
        deadline = time.monotonic() + 5
        while True:
            status, body, seconds = get(server.port, "/healthz")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (status, body) == (200, "ok")
        assert seconds < 2
        log = server.output()
    assert "WORKER TIMEOUT" not in log
    assert "healthz database unavailable" in log


@pytest.mark.django_db
def test_healthz_answers_503_within_two_seconds_when_sqlite_is_locked(client, monkeypatch, tmp_path):
    """SQLite's version of a database that does not answer: another process holds an exclusive lock.

    The probe is pointed at a database file of the test's own (with the site's SQLite options), so the lock
    needs no other connection of the test run closed: the shared test database stays untouched."""
    from django.db import connection

    from cases import health

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only (the PostgreSQL case goes through the dropping proxy)")
    locked_file = tmp_path / "locked.sqlite3"
    real_probe_settings = health._probe_settings

    def probe_settings(alias="default"):
        settings_dict = real_probe_settings(alias)
        settings_dict["NAME"] = str(locked_file)
        return settings_dict

    monkeypatch.setattr(health, "_probe_settings", probe_settings)
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")
    holder = sqlite3.connect(locked_file, isolation_level=None, timeout=10)
    locked = False
    try:
        holder.execute("PRAGMA journal_mode=DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE healthz_lock_holder (x)")
        locked = True
        started = time.monotonic()
        response = client.get("/healthz")
        seconds = time.monotonic() - started
        assert response.status_code == 503
        assert response.content == b"database unavailable\n"
        assert seconds < 2
    finally:
        if locked:
            holder.execute("ROLLBACK")
        holder.close()
    time.sleep(0.1)
    # The lock is gone: the next check passes again (it may wait for the earlier probe's 1.5 s to end).
    assert client.get("/healthz").status_code == 200


# --- gunicorn configuration ------------------------------------------------------------------------------


def sqlite_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra)


@pytest.mark.slow
def test_gunicorn_starts_with_the_deployment_config_and_logs_no_query_strings(tmp_path):
    with Gunicorn(sqlite_env(tmp_path, GUNICORN_WORKERS="2"), tmp_path / "gunicorn.log") as server:
        status, body, _seconds = get(server.port, "/healthz?token=s3cr3t-value")
        assert (status, body) == (200, "ok")
        get(server.port, "/accounts/password/reset/key/1a-s3cr3t-key/")
        # Workers from GUNICORN_WORKERS (the master's children).
        children = subprocess.run(
            ["ps", "--ppid", str(server.process.pid), "-o", "pid="], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 2
        time.sleep(0.5)
        log = server.output()
    assert '"GET /healthz HTTP/1.1" 200' in log
    assert "s3cr3t" not in log
    assert "/accounts/password/reset/key/…" in log


@pytest.mark.slow
def test_two_instances_on_one_host_do_not_share_a_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # Unset, no control socket at all: gunicorn's default would be one path per user ($HOME/.gunicorn).
    with (
        Gunicorn(sqlite_env(tmp_path, HOME=str(home)), tmp_path / "a.log") as a,
        Gunicorn(sqlite_env(tmp_path, HOME=str(home)), tmp_path / "b.log") as b,
    ):
        assert get(a.port, "/healthz")[0] == get(b.port, "/healthz")[0] == 200
        assert not (home / ".gunicorn").exists()
    # Set, each instance has its own, private to its user.
    sockets = [tmp_path / "a.ctl", tmp_path / "b.ctl"]
    with (
        Gunicorn(
            sqlite_env(tmp_path, HOME=str(home), GUNICORN_CONTROL_SOCKET=str(sockets[0])), tmp_path / "c.log"
        ),
        Gunicorn(
            sqlite_env(tmp_path, HOME=str(home), GUNICORN_CONTROL_SOCKET=str(sockets[1])), tmp_path / "d.log"
        ),
    ):
        for path in sockets:
            deadline = time.monotonic() + 10
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert path.is_socket()
            assert path.stat().st_mode & 0o777 == 0o600


def test_gunicorn_refuses_a_database_timeout_above_its_worker_timeout(tmp_path):
    env = sqlite_env(tmp_path, DATABASE_BUSY_TIMEOUT="45", GUNICORN_BIND=f"127.0.0.1:{free_port()}")
    result = subprocess.run(
        [str(GUNICORN), "-c", str(CONFIG), "tracker.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "DATABASE_BUSY_TIMEOUT=45 must be below gunicorn's worker timeout (30 s)"
        in result.stdout + result.stderr
    )
