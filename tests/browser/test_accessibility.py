"""Accessibility in a real browser (issue 16): axe-core, from the npm package (tests/browser/axe/package-lock.json
pins it; `npm ci --prefix tests/browser/axe` installs it), runs its WCAG 2.0/2.1 A and AA rules on every page of
ours — as a visitor, a monitor, a curator and an operator (the admin's pages) — at 1280 px and at 390 px. Any
violation fails the test with its rule, impact, selector and the offending markup.

axe is evaluated into the page by the test (Playwright's `page.evaluate`, which the page's Content-Security-Policy
does not govern); the app never serves it. The same walk saves each page as
test-artifacts/screenshots/<page>-<width>.png. Pages another piece of work has not added yet are skipped by name,
with the reason; `test_every_page_of_ours_is_walked` fails when a page of ours is neither walked nor excluded
with a reason.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.browser.conftest import ARTIFACTS, PageWatch
from tests.factories import PASSWORD, make_evidence, make_user, run_tasks, submit
from tests.mfa_helpers import activate_totp, login_with_mfa, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ARTIFACTS / "screenshots"
WIDTHS = ((1280, 900), (390, 844))
# WCAG 2.0 and 2.1, levels A and AA: what the issue asks for.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


# --- axe -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe.min.js from the pinned npm package; installed here with `npm ci` if CI's step did not run."""
    if not AXE_JS.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--prefix", str(AXE_DIR), "--ignore-scripts", "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
        )
    if not AXE_JS.exists():
        message = f"axe-core is not installed: run `npm ci --prefix {AXE_DIR.relative_to(Path.cwd())}`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS.read_text(encoding="utf-8")


RUN_AXE = """async ([tags, disabled]) => {
  const rules = Object.fromEntries(disabled.map((id) => [id, {enabled: false}]));
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, rules, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 240),
                                summary: (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 400)})),
  }));
}"""


def run_axe(page, source: str, disabled: dict[str, str]) -> list[dict]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated, not added as a <script>: the page's CSP (no inline scripts) does not govern evaluation.
        page.evaluate(source)
    return page.evaluate(RUN_AXE, [AXE_TAGS, sorted(disabled)])


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"      at {node['target']}\n        {node['html']}\n        {node['summary']}")
        if len(v["nodes"]) > 8:
            lines.append(f"      … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


# --- The data every page is shown with -------------------------------------------------------------------


@pytest.fixture
def site(settings, tmp_path):
    """The real data set, one user per role, and one of each thing a page can show: a submitted, a returned
    and a published assessment, a source with a Uyghur excerpt, a person with a status entry waiting for
    review, an invitation, an API key, a lockout. Uploads and import runs are made on demand (slower)."""
    from axes.models import AccessAttempt

    from cases import services
    from cases.models import Recommendation
    from cases.people import services as people_services
    from tracker.accounts.models import Invitation
    from tracker.accounts.services import invitation_lifetime, token_hash

    settings.MFA_ENFORCE = True  # as in production: curators and operators pass a second factor
    settings.PRIVATE_ROOT = tmp_path / "private"
    call_command("load_dataset", "fixtures/ohchr-xinjiang-2022.json", verbosity=0)
    org = services.default_organisation()
    d = SimpleNamespace(tmp_path=tmp_path, org=org)
    d.monitor = make_user("alice", role="monitor", first_name="Alice", last_name="Monitor")
    d.curator = make_user("carol", role="curator")
    d.curator2 = make_user("dave", role="curator")
    d.operator = make_user("admin", role="operator")
    d.rec = Recommendation.objects.get(code="XJ22-151-i")
    other = Recommendation.objects.get(code="XJ22-151-iv")
    d.evidence = make_evidence(
        d.monitor,
        "https://news.example.org/2024/detention-review",
        recommendations=[d.rec, other],
        title="Detention review reported — ئۇيغۇر — 新疆",
        excerpt="ئۇيغۇر تىلىدىكى بىر نەقىل. A quotation in Uyghur and English.",
        published_on=datetime.date(2024, 6, 26),
    )
    d.submitted = submit(other, d.monitor, [d.evidence], rationale="Some detention cases were reviewed.")
    d.returned = submit(d.rec, d.monitor, [d.evidence], rationale="Facilities remain in operation.")
    services.return_assessment(d.returned, reviewer=d.curator, comment="Cite the page of the source.")
    d.published = submit(d.rec, d.monitor, [d.evidence], rationale="No release has been reported.")
    services.publish_assessment(d.published, reviewer=d.curator, comment="Checked against the source.")
    d.person = people_services.add_person(
        created_by=d.monitor, name_latin="Abdurehim Heyit", birth_year=1964, recommendations=[d.rec]
    )
    d.duplicate = people_services.add_person(created_by=d.monitor, name_latin="Abdurahim Heyit")
    d.status = people_services.submit_status(
        d.person,
        author=d.monitor,
        status="detained",
        basis="family_testimony",
        occurred_on=datetime.date(2017, 4, 1),
    )
    d.invitation_token = "a11y-invitation-token-0123456789abcdef"
    d.invitation = Invitation.objects.create(
        organisation=org,
        role="monitor",
        email="new.monitor@example.org",
        invited_by=d.curator,
        token_hash=token_hash(d.invitation_token),
        expires_at=datetime.datetime.now(datetime.UTC) + invitation_lifetime(),
    )
    d.api_key, _secret = services.issue_api_key(org, clearance="public", name="Partner feed")
    d.attempt = AccessAttempt.objects.create(
        username="mallory", ip_address="203.0.113.0", user_agent="curl", failures_since_start=3
    )

    def upload(confirm: bool = False, parse: bool = True) -> str:
        from tests.fixtures_import.build import upr_rows, write_csv

        client = Client()
        login_with_mfa(client, d.curator)
        path = write_csv(tmp_path / "china-upr-2018.csv", upr_rows())
        response = client.post(
            reverse("cases:import"),
            {
                "file": SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv"),
                "format": "auto",
                "document": "A/HRC/40/6",
                "document_date": "2018-12-26",
            },
        )
        assert response.status_code == 302, response
        token = response["Location"].rstrip("/").split("/")[-1]
        if parse:
            run_tasks()
        if confirm:
            client.post(reverse("cases:import-confirm", args=[token]))
            run_tasks()
        return token

    def import_run() -> int:
        from cases.models import ImportRun

        upload(confirm=True)
        return ImportRun.objects.get().pk

    d.upload = upload
    d.import_run = import_run
    return d


def users(d) -> dict:
    return {"monitor": d.monitor, "curator": d.curator, "operator": d.operator}


def sign_in_by_cookie(context, live_server, user) -> None:
    """A signed-in session without typing: the sign-in pages themselves are walked as their own pages. Curators
    and operators get a TOTP authenticator and a session that has passed it (MFA_ENFORCE is on)."""
    client = Client()
    if user.is_staff or user.is_superuser:
        login_with_mfa(client, user)
    else:
        client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": live_server.url, "httpOnly": True}]
    )


# --- The pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page (in one state) to check. `name` is its URL name; `args` builds the URL's arguments from the
    data. `then` brings the loaded page into the state to check (a form with errors, an open menu).
    `disabled` switches an axe rule off for this page only: rule id -> why (Django's own markup only)."""

    id: str
    role: str | None
    name: str
    args: Callable = field(default=lambda d: [])
    query: str = ""
    status: int = 200
    then: Callable | None = None
    disabled: dict = field(default_factory=dict)
    # Pages being added by other work: URL names tried in order; missing from the tree -> skipped, named.
    alternatives: tuple = ()
    path: str = ""  # a literal path instead of a URL name (the 404 page)


def submit_empty(page, d) -> None:
    page.locator("main form[method=post] [type=submit]").last.click()
    page.wait_for_load_state()


def open_account_menu(page, d) -> None:
    page.locator(".account-menu summary").click()


def failed_sign_in(page, d) -> None:
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "not the password")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def locked_out(page, d) -> None:
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        failed_sign_in(page, d)


def password_then_totp_page(page, d) -> None:
    activate_totp(d.curator)
    page.fill("input[name=login]", "carol")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url("**/2fa/authenticate/**")


def wrong_totp(page, d) -> None:
    password_then_totp_page(page, d)
    page.fill("input[name=code]", "000000" if totp_code_now(d) != "000000" else "111111")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()


def totp_code_now(d) -> str:
    from allauth.mfa.models import Authenticator

    from tests.mfa_helpers import totp_secret

    return totp_code(totp_secret(Authenticator.objects.get(user=d.curator, type="totp")))


def admin_action_return(page, d) -> None:
    """The admin's 'return selected' action on the submitted assessment: its intermediate page."""
    page.check(f"input[name=_selected_action][value='{d.submitted.pk}']")
    page.select_option("select[name=action]", "return_selected")
    page.locator("button[name=index]").click()
    page.wait_for_load_state()


M, C, OP = "monitor", "curator", "operator"
rec_code = lambda d: [d.rec.code]  # noqa: E731

PAGES: list[Page] = [
    # Signing in, as a visitor
    Page("sign-in", None, "account_login"),
    Page("sign-in-failed", None, "account_login", then=failed_sign_in),
    Page("sign-in-locked-out", None, "account_login", then=locked_out),
    Page("sign-in-second-factor", None, "account_login", then=password_then_totp_page),
    Page("sign-in-second-factor-wrong", None, "account_login", then=wrong_totp),
    Page("password-reset", None, "account_reset_password"),
    Page("password-reset-done", None, "account_reset_password_done"),
    Page(
        "password-reset-bad-key",
        None,
        "account_reset_password_from_key",
        args=lambda d: ["0", "bad-key"],
    ),
    Page("sign-up-closed", None, "account_signup"),
    Page("account-inactive", None, "account_inactive"),
    Page("invitation-accept", None, "accounts:invitation", args=lambda d: [d.invitation_token]),
    Page(
        "invitation-accept-errors",
        None,
        "accounts:invitation",
        args=lambda d: [d.invitation_token],
        then=submit_empty,
    ),
    Page("invitation-refused", None, "accounts:invitation", args=lambda d: ["unknown"], status=404),
    Page("not-found-visitor", None, "", path="/no-such-page/", status=404),
    Page("api-docs", None, "api:docs"),
    # A monitor's pages
    Page("dashboard", M, "cases:dashboard"),
    Page("account-menu-open", M, "cases:dashboard", then=open_account_menu),
    Page("recommendations", M, "cases:recommendation-list"),
    Page(
        "recommendations-filtered",
        M,
        "cases:recommendation-list",
        query="?implementation_status=not_implemented&q=detention",
    ),
    Page("recommendations-none-found", M, "cases:recommendation-list", query="?q=zzzznothing"),
    Page("recommendation", M, "cases:recommendation", args=rec_code),
    Page("assess", M, "cases:assess", args=rec_code),
    Page("assess-errors", M, "cases:assess", args=rec_code, then=submit_empty),
    Page("resubmit", M, "cases:assessment-resubmit", args=lambda d: [d.returned.pk]),
    Page("evidence-list", M, "cases:evidence-list"),
    Page("evidence-list-filtered", M, "cases:evidence-list", query="?q=detention"),
    Page("evidence", M, "cases:evidence", args=lambda d: [d.evidence.pk]),
    Page("evidence-new", M, "cases:evidence-new", query="?recommendation=XJ22-151-i"),
    Page("evidence-new-errors", M, "cases:evidence-new", then=submit_empty),
    Page("people", M, "cases:people-list"),
    Page("people-search", M, "cases:people-list", query="?q=Heyit"),
    Page("person", M, "cases:person", args=lambda d: [d.person.reference]),
    Page("person-new", M, "cases:person-new"),
    Page("person-new-errors", M, "cases:person-new", then=submit_empty),
    Page("person-status-new", M, "cases:person-status-new", args=lambda d: [d.person.reference]),
    Page("forbidden", M, "cases:review-queue", status=403),
    Page("not-found", M, "", path="/recommendations/NO-SUCH-CODE/", status=404),
    Page("account-email", M, "account_email"),
    Page("account-password", M, "account_change_password"),
    Page("account-sessions", M, "usersessions_list"),
    Page("account-2fa", M, "mfa_index"),
    Page("account-2fa-activate", M, "mfa_activate_totp"),
    Page("account-sign-out", M, "account_logout"),
    # Pages being added alongside (issue 16): skipped, by name, until they exist.
    Page("assessments", M, "cases:assessment-list", alternatives=("cases:assessments",)),
    Page(
        "notifications",
        M,
        "cases:notifications",
        alternatives=("notifications:list", "cases:notification-list"),
    ),
    Page(
        "dossier",
        M,
        "cases:dossier",
        args=rec_code,
        alternatives=("cases:recommendation-dossier", "cases:recommendation-print"),
    ),
    # A curator's pages
    Page("review-queue", C, "cases:review-queue"),
    Page("people-review", C, "cases:people-review"),
    Page("person-curator", C, "cases:person", args=lambda d: [d.person.reference]),
    Page("import", C, "cases:import"),
    Page("import-errors", C, "cases:import", then=submit_empty),
    Page("import-queued", C, "cases:import-upload", args=lambda d: [d.upload(parse=False)]),
    Page("import-preview", C, "cases:import-upload", args=lambda d: [d.upload()]),
    Page("import-report", C, "cases:import-report", args=lambda d: [d.import_run()]),
    Page("account-2fa-curator", C, "mfa_index"),
    Page("account-recovery-codes", C, "mfa_view_recovery_codes"),
    Page("account-recovery-codes-new", C, "mfa_generate_recovery_codes"),
    Page("account-2fa-deactivate", C, "mfa_deactivate_totp"),
    Page("account-security-keys", C, "mfa_list_webauthn"),
    Page("account-security-key-add", C, "mfa_add_webauthn"),
    Page("account-reauthenticate", C, "account_reauthenticate"),
    Page("account-reauthenticate-2fa", C, "mfa_reauthenticate"),
    # The admin (an operator sees every page of it)
    Page("admin-index", OP, "admin:index"),
    Page("admin-password-change", OP, "admin:password_change"),
    Page(
        "admin-return-selected",
        OP,
        "admin:cases_assessment_changelist",
        then=admin_action_return,
    ),
    Page("admin-assessment-history", OP, "admin:cases_assessment_history", args=lambda d: [d.published.pk]),
    Page("admin-recommendation-history", OP, "admin:cases_recommendation_history", args=lambda d: [d.rec.pk]),
    Page("admin-app-cases", OP, "admin:app_list", args=lambda d: ["cases"]),
    Page(
        "admin-assessment-filtered", OP, "admin:cases_assessment_changelist", query="?review_state=submitted"
    ),
]

# Our models in the admin (cases/admin, cases/people/admin.py, tracker/accounts/admin.py): each one's list, an
# object's change form, and the add form where there is one.
ADMIN_MODELS = {
    "cases.document": lambda d: d.rec.document_id,
    "cases.theme": lambda d: d.rec.themes.first().pk,
    "cases.recommendation": lambda d: d.rec.pk,
    "cases.evidence": lambda d: d.evidence.pk,
    "cases.assessment": lambda d: d.submitted.pk,
    "cases.assessmenttransition": lambda d: d.published.transitions.first().pk,
    "cases.apikey": lambda d: d.api_key.pk,
    "cases.person": lambda d: d.person.pk,
    "cases.organisation": lambda d: d.org.pk,
    "cases.membership": lambda d: d.monitor.memberships.first().pk,
    "auth.user": lambda d: d.monitor.pk,
    "accounts.invitation": lambda d: d.invitation.pk,
    "accounts.auditevent": lambda d: _first_pk("accounts.auditevent"),
    "axes.accessattempt": lambda d: d.attempt.pk,
    "axes.accesslog": None,  # AXES_DISABLE_ACCESS_LOG: there is never a row to show
    "axes.accessfailurelog": None,  # written only by axes' database handler on a failure; the list is walked
}
ADMIN_ADD = {"cases.document", "cases.theme", "cases.recommendation", "cases.evidence", "cases.apikey"}
ADMIN_ADD |= {"cases.person", "cases.organisation", "cases.membership", "accounts.invitation"}


def _first_pk(label: str) -> int:
    from django.apps import apps

    return apps.get_model(label)._default_manager.order_by("pk").values_list("pk", flat=True)[0]


for label, obj in ADMIN_MODELS.items():
    app, model = label.split(".")
    slug = f"admin-{model}"
    PAGES.append(Page(f"{slug}-list", OP, f"admin:{app}_{model}_changelist"))
    if obj is not None:
        PAGES.append(
            Page(f"{slug}-change", OP, f"admin:{app}_{model}_change", args=lambda d, obj=obj: [obj(d)])
        )
    if label in ADMIN_ADD:
        PAGES.append(Page(f"{slug}-add", OP, f"admin:{app}_{model}_add"))


def url_names() -> set[str]:
    """Every URL name of the project, namespaced ("cases:assess", "admin:index", "account_login")."""
    from django.urls import URLResolver, get_resolver

    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif pattern.name:
                names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns, "")
    return names


def url_of(spec: Page, d) -> str:
    if spec.path:
        return spec.path
    return reverse(known_name(spec), args=spec.args(d)) + spec.query


def known_name(spec: Page) -> str:
    """The page's URL name, or a skip naming what is missing (pages other work is adding)."""
    names = url_names()
    for name in (spec.name, *spec.alternatives):
        if name in names:
            return name
    pytest.skip(
        f"page {spec.id!r} is not in this tree yet: no URL named {' or '.join((spec.name, *spec.alternatives))}"
    )


# --- The walk ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("spec", PAGES, ids=[p.id for p in PAGES])
def test_no_axe_violations(spec, request, browser, live_server, axe_source):
    if not spec.path:
        known_name(spec)  # skipped before the data are built when the page does not exist
    site = request.getfixturevalue("site")
    url = url_of(spec, site)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    try:
        if spec.role:
            sign_in_by_cookie(context, live_server, users(site)[spec.role])
        page = context.new_page()
        page.set_default_timeout(10_000)
        watch = PageWatch(page)
        response = page.goto(url)
        assert response.status == spec.status, f"{url}: {response.status}"
        if spec.then:
            spec.then(page, site)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        found = []
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            violations = run_axe(page, axe_source, spec.disabled)
            page.screenshot(path=str(SCREENSHOTS / f"{spec.id}-{width}.png"), full_page=True)
            if violations:
                found.append(f"at {width} px, {page.url}:\n{describe(violations)}")
    finally:
        context.close()
    assert not found, f"axe found violations on {spec.id}:\n" + "\n".join(found)
    assert not watch.problems, "\n".join(watch.problems)


def test_axe_runs_and_reports(browser, axe_source):
    """The check can fail: a page with an unlabelled field and a picture without text is reported."""
    page = browser.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><main><img src="x.png"><input name="q"></main></html>')
        found = {v["id"]: v for v in run_axe(page, axe_source, {})}
    finally:
        page.close()
    assert {"image-alt", "label"} <= set(found), found
    assert found["image-alt"]["nodes"][0]["target"] == "img"
    assert "alt" in describe([found["image-alt"]])
