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
from tests.mfa_helpers import activate_totp, login_with_mfa, totp_code, totp_secret

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


# `ignore` maps a rule to a CSS selector: that rule's findings on elements matching it are dropped (Django's own
# admin widgets, each with its reason where it is used); every other element is still checked by that rule.
RUN_AXE = """async ([tags, ignore]) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
                                          elementRef: true});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.filter((n) => !(ignore[v.id] && n.element && n.element.matches(ignore[v.id])))
      .map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 240),
                    summary: (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 400)})),
  })).filter((v) => v.nodes.length);
}"""

# What axe itself makes the browser log while it runs: it copies the page's stylesheets into <style> elements to
# read them, which the page's CSP (style-src 'self') refuses. Not the page's doing.
AXE_NOISE = ("Applying inline style violates", "Couldn't load preload assets")


def run_axe(page, source: str, ignore: dict[str, str], watch: PageWatch | None = None) -> list[dict]:
    before = len(watch.problems) if watch else 0
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated, not added as a <script>: the page's CSP (no inline scripts) does not govern evaluation.
        page.evaluate(source)
    violations = page.evaluate(RUN_AXE, [AXE_TAGS, ignore])
    if watch:
        watch.problems[before:] = [p for p in watch.problems[before:] if not any(n in p for n in AXE_NOISE)]
    return violations


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
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
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
        username="mallory",
        ip_address="203.0.113.0",
        user_agent="curl",
        path_info="/accounts/login/",
        failures_since_start=3,
    )
    # The curator's second factor, with recovery codes (her sign-in makes the TOTP authenticator).
    activate_totp(d.curator)
    RecoveryCodes.activate(d.curator)

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

    def people_upload() -> str:
        # A bad row, a likely duplicate of the person on record and one of an earlier row (issue 12).
        rows = "Name,Year of birth,Prefecture\nAbdurahim Heyit,1964,Kashgar\nMihrigul Tursun,19x9,\n"
        rows += "Gulbahar Jalilova,1964,Ghulja\nGulbahar Jelilova,1964,Ghulja\n"
        client = Client()
        login_with_mfa(client, d.curator)
        response = client.post(
            reverse("cases:people-import"),
            {"file": SimpleUploadedFile("people.csv", rows.encode(), content_type="text/csv")},
        )
        assert response.status_code == 302, response
        run_tasks()
        return response["Location"].rstrip("/").split("/")[-1]

    d.upload = upload
    d.import_run = import_run
    d.people_upload = people_upload
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
    data. `then` brings the loaded page into the state to check (a form with errors, an open menu). `ignore`:
    axe rule id -> selector of elements whose finding for that rule is dropped on this page (Django's own admin
    markup only; see DJANGO_ADMIN_MARKUP for why each)."""

    id: str
    role: str | None
    name: str
    args: Callable = field(default=lambda d: [])
    query: str = ""
    status: int = 200
    then: Callable | None = None
    ignore: dict = field(default_factory=dict)
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

    return totp_code(totp_secret(Authenticator.objects.get(user=d.curator, type="totp")))


def swagger_rendered(page, d) -> None:
    page.wait_for_selector(".swagger-ui .opblock")


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
    Page("password-reset-key-done", None, "account_reset_password_from_key_done"),
    Page("email-confirm-bad-key", None, "account_confirm_email", args=lambda d: ["bad-key"]),
    Page("email-verification-sent", None, "account_email_verification_sent"),
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
    Page("api-docs", None, "api:docs", then=swagger_rendered),
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
    # Pages added alongside (issue 16): a missing name is skipped, by name.
    Page("assessments", M, "cases:assessment-list"),
    Page(
        "assessments-filtered", M, "cases:assessment-list", query="?basis=independent&review_state=published"
    ),
    Page("assessment-edit", M, "cases:assessment-edit", args=lambda d: [d.submitted.pk]),
    Page("assessment-withdraw", M, "cases:assessment-withdraw", args=lambda d: [d.submitted.pk]),
    Page("dossier", M, "cases:recommendation-dossier", args=rec_code),
    Page("notifications", M, "notifications:list"),
    # A curator's pages
    Page("review-queue", C, "cases:review-queue"),
    Page("notifications-curator", C, "notifications:list"),
    Page("people-review", C, "cases:people-review"),
    Page("person-curator", C, "cases:person", args=lambda d: [d.person.reference]),
    Page("import", C, "cases:import"),
    Page("import-errors", C, "cases:import", then=submit_empty),
    Page("import-queued", C, "cases:import-upload", args=lambda d: [d.upload(parse=False)]),
    Page("import-preview", C, "cases:import-upload", args=lambda d: [d.upload()]),
    Page("import-report", C, "cases:import-report", args=lambda d: [d.import_run()]),
    Page("people-import", C, "cases:people-import"),
    Page("people-import-preview", C, "cases:people-import-upload", args=lambda d: [d.people_upload()]),
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
    Page(
        "admin-assessment-history-published",
        OP,
        "admin:cases_assessment_history",
        args=lambda d: [d.published.pk],
    ),
    Page("admin-app-cases", OP, "admin:app_list", args=lambda d: ["cases"]),
    Page(
        "admin-assessment-filtered", OP, "admin:cases_assessment_changelist", query="?review_state=submitted"
    ),
]

# Django's own admin widgets, which we use but whose markup we do not write (Django 5.2, its vendored Select2):
# the findings on exactly these elements are dropped, on exactly the pages that have them.
DJANGO_ADMIN_MARKUP = {
    # autocomplete_fields (Select2): the multiple-choice box's inline search field has no label, its <ul> holds a
    # <span> (the clear button), the single-choice box's role=combobox names itself by an empty placeholder.
    "select2": {
        "label": ".select2-search__field",
        "list": ".select2-selection__rendered",
        "aria-input-field-name": ".select2-selection, .select2-selection__rendered",
    },
    # filter_horizontal (SelectFilter2.js): the magnifier icon is a <span aria-label> without a role.
    "filter_horizontal": {"aria-prohibited-attr": ".help-tooltip.search-label-icon"},
    # Tabular inlines: each row's "Delete" checkbox has no label (the column heading says it), and on a phone
    # the table scrolls sideways in a <div> that cannot take focus when the inline has no rows yet.
    "tabular_inline": {
        "label": "td.delete input[type=checkbox]",
        "scrollable-region-focusable": ".inline-group",
    },
    # AdminSplitDateTime: "Date:" and "Time:" are plain text before the two inputs, not <label>s.
    "split_datetime": {"label": "p.datetime input"},
}


def django_markup(*kinds: str) -> dict[str, str]:
    ignore: dict[str, str] = {}
    for kind in kinds:
        for rule, selector in DJANGO_ADMIN_MARKUP[kind].items():
            ignore[rule] = f"{ignore[rule]}, {selector}" if rule in ignore else selector
    return ignore


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
    "cases.membership": lambda d: d.monitor.membership.pk,
    "auth.user": lambda d: d.monitor.pk,
    "accounts.invitation": lambda d: d.invitation.pk,
    "accounts.auditevent": lambda d: _first_pk("accounts.auditevent"),
    "axes.accessattempt": lambda d: d.attempt.pk,
    "axes.accesslog": None,  # AXES_DISABLE_ACCESS_LOG: there is never a row to show
    "axes.accessfailurelog": None,  # written only by axes' database handler on a failure; the list is walked
    # The walk's data registers no webhook endpoint (tests/test_webhooks.py covers their admin): lists walked.
    "webhooks.endpoint": None,
    "webhooks.delivery": None,
}
# History pages: django-simple-history's (document, theme, evidence, recommendation) and Django's own.
ADMIN_HISTORY = {"cases.document", "cases.theme", "cases.evidence", "cases.recommendation"}
ADMIN_HISTORY |= {"cases.assessment", "cases.person", "auth.user"}
ADMIN_ADD = {"cases.document", "cases.theme", "cases.recommendation", "cases.evidence", "cases.apikey"}
ADMIN_ADD |= {"cases.person", "cases.organisation", "cases.membership", "accounts.invitation"}
# Which of Django's widgets each model's add and change forms use (cases/admin, tracker/accounts/admin.py).
ADMIN_WIDGETS = {
    "cases.document": ("tabular_inline",),
    "cases.recommendation": ("filter_horizontal", "tabular_inline"),
    "cases.evidence": ("select2",),
    "cases.person": ("select2", "tabular_inline"),
    "cases.membership": ("select2",),
    "cases.apikey": ("split_datetime",),
    "auth.user": ("filter_horizontal",),
}


def _first_pk(label: str) -> int:
    from django.apps import apps

    return apps.get_model(label)._default_manager.order_by("pk").values_list("pk", flat=True)[0]


for label, obj in ADMIN_MODELS.items():
    app, model = label.split(".")
    slug = f"admin-{model}"
    ignore = django_markup(*ADMIN_WIDGETS.get(label, ()))
    PAGES.append(Page(f"{slug}-list", OP, f"admin:{app}_{model}_changelist"))
    if obj is not None:
        PAGES.append(
            Page(
                f"{slug}-change",
                OP,
                f"admin:{app}_{model}_change",
                args=lambda d, obj=obj: [obj(d)],
                ignore=ignore,
            )
        )
    if label in ADMIN_HISTORY:
        PAGES.append(
            Page(f"{slug}-history", OP, f"admin:{app}_{model}_history", args=lambda d, obj=obj: [obj(d)])
        )
    if label in ADMIN_ADD:
        PAGES.append(Page(f"{slug}-add", OP, f"admin:{app}_{model}_add", ignore=ignore))


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
            violations = run_axe(page, axe_source, spec.ignore, watch)
            page.screenshot(path=str(SCREENSHOTS / f"{spec.id}-{width}.png"), full_page=True)
            if violations:
                found.append(f"at {width} px, {page.url}:\n{describe(violations)}")
    finally:
        context.close()
    if watch.problems:
        found.append("the page's own errors (CSP, scripts, resources):\n  " + "\n  ".join(watch.problems))
    assert not found, f"axe found violations on {spec.id}:\n" + "\n".join(found)


def test_axe_runs_and_reports(browser, axe_source):
    """The check can fail: a page with an unlabelled field and a picture without text is reported."""
    page = browser.new_page()
    try:
        page.set_content(
            '<html lang="en"><title>t</title><main><img src="x.png"><input name="q"></main></html>'
        )
        found = {v["id"]: v for v in run_axe(page, axe_source, {})}
    finally:
        page.close()
    assert {"image-alt", "label"} <= set(found), found
    assert found["image-alt"]["nodes"][0]["target"] == "img"
    assert "alt" in describe([found["image-alt"]])


# URLs of ours that are not pages a person looks at, or that cannot be shown in a headless browser: why each.
NOT_PAGES = {
    "healthz": "JSON for the load balancer",
    "set_language": "Django's language switch (POST, then a redirect)",
    "favicon": "a redirect to the icon",
    "accounts:invitation-accept": "reached through accounts:invitation (pages invitation-accept*)",
    "mfa_authenticate": "reached after the password (pages sign-in-second-factor*)",
    "cases:recommendation-export": "a CSV or XLSX download",
    "cases:assessment-export": "a CSV or XLSX download",
    "cases:evidence-export": "a CSV or XLSX download",
    "cases:review-bulk": "POST only (the review queue's form)",
    "cases:people-counts-cite": "POST only (the recommendation page's form)",
    "notifications:mark-all-read": "POST only (the notifications page's forms)",
    "notifications:mark-read": "POST only (the notifications page's forms)",
    "notifications:preferences": "POST only (the notifications page's form)",
    "notifications:follow": "POST only (the recommendation page's form)",
    "notifications:unfollow": "POST only (the recommendation page's form)",
    "notifications:retry-delivery": "POST only (the notifications page's form)",
    "cases:review-publish": "POST only (the review queue's forms)",
    "cases:review-return": "POST only (the review queue's forms)",
    "cases:import-status": "JSON polled by the upload page",
    "cases:import-map": "POST only (the upload page's form)",
    "cases:import-confirm": "POST only (the upload page's form)",
    "cases:import-restart": "POST only (the upload page's form)",
    "cases:import-discard": "POST only (the upload page's form)",
    "cases:people-import-confirm": "POST only (the people import page's form)",
    "cases:import-errors": "a CSV download",
    "cases:people-review-publish": "POST only (the people review page's forms)",
    "cases:people-review-return": "POST only (the people review page's forms)",
    "cases:person-merge": "POST only (the person page's form)",
    "account_set_password": "every account has a password: redirects to account_change_password",
    "account_request_reauthentication_code": "sign-in by e-mailed code is off",
    "account_confirm_reauthentication_code": "sign-in by e-mailed code is off",
    "account_confirm_login_code": "sign-in by e-mailed code is off",
    "mfa_download_recovery_codes": "a text file",
    "mfa_reauthenticate_webauthn": "needs a registered security key (WebAuthn), which headless Chromium lacks",
    "mfa_remove_webauthn": "needs a registered security key (WebAuthn), which headless Chromium lacks",
    "mfa_edit_webauthn": "needs a registered security key (WebAuthn), which headless Chromium lacks",
}


def ours(name: str) -> bool:
    """Pages this project renders with its own templates (the admin is checked by model, below)."""
    if name.startswith("api:"):
        return name == "api:docs"  # the rest is JSON and CSV
    if name.startswith("admin:"):
        return False
    return ":" not in name or name.split(":")[0] in {"cases", "accounts"} or name.startswith("notifications:")


@pytest.mark.django_db
def test_every_page_of_ours_is_walked():
    """A new page (a new URL name in cases/urls.py, tracker/urls.py, allauth's) fails here until it is added
    to PAGES or to NOT_PAGES with a reason; a model of ours newly in the admin until it is in ADMIN_MODELS."""
    from django.contrib import admin

    walked = {name for p in PAGES for name in (p.name, *p.alternatives)}
    missing = sorted(n for n in url_names() if ours(n) and n not in walked and n not in NOT_PAGES)
    assert not missing, (
        f"pages not walked by the accessibility test (add them to PAGES or NOT_PAGES): {missing}"
    )
    assert not (set(NOT_PAGES) - url_names()), "NOT_PAGES names a URL that is gone"
    registered = {
        f"{model._meta.app_label}.{model._meta.model_name}"
        for model, model_admin in admin.site._registry.items()
        if type(model_admin).__module__.startswith(("cases.", "tracker."))
    }
    assert registered == set(ADMIN_MODELS), registered ^ set(ADMIN_MODELS)
