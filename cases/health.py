"""`/healthz` for load balancers and uptime checks: 200 `ok` when the database answers, 503 otherwise, and
either answer within 2 seconds however the database fails (refusing, erroring, or silently not answering).

The check does not use the request's database connection: that one waits as long as the site's own
timeouts allow (seconds), which is right for a page and wrong for a probe. It opens a dedicated connection
with short timeouts (PROBE_TIMEOUT) in a thread and waits for it at most PROBE_TIMEOUT seconds; a probe
still waiting then is left to end on its own timeouts, and until it has, the process's next checks wait
for it (within the same bound) instead of starting more probes that would hang on the same silent database.
"""

from __future__ import annotations

import copy
import logging
import threading
import time

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Seconds the probe may take, connection included; the answer comes within this plus the view's own time.
PROBE_TIMEOUT = 1.5
# One probe at a time per process.
_probe_running = threading.Lock()


def _probe_settings(alias: str = DEFAULT_DB_ALIAS) -> dict:
    """The alias's connection settings with the probe's timeouts (whole seconds where the driver wants them)."""
    settings_dict = copy.deepcopy(connections[alias].settings_dict)
    settings_dict["CONN_MAX_AGE"] = 0
    settings_dict["CONN_HEALTH_CHECKS"] = False
    options = settings_dict.setdefault("OPTIONS", {})
    engine = settings_dict["ENGINE"]
    if engine == "django.db.backends.postgresql":
        milliseconds = int(PROBE_TIMEOUT * 1000)
        options["connect_timeout"] = 1  # libpq's minimum; the thread's wait bounds it to PROBE_TIMEOUT anyway
        options["options"] = f"{options.get('options', '')} -c statement_timeout={milliseconds}".strip()
        options["tcp_user_timeout"] = milliseconds
        options.pop("pool", None)
    elif engine == "django.db.backends.sqlite3":
        options["timeout"] = PROBE_TIMEOUT
    return settings_dict


def _probe(settings_dict: dict, outcome: list) -> None:
    try:
        wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "healthz")
        try:
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            outcome.append("ok")
        finally:
            wrapper.close()
    except Exception as exc:  # whatever the driver raises, the answer is "unavailable", with its type logged
        outcome.append(f"error {type(exc).__name__}")
    finally:
        _probe_running.release()


def database_answers(alias: str = DEFAULT_DB_ALIAS) -> tuple[bool, str]:
    """Whether the database answers a query within PROBE_TIMEOUT seconds, and why not."""
    started = time.monotonic()
    if not _probe_running.acquire(timeout=PROBE_TIMEOUT):
        return False, "an earlier check is still waiting for the database"
    outcome: list[str] = []
    try:
        thread = threading.Thread(target=_probe, args=(_probe_settings(alias), outcome), daemon=True)
        thread.start()
    except BaseException:
        _probe_running.release()
        raise
    thread.join(max(0.0, PROBE_TIMEOUT - (time.monotonic() - started)))
    if not outcome:
        return False, "no answer within the timeout"
    return outcome[0] == "ok", outcome[0]


@never_cache
@require_GET
def healthz(request):
    """200 `ok` when the database answers a query, 503 otherwise, within 2 seconds."""
    healthy, reason = database_answers()
    if not healthy:
        logger.warning("healthz database unavailable: %s", reason)
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
