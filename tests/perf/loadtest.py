"""`make loadtest`: a contended mixed workload against gunicorn (the deployment's config, loopback) for a
fixed time, then the workflow's invariants checked in the database.

    LOADTEST_SECONDS=60 LOADTEST_CLIENTS=8 BENCH_RECOMMENDATIONS=20000 make loadtest
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadtest make loadtest      # on PostgreSQL

Each client thread is one person with their own session, signed in through the real sign-in page (curators
with their second factor): half monitors, half curators (at least two of each) of a load-test organisation.
They work on LOADTEST_HOT (default 3) "hot" recommendations, so that publications of the same
recommendation meet on its row lock, and curators race for the same submitted assessments:

- monitors open the assessment form of a hot recommendation, think (up to LOADTEST_THINK seconds), and
  submit; when an assessment was published meanwhile the form answers with the edit-conflict prompt, and
  they confirm it and submit again. They revise and resubmit what curators returned to them (from their
  dashboard), export the hot recommendations' published assessments as CSV, and read (dashboard, list,
  search, recommendation pages);
- curators take one of the oldest submissions in their review queue and publish it (or, one time in five,
  return it with a comment); the page after says whether they won or another curator acted first.

The database is SQLite (the benchmark's generated database, tests/perf/harness.py) unless DATABASE_URL
names a PostgreSQL database: created if missing, generated if empty, refused if it holds other data.

After the run, in the database: every recommendation's stored status equals the status recomputed from its
assessments (`services.recompute_current_status` with the save left out: nothing is written), no published assessment
was reviewed by its author, no assessment was published twice, no transition row points to a missing
assessment, and every submission a client saw accepted is stored. The report prints these beside
throughput and latencies (p50/p95/p99). Above 20,000 recommendations the status check covers those the run
touched and a sample of 2,000 others (a recount of all 300,000 would take hours).

Then the floor run (issue 14): the same clients, with the same sessions, for the same time, with the same mix and
think time, but each action is one request to the bare `.values()` view of the rows its page reads
(tests/perf/floor_urls.py). The report gives the mixed load's throughput and p99 against the floor run's,
beside the targets (throughput at least 0.3x the floor's, p99 at most 10x). Exit status 1 on any error, any
"database is locked", or a broken invariant (a missed target is reported, not an error).
"""

from __future__ import annotations

import collections
import html.parser
import math
import os
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf import harness, postgres
from tests.perf.harness import Http, log, percentile

ORGANISATION = "Load test NGO"
SEARCH_TERMS = ["torture", "detention", "forced labour", "liberty", "新疆", "مەجبۇرىي", "XUAR", "reprisals"]
STATUSES = ["not_implemented", "partially_implemented", "implemented", "regressed", "not_assessed"]
# What each kind of person does, with weights.
MONITOR_MIX = [("submit", 30), ("resubmit", 10), ("export csv", 8), ("dashboard", 12), ("list", 15),
               ("search", 8), ("detail", 17)]  # fmt: skip
CURATOR_MIX = [("review", 70), ("own", 5), ("dashboard", 10), ("detail", 10), ("list", 10)]
KINDS = ["sign-in", "dashboard", "list", "search", "detail", "export csv", "submit (form)", "submit",
         "conflict confirm", "resubmit (form)", "resubmit", "review queue", "publish", "return",
         "publish own"]  # fmt: skip
# The status check recounts every recommendation up to this size, above it those the run touched and a sample.
CHECK_ALL_UP_TO = 20_000
CHECK_SAMPLE = 2_000
# Issue 14's targets for the mixed load against its floor run (same clients, same mix, bare reads).
FLOOR_THROUGHPUT_RATIO = 0.3
FLOOR_P99_RATIO = 10.0
CONFLICT_MARK = 'id="conflict-heading"'
MESSAGE = re.compile(r'<li class="message message--(\w+)"[^>]*>(.*?)</li>', re.S)
PUBLISH_ACTION = re.compile(r'action="/review/(\d+)/publish/"')
RESUBMIT_LINK = re.compile(r'href="/assessments/(\d+)/resubmit/"')
OWN_ITEM = re.compile(r'review-item--own" id="review-(\d+)"')


class FormParser(html.parser.HTMLParser):
    """A page's form inputs: hidden fields and the values of the evidence checkboxes."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.evidence: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "input":
            return
        a = dict(attrs)
        if a.get("type") == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value") or ""
        elif a.get("type") == "checkbox" and a.get("name") == "evidence" and a.get("value"):
            self.evidence.append(a["value"])


def parse_form(body: bytes) -> FormParser:
    parser = FormParser()
    parser.feed(body.decode("utf-8", "replace"))
    return parser


@dataclass
class Shared:
    """What the clients share: the hot recommendations, results, errors and the workflow's outcomes."""

    hot: list[str]
    codes: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    results: list[tuple[str, int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    locked_in_responses: int = 0


# --- set-up (in-process Django) ------------------------------------------------------------------------


@dataclass
class Person:
    username: str
    password: str
    role: str
    totp_secret: str = ""


def make_people(monitors: int, curators: int, hot: list[str]) -> list[Person]:
    """Monitors and curators of the load-test organisation with fresh passwords (curators with a TOTP
    authenticator), and a public source linked to each hot recommendation for the monitors to cite."""
    from django.contrib.auth import get_user_model

    from cases import services
    from cases.models import Evidence, Recommendation
    from tests.mfa_helpers import activate_totp, totp_secret
    from tracker.accounts.services import create_user

    User = get_user_model()
    organisation = services.get_or_create_organisation(ORGANISATION)
    people = []
    for role, count in (("monitor", monitors), ("curator", curators)):
        for number in range(count):
            username = f"load-{role}-{number}"
            user = User.objects.filter(username=username).first()
            if user is None:
                user = create_user(
                    username, role=role, organisation=organisation, email=f"{username}@example.org"
                )
            password = secrets.token_urlsafe(18)
            user.set_password(password)
            user.save(update_fields=["password"])
            person = Person(username, password, role)
            if role == "curator":
                from allauth.mfa.models import Authenticator

                authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
                person.totp_secret = totp_secret(authenticator) if authenticator else activate_totp(user)[1]
            people.append(person)
    author = User.objects.get(username="load-monitor-0")
    for code in hot:
        url = f"https://loadtest.example.org/sources/{code}"
        if not Evidence.objects.filter(url=url).exists():
            services.add_evidence(
                added_by=author,
                recommendations=[Recommendation.objects.get(code=code)],
                url=url,
                title=f"Load test source on {code}",
                confidentiality="public",
            )
    return people


def choose_recommendations(count: int) -> tuple[list[str], list[str]]:
    """The hot recommendations (the first `count` by code) and a sample of others for reading."""
    from cases.models import Recommendation

    codes = list(Recommendation.objects.order_by("code").values_list("code", flat=True)[: max(count, 200)])
    return codes[:count], codes


# --- the clients ---------------------------------------------------------------------------------------


class Client(threading.Thread):
    """One person: signs in, then loops over their role's mix until the deadline."""

    def __init__(self, number: int, person: Person, http: Http, shared: Shared, think: float):
        super().__init__(daemon=True)
        self.rng = random.Random(number)
        self.person, self.http, self.shared, self.think = person, http, shared, think
        self.signed_in = threading.Event()
        self.go = threading.Event()
        self.deadline = 0.0
        self.cookies: dict[str, str] = {}
        mix = MONITOR_MIX if person.role == "monitor" else CURATOR_MIX
        self.kinds = [kind for kind, _w in mix]
        self.weights = [w for _k, w in mix]

    def run(self):
        try:
            self.sign_in()
        except OSError as exc:
            self.record("sign-in", 0, 0.0, f"sign-in: {type(exc).__name__}: {exc}")
            return
        finally:
            self.signed_in.set()
        # Everyone signs in first (Argon2 is slow on purpose); the timed run starts together.
        self.go.wait()
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            try:
                self.act(kind)
            except OSError as exc:
                self.record(kind, 0, 0.0, f"{kind}: {type(exc).__name__}: {exc}")

    def act(self, kind: str) -> None:
        getattr(self, "do_" + kind.replace(" ", "_"))()

    # --- HTTP with this person's cookies --------------------------------------------------------------

    def record(self, kind: str, status: int, seconds: float, error: str | None = None, body: bytes = b""):
        with self.shared.lock:
            self.shared.results.append((kind, status, seconds))
            if error:
                self.shared.errors.append(error)
            if b"database is locked" in body:
                self.shared.locked_in_responses += 1

    def outcome(self, name: str) -> None:
        with self.shared.lock:
            self.shared.outcomes[name] += 1

    def request(self, kind: str, method: str, path: str, data=None, expect=(200,)) -> harness.Response:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = self.http.request(method, path, headers, body)
        self.cookies.update(response.cookies)
        error = None
        if response.status not in expect:
            error = f"{kind}: HTTP {response.status} for {method} {path.split('?')[0]}"
        self.record(kind, response.status, response.seconds, error, response.body)
        return response

    def get(self, kind: str, path: str, expect=(200,)) -> harness.Response:
        return self.request(kind, "GET", path, expect=expect)

    def post(self, kind: str, path: str, data, expect=(302,)) -> harness.Response:
        return self.request(kind, "POST", path, data, expect)

    # --- sign-in --------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        from tests.mfa_helpers import totp_code

        page = self.get("sign-in", "/accounts/login/")
        token = harness.csrf_from(page)
        answer = self.post(
            "sign-in",
            "/accounts/login/",
            {"csrfmiddlewaretoken": token, "login": self.person.username, "password": self.person.password},
        )
        if self.person.totp_secret:
            if "/2fa/authenticate/" not in answer.headers.get("Location", ""):
                self.record(
                    "sign-in", answer.status, 0.0, "sign-in: a curator was not asked for a second factor"
                )
            page = self.get("sign-in", "/accounts/2fa/authenticate/")
            code = totp_code(self.person.totp_secret)
            self.post(
                "sign-in",
                "/accounts/2fa/authenticate/",
                {"csrfmiddlewaretoken": harness.csrf_from(page), "code": code},
            )
        self.get("sign-in", "/")  # signed in: the dashboard, not a redirect to the sign-in page

    # --- reading --------------------------------------------------------------------------------------

    def do_dashboard(self):
        self.get("dashboard", "/")

    def do_list(self):
        params = {"page": self.rng.randint(1, 10)}
        if self.rng.random() < 0.6:
            params["implementation_status"] = self.rng.choice(STATUSES)
        self.get("list", "/recommendations/?" + urllib.parse.urlencode(params))

    def do_search(self):
        self.get(
            "search", "/recommendations/?" + urllib.parse.urlencode({"q": self.rng.choice(SEARCH_TERMS)})
        )

    def do_detail(self):
        codes = self.shared.hot if self.rng.random() < 0.5 else self.shared.codes
        self.get("detail", f"/recommendations/{self.rng.choice(codes)}/")

    def do_export_csv(self):
        code = self.rng.choice(self.shared.hot)
        response = self.get("export csv", f"/api/v1/export/assessments.csv?recommendation={code}")
        if (
            response.status == 200
            and not response.body.startswith(b"id,")
            and b"," not in response.body[:200]
        ):
            self.record("export csv", response.status, 0.0, "export csv: not a CSV file")

    # --- monitors: submit, the conflict prompt, resubmit ----------------------------------------------

    def _assessment_data(self, form: FormParser) -> list[tuple[str, str]]:
        data = [(name, value) for name, value in form.hidden.items()]
        data += [
            ("implementation_status", self.rng.choice(STATUSES[:4])),
            ("state_response", "no_response"),
            ("basis", "independent"),
            ("assessed_on", "2025-01-15"),
            ("rationale", "Load test: a new report says the facility is still in use."),
            ("evidence", form.evidence[0]),
        ]
        return data

    def _submit(self, kind: str, path: str) -> None:
        """GET the form, think, POST; through the conflict prompt (confirm and POST again) when another
        assessment of the recommendation was published meanwhile."""
        page = self.get(f"{kind} (form)", path)
        if page.status != 200:
            return
        form = parse_form(page.body)
        if not form.evidence:
            self.record(kind, 0, 0.0, f"{kind}: no evidence to cite on {path}")
            return
        data = self._assessment_data(form)
        time.sleep(self.rng.uniform(0, self.think))
        for _attempt in range(5):
            answer = self.post(kind if _attempt == 0 else "conflict confirm", path, data, expect=(200, 302))
            if answer.status == 302:
                self.outcome(f"{kind} accepted")
                return
            if answer.status != 200:
                return
            if CONFLICT_MARK not in answer.body.decode("utf-8", "replace"):
                self.record(kind, answer.status, 0.0, f"{kind}: the form was refused without a conflict")
                return
            # What a person does: read the new assessment, tick the confirmation, submit again. The
            # re-rendered form carries what was shown (acknowledged) in its hidden fields.
            self.outcome("conflict prompts")
            shown = parse_form(answer.body)
            data = [(k, v) for k, v in data if k not in shown.hidden and k != "confirm_conflict"]
            data += [*shown.hidden.items(), ("confirm_conflict", "on")]
        self.record(kind, 0, 0.0, f"{kind}: still in conflict after five confirmations")

    def do_submit(self):
        self._submit("submit", f"/recommendations/{self.rng.choice(self.shared.hot)}/assess/")

    def do_resubmit(self):
        dashboard = self.get("dashboard", "/")
        returned = RESUBMIT_LINK.findall(dashboard.body.decode("utf-8", "replace"))
        if returned:
            self._submit("resubmit", f"/assessments/{self.rng.choice(returned)}/resubmit/")

    # --- curators: publish or return, racing each other -----------------------------------------------

    def do_review(self):
        queue = self.get("review queue", "/review/")
        text = queue.body.decode("utf-8", "replace")
        waiting = PUBLISH_ACTION.findall(text)  # only other people's submissions have the buttons
        if not waiting:
            return
        pk = self.rng.choice(waiting[:4])  # the oldest few: curators meet on the same ones
        token = harness.csrf_from(queue)
        if self.rng.random() < 0.8:
            # Publishing asks for the reviewer's confirmation tick (the review queue's "I have checked this").
            kind, path, data = (
                "publish",
                f"/review/{pk}/publish/",
                {"csrfmiddlewaretoken": token, "confirm": "on"},
            )
        else:
            comment = "Load test: cite the source's page number."
            kind, path, data = (
                "return",
                f"/review/{pk}/return/",
                {"csrfmiddlewaretoken": token, "comment": comment},
            )
        self.post(kind, path, data)
        after = self.get("review queue", "/review/")
        for level, _message in MESSAGE.findall(after.body.decode("utf-8", "replace")):
            if level == "success":
                self.outcome(f"{kind}ed" if kind == "return" else "published")
            elif level == "error":
                self.outcome("review refused (another curator acted first)")

    def do_own(self):
        """Four eyes under load: a curator submits an assessment, then tries to publish it themselves with a
        hand-made POST (the queue offers no button for one's own work); it must be refused."""
        self._submit("submit", f"/recommendations/{self.rng.choice(self.shared.hot)}/assess/")
        queue = self.get("review queue", "/review/")
        own = OWN_ITEM.findall(queue.body.decode("utf-8", "replace"))
        if not own:
            return
        self.post(
            "publish own",
            f"/review/{own[-1]}/publish/",
            {"csrfmiddlewaretoken": harness.csrf_from(queue), "confirm": "on"},
        )
        after = self.get("review queue", "/review/")
        levels = [level for level, _m in MESSAGE.findall(after.body.decode("utf-8", "replace"))]
        if "success" in levels:
            self.record("publish own", 0, 0.0, "publish own: a curator published their own assessment")
        elif "error" in levels:
            self.outcome("four eyes refused")


class FloorClient(Client):
    """The same person in the floor run: the same mix and think time, but every action is one request to
    the bare `.values()` view of the rows its page reads (tests/perf/floor_urls.py): the dashboard's,
    the list's (filtered or searched as the page would be), a recommendation's for everything else
    (forms, queues, exports and writes). Its throughput and p99 under the same clients are the mixed
    load's floor."""

    def sign_in(self) -> None:
        # The person's session from the mixed run (run_clients passes it): signing in again would replay the
        # curators' TOTP codes within their 30-second window, which the sign-in rightly refuses.
        if not self.cookies:
            super().sign_in()

    def act(self, kind: str) -> None:
        if kind == "dashboard":
            self.get("floor", "/_floor/dashboard/")
        elif kind == "list":
            params = {"page": self.rng.randint(1, 10)}
            if self.rng.random() < 0.6:
                params["implementation_status"] = self.rng.choice(STATUSES)
            self.get("floor", "/_floor/recommendations/?" + urllib.parse.urlencode(params))
        elif kind == "search":
            query = urllib.parse.urlencode({"q": self.rng.choice(SEARCH_TERMS)})
            self.get("floor", "/_floor/recommendations/?" + query)
        else:
            if kind in ("submit", "resubmit", "own"):
                time.sleep(self.rng.uniform(0, self.think))  # the person thinking over the form
            codes = self.shared.hot if self.rng.random() < 0.5 else self.shared.codes
            self.get("floor", f"/_floor/recommendations/{self.rng.choice(codes)}/")


# --- the invariants ------------------------------------------------------------------------------------


def check_invariants(people: list[Person], started_at, accepted: int) -> tuple[bool, list[str]]:
    """The workflow's invariants, read from the database after the run."""
    from django.db import connection
    from django.db.models import Count, F, Q

    from cases import services
    from cases.models import Assessment, AssessmentTransition, Recommendation, ReviewState

    if connection.vendor == "postgresql":
        # The checks read whole tables (10 million assessments at 1,000,000 recommendations): the statement
        # timeout meant for requests (settings.DATABASE_STATEMENT_TIMEOUT) is lifted for this connection.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
    lines = []
    mismatched, total = [], 0
    fields = ("implementation_status", "state_response", "state_claim_id")
    started = time.monotonic()
    checked = Recommendation.objects.order_by("pk")
    scope = ""
    if checked.count() > CHECK_ALL_UP_TO:
        # A recount takes about 1-20 ms a recommendation: at 300,000 that is hours. The run only writes
        # to what its clients touched; those are all checked, and a sample of the rest.
        touched = AssessmentTransition.objects.filter(created_at__gte=started_at).values(
            "assessment__recommendation_id"
        )
        sample = list(checked.values_list("pk", flat=True)[:CHECK_SAMPLE])
        checked = checked.filter(Q(pk__in=touched) | Q(pk__in=sample))
        scope = f" (those the run touched and the first {CHECK_SAMPLE:,} others)"
    # Outside a transaction: on SQLite one would hold the write lock (IMMEDIATE) for the whole check.
    for recommendation in checked.iterator(chunk_size=2000):
        total += 1
        stored = tuple(getattr(recommendation, f) for f in fields)
        recommendation.save = lambda *args, **kwargs: None  # a dry comparison: nothing is written
        services.recompute_current_status(recommendation)
        if tuple(getattr(recommendation, f) for f in fields) != stored:
            mismatched.append(recommendation.code)
    lines.append(
        f"stored status = recomputed status: {total - len(mismatched):,}/{total:,} "
        f"(checked in {time.monotonic() - started:.0f} s){scope}"
    )
    if mismatched:
        lines.append(f"    differ: {', '.join(mismatched[:10])}")
    own = Assessment.objects.filter(review_state=ReviewState.PUBLISHED, reviewer_id=F("author_id")).count()
    own_transitions = AssessmentTransition.objects.filter(
        to_state=ReviewState.PUBLISHED, actor_id=F("assessment__author_id")
    ).count()
    lines.append(f"four eyes: published assessments reviewed by their author: {own + own_transitions}")
    twice = (
        AssessmentTransition.objects.filter(to_state=ReviewState.PUBLISHED)
        .values("assessment_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    lines.append(f"assessments published more than once: {twice}")
    dangling = AssessmentTransition.objects.exclude(assessment_id__in=Assessment.objects.values("pk")).count()
    lines.append(f"transition rows pointing to missing assessments: {dangling}")
    authors = [p.username for p in people]  # monitors, and curators trying four eyes
    submitted = AssessmentTransition.objects.filter(
        from_state="",
        to_state=ReviewState.SUBMITTED,
        actor__username__in=authors,
        created_at__gte=started_at,
    ).count()
    resubmitted = AssessmentTransition.objects.filter(
        from_state=ReviewState.RETURNED, actor__username__in=authors, created_at__gte=started_at
    ).count()
    lines.append(f"submissions accepted by the server: {accepted}, stored: {submitted + resubmitted}")
    ok = (
        not mismatched
        and own == own_transitions == twice == dangling == 0
        and accepted == submitted + resubmitted
    )
    return ok, lines


# --- the report ----------------------------------------------------------------------------------------


def report(config, vendor, people, seconds, shared, server_log, invariants, out=sys.stdout) -> None:
    results = shared.results
    locked_log = server_log.count("database is locked")
    monitors = sum(p.role == "monitor" for p in people)
    print(file=out)
    print(
        f"Accountability Tracker load test: {monitors} monitors and {len(people) - monitors} curators "
        f"(one session each) for {seconds:.0f} s against gunicorn (tracker/gunicorn.conf.py, {config.workers} "
        f"workers, 127.0.0.1), {config.recommendations:,} recommendations ({vendor}), "
        f"{len(shared.hot)} hot recommendations",
        file=out,
    )
    print(f"Machine: {harness.machine_description()}", file=out)
    print(file=out)
    header = f"{'request':<18} {'count':>7} {'errors':>7} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}"
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
            f"{name:<18} {len(rows):>7} {errors:>7} {ms[0]:>9} {ms[1]:>9} {ms[2]:>9} "
            f"{max(times, default=0) * 1000:>6.0f} ms",
            file=out,
        )

    for kind in KINDS:
        if kind in by_kind:
            line(kind, by_kind[kind], error_kinds.get(kind, 0))
    print("-" * len(header), file=out)
    everything = [row for kind, rows in by_kind.items() if kind != "sign-in" for row in rows]
    line("all but sign-in", everything, len(shared.errors) - error_kinds.get("sign-in", 0))
    print(file=out)
    timed = [row for row in results if row[0] != "sign-in"]
    print(
        f"throughput: {len(timed) / seconds:.1f} requests/s ({len(timed):,} requests after the sign-ins)",
        file=out,
    )
    print(f"status codes: {dict(sorted(collections.Counter(s for _k, s, _t in results).items()))}", file=out)
    print(
        f"workflow: {', '.join(f'{k} {v}' for k, v in sorted(shared.outcomes.items())) or 'nothing'}",
        file=out,
    )
    print(f"errors: {len(shared.errors)}", file=out)
    for error, n in collections.Counter(shared.errors).most_common(10):
        print(f"    {n} x {error}", file=out)
    print(
        f"'database is locked': {locked_log + shared.locked_in_responses} "
        f"(server log {locked_log}, responses {shared.locked_in_responses}); "
        f"tracebacks in the server log: {server_log.count('Traceback')}",
        file=out,
    )
    ok, lines = invariants
    print(f"invariants: {'OK' if ok else 'FAILED'}", file=out)
    for text in lines:
        print(f"    {text}", file=out)


class Server(harness.Server):
    """gunicorn as deployed: `-c tracker/gunicorn.conf.py`, its worker timeout (30 s) included."""

    def command(self) -> list[str]:
        config = str(harness.ROOT / "tracker" / "gunicorn.conf.py")
        return [str(harness.BIN / "gunicorn"), "-c", config, "tracker.wsgi:application"]


def main() -> int:
    config = harness.Config.from_env()
    seconds = harness.env_int("LOADTEST_SECONDS", 60)
    clients = max(4, min(harness.env_int("LOADTEST_CLIENTS", 8), 64))
    hot_count = max(1, harness.env_int("LOADTEST_HOT", 3))
    think = float(os.environ.get("LOADTEST_THINK", "0.5"))
    env = harness.server_env(config)
    postgres_url = postgres.database_url()
    if postgres_url:
        env["DATABASE_URL"] = postgres_url
    env.update(GUNICORN_BIND=f"127.0.0.1:{config.port}", GUNICORN_WORKERS=str(config.workers))
    harness.setup_django(env)
    if postgres_url:
        postgres.ensure(config, postgres_url, who="loadtest")
    else:
        harness.ensure_database(config)
    from django.db import connection
    from django.utils import timezone

    vendor = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[connection.vendor]
    hot, codes = choose_recommendations(hot_count)
    monitors = clients // 2
    people = make_people(monitors, clients - monitors, hot)
    shared = Shared(hot=hot, codes=codes)
    connection.close()
    started_at = timezone.now()
    log_path = (harness.ARTIFACTS if postgres_url else config.db_path.parent) / "loadtest-gunicorn.log"
    floor = Shared(hot=hot, codes=codes)
    with Server(config, env, log_path) as server:
        http = Http(config.port, timeout=120)
        log(f"{clients} clients for {seconds}s on {vendor}, hot: {', '.join(hot)}")
        elapsed, signed_in = run_clients(Client, people, http, shared, think, seconds)
        log(f"the floor: the same {clients} clients for {seconds}s, bare reads")
        floor_elapsed, _ = run_clients(FloorClient, people, http, floor, think, seconds, signed_in)
        server_log = server.log_text()
    accepted = shared.outcomes["submit accepted"] + shared.outcomes["resubmit accepted"]
    log("checking the invariants")
    invariants = check_invariants(people, started_at, accepted)
    report(config, vendor, people, elapsed, shared, server_log, invariants)
    report_floor(elapsed, shared, floor_elapsed, floor)
    locked = server_log.count("database is locked") + shared.locked_in_responses + floor.locked_in_responses
    # The floor's own failures (its search counts every match, unbounded, and can meet the statement
    # timeout at 300,000 on PostgreSQL) are printed with it; they say nothing about the application.
    return 1 if shared.errors or locked or not invariants[0] else 0


def run_clients(
    kind: type[Client], people, http, shared: Shared, think: float, seconds: int, sessions=None
) -> tuple[float, list[Client]]:
    """Sign everyone in (or give them the sessions of `sessions`, earlier clients of the same people), then
    let them work together for `seconds`; the time they took, and the clients."""
    threads = [kind(n, person, http, shared, think) for n, person in enumerate(people)]
    for thread, earlier in zip(threads, sessions or [], strict=False):
        thread.cookies = dict(earlier.cookies)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.signed_in.wait(timeout=300)
    started = time.monotonic()
    for thread in threads:
        thread.deadline = started + seconds
        thread.go.set()
    for thread in threads:
        thread.join(timeout=seconds + 180)
    return time.monotonic() - started, threads


def report_floor(elapsed: float, shared: Shared, floor_elapsed: float, floor: Shared, out=sys.stdout) -> None:
    """The mixed load against its floor run: throughput and p99 of everything after the sign-ins."""

    def figures(results, seconds):
        times = [secs for kind, _status, secs in results if kind != "sign-in" and secs > 0]
        return len(times) / seconds, percentile(times, 99)

    throughput, p99 = figures(shared.results, elapsed)
    floor_throughput, floor_p99 = figures(floor.results, floor_elapsed)
    print(file=out)
    print(
        f"floor run (the same clients, mix and think time; each action one bare .values() read): "
        f"{floor_throughput:.1f} requests/s, p99 {floor_p99 * 1000:.0f} ms, errors {len(floor.errors)}",
        file=out,
    )
    for error, n in collections.Counter(floor.errors).most_common(5):
        print(f"    {n} x {error} (the floor's)", file=out)
    ratio = throughput / floor_throughput if floor_throughput else 0.0
    slower = p99 / floor_p99 if floor_p99 else math.inf
    for met, text in (
        (
            ratio >= FLOOR_THROUGHPUT_RATIO,
            f"throughput {ratio:.2f}x the floor's (target >= {FLOOR_THROUGHPUT_RATIO})",
        ),
        (slower <= FLOOR_P99_RATIO, f"p99 {slower:.1f}x the floor's (target <= {FLOOR_P99_RATIO:.0f}x)"),
    ):
        print(f"  {'met   ' if met else 'MISSED'} {text}", file=out)


if __name__ == "__main__":
    sys.exit(main())
