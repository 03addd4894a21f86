"""`{% language_alternates as alternates %}`: the current page in each language, for the switcher and the
`<link rel="alternate" hreflang>` links of base.html."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils import translation

from tracker.accounts.language import translate

register = template.Library()


@register.simple_tag(takes_context=True)
def language_alternates(context) -> list[dict]:
    """One entry per language: code, its own name, direction, this page's address in it (the same address
    for every language on a page that is not language-prefixed: the admin, an error page), current."""
    request = context.get("request")
    path = request.get_full_path() if request is not None else ""
    current = translation.get_language()
    alternates = []
    for code, _name in settings.LANGUAGES:
        info = translation.get_language_info(code)
        alternates.append(
            {
                "code": code,
                "name_local": info["name_local"],
                "bidi": info["bidi"],
                "url": translate(path, code) if path else "",
                "current": code == current,
            }
        )
    return alternates


@register.filter
def distinct_urls(alternates: list[dict]) -> bool:
    """True when the page has an address per language (worth hreflang links)."""
    return len({entry["url"] for entry in alternates}) > 1
