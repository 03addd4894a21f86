"""Text search over recommendations, one interface for every database.

`search_recommendations(queryset, text)` keeps the rows that contain every term of `text` (terms are
separated by spaces; "double quotes" keep a phrase together), each term in the code, the paragraph, the text
or any of the text's translations (cases/translations: a Chinese or Uyghur term finds the recommendation
whose translation holds it). Each backend answers from an index, and falls back to `icontains` where its index cannot be trusted, so a search never finds less than
the old `icontains` filter did for the same term (PostgreSQL: for a term at the start of a word):

- SQLite: an FTS5 table with the trigram tokenizer (migration 0002), kept in step by triggers. Trigrams
  match substrings, so a term of three or more characters finds exactly what `icontains` finds (in any
  script: Latin, Chinese, Uyghur Arabic script), but from an index. Shorter terms have no trigram and use
  `icontains`, narrowed by the indexed terms when there are any. Translations have an FTS5 table of their
  own (migration 0010), searched alongside.
- PostgreSQL: a GIN index on `to_tsvector('simple', code || ' ' || paragraph || ' ' || text)`; a term
  must start a word (a prefix query: "detain" finds "detained", "XJ22-151" finds "XJ22-151-i") and occur
  as typed (ILIKE, checked on the index's candidates only). A term inside a word ("tained") is not
  found there, the one difference from `icontains`. Terms the word parser cannot split reliably — Chinese
  and Japanese, written without spaces, terms of one or two characters, terms with no letter or digit — use
  `icontains` alone. Translations have a GIN index of their own (migration 0010), searched alongside.
- Any other database: `icontains` for every term.

User input never reaches a query as syntax: FTS5 terms are quoted phrases and PostgreSQL terms are quoted
lexemes, both passed as parameters, so operators such as OR, NOT, -, *, ^, NEAR or parentheses are
searched for as text, never interpreted (and never raise a database error).
"""

from __future__ import annotations

import re

from django.db import connections
from django.db.models import F, Func, IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL

FTS_TABLE = "cases_recommendation_fts"
# The expression of the PostgreSQL index; the query repeats it verbatim so the planner can use the index.
PG_TEXT = "code || ' ' || paragraph || ' ' || text"
PG_DOCUMENT = f"to_tsvector('simple', {PG_TEXT})"
SEARCH_FIELDS = ("code", "paragraph", "text")
# Translations (cases.translations.models.RecommendationTranslation): their own FTS5 table and GIN index.
TRANSLATION_TABLE = "cases_recommendationtranslation"
TRANSLATION_FTS_TABLE = "cases_recommendationtranslation_fts"
PG_TRANSLATION_DOCUMENT = "to_tsvector('simple', text)"
# A trigram needs three characters; shorter terms cannot use the FTS5 index.
MIN_INDEXED_LENGTH = 3
# Bounded so a pasted page cannot become a query with hundreds of conditions; the form already caps the
# input at 200 characters.
MAX_TERMS = 16

_TERM = re.compile(r'"([^"]*)"?|(\S+)')


def parse_terms(text: str) -> list[str]:
    """The distinct terms of a query, in order: words separated by white space, "quoted phrases" as one
    term. Quotes themselves are not part of a term; NUL characters and surrounding space are dropped."""
    text = (text or "").replace("\x00", "")
    terms: list[str] = []
    for phrase, word in _TERM.findall(text):
        term = " ".join(phrase.split()) if phrase else word.strip('"')
        if term and term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _is_cjk(char: str) -> bool:
    # Han, kana, Hangul and their punctuation: scripts written without spaces between words, which the
    # PostgreSQL word parser would keep as one long "word".
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


def needs_substring_match(term: str) -> bool:
    """True where a word index cannot answer for this term and `icontains` must."""
    return (
        len(term) < MIN_INDEXED_LENGTH or not any(c.isalnum() for c in term) or any(_is_cjk(c) for c in term)
    )


def _icontains(term: str) -> Q:
    from cases.translations.models import RecommendationTranslation

    condition = Q()
    for field in SEARCH_FIELDS:
        condition |= Q(**{f"{field}__icontains": term})
    # A semi-join rather than a join through `translations`: a row with two matching translations stays
    # one row.
    translated = RecommendationTranslation.objects.filter(text__icontains=term).values("recommendation_id")
    return condition | Q(pk__in=translated)


def like_escape(term: str) -> str:
    """A term for LIKE/ILIKE with its wildcards (and the escape character itself) taken literally."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term as a quoted phrase (a double quote inside is doubled), ANDed."""
    return " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)


def tsquery(terms: list[str]) -> str:
    """A to_tsquery() expression: every term as a quoted prefix operand, ANDed. Quoting makes everything
    inside a lexeme, not an operator; PostgreSQL's parser then splits it as it split the documents."""
    operands = []
    for term in terms:
        quoted = term.replace("\\", "\\\\").replace("'", "''")
        operands.append(f"'{quoted}':*")
    return " & ".join(operands)


def search_recommendations(queryset: QuerySet, text: str, *, many: bool = False) -> QuerySet:
    """The recommendations of `queryset` that contain every term of `text` (see the module docstring).

    `many`: the caller knows the terms match many rows (cases.list_count: more than its bound) and wants the
    first of them in the list's order. SQLite cannot estimate how many rows an FTS5 match gives, and plans
    `id IN (<match>)` as a lookup of every match by id followed by a sort of them all: 270 ms at 300,000
    recommendations for "torture" (32,519 matches), for a page of 50. With `many`, the semi-join is
    written `+id IN (…)` (a unary plus keeps SQLite from using the primary key for it), so SQLite reads the
    rows in the ORDER BY's index and checks each against the match set, stopping at the page: 53 ms, the
    match set's own cost. For a rare term that plan would read the whole index (37 ms where the lookup
    takes 1 ms), hence the caller's choice. Other databases ignore it (PostgreSQL estimates the match)."""
    terms = parse_terms(text)
    if not terms:
        # Only quotes and spaces: search for them literally rather than ignore the query.
        literal = (text or "").replace("\x00", "").strip()
        return queryset.filter(_icontains(literal)) if literal else queryset
    vendor = connections[queryset.db].vendor
    table = queryset.model._meta.db_table
    if vendor == "sqlite":
        indexed = [t for t in terms if len(t) >= MIN_INDEXED_LENGTH]
        substring = [t for t in terms if len(t) < MIN_INDEXED_LENGTH]
        if indexed:
            # A semi-join on the FTS table's rowid (= the recommendation's id): one index lookup, whatever
            # the other filters and the ordering are.
            # Only constants are formatted into the SQL; the user's text is a parameter.
            # Translations: the terms may be spread over the original and its translations, so each term
            # is one semi-join on both tables (still one index lookup per term and table).
            sql = (
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s "  # noqa: S608
                f"UNION SELECT recommendation_id FROM {TRANSLATION_TABLE} WHERE id IN "
                f"(SELECT rowid FROM {TRANSLATION_FTS_TABLE} WHERE {TRANSLATION_FTS_TABLE} MATCH %s)"
            )
            key = "pk"
            if many:
                key = "_search_scan_key"
                queryset = queryset.alias(
                    _search_scan_key=Func(F("pk"), template="+%(expressions)s", output_field=IntegerField())
                )
            for term in indexed:
                match = fts5_query([term])
                queryset = queryset.filter(**{f"{key}__in": RawSQL(sql, [match, match])})  # noqa: S611
    elif vendor == "postgresql":
        indexed = [t for t in terms if not needs_substring_match(t)]
        substring = [t for t in terms if needs_substring_match(t)]
        if indexed:
            # The index finds the candidates (a word starting with each term); ILIKE then keeps the rows that
            # contain each term as typed, so "151(i)" does not also find "151(ii)". Both conditions sit in
            # the subquery, on the same rows: were ILIKE outside, the planner (which cannot estimate it)
            # could scan the table with it and compute to_tsvector row by row instead of using the index.
            # Each term may be in the original or in a translation: one semi-join per term over both.
            sql = (
                f"SELECT id FROM {table} "  # noqa: S608
                f"WHERE {PG_DOCUMENT} @@ to_tsquery('simple', %s) AND ({PG_TEXT}) ILIKE %s "
                f"UNION SELECT recommendation_id FROM {TRANSLATION_TABLE} "
                f"WHERE {PG_TRANSLATION_DOCUMENT} @@ to_tsquery('simple', %s) AND text ILIKE %s"
            )
            for term in indexed:
                params = [tsquery([term]), "%" + like_escape(term) + "%"]
                queryset = queryset.filter(pk__in=RawSQL(sql, params * 2))  # noqa: S611
    else:
        substring = terms
    for term in substring:
        queryset = queryset.filter(_icontains(term))
    return queryset
