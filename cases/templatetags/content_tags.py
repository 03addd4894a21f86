"""A recommendation's text and a theme's name in the reader's language (cases/translations).

`{% shown_text recommendation as shown %}` gives what to print and how to mark it up: the translation in the
interface's language when there is one, else the original; `shown.lang`/`shown.dir` for the element's `lang`
and `dir` attributes, and `shown.note` saying which it is ("Translated from English", "Original text (no
Uyghur translation yet)"; empty in English, where the original is what the reader asked for).

The translation is read from the `translated_text`/`translated_name` annotation the view's queryset made
(cases.translations.models.with_translated_text/_name): never a query here, so a list costs the same with
translations as without. A record read without the annotation shows its original.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.utils.translation import gettext as _

from cases.translations.models import (
    HTML_LANG,
    ORIGINAL_LANGUAGE,
    RTL_LANGUAGES,
    ContentLanguage,
    content_language,
)

register = template.Library()


@dataclass(frozen=True)
class Shown:
    text: str
    language: str
    translated: bool
    note: str

    @property
    def lang(self) -> str:
        return HTML_LANG.get(self.language, self.language)

    @property
    def dir(self) -> str:
        return "rtl" if self.language in RTL_LANGUAGES else "ltr"

    def __str__(self) -> str:
        return self.text


def _shown(original: str, translation: str | None, with_note: bool) -> Shown:
    language = content_language()
    if language and translation:
        note = _("Translated from English") if with_note else ""
        return Shown(translation, language, True, note)
    note = ""
    if language and with_note:
        note = _("Original text (no %(language)s translation yet)") % {
            "language": ContentLanguage(language).label
        }
    return Shown(original, ORIGINAL_LANGUAGE, False, note)


@register.simple_tag
def shown_text(recommendation) -> Shown:
    """The recommendation's text to show, with its language and a note saying which it is."""
    return _shown(recommendation.text, getattr(recommendation, "translated_text", None), with_note=True)


@register.simple_tag
def shown_name(theme) -> Shown:
    """The theme's name to show, with its language (no note: a name is short, its `lang` says enough)."""
    return _shown(theme.name, getattr(theme, "translated_name", None), with_note=False)
