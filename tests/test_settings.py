"""Production configuration fails closed, and every response carries the security headers."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRONG = "k" + "x9Lq2vB7mZ4rT8wY1nC6pD3sF5gH0jK" * 2


def start(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "tracker.settings"
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "example.org"}, "at least 50"),
        ({"SECRET_KEY": "a" * 60, "ALLOWED_HOSTS": "example.org"}, "at least 50"),
        ({"SECRET_KEY": STRONG}, "ALLOWED_HOSTS must be set"),
        ({"SECRET_KEY": STRONG, "ALLOWED_HOSTS": "*"}, "'*' is refused"),
    ],
)
def test_refuses_to_start_without_production_settings(env, message):
    result = start(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_starts_with_production_settings_and_debug_off():
    result = start({"SECRET_KEY": STRONG, "ALLOWED_HOSTS": "tracker.example.org"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_defaults_are_hardened():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, "
        "s.SESSION_COOKIE_HTTPONLY, s.SECURE_REFERRER_POLICY, s.SECURE_CROSS_ORIGIN_OPENER_POLICY)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG"}}
    env.update(
        SECRET_KEY=STRONG, ALLOWED_HOSTS="tracker.example.org", DJANGO_SETTINGS_MODULE="tracker.settings"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "same-origin", "same-origin"]


@pytest.mark.django_db
def test_security_headers_on_every_response(client):
    response = client.get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_manage_py_needs_no_secrets_but_the_served_app_does():
    """Developers' commands run bare; gunicorn's entry point (tracker.wsgi) still fails closed."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr
    served = subprocess.run(
        [sys.executable, "-c", "import tracker.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode != 0
    assert "SECRET_KEY must be set" in served.stderr


TEST_ENVIRONMENT = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
    "MFA_ENFORCE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def bare_manage_py(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """`manage.py ARGS` as a developer types it: none of the variables the test environment sets (DEBUG,
    SECRET_KEY, ALLOWED_HOSTS, MFA_ENFORCE, the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE)."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ENVIRONMENT}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_manage_py_never_turns_debug_on_by_itself():
    """A bare command runs with DEBUG off and a strong key: the deploy checks find neither to warn about."""
    result = bare_manage_py("check", "--deploy")
    output = result.stdout + result.stderr
    assert "System check identified" in output, output  # the settings loaded and the checks ran
    assert "security.W018" not in output  # DEBUG on
    assert "security.W009" not in output  # a weak SECRET_KEY


@pytest.mark.parametrize(
    "args",
    [("runserver", "--noreload", "127.0.0.1:8799"), ("adduser", "nobody", "--role", "monitor")],
    ids=["runserver", "adduser"],
)
def test_manage_py_commands_that_serve_or_sign_still_need_secrets(args):
    try:
        result = bare_manage_py(*args, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"manage.py {args[0]} started without SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_no_dead_settings():
    from django.conf import settings

    assert not hasattr(settings, "TRACKER_PUBLIC_PAGES")  # reserved until public pages are built
    assert all(Path(path).is_dir() for path in settings.LOCALE_PATHS)
    assert "CACHE_URL" not in (ROOT / "tracker" / "settings.py").read_text()  # the variable is CACHE_LOCATION


# --- Database timeouts (issue 15, finding 6) ------------------------------------------------------------

PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def database_settings(env: dict, probe: str = "") -> dict:
    """DATABASES["default"] (engine, options) as the settings build them from `env`, in a fresh process;
    with `probe`, a query run on a real connection and its first value as "probe"."""
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "from django.db import connection; d = s.DATABASES['default']; "
        "out = {'ENGINE': d['ENGINE'], 'OPTIONS': d['OPTIONS']}; "
        f"probe = {probe!r}\n"
        "if probe:\n"
        "    c = connection.cursor(); c.execute(probe); out['probe'] = c.fetchone()[0]\n"
        "print(json.dumps(out, default=str))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATABASE_") and k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    clean.update(
        SECRET_KEY=STRONG, ALLOWED_HOSTS="tracker.example.org", DJANGO_SETTINGS_MODULE="tracker.settings"
    )
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


def test_postgresql_gets_connect_and_statement_timeouts_by_default():
    options = database_settings({"DATABASE_URL": PG_URL})["OPTIONS"]
    assert options["connect_timeout"] == 5
    assert options["options"] == "-c statement_timeout=20000"
    # A server that silently drops packets is noticed by the kernel below gunicorn's 30 s worker timeout.
    assert options["keepalives"] == 1
    assert options["keepalives_idle"] * (1 + options["keepalives_count"]) < 30
    assert options["tcp_user_timeout"] < 30_000


def test_postgresql_timeouts_come_from_the_environment():
    options = database_settings(
        {"DATABASE_URL": PG_URL, "DATABASE_CONNECT_TIMEOUT": "2", "DATABASE_STATEMENT_TIMEOUT": "7"}
    )["OPTIONS"]
    assert options["connect_timeout"] == 2
    assert options["options"] == "-c statement_timeout=7000"
    assert options["tcp_user_timeout"] == 7000


def test_parameters_in_the_database_url_are_kept_and_win():
    options = database_settings(
        {
            "DATABASE_URL": PG_URL
            + "?connect_timeout=9&options=-c%20statement_timeout%3D1000%20-c%20lock_timeout%3D500"
        }
    )["OPTIONS"]
    assert options["connect_timeout"] == 9
    # PostgreSQL applies the last -c of a name: the URL's own value, after the default.
    assert options["options"] == "-c statement_timeout=20000 -c statement_timeout=1000 -c lock_timeout=500"


def test_postgresql_connection_runs_with_the_statement_timeout():
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    env = {"DATABASE_URL": PG_URL, "DATABASE_STATEMENT_TIMEOUT": "7"}
    assert database_settings(env, probe="SHOW statement_timeout")["probe"] == "7s"
    assert database_settings({"DATABASE_URL": PG_URL}, probe="SHOW statement_timeout")["probe"] == "20s"


def test_sqlite_busy_timeout_is_below_gunicorns_worker_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    default = database_settings({"DATABASE_URL": url}, probe="PRAGMA busy_timeout")
    assert default["OPTIONS"]["timeout"] == 20
    # What the connection really uses (no PRAGMA in init_command overriding it).
    assert default["probe"] == 20_000
    assert default["probe"] < gunicorn_timeout() * 1000
    changed = database_settings(
        {"DATABASE_URL": url, "DATABASE_BUSY_TIMEOUT": "3"}, probe="PRAGMA busy_timeout"
    )
    assert changed["probe"] == 3000


def gunicorn_timeout() -> int:
    """The worker timeout of the deployment's gunicorn configuration."""
    namespace: dict = {}
    exec(compile((ROOT / "tracker" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    return namespace["timeout"]
