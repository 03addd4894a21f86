"""`{% recommendation_rows page.object_list %}`: the recommendation list's table rows in one pass.

The rows were a template loop with an inclusion tag (the status card), two simple tags, a `{% url %}` and
three `{% translate %}` per row: rendering them cost more than everything else on the page (README, *Scale
and speed*). This renders the same markup, byte for byte (tests/test_web_read.py compares it with the
template it replaced), from strings prepared once per page: the translated labels, the choices' labels,
and the recommendation URL as a template that each row's code is put into instead of a `reverse()` per row.
"""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape as escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from cases.models import Addressee

from .content_tags import shown_name, shown_text
from .tracker_ui import StatusLabels, status_card_html

register = template.Library()

# What django.urls.reverse leaves unquoted in a path argument (RFC3986_SUBDELIMS + "/~:@").
_URL_SAFE = "!$&'()*+,;=/~:@"
_CODE = "__code__"


@register.simple_tag
def recommendation_rows(recommendations) -> SafeString:
    """The list's <tr> rows (with the whitespace the template loop had). Each row needs the list's
    queryset (`RecommendationQuerySet.for_list`): document, themes and claim status come with it."""
    url_before, url_after = reverse("cases:recommendation", args=[_CODE]).split(_CODE)
    url_before, url_after = escape(url_before), escape(url_after)
    themes_label = escape(_("Themes"))
    addressee_label = escape(_("Addressee"))
    status_label = escape(_("Status"))
    addressees = {value: escape(str(label)) for value, label in Addressee.choices}
    labels = StatusLabels.current()
    parts = []
    for recommendation in recommendations:
        code = escape(recommendation.code)
        shown = shown_text(recommendation)
        note = f'<span class="cell-meta translation-note">{escape(shown.note)}</span>' if shown.note else ""
        themes = recommendation.themes.all()
        tags = ""
        if themes:
            names = (shown_name(theme) for theme in themes)
            items = "".join(
                f'<li class="tag" lang="{escape(name.lang)}" dir="{escape(name.dir)}">{escape(name.text)}</li>'
                for name in names
            )
            tags = (
                f'\n              <ul class="tag-list" aria-label="{themes_label}">{items}</ul>\n            '
            )
        addressee = recommendation.addressee
        parts.append(
            "\n        <tr>"
            '\n          <th scope="row" class="nowrap">'
            f'\n            <a href="{url_before}{escape(quote(recommendation.code, safe=_URL_SAFE))}{url_after}">'
            f'<bdi dir="ltr">{code}</bdi></a>'
            f'\n            <span class="cell-meta"><bdi>{escape(recommendation.document.short_name)}</bdi> ¶ '
            f'<bdi dir="ltr">{escape(recommendation.paragraph)}</bdi></span>'
            "\n          </th>"
            "\n          <td>"
            "\n            "
            f'\n            <span class="recommendation-text" lang="{escape(shown.lang)}" dir="{escape(shown.dir)}">'
            f"{escape(Truncator(shown.text).words(30, truncate=' …'))}</span>"
            f"\n            {note}"
            f"\n            {tags}"
            "\n          </td>"
            f'\n          <td data-label="{addressee_label}">{addressees.get(addressee, escape(addressee))}</td>'
            f'\n          <td data-label="{status_label}">{status_card_html(recommendation, labels)}</td>'
            "\n        </tr>"
            "\n      "
        )
    return mark_safe("".join(parts))  # noqa: S308 -- every value above went through escape()
