"""Issue 14: the recommendation list renders its rows in one pass (cases/templatetags/list_tags.py) and
reads its document options as bare values (cases.filters.ValuesSelect). What users see must not change: the rows
are compared byte for byte with the template loop they replaced, the status card with its template, and the
options must follow every change to the documents."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.utils import translation

from cases import services
from cases.models import Basis, Document, ImplementationStatus, Recommendation, StateResponse, Theme
from cases.templatetags.tracker_ui import status_card_html
from cases.translations.models import RecommendationTranslation, ThemeTranslation
from tests.factories import make_document, make_recommendation, submit
from tests.test_web_read import get_within_budget

pytestmark = pytest.mark.django_db

# The row loop of templates/cases/recommendation_list.html before issue 14, verbatim.
TEMPLATE_LOOP = """{% load i18n tracker_ui content_tags %}
      {% for recommendation in rows %}
        <tr>
          <th scope="row" class="nowrap">
            <a href="{% url 'cases:recommendation' recommendation.code %}"><bdi dir="ltr">{{ recommendation.code }}</bdi></a>
            <span class="cell-meta"><bdi>{{ recommendation.document.short_name }}</bdi> ¶ <bdi dir="ltr">{{ recommendation.paragraph }}</bdi></span>
          </th>
          <td>
            {% shown_text recommendation as shown %}
            <span class="recommendation-text" lang="{{ shown.lang }}" dir="{{ shown.dir }}">{{ shown.text|truncatewords:30 }}</span>
            {% if shown.note %}<span class="cell-meta translation-note">{{ shown.note }}</span>{% endif %}
            {% with themes=recommendation.themes.all %}{% if themes %}
              <ul class="tag-list" aria-label="{% translate 'Themes' %}">{% for theme in themes %}{% shown_name theme as name %}<li class="tag" lang="{{ name.lang }}" dir="{{ name.dir }}">{{ name.text }}</li>{% endfor %}</ul>
            {% endif %}{% endwith %}
          </td>
          <td data-label="{% translate 'Addressee' %}">{{ recommendation.get_addressee_display }}</td>
          <td data-label="{% translate 'Status' %}">{% status_card recommendation %}</td>
        </tr>
      {% endfor %}"""
ONE_PASS = """{% load list_tags %}
      {% recommendation_rows rows %}"""


def document_select(html: str) -> str:
    return re.search(r'<select id="id_document" name="document">.*?</select>', html, re.S)[0]


def publish(recommendation, author, reviewer, evidence, **fields):
    return services.publish_assessment(submit(recommendation, author, evidence, **fields), reviewer=reviewer)


@pytest.fixture
def varied(personas):
    """Rows that exercise every branch: statuses and a State claim, no themes, several themes with and
    without translations, a translated text, long text (truncated), markup in every text field."""
    p = personas
    publish(p.rec, p.alice, p.carol, [p.public_ev], state_response=StateResponse.REJECTED)
    publish(
        p.rec,
        p.alice,
        p.carol,
        [p.public_ev],
        basis=Basis.STATE_CLAIM,
        implementation_status=ImplementationStatus.IMPLEMENTED,
    )
    evil = make_document("evil", short_name='<b>"Doc" & co</b>')
    long_text = " ".join(f"word{n}" for n in range(45)) + ' <script>alert("x")</script>'
    odd = make_recommendation(evil, "EV-1", '1(<i>a</i>) & "b"', long_text)
    second = Theme.objects.create(name="Torture & <ill-treatment>", slug="torture")
    odd.themes.add(p.theme, second)
    ThemeTranslation.objects.create(theme=second, language="ug", name="قىيناش")
    RecommendationTranslation.objects.create(recommendation=odd, language="zh-hans", text="中文 <译文>")
    return p


@pytest.mark.parametrize("language", ["en", "zh-hans", "ug"])
def test_rows_are_the_markup_of_the_template_loop(varied, language):
    with translation.override(language):
        rows = list(Recommendation.objects.order_by("document_id", "position", "code").for_list())
        assert len(rows) == 3
        expected = Template(TEMPLATE_LOOP).render(Context({"rows": rows}))
        got = Template(ONE_PASS).render(Context({"rows": rows}))
    assert got == expected
    # The long English text is cut after 30 words (in Chinese, its translation is shown instead).
    assert (
        ("中文 &lt;译文&gt;" in got) if language == "zh-hans" else ("word29 …" in got and "word30" not in got)
    )
    assert "<script>" not in got and "&lt;b&gt;&quot;Doc&quot; &amp; co&lt;/b&gt;" in got


@pytest.mark.parametrize("language", ["en", "ug"])
def test_status_card_function_is_the_card_template(varied, language):
    p = varied
    with translation.override(language):
        objects = [*Recommendation.objects.for_list(), *p.rec.assessments.all()]
        template = Template("{% load tracker_ui %}{% status_card obj %}")
        for obj in objects:
            assert status_card_html(obj) == template.render(Context({"obj": obj})), obj


def test_document_options_follow_changes_to_the_documents(client, personas):
    client.force_login(personas.alice)

    def body():
        return client.get("/recommendations/").content.decode()

    assert '<option value="xj22">OHCHR Xinjiang 2022</option>' in body()
    document = Document.objects.get(slug="xj22")
    document.short_name = "OHCHR Xinjiang report"
    document.save()
    page = body()
    assert '<option value="xj22">OHCHR Xinjiang report</option>' in page
    assert "OHCHR Xinjiang 2022" not in page
    other = make_document("cerd", short_name="CERD 2018")
    assert '<option value="cerd">CERD 2018</option>' in body()
    other.delete()
    assert 'value="cerd"' not in body()
    # The chosen document is still marked.
    chosen = client.get("/recommendations/", {"document": "xj22"}).content.decode()
    assert '<option value="xj22" selected>OHCHR Xinjiang report</option>' in chosen
    assert '<option value="" selected>' not in document_select(chosen)
    assert '<option value="" selected>' in document_select(body())


def test_document_options_are_in_the_reader_language_and_the_list_keeps_its_query_budget(
    client, personas, django_assert_num_queries
):
    client.force_login(personas.alice)
    english = client.get("/recommendations/").content.decode()
    uyghur = client.get("/ug/recommendations/").content.decode()
    any_en = re.search(r'<option value="" selected>([^<]*)<', document_select(english))[1]
    any_ug = re.search(r'<option value="" selected>([^<]*)<', document_select(uyghur))[1]
    assert any_en == "Any" and any_ug not in ("", "Any")
    # One query for the options, as before.
    get_within_budget(client, django_assert_num_queries, "/recommendations/", 8)
    get_within_budget(client, django_assert_num_queries, "/recommendations/", 8)
