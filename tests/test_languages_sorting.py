"""Lists sorted by text follow the reader's language and script (issue 11, item 5), beyond the theme filter
(tests/test_languages_pages.py): evidence titles on the evidence list, the recommendation page and the public
pages, the public themes, the theme-mapping choices of the import, and the author filter.

PostgreSQL sorts with the ICU collation of the page's language (cases/collation.py: Chinese by pinyin, Uyghur by
its alphabet). SQLite has no ICU: its fallback is code-point order, the same in every language, checked too.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.utils import translation

from tests.factories import make_evidence

pytestmark = pytest.mark.django_db

# Same date, so the title decides. Pinyin: 阿 ā < 北 běi < 喀 kā; Uyghur alphabet: چ before خ.
TITLES = ["خەت مەنبە", "北京来源", "چاي مەنبە", "阿克苏来源", "喀什来源"]
CHINESE = ["阿克苏来源", "北京来源", "喀什来源"]
UYGHUR = ["چاي مەنبە", "خەت مەنبە"]


@pytest.fixture
def sources(personas):
    for index, title in enumerate(TITLES):
        make_evidence(
            personas.alice,
            f"https://example.org/sort-{index}",
            title=title,
            published_on=datetime.date(2030, 1, 1),
        )
    return TITLES


def shown(html: str, among: list[str]) -> list[str]:
    positions = sorted((html.index(title), title) for title in among if title in html)
    assert len(positions) == len(among), "every title is on the page"
    return [title for _position, title in positions]


def expected(language: str, among: list[str]) -> list[str]:
    if connection.vendor != "postgresql":
        return sorted(among)  # the SQLite fallback: code points
    return {"zh-hans": CHINESE, "ug": UYGHUR}[language]


@pytest.mark.parametrize(("language", "among"), [("zh-hans", CHINESE), ("ug", UYGHUR)])
def test_evidence_list_sorts_titles_by_the_readers_script(client, personas, sources, language, among):
    client.force_login(personas.alice)
    html = client.get(f"/{language}/evidence/").content.decode()
    assert shown(html, among) == expected(language, among)


def test_recommendation_page_lists_its_sources_by_the_readers_script(client, personas):
    from tests.factories import make_recommendation

    recommendation = make_recommendation(personas.document, "XJ22-199", "199")
    for index, title in enumerate(TITLES):
        make_evidence(
            personas.alice,
            f"https://example.org/rec-sort-{index}",
            title=title,
            published_on=datetime.date(2030, 1, 1),
            recommendations=[recommendation],
        )
    client.force_login(personas.alice)
    for language, among in (("zh-hans", CHINESE), ("ug", UYGHUR)):
        html = client.get(f"/{language}/recommendations/XJ22-199/").content.decode()
        assert shown(html, among) == expected(language, among)


def test_theme_mapping_choices_follow_the_readers_script(db):
    from cases.imports.forms import _choices
    from cases.models import Theme

    for index, name in enumerate(["خەت", "北京", "چاي", "阿克苏"]):
        Theme.objects.create(name=name, slug=f"sort-{index}")
    with translation.override("ug"):
        uyghur = [name for _slug, name in _choices("theme") if name in ("خەت", "چاي")]
    with translation.override("zh-hans"):
        chinese = [name for _slug, name in _choices("theme") if name in ("北京", "阿克苏")]
    if connection.vendor == "postgresql":
        assert uyghur == ["چاي", "خەت"] and chinese == ["阿克苏", "北京"]
    else:
        assert uyghur == sorted(uyghur) and chinese == sorted(chinese)


# Sorting by a bare text column ("title", "name", "username") orders by the database's default collation, the same
# in every language: a list a reader sees must sort through ByLanguage. Codes ("code", "reference", a document's
# symbol "short_name") and dates are not text in a script, and stay.
BARE_TEXT_ORDER = re.compile(r"""order_by\((?:[^)]*,)?\s*["']-?(?:\w+__)*(?:title|name|username)["']""")


def test_no_list_sorts_text_by_code_points():
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    found = []
    for path in [*root.glob("cases/**/*.py"), *root.glob("tracker/**/*.py")]:
        if "migrations" in path.parts or "management" in path.parts:
            continue  # command-line listings and migrations are not pages
        text = path.read_text()
        found += [f"{path.relative_to(root)}: {m.group(0)}" for m in BARE_TEXT_ORDER.finditer(text)]
    assert found == [], "Sort these through cases.collation.ByLanguage:\n" + "\n".join(found)


def test_the_lint_can_fail():
    assert BARE_TEXT_ORDER.search('qs.order_by("-published_on", "title", "pk")')
    assert BARE_TEXT_ORDER.search("qs.order_by('organisation__name')")
    assert not BARE_TEXT_ORDER.search('qs.order_by("-published_on", ByLanguage("title"), "pk")')
    assert not BARE_TEXT_ORDER.search('qs.order_by("code")')
