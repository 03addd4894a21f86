"""Every page of ours in Chinese and in Uyghur, with no English left in our own text (issue 11, item 1); dates as
ISO inside <time>, isolated left to right in Uyghur (item 5); lists sorted by each script's rules (item 5).

The walk reuses the page list of the accessibility walk (tests/browser/test_accessibility.py: every page of ours,
as a visitor, a monitor, a curator and an operator, the admin pages of our models included) with the test Client
instead of a browser. Each page's visible text (and the accessible names in aria-label, title, placeholder, alt)
is taken without <script>/<style>, without user data (elements marked dir="auto" or with another language, codes
and identifiers isolated in <bdi dir="ltr">/<code>, and every text value stored in the database) and without the
product names kept in every language; what is left fails the test when it holds an English word.
"""

from __future__ import annotations

import datetime
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import models as django_models
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cases.imports.normalise import FIELDS as IMPORT_FIELDS
from tests.browser.test_accessibility import PAGES, known_name, site, url_of, users  # noqa: F401 (fixture)
from tests.factories import PASSWORD
from tests.mfa_helpers import login_with_mfa

LANGUAGES = ("zh-hans", "ug")

# The 300 or so most common English words (function words first), and words of our own interface that a
# leak would show. Matched case-insensitively as whole ASCII words.
COMMON_WORDS = """
    the of and to a in is you that it he was for on are as with his they be at one have this from or had by
    not word but what some we can out other were all there when up use your how said an each she which do
    their time if will way about many then them write would like so these her long make thing see him two has
    look more day could go come did number sound no most people my over know water than call first who may
    down side been now find any new work part take get place made live where after back little only round man
    year came show every good me give our under name very through just form sentence great think say help low
    line differ turn cause much mean before move right boy old too same tell does set three want air well also
    play small end put home read hand port large spell add even land here must big high such follow act why
    ask men change went light kind off need house picture try us again animal point mother world near build
    self earth father head stand own page should country found answer school grow study still learn plant
    cover food sun four between state keep eye never last let thought city tree cross farm hard start might
    story saw far sea draw left late run don't while press close night real life few north open seem together
    next white children begin got walk example ease paper group always music those both mark often letter
    until mile river car feet care second book carry took science eat room friend began idea fish mountain
    stop once base hear horse cut sure watch color colour face wood main enough plain girl usual young ready
    above ever red list though feel talk bird soon body dog family direct pose leave song measure door product
    black short numeral class wind question happen complete ship area half rock order fire south problem piece
    told knew pass since top whole king space heard best hour better true during hundred five remember step
    early hold west ground interest reach fast verb sing listen six table travel less morning ten simple
    several vowel toward war lay against pattern slow center love person money serve appear road map rain rule
    govern pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan
    figure star box noun field rest correct able pound done beauty drive stood contain front teach week final
    gave green oh quick develop ocean warm free minute strong special mind behind clear tail produce fact
    street inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot
    system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check game
    shape equal hot miss brought heat snow tire bring yes distant fill east paint language among sign password
    email e-mail account save cancel delete edit search filter submit review publish return withdraw
    recommendation recommendations assessment assessments evidence source sources status theme themes
    dashboard notifications settings required optional select choose enter invalid field login logout user
    username home previous next showing results none yes back continue confirm remove add view download export
    import upload document documents date from until per about help error sorry forbidden found
"""
ENGLISH = set(COMMON_WORDS.split())
# Never words of an English sentence on their own: tokens of codes ("XJ22-151-i"), units and abbreviations.
ENGLISH -= {"a", "i", "us", "oh"}

# Kept in every language by design (the glossary): product and standard names, formats, protocols.
KEPT = [
    "Accountability Tracker",
    "OpenAPI",
    "Swagger",
    "UHRI",
    "OHCHR",
    "UPR",
    "UN",
    "CSV",
    "XLSX",
    "JSON",
    "API",
    "TOTP",
    "WebAuthn",
    "Django",
    "UTC",
    "HTTP",
    "URL",
    "SHA-256",
    "GET",  # HTTP methods: django-axes' "GET data" / "POST data" of a failed sign-in
    "POST",
    "Control",  # key names in the admin's "hold down Control, or Command on a Mac" (Django's Chinese keeps them)
    "Command",
    "Mac",
    "Axes",  # django-axes, the name of the brute-force guard in the admin's app list
    "FIELD=COLUMN",  # the column mapping's syntax, typed as is
    "make run",  # a command, in the import page's "waiting for a worker" hint
    "Xinjiang Victims Database",  # a source's proper name (shown with its Uyghur/Chinese translation)
]

SKIP_TAGS = {"script", "style", "template", "code", "kbd", "samp", "pre", "svg"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
LABEL_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")


class VisibleText(HTMLParser):
    """Our text on a page: data nodes and accessible names, outside user data and code-like elements."""

    def __init__(self, language: str):
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.parts: list[str] = []

    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang")
        skip = (
            self.skipping()
            or tag in SKIP_TAGS
            or attrs.get("dir") == "auto"
            or (tag == "bdi" and attrs.get("dir") == "ltr")
            or (tag != "html" and lang is not None and lang != self.language)
            or "hidden" in attrs
            or attrs.get("aria-hidden") == "true"
            or attrs.get("translate") == "no"
        )
        if not skip:
            for name in LABEL_ATTRIBUTES:
                if attrs.get(name):
                    self.parts.append(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append(skip)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skipping():
            self.parts.append(data)


def stored_texts() -> list[str]:
    """Every text value in the database (the data set, the personas, what the site fixture made): user data."""
    from django.apps import apps

    texts: set[str] = set()
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, django_models.CharField | django_models.TextField) and not f.choices
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):
            for value in row:
                if isinstance(value, str) and len(value.strip()) > 1:
                    texts.add(value.strip())
                    texts.update(line.strip() for line in value.splitlines() if len(line.strip()) > 1)
    return sorted(texts, key=len, reverse=True)


WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*[A-Za-z]|[A-Za-z]")
URLISH = re.compile(r"\S+@\S+|https?://\S+|/[\w./?=&%-]*|\b[\w.-]+\.(?:org|com|csv|xlsx|json|txt)\b")


# Identifiers, not words: audit-event and permission codes ("import.discard", "cases.change_theme"), column names
# ("recommending_states"), JSON shown as data.
IDENTIFIER = re.compile(r"[\w-]*[A-Za-z][\w-]*(?:[._][\w-]+)+|[\w-]+_|\{.*\}")

# The importer's column names listed in the import form's help ("text, paragraph, response, …"): the file format's
# identifiers, the same in every language. A run of three or more of them, separated by commas.
COLUMN_NAMES = "|".join(map(re.escape, IMPORT_FIELDS))
COLUMN_LIST = re.compile(rf"(?:\b(?:{COLUMN_NAMES})\b[,\s]*){{3,}}")


def english_in(html: str, language: str, data: list[str]) -> list[str]:
    """Snippets of our text on the page that hold English words. `data`: stored texts, longest first."""
    parser = VisibleText(language)
    parser.feed(html)
    everything = "\n".join(" ".join(value.split()) for value in data)
    long_values = [value for value in (" ".join(v.split()) for v in data) if len(value) > 3]
    leaks = []
    for part in parser.parts:
        text = " ".join(part.split())
        # User data: the whole piece of text (or each piece around a " — ") is (a truncated part of) a stored value.
        cores = [piece.strip("…¶—→ ").strip() for piece in text.split(" — ")]
        if all(not core or core in everything or not WORD.search(core) for core in cores):
            continue
        for value in long_values:
            if value in text:
                # Not inside an identifier: "evidence" in the audit event "evidence.delete" stays for IDENTIFIER.
                text = re.sub(rf"(?<!\w)(?<!\w\.){re.escape(value)}(?!\w|\.\w)", " ", text)
        for name in KEPT:
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", " ", text)
        text = IDENTIFIER.sub(" ", URLISH.sub(" ", COLUMN_LIST.sub(" ", text)))
        words = WORD.findall(text)
        if any(word.lower() in ENGLISH for word in words) or sum(len(word) > 2 for word in words) >= 3:
            leaks.append(" ".join(text.split())[:160])
    return leaks


# --- Bringing a page into the state the accessibility walk checks, with the test Client ---------------------


def post_to_form(client, url: str, response):
    """The page's last POST form in <main>, sent empty (the form's errors)."""
    html = response.content.decode()
    main = html[html.find("<main") :]
    actions = re.findall(r'<form[^>]*method="post"[^>]*>', main, flags=re.I)
    action = url
    if actions:
        found = re.search(r'action="([^"]*)"', actions[-1])
        if found and found.group(1):
            action = found.group(1).replace("&amp;", "&")
    return client.post(action, {}, follow=True)


def sign_in(client, login: str, password: str):
    return client.post(reverse("account_login"), {"login": login, "password": password}, follow=True)


def then_client(spec, client, url, response, d):
    name = spec.then.__name__ if spec.then else None
    if name == "submit_empty":
        return post_to_form(client, url, response)
    if name == "failed_sign_in":
        return sign_in(client, "alice", "not the password")
    if name == "locked_out":
        for _ in range(django_settings.AXES_FAILURE_LIMIT + 1):
            response = sign_in(client, "alice", "not the password")
        return response
    if name == "password_then_totp_page":
        return sign_in(client, "carol", PASSWORD)
    if name == "wrong_totp":
        sign_in(client, "carol", PASSWORD)
        return client.post(reverse("mfa_authenticate"), {"code": "000000"}, follow=True)
    if name == "admin_action_return":
        return client.post(
            url,
            {"action": "return_selected", "_selected_action": [d.submitted.pk], "index": "0"},
            follow=True,
        )
    return response  # open_account_menu, swagger_rendered: the page as served


def walk(d, language: str, roles: set) -> dict[str, list[str]]:
    """Every page of `roles` in `language`: {page id: English snippets}."""
    data = stored_texts()
    found: dict[str, list[str]] = {}
    for spec in PAGES:
        if spec.role not in roles:
            continue
        cache.clear()  # allauth's rate limits
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
        if spec.role:
            user = users(d)[spec.role]
            if user.is_staff or user.is_superuser:
                login_with_mfa(client, user)
            else:
                client.force_login(user)
        with translation.override(language):
            url = url_of(spec, d) if spec.path == "" else f"/{language}{spec.path}"
        response = client.get(url, follow=True)
        assert response.status_code == spec.status, f"{spec.id} {url}: {response.status_code}"
        if spec.then:
            response = then_client(spec, client, url, response, d)
        html = response.content.decode()
        assert f'lang="{language}"' in html[:200], f"{spec.id} {url} is not in {language}"
        data = stored_texts() if spec.then else data  # the state change may have stored text
        leaks = english_in(html, language, data)
        if leaks:
            found[f"{spec.id} ({url})"] = leaks
    return found


def report(found: dict[str, list[str]]) -> str:
    lines = []
    for page, leaks in found.items():
        lines.append(page)
        lines.extend(f"    {leak}" for leak in dict.fromkeys(leaks))
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "roles",
    [{None, "monitor"}, {"curator"}, {"operator"}],
    ids=["visitor-and-monitor", "curator", "operator-admin"],
)
def test_no_english_left_on_any_page(request, language, roles):
    for spec in PAGES:
        if not spec.path:
            try:
                known_name(spec)
            except pytest.skip.Exception:
                continue
    d = request.getfixturevalue("site")
    found = walk(d, language, roles)
    assert not found, f"English left on {len(found)} pages in {language}:\n{report(found)}"


# --- The check itself can fail ------------------------------------------------------------------------------


def test_the_check_finds_english_and_ignores_user_data():
    page = (
        '<html lang="ug"><head><title>باش بەت</title><style>.a{color:red}</style></head><body>'
        '<main><h1>تەۋسىيە <bdi dir="ltr">XJ22-151-i</bdi></h1>'
        '<p dir="auto">Release all individuals.</p><span lang="zh">新疆</span>'
        "<p>UHRI · CSV · 2024-06-26 · alice@example.org · https://example.org/a</p>"
        '<p>Your queue</p><button aria-label="Close the menu">x</button>'
        "<p>Some detention cases were reviewed.</p><script>var x = 'the'</script></main></body></html>"
    )
    leaks = english_in(page, "ug", ["Some detention cases were reviewed."])
    assert leaks == ["Your queue", "Close the menu"]
    assert english_in('<html lang="ug"><p>Sign in</p></html>', "ug", []) == ["Sign in"]
    assert english_in('<html lang="ug"><p>كىرىش</p></html>', "ug", []) == []
    # An audit-event code holding a stored word stays one identifier; an HTTP method is a name; English still counts.
    assert (
        english_in('<html lang="ug"><td>evidence.delete</td><p>GET سانلىق</p></html>', "ug", ["evidence"])
        == []
    )
    assert english_in('<html lang="ug"><th>Status</th></html>', "ug", ["evidence"]) == ["Status"]
    assert (
        english_in('<html lang="ug"><p>دېلولار | Can add A_b</p></html>', "ug", ["Can add A_b", "A_b"]) == []
    )
    assert english_in('<html lang="ug"><p>ئىسپات Detention.</p></html>', "ug", ["Detention"]) == []


# --- Dates (item 5): ISO in every language, isolated left to right in Uyghur ---------------------------------
# Babel is not installed (no new dependency), so no language's long form is checked against CLDR: every language
# shows ISO 8601 dates, which the issue allows ("in each language's long form (or ISO)").


def test_isodate_is_iso_in_every_language_and_left_to_right_in_uyghur():
    from cases.templatetags.tracker_ui import isodate

    day = datetime.date(2022, 9, 1)
    with translation.override("en"):
        assert isodate(day) == '<time datetime="2022-09-01">2022-09-01</time>'
    with translation.override("zh-hans"):
        assert isodate(day) == '<time datetime="2022-09-01">2022-09-01</time>'
    with translation.override("ug"):
        assert isodate(day) == '<time datetime="2022-09-01" dir="ltr">2022-09-01</time>'
        moment = datetime.datetime(2024, 8, 27, 12, 5, tzinfo=datetime.UTC)
        assert ' dir="ltr">2024-08-27 ' in isodate(moment, "time")


TIME = re.compile(r"<time ([^>]*)>([^<]*)</time>")


@pytest.mark.parametrize("language", ["", "zh-hans", "ug"])
def test_pages_show_iso_dates_and_uyghur_isolates_them(client, personas, language):
    client.force_login(personas.alice)
    prefix = f"/{language}" if language else ""
    html = client.get(f"{prefix}/recommendations/XJ22-151-i/").content.decode()
    times = TIME.findall(html)
    assert times, "the recommendation page shows its document's date"
    for attributes, shown in times:
        value = re.search(r'datetime="([^"]+)"', attributes).group(1)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?", shown.strip()), shown
        assert value.startswith(shown.strip()[:10]), (value, shown)
        assert ('dir="ltr"' in attributes) == (language == "ug"), attributes


# --- Sorting by script (item 5) -------------------------------------------------------------------------------

NAMES = ["Zebra", "apple", "éclair", "北京", "阿克苏", "喀什", "خەت", "چاي"]


@pytest.fixture
def themes(db):
    from cases.models import Theme

    for index, name in enumerate(NAMES):
        Theme.objects.create(name=name, slug=f"theme-{index}")
    return Theme


def ordered(themes, language: str) -> list[str]:
    from cases.collation import ByLanguage

    with translation.override(language):
        return list(
            themes.objects.filter(name__in=NAMES)
            .order_by(ByLanguage("name"), "pk")
            .values_list("name", flat=True)
        )


def test_names_sort_by_each_language(themes):
    from django.db import connection

    if connection.vendor == "postgresql":
        # ICU: Latin case- and accent-insensitively; Chinese by pinyin (ā kā běi → a, b, k); Uyghur چ before خ.
        latin = [name for name in ordered(themes, "en") if name.isascii() or name == "éclair"]
        assert latin == ["apple", "éclair", "Zebra"]
        chinese = [name for name in ordered(themes, "zh-hans") if name in ("北京", "阿克苏", "喀什")]
        assert chinese == ["阿克苏", "北京", "喀什"]
        uyghur = [name for name in ordered(themes, "ug") if name in ("خەت", "چاي")]
        assert uyghur == ["چاي", "خەت"]
    else:
        # The SQLite fallback: SQLite's BINARY collation, code-point order, the same in every language.
        binary = sorted(NAMES)
        for language in ("en", "zh-hans", "ug"):
            assert ordered(themes, language) == binary


def test_collation_is_chosen_when_the_query_runs(themes):
    from cases.collation import ByLanguage, collation_for

    queryset = themes.objects.order_by(ByLanguage("name"))  # built once, like a FilterSet's queryset
    from django.db import connection

    for language, collation in (("en", "und-x-icu"), ("zh-hans", "zh-x-icu"), ("ug", "ug-x-icu")):
        assert collation_for(language) == collation
        with translation.override(language):
            sql = str(queryset.query)
        if connection.vendor == "postgresql":
            assert f'COLLATE "{collation}"' in sql
        else:
            assert "COLLATE" not in sql
    assert collation_for("fr") == "und-x-icu"


def test_theme_filter_lists_themes_in_the_readers_order(client, personas, themes):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    client.force_login(personas.alice)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/zh-hans/recommendations/").content.decode()
    select = html[html.find('name="theme"') :]
    select = select[: select.find("</select>")]
    shown = [name for name in re.findall(r">([^<]+)</option>", select) if name in NAMES]
    assert shown == ordered(themes, "zh-hans")
    theme_queries = [q["sql"] for q in queries.captured_queries if '"cases_theme"."name"' in q["sql"]]
    if connection.vendor == "postgresql":
        assert any('COLLATE "zh-x-icu"' in sql for sql in theme_queries)
    reset_queries()
