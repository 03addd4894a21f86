"""Production configuration fails closed, and every response carries the security headers."""

import os
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


def bare_manage_py(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """`manage.py ARGS` as a developer types it: no DEBUG, SECRET_KEY, ALLOWED_HOSTS or settings module."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
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
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
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
