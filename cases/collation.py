"""Sorting names and titles by the rules of the reader's language and script (issue 11, item 5).

`ByLanguage("name")` is an ORDER BY expression. On PostgreSQL it compiles to `"name" COLLATE "<icu collation>"`,
the ICU collation of the language active when the query runs (not when the queryset was built, so a FilterSet's
class-level queryset sorts in each request's language): Chinese by pinyin (`zh-x-icu`), Uyghur by the Uyghur
alphabet (`ug-x-icu`), English and anything else by the root collation (`und-x-icu`: Latin letters with accents
next to their base letter, case-insensitive at the first level). ICU collations ship with PostgreSQL built with ICU
(Debian's and the official images are); `collation_for()` falls back to "und-x-icu" for a language without one.

On SQLite there is no ICU: the expression compiles to the bare column, i.e. SQLite's default BINARY collation —
code-point order (capitals before small letters, accented letters after "z", Arabic script after Latin, Han
characters by code point, not by pinyin). That is the documented fallback; it costs no query and no extension.
"""

from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Collate
from django.utils.translation import get_language

# Language code (settings.LANGUAGES) -> PostgreSQL ICU collation.
ICU_COLLATIONS = {"en": "und-x-icu", "zh-hans": "zh-x-icu", "ug": "ug-x-icu"}
DEFAULT_COLLATION = "und-x-icu"


def collation_for(language: str | None) -> str:
    return ICU_COLLATIONS.get((language or "").lower(), DEFAULT_COLLATION)


class ByLanguage(Collate):
    """A text column in the active language's order: `qs.order_by(ByLanguage("name"), "pk")`; `.desc()` works."""

    def __init__(self, expression, language: str | None = None):
        # `language` fixes the collation (tests, exports); None means the language active when the SQL is built.
        self.language = language
        super().__init__(F(expression) if isinstance(expression, str) else expression, DEFAULT_COLLATION)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            return compiler.compile(self.get_source_expressions()[0])
        collation = collation_for(self.language or get_language())
        extra_context["collation"] = connection.ops.quote_name(collation)
        return super().as_sql(compiler, connection, **extra_context)
