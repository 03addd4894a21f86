"""Content in several languages (issue 11, item 4): translations of a recommendation's text and of a theme's
name, shown in the reader's language with a note saying which text it is, found by search, exported by the
API (a `translations` object; CSV columns `translations.zh-hans`, `translations.ug`) and curated in the admin.

No official UN Chinese text is used here: the translations below are test strings.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from cases import search
from cases.models import Recommendation, RecommendationTranslation, Theme, ThemeTranslation
from tests.factories import make_recommendation, make_user
from tests.test_admin import client_for, form_data, url
from tests.test_web_read import get_within_budget

REC = "XJ22-151-i"
ZH_TEXT = "迅速采取步骤释放新疆所有被任意剥夺自由的个人。"
UG_TEXT = "شىنجاڭدا ئەركىنلىكىدىن خالىغانچە مەھرۇم قىلىنغان بارلىق كىشىلەرنى قويۇپ بېرىش."
ZH_THEME = "任意拘留"
UG_THEME = "خالىغانچە تۇتۇپ تۇرۇش"


def in_language(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


def no_translation_note(language: str, name: str) -> str:
    with translation.override(language):
        return translation.gettext("Original text (no %(language)s translation yet)") % {
            "language": translation.gettext(name)
        }


@pytest.fixture
def tr(personas):
    """XJ22-151-i translated into Chinese only; its theme named in Chinese and Uyghur."""
    p = personas
    RecommendationTranslation.objects.create(recommendation=p.rec, language="zh-hans", text=ZH_TEXT)
    ThemeTranslation.objects.create(theme=p.theme, language="zh-hans", name=ZH_THEME)
    ThemeTranslation.objects.create(theme=p.theme, language="ug", name=UG_THEME)
    return p


def fulltext(response) -> str:
    return re.search(r'<blockquote class="recommendation-fulltext"[^>]*>', response.content.decode()).group(0)


# --- Pages ---------------------------------------------------------------------------------------------


def test_recommendation_page_shows_the_chinese_translation_and_says_so(client, tr):
    client.force_login(tr.alice)
    response = client.get(f"/zh-hans/recommendations/{REC}/")
    html = response.content.decode()
    assert fulltext(response) == '<blockquote class="recommendation-fulltext" lang="zh-Hans" dir="ltr">'
    assert ZH_TEXT in html
    assert tr.rec.text not in html
    note = in_language("zh-hans", "Translated from English")
    assert note != "Translated from English"  # the catalogue has it
    assert f'id="translation-note">{note}</p>' in html
    # The theme's name in Chinese, marked as such.
    assert f'<span lang="zh-Hans" dir="ltr">{ZH_THEME}</span>' in html


def test_recommendation_page_shows_the_original_where_there_is_no_uyghur_translation(client, tr):
    client.force_login(tr.alice)
    response = client.get(f"/ug/recommendations/{REC}/")
    html = response.content.decode()
    assert fulltext(response) == '<blockquote class="recommendation-fulltext" lang="en" dir="ltr">'
    assert tr.rec.text in html
    assert ZH_TEXT not in html
    note = no_translation_note("ug", "Uyghur")
    assert "Original text" not in note
    assert f'id="translation-note">{note}</p>' in html
    # The theme does have a Uyghur name: right to left.
    assert f'<span lang="ug" dir="rtl">{UG_THEME}</span>' in html


def test_a_uyghur_translation_is_shown_right_to_left(client, tr):
    RecommendationTranslation.objects.create(recommendation=tr.rec, language="ug", text=UG_TEXT)
    client.force_login(tr.alice)
    response = client.get(f"/ug/recommendations/{REC}/")
    assert fulltext(response) == '<blockquote class="recommendation-fulltext" lang="ug" dir="rtl">'
    assert UG_TEXT in response.content.decode()


def test_english_pages_show_the_original_without_a_note(client, tr):
    client.force_login(tr.alice)
    response = client.get(f"/recommendations/{REC}/")
    html = response.content.decode()
    assert fulltext(response) == '<blockquote class="recommendation-fulltext" lang="en" dir="ltr">'
    assert tr.rec.text in html
    assert ZH_TEXT not in html
    assert "translation-note" not in html
    assert '<span lang="en" dir="ltr">Arbitrary detention</span>' in html


def test_list_shows_each_row_in_the_readers_language_or_the_original(client, tr):
    client.force_login(tr.alice)
    html = client.get("/zh-hans/recommendations/?sort=code").content.decode()
    assert f'<span class="recommendation-text" lang="zh-Hans" dir="ltr">{ZH_TEXT}</span>' in html
    assert in_language("zh-hans", "Translated from English") in html
    # XJ22-152-i has no translation: its original, in English, with the note.
    assert '<span class="recommendation-text" lang="en" dir="ltr">Takes all possible measures.</span>' in html
    assert no_translation_note("zh-hans", "Simplified Chinese") in html
    assert f'<li class="tag" lang="zh-Hans" dir="ltr">{ZH_THEME}</li>' in html


def test_dossier_shows_the_translation(client, tr):
    client.force_login(tr.alice)
    html = client.get(f"/zh-hans/recommendations/{REC}/dossier/").content.decode()
    assert f'lang="zh-Hans" dir="ltr"><p>{ZH_TEXT}</p></blockquote>' in html
    assert f'<span lang="zh-Hans" dir="ltr">{ZH_THEME}</span>' in html


def test_list_query_count_does_not_grow_with_translations(client, tr, django_assert_num_queries):
    client.force_login(tr.alice)
    url_ = "/zh-hans/recommendations/?sort=code"
    # As in English (tests/test_web_read.py): the translations are subqueries of the page's queries.
    get_within_budget(client, django_assert_num_queries, url_, 8)
    for n in range(20):
        rec = make_recommendation(tr.document, f"T-{n:03d}", f"300({n})", f"Bulk {n}.", position=300 + n)
        rec.themes.add(tr.theme)
        RecommendationTranslation.objects.create(recommendation=rec, language="zh-hans", text=f"批量建议{n}")
    response = get_within_budget(client, django_assert_num_queries, url_, 8)
    assert response.content.decode().count('lang="zh-Hans" dir="ltr">批量建议') == 20


def test_recommendation_page_costs_the_same_with_a_translation(client, tr, django_assert_num_queries):
    client.force_login(tr.alice)
    # A translated page costs what the English page costs (whose budget tests/test_web_read.py holds): the
    # translation is a subquery of the recommendation's query, theme names of the themes' query.
    english = f"/recommendations/{REC}/"
    client.get(english)
    with CaptureQueriesContext(connection) as queries:
        client.get(english)
    budget = len(queries)
    get_within_budget(client, django_assert_num_queries, f"/zh-hans/recommendations/{REC}/", budget)
    get_within_budget(client, django_assert_num_queries, f"/ug/recommendations/{REC}/", budget)
    for n in range(5):
        theme = Theme.objects.create(name=f"Theme {n}", slug=f"theme-{n}")
        ThemeTranslation.objects.create(theme=theme, language="ug", name=f"تېما {n}")
        tr.rec.themes.add(theme)
    RecommendationTranslation.objects.create(recommendation=tr.rec, language="ug", text=UG_TEXT)
    response = get_within_budget(client, django_assert_num_queries, f"/ug/recommendations/{REC}/", budget)
    assert response.content.decode().count('<span lang="ug" dir="rtl">تېما') == 5


# --- Search --------------------------------------------------------------------------------------------


def found(text: str) -> set[str]:
    return set(
        search.search_recommendations(Recommendation.objects.all(), text).values_list("code", flat=True)
    )


def test_search_finds_a_recommendation_by_its_chinese_translation(tr):
    assert found("任意剥夺") == {REC}  # four characters: the index
    assert found("释放") == {REC}  # two: a substring match
    assert found("释放 任意剥夺") == {REC}


def test_search_finds_a_recommendation_by_its_uyghur_translation(tr):
    RecommendationTranslation.objects.create(recommendation=tr.rec2, language="ug", text=UG_TEXT)
    assert found("مەھرۇم") == {"XJ22-152-i"}
    assert found("ئەركىنلىكىدىن مەھرۇم") == {"XJ22-152-i"}


def test_search_terms_may_be_spread_over_the_original_and_a_translation(tr):
    assert found("XJ22-151 任意剥夺") == {REC}
    assert found("liberty 释放") == {REC}
    assert found("measures 释放") == set()


def test_search_follows_a_changed_or_deleted_translation(tr):
    translation_row = RecommendationTranslation.objects.get(recommendation=tr.rec)
    translation_row.text = "全新的译文内容"
    translation_row.save()
    assert found("任意剥夺") == set()
    assert found("全新的译文") == {REC}
    translation_row.delete()
    assert found("全新的译文") == set()
    # The original is still found, once, whatever the translations.
    assert found("liberty") == {REC}


def test_search_keeps_one_row_per_recommendation(tr):
    RecommendationTranslation.objects.create(recommendation=tr.rec, language="ug", text="释放 " + UG_TEXT)
    rows = list(
        search.search_recommendations(Recommendation.objects.all(), "释放").values_list("code", flat=True)
    )
    assert rows == [REC]


def test_search_by_translation_on_the_list_page(client, tr):
    client.force_login(tr.alice)
    html = client.get("/zh-hans/recommendations/", {"q": "任意剥夺"}).content.decode()
    assert f'href="/zh-hans/recommendations/{REC}/"' in html
    assert "/recommendations/XJ22-152-i/" not in html


# --- API -----------------------------------------------------------------------------------------------


def test_api_returns_the_original_and_a_translations_object(client, tr):
    client.force_login(tr.alice)
    detail = client.get(f"/api/v1/recommendations/{REC}/").json()
    assert detail["text"] == tr.rec.text
    assert detail["translations"] == {"zh-hans": ZH_TEXT, "ug": None}
    listing = client.get("/api/v1/recommendations/").json()["results"]
    assert {row["code"]: row["translations"] for row in listing} == {
        REC: {"zh-hans": ZH_TEXT, "ug": None},
        "XJ22-152-i": {"zh-hans": None, "ug": None},
    }
    theme = client.get("/api/v1/themes/arbitrary-detention/").json()
    assert theme["name"] == "Arbitrary detention"
    assert theme["translations"] == {"zh-hans": ZH_THEME, "ug": UG_THEME}


def test_api_is_the_same_in_every_interface_language(client, tr):
    client.force_login(tr.alice)
    english = client.get(f"/api/v1/recommendations/{REC}/").json()
    uyghur = client.get(f"/api/v1/recommendations/{REC}/", headers={"accept-language": "ug"}).json()
    assert english == uyghur


def test_csv_has_a_column_per_language(client, tr):
    client.force_login(tr.alice)
    for address in ("/api/v1/recommendations/?format=csv", "/api/v1/export/recommendations.csv"):
        response = client.get(address)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert "translations.zh-hans" in rows[0] and "translations.ug" in rows[0], address
        by_code = {row["code"]: row for row in rows}
        assert by_code[REC]["translations.zh-hans"] == ZH_TEXT
        assert by_code[REC]["translations.ug"] == ""
        assert by_code[REC]["text"] == tr.rec.text


def test_csv_defuses_a_translation_that_looks_like_a_formula(client, tr):
    RecommendationTranslation.objects.create(recommendation=tr.rec, language="ug", text="=HYPERLINK(1)")
    client.force_login(tr.alice)
    rows = list(
        csv.DictReader(io.StringIO(client.get("/api/v1/recommendations/?format=csv").content.decode()))
    )
    assert {row["code"]: row["translations.ug"] for row in rows}[REC] == "'=HYPERLINK(1)"


def test_openapi_schema_documents_the_translations(client, tr):
    client.force_login(tr.alice)
    schema = client.get("/api/schema/", headers={"accept": "application/json"}).json()
    components = schema["components"]["schemas"]
    recommendation = components["Recommendation"]["properties"]["translations"]
    target = recommendation.get("allOf", [recommendation])[0]["$ref"].rsplit("/", 1)[1]
    properties = components[target]["properties"]
    assert set(properties) == {"zh-hans", "ug"}
    assert properties["ug"]["type"] == "string" and properties["ug"]["nullable"] is True
    assert "translations" in components["Theme"]["properties"]


def test_api_query_budget_is_unchanged_by_translations(client, tr):
    client.force_login(tr.alice)
    client.get("/api/v1/themes/")
    for address, budget in (
        ("/api/v1/recommendations/", 3 + 2),  # session, user, membership; page; themes
        (f"/api/v1/recommendations/{REC}/", 3 + 2),
        ("/api/v1/themes/", 3 + 1),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(address).status_code == 200
        assert len(queries) == budget, address


# --- Model rules ---------------------------------------------------------------------------------------


def test_one_translation_per_language(tr):
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationTranslation.objects.create(recommendation=tr.rec, language="zh-hans", text="另一个")


@pytest.mark.parametrize("language", ["en", "fr", "zh", ""])
def test_only_the_content_languages(tr, language):
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationTranslation.objects.create(recommendation=tr.rec2, language=language, text="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        ThemeTranslation.objects.create(theme=tr.theme, language=language, name="x")


def test_deleting_a_recommendation_deletes_its_translations(tr):
    rec = make_recommendation(tr.document, "XJ22-999", "999", "Temporary.")
    RecommendationTranslation.objects.create(recommendation=rec, language="ug", text=UG_TEXT)
    rec.delete()
    assert not RecommendationTranslation.objects.filter(text=UG_TEXT).exists()


# --- Admin ---------------------------------------------------------------------------------------------


def inline_data(page, prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = form_data(page)
    data = {k: v for k, v in data.items() if not k.startswith(f"{prefix}-")}
    data.update({f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial)})
    data.update({f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "2"})
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{name}": value for name, value in row.items()})
    return data


def test_curator_adds_a_uyghur_translation_in_the_admin(tr):
    carol = client_for(tr.carol)
    change = url("recommendation", "change", tr.rec2.pk)
    page = carol.get(change)
    assert 'name="translations-TOTAL_FORMS"' in page.content.decode()
    data = inline_data(page, "translations", [{"language": "ug", "text": UG_TEXT, "source_note": "Our team"}])
    response = carol.post(change, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    row = RecommendationTranslation.objects.get(recommendation=tr.rec2)
    assert (row.language, row.text, row.source_note, row.created_by) == ("ug", UG_TEXT, "Our team", tr.carol)
    # History, with who did it; and the admin log of the recommendation says what changed.
    version = row.history.get()
    assert (version.history_type, version.history_user) == ("+", tr.carol)
    from django.contrib.admin.models import LogEntry

    entry = LogEntry.objects.filter(object_id=str(tr.rec2.pk)).latest("action_time")
    assert "translation" in entry.get_change_message()


def test_a_second_translation_in_one_language_is_refused_in_the_admin(tr):
    carol = client_for(tr.carol)
    change = url("recommendation", "change", tr.rec2.pk)
    page = carol.get(change)
    data = inline_data(
        page, "translations", [{"language": "ug", "text": "a"}, {"language": "ug", "text": "b"}]
    )
    response = carol.post(change, data)
    assert response.status_code == 200
    assert not RecommendationTranslation.objects.filter(recommendation=tr.rec2).exists()


def test_curator_of_another_organisation_may_edit_translations_of_shared_reference_data(tr):
    # Recommendations and themes are reference data shared by every organisation (access.get_recommendation,
    # cases/admin/reference.py): their translations too.
    oscar = make_user("oscar", role="curator", organisation=tr.other_org)
    row = RecommendationTranslation.objects.get(recommendation=tr.rec)
    client = client_for(oscar)
    change = url("recommendation", "change", tr.rec.pk)
    page = client.get(change)
    data = inline_data(
        page,
        "translations",
        [
            {
                "id": str(row.pk),
                "recommendation": str(tr.rec.pk),
                "language": "zh-hans",
                "text": "更正后的译文",
            }
        ],
        initial=1,
    )
    assert client.post(change, data).status_code == 302
    row.refresh_from_db()
    assert row.text == "更正后的译文"
    assert row.history.latest().history_user == oscar


def test_curator_names_a_theme_in_chinese(tr):
    carol = client_for(tr.carol)
    theme = Theme.objects.create(name="Forced labour", slug="forced-labour")
    change = url("theme", "change", theme.pk)
    page = carol.get(change)
    data = inline_data(page, "translations", [{"language": "zh-hans", "name": "强迫劳动"}])
    assert carol.post(change, data).status_code == 302
    assert ThemeTranslation.objects.get(theme=theme).name == "强迫劳动"


def test_monitors_cannot_change_translations(tr):
    alice = client_for(tr.alice)
    change = url("recommendation", "change", tr.rec2.pk)
    response = alice.get(change)
    assert response.status_code in (302, 403)
    response = alice.post(
        change,
        {
            "translations-TOTAL_FORMS": "1",
            "translations-INITIAL_FORMS": "0",
            "translations-0-language": "ug",
            "translations-0-text": "x",
        },
    )
    assert response.status_code in (302, 403)
    assert not RecommendationTranslation.objects.filter(recommendation=tr.rec2).exists()


def test_the_inline_follows_the_recommendations_permissions(tr):
    from django.contrib import admin as django_admin

    from cases.translations.admin import RecommendationTranslationInline

    inline = RecommendationTranslationInline(Recommendation, django_admin.site)

    class Request:
        def __init__(self, user):
            self.user = user

    curator, monitor = Request(tr.carol), Request(tr.alice)
    assert inline.has_add_permission(curator) and inline.has_change_permission(curator)
    assert inline.has_delete_permission(curator)
    assert not inline.has_add_permission(monitor)
    assert not inline.has_change_permission(monitor)
    assert not inline.has_delete_permission(monitor)
    assert inline.has_view_permission(monitor)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite index and its triggers")
def test_sqlite_translation_index_and_triggers_exist(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cases_recommendationtranslation'"
        )
        triggers = {row[0] for row in cursor.fetchall()}
    # The search index's three (the public record version's own triggers, issue 13, are checked with it).
    assert {name for name in triggers if "_fts_" in name} == {
        "cases_rectranslation_fts_insert",
        "cases_rectranslation_fts_delete",
        "cases_rectranslation_fts_update",
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL index")
def test_postgresql_translation_search_uses_its_gin_index(tr):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        queryset = search.search_recommendations(Recommendation.objects.all(), "liberty")
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "cases_rec_search" in plan and "cases_rectranslation_search" in plan, plan
