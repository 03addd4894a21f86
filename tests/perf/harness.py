"""What the benchmark and the load test share: the configuration from the environment, a generated SQLite
database reused between runs, the people and the key they act as, a gunicorn server on loopback, and a small
HTTP client. Standard library only (plus Django, in-process, for the set-up).

The server runs the production settings (tests.perf.bench_settings imports tracker.settings) with DEBUG off,
a fresh random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1 and plain HTTP (no TLS redirect, no secure-only cookies,
since nothing leaves the machine). Differences from production, all stated: the floor views are mounted under
/_floor/, the API throttles are raised (a benchmark is a burst by design), and static URLs are not hashed
(nothing measured fetches a static file, so collectstatic is not needed).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts" / "bench"
BENCH_ORGANISATION = "Generated NGO Aksu"  # made by generate_data


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass
class Config:
    recommendations: int
    seed: int
    db_path: Path
    port: int
    workers: int = 2
    people: int = 0  # BENCH_PEOPLE, default one per six recommendations (tests/perf/people_datagen.py)

    @classmethod
    def from_env(cls, default_recommendations: int = 20000) -> Config:
        n = env_int("BENCH_RECOMMENDATIONS", default_recommendations)
        seed = env_int("BENCH_SEED", 1)
        directory = Path(os.environ.get("BENCH_DIR", ARTIFACTS))
        db_path = Path(os.environ.get("BENCH_DB", directory / f"bench-{n}-seed{seed}.sqlite3")).resolve()
        return cls(
            recommendations=n,
            seed=seed,
            db_path=db_path,
            port=env_int("BENCH_PORT", 0) or free_port(),
            people=env_int("BENCH_PEOPLE", n // 6),
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(config: Config) -> dict[str, str]:
    """The environment of the server and of the in-process set-up (the same SECRET_KEY signs both)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.perf.bench_settings",
        "DATABASE_URL": f"sqlite:///{config.db_path}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "API_THROTTLE_KEY": "1000000/min",
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONHASHSEED": "0",
    }
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # The set-up's own audit lines (keys issued, assessments published in-process) are not results.
    for name in ("security", "axes", "django"):
        logging.getLogger(name).setLevel(logging.WARNING)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database --------------------------------------------------------------------------------------


def ensure_database(config: Config) -> None:
    """Migrate, and generate the data unless a complete database of this size and seed is there already.
    The marker file is written last, so an interrupted generation is never reused."""
    from django.core.management import call_command
    from django.db import connection

    marker = config.db_path.with_suffix(".ready")
    wanted = {"recommendations": config.recommendations, "seed": config.seed, "people": config.people}
    found = json.loads(marker.read_text()) if config.db_path.exists() and marker.exists() else None
    if found == wanted:
        log(f"reusing {config.db_path}")
        call_command("migrate", verbosity=0, interactive=False)
        return
    if found and found.get("people", 0) == 0 and {**found, "people": config.people} == wanted:
        # A database made before people were generated: add them, and keep the rest.
        log(f"reusing {config.db_path}; adding {config.people:,} people")
        call_command("migrate", verbosity=0, interactive=False)
        call_command(
            "generate_data",
            recommendations=config.recommendations,
            seed=config.seed,
            people=config.people,
            people_only=True,
            stdout=sys.stderr,
        )
        marker.write_text(json.dumps(wanted))
        return
    connection.close()
    config.db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", ".ready"):
        Path(str(config.db_path) + suffix).unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    log(f"creating {config.db_path}")
    call_command("migrate", verbosity=0, interactive=False)
    log(f"generating {config.recommendations:,} recommendations (seed {config.seed})")
    call_command(
        "generate_data",
        recommendations=config.recommendations,
        seed=config.seed,
        people=config.people,
        stdout=sys.stderr,
    )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    marker.write_text(json.dumps(wanted))


@dataclass
class People:
    monitor: object
    curator: object
    admin: object
    sessions: dict[str, str]
    api_key: str
    session_cookie: str


def make_people() -> People:
    """A monitor and a curator of the generated organisation, a superuser for the admin, a session for each
    (created directly in the session store: nobody knows a password, and sign-in is not what is measured),
    and a partners key."""
    from importlib import import_module

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY as AUTH_RECORDS_USER,
    )
    from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY as AUTH_RECORDS
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group

    from cases import services
    from cases.models import Organisation
    from tracker.accounts.roles import CURATORS, MONITORS, ensure_groups

    ensure_groups()
    User = get_user_model()
    organisation = Organisation.objects.get(name=BENCH_ORGANISATION)

    def user(username: str, group: str | None, **flags):
        person, created = User.objects.get_or_create(username=username, defaults=flags)
        if created:
            person.set_unusable_password()
            person.save()
            if group:
                person.groups.add(Group.objects.get(name=group))
            services.set_membership(person, organisation)
        return person

    monitor = user("bench-monitor", MONITORS)
    curator = user("bench-curator", CURATORS, is_staff=True)
    admin = user("bench-admin", None, is_staff=True, is_superuser=True)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = {}
    for name, person in (("monitor", monitor), ("curator", curator), ("admin", admin)):
        session = store()
        session[SESSION_KEY] = str(person.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = person.get_session_auth_hash()
        # As allauth records a sign-in with password and second factor: curators and staff must have passed
        # one (tracker.accounts.security.MFAEnforcementMiddleware), and the benchmark measures pages, not the challenge.
        now = time.time()
        session[AUTH_RECORDS] = [
            {"method": "password", "at": now},
            {"method": "mfa", "at": now, "type": "totp"},
        ]
        session[AUTH_RECORDS_USER] = str(person.pk)
        session.save()
        sessions[name] = session.session_key
    _key, secret = services.issue_api_key(organisation, clearance="partners", name="benchmark")
    return People(monitor, curator, admin, sessions, secret, settings.SESSION_COOKIE_NAME)


# --- the server ----------------------------------------------------------------------------------------


class Server:
    """gunicorn with N sync workers on 127.0.0.1; its error log is kept for the "database is locked" count."""

    def __init__(self, config: Config, env: dict[str, str], log_path: Path):
        self.config, self.env, self.log_path = config, env, log_path
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            str(BIN / "gunicorn"), "tracker.wsgi:application",
            "--workers", str(self.config.workers),
            "--bind", f"127.0.0.1:{self.config.port}",
            "--timeout", "600", "--graceful-timeout", "5",
            "--error-logfile", str(self.log_path), "--log-level", "warning",
        ]  # fmt: skip

    def __enter__(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self.command()
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {self.log_path}")
            try:
                if Http(self.config.port).get("/healthz").status == 200 and len(self.worker_pids()) >= 1:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer on /healthz; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


def memory_kib(pid: int, field_name: str) -> int:
    """A field of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak since the process started)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- HTTP ----------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float
    cookies: dict[str, str] = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


class Http:
    """One request per connection (gunicorn's sync workers close after each response anyway)."""

    def __init__(self, port: int, timeout: float = 600):
        self.port, self.timeout = port, timeout

    def request(
        self, method: str, path: str, headers: dict | None = None, body: bytes | None = None, sink=None
    ) -> Response:
        headers = {"Host": "127.0.0.1", **(headers or {})}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            if sink is None:
                data = response.read()
            else:
                data = b""
                while chunk := response.read(65536):
                    sink(chunk)
            elapsed = time.perf_counter() - started
            cookies = {}
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _eq, rest = value.partition("=")
                    cookies[key.strip()] = rest.split(";", 1)[0]
            return Response(response.status, data, dict(response.getheaders()), elapsed, cookies)
        finally:
            connection.close()

    def get(self, path: str, headers: dict | None = None, sink=None) -> Response:
        return self.request("GET", path, headers, sink=sink)


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_from(response: Response) -> str | None:
    match = CSRF_INPUT.search(response.body.decode("utf-8", "replace"))
    return match.group(1) if match else None


# --- reporting -----------------------------------------------------------------------------------------


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    import django

    try:
        memory = next(
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory = 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, {memory:,} MiB RAM; load average {load}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, Django {django.get_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def sqlite_cli() -> str | None:
    """The sqlite3 command-line shell, installed from Debian when missing and we are allowed to."""
    found = shutil.which("sqlite3")
    if found or os.environ.get("BENCH_NO_INSTALL"):
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        log("installing sqlite3 (Debian package) for the export floor")
        subprocess.run(["apt-get", "install", "-y", "-q", "sqlite3"], check=False, capture_output=True)
    return shutil.which("sqlite3")


def wrk_binary() -> str | None:
    """Debian's `wrk` (apt-get install wrk), or None."""
    return shutil.which("wrk")


def wrk(
    binary: str, port: int, path: str, seconds: int, connections: int, headers: dict | None = None
) -> dict:
    """`wrk` on 2 threads against one loopback path, with `headers` on every request (a Lua script, so a
    header's value is never parsed by a shell): requests/s, p50 in ms, error responses, socket errors."""
    import re
    import tempfile

    command = [
        binary,
        "-t",
        "2",
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "60s",
        "--latency",
    ]
    with tempfile.TemporaryDirectory() as directory:
        if headers:
            script = Path(directory) / "headers.lua"
            script.write_text(
                "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
            )
            command += ["-s", str(script)]
        command.append(f"http://127.0.0.1:{port}{path}")
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "rate": float(rate.group(1)) if rate else 0.0,
        "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else None,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }
