"""gunicorn's configuration for the deployment (README, "Deployment"):

    gunicorn -c tracker/gunicorn.conf.py tracker.wsgi

Every value comes from the environment, with the production settings' variables beside it (SECRET_KEY,
ALLOWED_HOSTS, DATABASE_URL, ...):

- GUNICORN_BIND: address(es) to listen on, comma-separated (default 127.0.0.1:8000, behind the proxy);
- GUNICORN_WORKERS: sync worker processes (default 2; each serves one request at a time);
- GUNICORN_TIMEOUT: seconds before a silent worker is killed and replaced (default 30). The database
  timeouts (DATABASE_CONNECT_TIMEOUT, DATABASE_STATEMENT_TIMEOUT, DATABASE_BUSY_TIMEOUT) must be below it,
  so a request fails with an error rather than a killed worker: checked at start-up. A streamed response
  (the CSV export) that keeps writing is not silent: each chunk it writes tells the arbiter the worker is
  alive (`post_worker_init`), so an export of any length completes, while one that stalls longer than
  the timeout (a hung query, a client that stopped reading) is still killed;
- GUNICORN_CONTROL_SOCKET: a path for gunicorn's control socket (`gunicornc`). Unset, there is none: its
  default path is one per user, shared by every gunicorn of that user on the host.

Sync workers read a request themselves: a client that sends it slowly holds a worker for as long as it
likes. The reverse proxy in front MUST buffer whole requests before passing them on (nginx does by
default); the limits below only bound the size of what a worker reads.
"""

import os
import re
import time

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "tracker.wsgi:application"
bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")]
workers = _int("GUNICORN_WORKERS", 2)
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (a deploy), requests in progress get this long to finish.
graceful_timeout = 20
# Seconds an idle kept-alive connection from the proxy is held (threaded and async workers only).
keepalive = 5
# A fresh worker now and then: memory a long-lived process gathers is given back, staggered by the jitter.
max_requests = 2000
max_requests_jitter = 200
# The workers' heartbeat files in memory: a slow disk must not look like a hung worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Request limits: a request line of at most 4 KiB (the longest list URL with every filter is well under
# 1 KiB), 50 header fields of at most 8 KiB each (cookies included).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

control_socket_path = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if control_socket_path:
    control_socket = control_socket_path
else:
    control_socket_disable = True

# Access log on stdout: address, method, path without its query string, status, size, time, user agent.
# Query strings and referrers are left out (they can carry tokens), and the secret part of a
# password-reset link is masked in the path (RedactingLogger).
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Paths whose last segments are a secret: allauth's password-reset key, e-mail confirmation key.
SECRET_PATH = re.compile(r"(/(?:password/reset/key|confirm-email)/)[^/]+")


class RedactingLogger(Logger):
    """gunicorn's logger, with secrets in paths masked and no query string in any atom."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = SECRET_PATH.sub(r"\1…", atoms.get("U") or "")
        atoms["r"] = f"{atoms.get('m')} {atoms['U']} {atoms.get('H')}"
        atoms["q"] = "-"
        atoms["f"] = "-"
        return atoms


logger_class = RedactingLogger


def on_starting(server) -> None:
    """Refuse to start when a database timeout is not below the worker timeout: the worker would be
    killed before the database error could be answered."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    from django.conf import settings

    for name in ("DATABASE_CONNECT_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT", "DATABASE_BUSY_TIMEOUT"):
        value = getattr(settings, name)
        if not 0 <= value < server.cfg.timeout:
            raise RuntimeError(
                f"{name}={value} must be below gunicorn's worker timeout ({server.cfg.timeout} s)."
            )


def post_worker_init(worker) -> None:
    """Import the URLconf (and with it every view) and the database backend when the worker starts, not
    during its first request: a fresh worker then answers /healthz as quickly as an old one. Then let
    streamed responses beat the worker's heartbeat while they make progress (StreamingHeartbeat)."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (evaluated for its imports)
    connections[DEFAULT_DB_ALIAS]  # the backend module is imported; no connection is made
    worker.wsgi = StreamingHeartbeat(worker.wsgi, worker.notify, interval=worker.cfg.timeout / 5)


class StreamingHeartbeat:
    """WSGI middleware: while a streamed response is written, every chunk handed to the worker beats its
    heartbeat (at most once per `interval`).

    A sync worker beats only between requests, so the arbiter kills any request that outlasts the worker
    timeout, however steadily it writes: the full CSV export (minutes at the UN's size) was cut at 30 s
    and the partner got a truncated file. A chunk is asked for only after the previous one was written to
    the socket, so a beat means the response moved: a stream that stops (a query that hangs, a client that
    stops reading, so the write blocks) beats no more, and its worker is killed at the timeout as before.
    Ordinary responses and files sent with sendfile are returned as they are."""

    def __init__(self, app, notify, interval: float):
        self.app, self.notify, self.interval = app, notify, interval

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if getattr(body, "streaming", False):  # Django's StreamingHttpResponse
            return _BeatingBody(body, self.notify, self.interval)
        return body


class _BeatingBody:
    def __init__(self, body, notify, interval: float):
        self.body, self.notify, self.interval = body, notify, interval

    def __iter__(self):
        last = time.monotonic()
        for chunk in self.body:
            now = time.monotonic()
            if now - last >= self.interval:
                self.notify()
                last = now
            yield chunk

    def close(self) -> None:
        # The response's own close() (request_finished: database connections are closed or returned).
        self.body.close()
