"""Content in several languages: translations of a recommendation's text and of a theme's name.

A record keeps its original (`Recommendation.text`, `Theme.name`, in the tracker's source language,
`ORIGINAL_LANGUAGE`: the UN publishes these recommendations in English); a translation is a row of its own,
one per record and language. Pages show the reader's language when there is a translation and the original
otherwise, saying which (cases/templatetags/content_tags.py); search finds a recommendation by any of its
translations (cases/search.py); the API exports the original plus a `translations` object.

Plain related rows rather than a translation library: django-modeltranslation adds a column per language to
the original tables (a migration of the reference tables for each new language, and the original no longer
the one `text` column imports, search triggers and the history read), django-parler moves the translated
fields out of the model into its own table (the original among them) and adds a dependency. Here the
original stays untouched, and a translation carries what a curator needs to say about it (its source).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cases.models import Recommendation, Theme, TimeStamped

# The language of every original text: the UN documents (and UHRI's records) the tracker imports.
ORIGINAL_LANGUAGE = "en"


class ContentLanguage(models.TextChoices):
    """Languages a translation may be in: the interface's languages other than the original's. The codes
    are Django's language codes (URLs, `LANGUAGES`) and the keys of the API's `translations` object."""

    ZH_HANS = "zh-hans", _("Simplified Chinese")
    UG = "ug", _("Uyghur")


# BCP 47 tags for the HTML `lang` attribute (Django's codes are lowercase; BCP 47 capitalises scripts).
HTML_LANG = {"en": "en", "zh-hans": "zh-Hans", "ug": "ug"}
RTL_LANGUAGES = frozenset({"ug"})


def content_language(language: str | None = None) -> str | None:
    """The translation language for an interface language (`get_language()` by default): `zh-hans` or
    `ug`, or None where the original is what the reader reads (English, or a language with no
    translations)."""
    language = (language or get_language() or ORIGINAL_LANGUAGE).lower()
    return language if language in ContentLanguage.values else None


class RecommendationTranslation(TimeStamped):
    recommendation = models.ForeignKey(
        Recommendation,
        on_delete=models.CASCADE,
        related_name="translations",
        verbose_name=_("recommendation"),
    )
    language = models.CharField(_("language"), max_length=16, choices=ContentLanguage.choices)
    text = models.TextField(_("text"))
    source_note = models.CharField(
        _("source"),
        max_length=500,
        blank=True,
        help_text=_(
            "Where this translation comes from: an official UN text (its symbol) or who translated it."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["recommendation", "language"]
        verbose_name = _("recommendation translation")
        verbose_name_plural = _("recommendation translations")
        constraints = [
            # One translation per language; its unique index also serves the pages' and the API's lookups
            # (recommendation, language).
            models.UniqueConstraint(
                fields=["recommendation", "language"], name="cases_rectranslation_one_per_language"
            ),
            models.CheckConstraint(
                condition=Q(language__in=ContentLanguage.values), name="cases_rectranslation_language_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id and self.recommendation.code} ({self.language})"


class ThemeTranslation(TimeStamped):
    theme = models.ForeignKey(
        Theme, on_delete=models.CASCADE, related_name="translations", verbose_name=_("theme")
    )
    language = models.CharField(_("language"), max_length=16, choices=ContentLanguage.choices)
    name = models.CharField(_("name"), max_length=200)

    history = HistoricalRecords()

    class Meta:
        ordering = ["theme", "language"]
        verbose_name = _("theme translation")
        verbose_name_plural = _("theme translations")
        constraints = [
            models.UniqueConstraint(
                fields=["theme", "language"], name="cases_themetranslation_one_per_language"
            ),
            models.CheckConstraint(
                condition=Q(language__in=ContentLanguage.values), name="cases_themetranslation_language_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


# --- Reading translations in the same query as their record ---------------------------------------------
#
# Each is a correlated subquery on the unique (record, language) index, annotated on the query that reads
# the records: a page or an API response costs no query more with translations than without, whatever the
# number of rows.


def _translated(model, fk: str, field: str, language: str) -> Subquery:
    # No ORDER BY: (record, language) is unique, and the model's ordering (by the record's own ordering)
    # joined the record and its document for every row read (a third of the export's time).
    return Subquery(
        model.objects.filter(**{fk: OuterRef("pk"), "language": language}).order_by().values(field)[:1],
        output_field=models.TextField() if field == "text" else models.CharField(),
    )


def with_translated_text(queryset: QuerySet, language: str | None = None) -> QuerySet:
    """Recommendations with `translated_text`: their text in the reader's language (see
    `content_language`), or None where the original is to be shown."""
    language = content_language(language)
    if language is None:
        return queryset.annotate(translated_text=models.Value(None, output_field=models.TextField()))
    return queryset.annotate(
        translated_text=_translated(RecommendationTranslation, "recommendation", "text", language)
    )


def with_translated_name(queryset: QuerySet, language: str | None = None) -> QuerySet:
    """Themes with `translated_name` in the reader's language, or None (as `with_translated_text`)."""
    language = content_language(language)
    if language is None:
        return queryset.annotate(translated_name=models.Value(None, output_field=models.CharField()))
    return queryset.annotate(translated_name=_translated(ThemeTranslation, "theme", "name", language))


def translation_attr(language: str) -> str:
    """The annotation that holds one language's translation in the API's querysets: `translation_zh_hans`."""
    return "translation_" + language.replace("-", "_")


def with_all_translations(queryset: QuerySet) -> QuerySet:
    """Recommendations or themes with one `translation_<language>` annotation per content language (the
    API's `translations` object), each None where there is none."""
    if queryset.model is Recommendation:
        model, fk, field = RecommendationTranslation, "recommendation", "text"
    else:
        model, fk, field = ThemeTranslation, "theme", "name"
    return queryset.annotate(
        **{
            translation_attr(language): _translated(model, fk, field, language)
            for language in ContentLanguage.values
        }
    )


__all__ = ["ContentLanguage", "RecommendationTranslation", "ThemeTranslation"]
