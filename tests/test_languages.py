"""Choosing a language (issue 11): language-prefixed pages, the switcher, the remembered language, Accept-Language,
hreflang, and the catalogues' completeness.

English stays at the unprefixed addresses the rest of the suite uses; /zh-hans/… and /ug/… serve the other two.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.factories import PASSWORD
from tracker.accounts.models import LanguagePreference

LOCALE = Path(settings.BASE_DIR) / "locale"
COOKIE = settings.LANGUAGE_COOKIE_NAME
SETLANG = "/i18n/setlang/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth's sign-in rate limits live in the cache; user ids repeat between tests.
    cache.clear()
    yield
    cache.clear()


def html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.content.decode()).group(0)


# --- Prefixed addresses -------------------------------------------------------------------------------------


def test_english_addresses_are_unchanged(client, personas):
    client.force_login(personas.alice)
    response = client.get("/recommendations/")
    assert response.status_code == 200
    assert html_tag(response) == '<html lang="en" dir="ltr">'
    assert 'href="/recommendations/XJ22-151-i/"' in response.content.decode()


def test_uyghur_prefix_serves_uyghur_right_to_left(client, personas):
    client.force_login(personas.alice)
    response = client.get("/ug/")
    assert response.status_code == 200
    assert html_tag(response) == '<html lang="ug" dir="rtl">'
    html = response.content.decode()
    # Our own catalogue, compiled: the navigation is in Uyghur and its links stay in Uyghur.
    assert "باش بەت" in html  # Dashboard
    assert ">Dashboard<" not in html
    assert 'href="/ug/recommendations/"' in html


def test_chinese_prefix_serves_simplified_chinese(client, personas):
    client.force_login(personas.alice)
    response = client.get("/zh-hans/recommendations/")
    assert response.status_code == 200
    assert html_tag(response) == '<html lang="zh-hans" dir="ltr">'
    html = response.content.decode()
    assert "建议" in html  # Recommendations
    assert 'href="/zh-hans/recommendations/XJ22-151-i/"' in html


def test_sign_in_page_in_uyghur_has_the_switcher(client, db):
    response = client.get("/ug/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html_tag(response) == '<html lang="ug" dir="rtl">'
    assert f'action="{SETLANG}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'value="ug" lang="ug" dir="rtl" aria-current="true">ئۇيغۇرچە</button>' in html
    assert 'value="zh-hans" lang="zh-hans" dir="ltr">简体中文</button>' in html
    assert 'name="next" value="/ug/accounts/login/"' in html


def test_hreflang_links_name_every_language(client, personas):
    client.force_login(personas.alice)
    html = client.get("/ug/recommendations/XJ22-151-i/").content.decode()
    assert '<link rel="alternate" hreflang="en" href="http://testserver/recommendations/XJ22-151-i/">' in html
    assert (
        '<link rel="alternate" hreflang="zh-hans" href="http://testserver/zh-hans/recommendations/XJ22-151-i/">'
        in html
    )
    assert (
        '<link rel="alternate" hreflang="ug" href="http://testserver/ug/recommendations/XJ22-151-i/">' in html
    )
    assert (
        '<link rel="alternate" hreflang="x-default" href="http://testserver/recommendations/XJ22-151-i/">'
        in html
    )


def test_hreflang_keeps_the_query(client, personas):
    client.force_login(personas.alice)
    html = client.get("/recommendations/?implementation_status=implemented").content.decode()
    assert (
        'hreflang="ug" href="http://testserver/ug/recommendations/?implementation_status=implemented"' in html
    )


# --- Accept-Language and the cookie on unprefixed addresses --------------------------------------------------


def test_accept_language_sends_a_first_visit_to_its_language(client, personas):
    client.force_login(personas.alice)
    response = client.get("/recommendations/?q=release", HTTP_ACCEPT_LANGUAGE="ug-CN,ug;q=0.9,en;q=0.5")
    assert response.status_code == 302
    assert response["Location"] == "/ug/recommendations/?q=release"
    assert "Accept-Language" in response["Vary"]
    assert "Cookie" in response["Vary"]


def test_accept_language_chinese_variant(client, db):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 302
    assert response["Location"] == "/zh-hans/accounts/login/"


def test_unsupported_or_english_accept_language_stays_english(client, personas):
    client.force_login(personas.alice)
    for header in ("fr-FR,fr;q=0.9", "en-GB,ug;q=0.5", "*"):
        response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
        assert response.status_code == 200, header
        assert html_tag(response) == '<html lang="en" dir="ltr">'


def test_cookie_wins_over_accept_language(client, personas):
    client.force_login(personas.alice)
    client.cookies[COOKIE] = "en"
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ug")
    assert response.status_code == 200
    assert html_tag(response) == '<html lang="en" dir="ltr">'
    client.cookies[COOKIE] = "zh-hans"
    assert client.get("/")["Location"] == "/zh-hans/"


def test_a_bad_cookie_is_ignored(client, personas):
    client.force_login(personas.alice)
    client.cookies[COOKIE] = "xx-evil"
    assert client.get("/").status_code == 200


def test_a_shared_prefixed_link_opens_in_its_language_whatever_the_cookie(client, personas):
    client.force_login(personas.alice)
    client.cookies[COOKIE] = "zh-hans"
    response = client.get("/ug/recommendations/XJ22-151-i/")
    assert response.status_code == 200
    assert html_tag(response) == '<html lang="ug" dir="rtl">'


def test_post_to_an_english_page_is_not_redirected(client, personas):
    client.force_login(personas.alice)
    client.cookies[COOKIE] = "ug"
    response = client.post("/recommendations/XJ22-151-i/assess/", {})
    assert response.status_code != 302 or not response["Location"].startswith("/ug/")


def test_api_admin_and_healthz_are_not_prefixed_but_speak_the_language(client, personas):
    # No credentials: DRF's own message, in the visitor's language (DRF ships a Chinese catalogue).
    response = client.get("/api/v1/recommendations/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 401
    assert response.json()["detail"] != "Authentication credentials were not provided."
    assert client.get("/healthz", HTTP_ACCEPT_LANGUAGE="ug").status_code == 200
    assert client.get("/zh-hans/api/v1/recommendations/").status_code == 404
    client.force_login(personas.carol)
    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="ug")
    assert response.status_code in (200, 302)
    assert not response.get("Location", "").startswith("/ug/")


def test_unknown_address_is_a_404_not_a_redirect(client, db):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="ug")
    assert response.status_code == 404


# --- The switcher -------------------------------------------------------------------------------------------


def test_switcher_sets_cookie_and_the_users_preference(client, personas):
    client.force_login(personas.alice)
    response = client.post(SETLANG, {"language": "ug", "next": "/recommendations/?q=release"})
    assert response.status_code == 302
    assert response["Location"] == "/ug/recommendations/?q=release"
    assert response.cookies[COOKIE].value == "ug"
    assert response.cookies[COOKIE]["samesite"] == "Lax"
    assert LanguagePreference.objects.get(user=personas.alice).language == "ug"

    # Back from a Uyghur page to English: the unprefixed address, the preference updated (one row).
    response = client.post(SETLANG, {"language": "en", "next": "/ug/recommendations/XJ22-151-i/"})
    assert response["Location"] == "/recommendations/XJ22-151-i/"
    assert response.cookies[COOKIE].value == "en"
    assert LanguagePreference.objects.filter(user=personas.alice).count() == 1
    assert LanguagePreference.objects.get(user=personas.alice).language == "en"

    # From a Uyghur page straight to Chinese.
    response = client.post(SETLANG, {"language": "zh-hans", "next": "/ug/evidence/"})
    assert response["Location"] == "/zh-hans/evidence/"


def test_switcher_before_sign_in_sets_only_the_cookie(client, db):
    response = client.post(SETLANG, {"language": "zh-hans", "next": "/accounts/login/"})
    assert response["Location"] == "/zh-hans/accounts/login/"
    assert response.cookies[COOKIE].value == "zh-hans"
    assert not LanguagePreference.objects.exists()


def test_switcher_refuses_an_unknown_language(client, personas):
    client.force_login(personas.alice)
    response = client.post(SETLANG, {"language": "fr", "next": "/recommendations/"})
    assert response.status_code == 302
    assert response["Location"] == "/recommendations/"
    assert COOKIE not in response.cookies
    assert not LanguagePreference.objects.exists()


def test_switcher_never_redirects_off_site(client, db):
    response = client.post(SETLANG, {"language": "ug", "next": "https://evil.example/phish"})
    assert response.status_code == 302
    assert response["Location"] == "/ug/"


def test_switcher_is_post_only_and_needs_the_csrf_token(db, personas):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(personas.alice)
    assert csrf_client.get(SETLANG, {"language": "ug"}).status_code == 405
    assert csrf_client.post(SETLANG, {"language": "ug", "next": "/"}).status_code == 403
    assert not LanguagePreference.objects.exists()


# --- Remembered per user, applied at sign-in ----------------------------------------------------------------


def test_sign_in_applies_the_remembered_language(client, personas):
    LanguagePreference.objects.create(user=personas.alice, language="ug")
    client.cookies[COOKIE] = "en"
    response = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "ug"
    assert response["Location"] == "/ug/"
    page = client.get(response["Location"])
    assert html_tag(page) == '<html lang="ug" dir="rtl">'


def test_sign_in_from_a_prefixed_page_goes_to_the_remembered_language(client, personas):
    LanguagePreference.objects.create(user=personas.alice, language="zh-hans")
    response = client.post(
        "/ug/accounts/login/", {"login": "alice", "password": PASSWORD, "next": "/ug/recommendations/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/zh-hans/recommendations/"
    assert response.cookies[COOKIE].value == "zh-hans"


def test_sign_in_without_a_preference_keeps_the_cookie(client, personas):
    client.cookies[COOKIE] = "zh-hans"
    response = client.post("/zh-hans/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert COOKIE not in response.cookies
    assert response["Location"] == "/zh-hans/"


def test_failed_sign_in_does_not_apply_anything(client, personas):
    LanguagePreference.objects.create(user=personas.alice, language="ug")
    response = client.post("/accounts/login/", {"login": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert COOKIE not in response.cookies


def test_preference_is_one_of_the_languages(personas):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        LanguagePreference.objects.create(user=personas.alice, language="fr")


def test_languages_cost_no_query(client, personas):
    """The prefix, the switcher and the hreflang links add no query: a page costs the same in each language."""
    client.force_login(personas.alice)
    counts = {}
    for prefix in ("", "/ug", "/zh-hans", ""):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{prefix}/recommendations/XJ22-151-i/").status_code == 200
        counts[prefix] = len(queries.captured_queries)
    assert counts["/ug"] == counts["/zh-hans"] == counts[""], counts


# --- Catalogues ---------------------------------------------------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr list, flags (enough for the checks below)."""
    entries: list[dict] = []
    entry: dict = {}
    field = None

    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}

    def unquote(text: str) -> str:
        return re.sub(r"\\(.)", lambda match: escapes.get(match.group(1), match.group(0)), text[1:-1])

    def flush():
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            field = None
        elif line.startswith("#,"):
            if "msgid" in entry:
                flush()
            entry.setdefault("flags", set()).update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#~"):
            continue  # obsolete
        elif line.startswith("#"):
            if "msgid" in entry:
                flush()
        elif line.startswith("msgctxt "):
            if "msgid" in entry:
                flush()
            field = "msgctxt"
            entry[field] = unquote(line[len("msgctxt ") :])
        elif line.startswith("msgid_plural "):
            field = "msgid_plural"
            entry[field] = unquote(line[len("msgid_plural ") :])
        elif line.startswith("msgid "):
            if "msgid" in entry:
                flush()
            field = "msgid"
            entry[field] = unquote(line[len("msgid ") :])
        elif line.startswith("msgstr["):
            index, _, rest = line[len("msgstr[") :].partition("] ")
            field = ("msgstr", int(index))
            entry.setdefault("msgstr", {})[int(index)] = unquote(rest)
        elif line.startswith("msgstr "):
            field = ("msgstr", 0)
            entry.setdefault("msgstr", {})[0] = unquote(line[len("msgstr ") :])
        elif line.startswith('"'):
            if isinstance(field, tuple):
                entry["msgstr"][field[1]] += unquote(line)
            elif field:
                entry[field] += unquote(line)
    flush()
    return entries


CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/django*.po"))
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]*\}")


def test_there_are_catalogues_for_both_languages():
    assert {path.parts[-3] for path in CATALOGUES} >= {"zh_Hans", "ug"}


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.parts[-3] + "/" + path.name)
def test_catalogue_is_complete_and_not_fuzzy(path):
    problems = []
    entries = parse_po(path)
    assert len(entries) > 100
    header = entries[0]
    assert header["msgid"] == ""
    assert "native speaker" in header["msgstr"][0].lower() or "native-speaker" in header["msgstr"][0].lower()
    for entry in entries[1:]:
        label = entry["msgid"][:60]
        if "fuzzy" in entry.get("flags", set()):
            problems.append(f"fuzzy: {label}")
        if not all(entry.get("msgstr", {}).values()) or not entry.get("msgstr"):
            problems.append(f"untranslated: {label}")
            continue
        wanted = set(PLACEHOLDER.findall(entry["msgid"] + entry.get("msgid_plural", "")))
        for translation in entry["msgstr"].values():
            if set(PLACEHOLDER.findall(translation)) - wanted:
                problems.append(f"placeholder not in the original: {label}")
    assert not problems, f"{len(problems)} problems in {path}:\n" + "\n".join(problems[:50])


def test_catalogue_headers_say_who_translated():
    for path in CATALOGUES:
        header = parse_po(path)[0]["msgstr"][0]
        assert "machine-assisted" in header.lower(), path
        assert "Language: " in header, path
        assert "Plural-Forms: nplurals=" in header, path
