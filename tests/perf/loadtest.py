"""`make loadtest`: a mixed read/write workload against gunicorn (2 workers, loopback) for a fixed time.

    LOADTEST_SECONDS=60 LOADTEST_CLIENTS=8 BENCH_RECOMMENDATIONS=20000 make loadtest

Client threads (standard library: threading + http.client, at most 64) each loop for LOADTEST_SECONDS
(default 60) over a weighted mix: mostly reading (dashboard, list pages with filters, search and page
numbers, recommendation pages, API list pages and details, the review queue), some writing (a monitor
submits an assessment through the form, a curator publishes a submitted one). It reports throughput,
p50/p95/p99 per kind of request and overall, every error (any unexpected status or a failed connection),
and counts "database is locked" in the responses and in the server's log. It uses the benchmark's
generated database (tests/perf/harness.py) and leaves the published and submitted assessments in it.
Exit status 1 on any error or "database is locked".
"""

from __future__ import annotations

import collections
import html.parser
import random
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness
from tests.perf.harness import Http, Server, log, percentile

MAX_CLIENTS = 64
SEARCH_TERMS = ["torture", "detention", "forced labour", "liberty", "新疆", "مەجبۇرىي", "XUAR", "reprisals"]
STATUSES = ["not_implemented", "partially_implemented", "implemented", "regressed", "not_assessed"]
# (kind, weight): reads first, then writes.
MIX = [
    ("dashboard", 10),
    ("list", 20),
    ("search", 8),
    ("detail", 22),
    ("api list", 10),
    ("api detail", 10),
    ("review queue", 5),
    ("submit", 8),
    ("publish", 7),
]


class FormParser(html.parser.HTMLParser):
    """The inputs of a page's forms: hidden fields, and the values of the evidence checkboxes."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.evidence: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "input":
            return
        a = dict(attrs)
        if a.get("type") == "hidden" and a.get("name"):
            self.hidden.setdefault(a["name"], a.get("value") or "")
        elif a.get("type") == "checkbox" and a.get("name") == "evidence" and a.get("value"):
            self.evidence.append(a["value"])


@dataclass
class Shared:
    codes: list[str]
    publishable: collections.deque
    lock: threading.Lock = field(default_factory=threading.Lock)
    results: list[tuple[str, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    locked_in_responses: int = 0


def prepare(people: harness.People, count: int) -> Shared:
    from cases.models import Assessment, Recommendation, ReviewState

    rng = random.Random(1)
    ids = list(Recommendation.objects.values_list("id", flat=True))
    sample = rng.sample(ids, min(len(ids), 2000))
    codes = list(Recommendation.objects.filter(id__in=sample).values_list("code", flat=True))
    organisation = people.curator.membership.organisation
    publishable = collections.deque(
        Assessment.objects.filter(review_state=ReviewState.SUBMITTED, organisation=organisation)
        .exclude(author=people.curator)
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    return Shared(codes=codes, publishable=publishable)


class Client(threading.Thread):
    def __init__(self, number: int, http: Http, people: harness.People, shared: Shared, deadline: float):
        super().__init__(daemon=True)
        self.rng = random.Random(number)
        self.http, self.people, self.shared, self.deadline = http, people, shared, deadline
        cookie = people.session_cookie
        self.monitor = {"Cookie": f"{cookie}={people.sessions['monitor']}"}
        self.curator = {"Cookie": f"{cookie}={people.sessions['curator']}"}
        self.key = {"Authorization": f"Bearer {people.api_key}"}
        self.kinds = [kind for kind, _w in MIX]
        self.weights = [w for _k, w in MIX]
        self.curator_csrf: tuple[str, str] | None = None

    def run(self):
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            try:
                getattr(self, "do_" + kind.replace(" ", "_"))(kind)
            except OSError as exc:
                self.record(kind, 0, 0.0, f"{kind}: {type(exc).__name__}: {exc}")

    def record(self, kind: str, status: int, seconds: float, error: str | None = None, body: bytes = b""):
        with self.shared.lock:
            self.shared.results.append((kind, status, seconds))
            if error:
                self.shared.errors.append(error)
            if b"database is locked" in body:
                self.shared.locked_in_responses += 1

    def get(self, kind: str, path: str, headers: dict, expect: int = 200):
        response = self.http.get(path, headers)
        error = None if response.status == expect else f"{kind}: HTTP {response.status} for {path}"
        self.record(kind, response.status, response.seconds, error, response.body)
        return response

    def post(self, kind: str, path: str, headers: dict, data: dict | list, expect: int = 302):
        body = urllib.parse.urlencode(data, doseq=True).encode()
        response = self.http.request(
            "POST", path, {**headers, "Content-Type": "application/x-www-form-urlencoded"}, body
        )
        error = None if response.status == expect else f"{kind}: HTTP {response.status} for POST {path}"
        self.record(kind, response.status, response.seconds, error, response.body)
        return response

    # --- reads ------------------------------------------------------------------------------------------

    def do_dashboard(self, kind):
        self.get(kind, "/", self.monitor)

    def do_list(self, kind):
        params = {"page": self.rng.randint(1, 20)}
        if self.rng.random() < 0.6:
            params["implementation_status"] = self.rng.choice(STATUSES)
        if self.rng.random() < 0.3:
            params["addressee"] = self.rng.choice(["state", "business"])
        self.get(kind, "/recommendations/?" + urllib.parse.urlencode(params), self.monitor)

    def do_search(self, kind):
        params = {"q": self.rng.choice(SEARCH_TERMS)}
        self.get(kind, "/recommendations/?" + urllib.parse.urlencode(params), self.monitor)

    def do_detail(self, kind):
        self.get(kind, f"/recommendations/{self.rng.choice(self.shared.codes)}/", self.monitor)

    def do_api_list(self, kind):
        params = {}
        if self.rng.random() < 0.5:
            params["implementation_status"] = self.rng.choice(STATUSES)
        query = "?" + urllib.parse.urlencode(params) if params else ""
        first = self.get(kind, "/api/v1/recommendations/" + query, self.key)
        if first.status == 200 and self.rng.random() < 0.5:
            next_link = first.json().get("next")
            if next_link:
                parts = urllib.parse.urlsplit(next_link)
                self.get(kind, f"{parts.path}?{parts.query}", self.key)

    def do_api_detail(self, kind):
        self.get(kind, f"/api/v1/recommendations/{self.rng.choice(self.shared.codes)}/", self.key)

    def do_review_queue(self, kind):
        response = self.get(kind, "/review/", self.curator)
        self._remember_csrf(response)

    # --- writes -----------------------------------------------------------------------------------------

    def _remember_csrf(self, response: harness.Response) -> None:
        token = harness.csrf_from(response)
        cookie = response.cookies.get("csrftoken")
        if token and cookie:
            self.curator_csrf = (token, cookie)

    def do_submit(self, kind):
        code = self.rng.choice(self.shared.codes)
        form = self.get("submit (form)", f"/recommendations/{code}/assess/", self.monitor)
        if form.status != 200:
            return
        parser = FormParser()
        parser.feed(form.body.decode("utf-8", "replace"))
        csrf_cookie = form.cookies.get("csrftoken")
        if not parser.evidence or not csrf_cookie:
            return  # nothing this monitor may cite here: not an error of the server
        data = [(name, value) for name, value in parser.hidden.items()]
        data += [
            ("implementation_status", self.rng.choice(STATUSES[:4])),
            ("state_response", "no_response"),
            ("basis", "independent"),
            ("assessed_on", "2025-01-15"),
            ("rationale", "Load test: a new report says the facility is still in use."),
            ("evidence", parser.evidence[0]),
        ]
        headers = {"Cookie": f"{self.monitor['Cookie']}; csrftoken={csrf_cookie}"}
        self.post(kind, f"/recommendations/{code}/assess/", headers, data)

    def do_publish(self, kind):
        if self.curator_csrf is None:
            self._remember_csrf(self.http.get("/review/", self.curator))
        if self.curator_csrf is None:
            self.record(kind, 0, 0.0, "publish: no CSRF token on /review/")
            return
        with self.shared.lock:
            pk = self.shared.publishable.popleft() if self.shared.publishable else None
        if pk is None:
            return
        token, cookie = self.curator_csrf
        headers = {"Cookie": f"{self.curator['Cookie']}; csrftoken={cookie}"}
        self.post(kind, f"/review/{pk}/publish/", headers, {"csrfmiddlewaretoken": token})


def report(
    config: harness.Config, clients: int, seconds: float, shared: Shared, server_log: str, out=sys.stdout
):
    results = shared.results
    locked_log = server_log.count("database is locked")
    print(file=out)
    print(
        f"Accountability Tracker load test: {clients} clients for {seconds:.0f} s against gunicorn "
        f"({config.workers} workers, 127.0.0.1), {config.recommendations:,} recommendations (SQLite)",
        file=out,
    )
    print(f"Machine: {harness.machine_description()}", file=out)
    print(file=out)
    header = f"{'request':<16} {'count':>7} {'errors':>7} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"
    print(header, file=out)
    print("-" * len(header), file=out)
    by_kind: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    for kind, status, secs in results:
        by_kind[kind].append((status, secs))
    error_kinds = collections.Counter(e.split(":", 1)[0] for e in shared.errors)

    def line(name: str, rows: list[tuple[int, float]], errors: int):
        times = [s for _status, s in rows if s > 0]
        ms = [f"{percentile(times, p) * 1000:.0f} ms" for p in (50, 95, 99)]
        print(
            f"{name:<16} {len(rows):>7} {errors:>7} {ms[0]:>9} {ms[1]:>9} {ms[2]:>9} "
            f"{max(times, default=0) * 1000:>6.0f} ms",
            file=out,
        )

    for kind in [k for k, _w in MIX] + ["submit (form)"]:
        if kind in by_kind:
            line(kind, by_kind[kind], error_kinds.get(kind, 0))
    print("-" * len(header), file=out)
    line("all", [row for rows in by_kind.values() for row in rows], len(shared.errors))
    print(file=out)
    print(f"throughput: {len(results) / seconds:.1f} requests/s ({len(results):,} requests)", file=out)
    statuses = collections.Counter(status for _k, status, _s in results)
    print(f"status codes: {dict(sorted(statuses.items()))}", file=out)
    print(f"errors: {len(shared.errors)}", file=out)
    for error, n in collections.Counter(shared.errors).most_common(10):
        print(f"    {n} x {error}", file=out)
    print(
        f"'database is locked': {locked_log + shared.locked_in_responses} "
        f"(server log {locked_log}, responses {shared.locked_in_responses}); "
        f"tracebacks in the server log: {server_log.count('Traceback')}",
        file=out,
    )


def main() -> int:
    config = harness.Config.from_env()
    seconds = harness.env_int("LOADTEST_SECONDS", 60)
    clients = max(1, min(harness.env_int("LOADTEST_CLIENTS", 8), MAX_CLIENTS))
    env = harness.server_env(config)
    harness.setup_django(env)
    harness.ensure_database(config)
    people = harness.make_people()
    # Enough submitted assessments for the publishes the mix can make in the time given.
    shared = prepare(people, count=max(200, seconds * clients * 2))
    from django.db import connection

    connection.close()
    log_path = config.db_path.parent / "loadtest-gunicorn.log"
    with Server(config, env, log_path) as server:
        http = Http(config.port, timeout=120)
        log(f"{clients} clients for {seconds}s")
        started = time.monotonic()
        threads = [Client(n, http, people, shared, started + seconds) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 180)
        elapsed = time.monotonic() - started
        server_log = server.log_text()
    report(config, clients, elapsed, shared, server_log)
    locked = server_log.count("database is locked") + shared.locked_in_responses
    return 1 if shared.errors or locked else 0


if __name__ == "__main__":
    sys.exit(main())
