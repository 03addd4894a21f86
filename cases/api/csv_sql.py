"""The recommendation export's cells as SQL, for a database that writes the CSV itself (issue 14).

csv_rows.py reads tuples and writes each line in Python, a few microseconds a row. Where the database can
write the lines, each cell is an SQL expression with the serializer's rule (csv_rows.py's, the bytes that
tests/test_export_fast.py compares with the serializer) over the very `values_list()` queryset csv_rows.py
reads: `SELECT <cells> FROM (<the rows' SQL>) s`, so filters, search and ordering are the list's. The rules
are written once here (`cells`); how each is spelt in one database's SQL is its dialect's: PostgreSQL's
(COPY quotes the fields, csv_copy.py) and SQLite's (the whole line quoted in SQL, csv_lines.py).
"""

from __future__ import annotations

from django.db.models import QuerySet

from cases import access
from cases.models import Assessment, Recommendation, Theme
from cases.translations.models import ContentLanguage

from .renderers import FORMULA_TRIGGERS
from .serializers import SLOT

# Positions in RECOMMENDATION_VALUES (csv_rows.py), then the two datetimes.
(
    PK,
    CODE,
    DOCUMENT,
    PARAGRAPH,
    TEXT,
    ADDRESSEE,
    STATUS,
    RESPONSE,
    CLAIM_ID,
    CLAIM_STATE,
    CLAIM_STATUS,
    CLAIM_RESPONSE,
    CLAIM_ON,
) = range(13)
TRANSLATIONS = range(13, 13 + len(ContentLanguage.values))
STATUS_UPDATED_AT = 13 + len(ContentLanguage.values)
UPDATED_AT = STATUS_UPDATED_AT + 1
WIDTH = UPDATED_AT + 1

# What csv.writer (QUOTE_MINIMAL) quotes a field for; PostgreSQL's COPY (FORMAT csv) quotes for the same.
SPECIAL = ',"\r\n'


def plain(value: str) -> bool:
    """A value written as it is: not empty (NULL's field), no formula to defuse, nothing to quote."""
    return bool(value) and value[:1] not in FORMULA_TRIGGERS and not set(SPECIAL) & set(value)


def choice(dialect, expression: str, model, name: str) -> str:
    """A column whose values are its field's choices (a NOT NULL column with a CHECK constraint, `_in` in
    models.py): when every choice is plain, the value is its own cell, with no rule to run per row."""
    choices = model._meta.get_field(name).choices
    return expression if all(plain(value) for value, _label in choices) else dialect.text(expression)


def theme_slugs(connection, recommendation_id: str) -> tuple[str, str]:
    """(the slug column, `FROM … WHERE …` of one recommendation's themes), names from the models."""
    through = Recommendation.themes.through._meta
    name = connection.ops.quote_name
    theme = Theme._meta
    return (
        f"t.{name(theme.get_field('slug').column)}",
        f"FROM {name(through.db_table)} rt JOIN {name(theme.db_table)} t "
        f"ON t.{name(theme.pk.column)} = rt.{name(through.get_field('theme').column)} "
        f"WHERE rt.{name(through.get_field('recommendation').column)} = {recommendation_id}",
    )


def cells(dialect, recommendation_url: str, claim_url: str, connection) -> list[str]:
    """The export's columns (csv_rows.RECOMMENDATION_COLUMNS) as expressions over `s.c0 … s.c<WIDTH-1>`."""
    c = [f"s.c{i}" for i in range(WIDTH)]
    states = ", ".join(dialect.literal(str(state)) for state in access.EXPORTED_STATE_CLAIM_STATES)
    claimed = f"{c[CLAIM_ID]} IS NOT NULL AND {c[CLAIM_STATE]} IN ({states})"
    text, short, when = dialect.text, dialect.short_text, dialect.when
    return [
        short(c[CODE]),
        short(c[DOCUMENT]),
        short(c[PARAGRAPH]),
        text(c[TEXT]),
        choice(dialect, c[ADDRESSEE], Recommendation, "addressee"),
        dialect.themes(*theme_slugs(connection, c[PK])),
        choice(dialect, c[STATUS], Recommendation, "implementation_status"),
        choice(dialect, c[RESPONSE], Recommendation, "state_response"),
        when(claimed, c[CLAIM_ID]),
        when(claimed, choice(dialect, c[CLAIM_STATUS], Assessment, "implementation_status")),
        when(claimed, choice(dialect, c[CLAIM_RESPONSE], Assessment, "state_response")),
        when(claimed, dialect.date(c[CLAIM_ON])),
        when(claimed, link(dialect, claim_url, dialect.number_text(c[CLAIM_ID]))),
        dialect.timestamp(c[STATUS_UPDATED_AT]),
        dialect.timestamp(c[UPDATED_AT]),
        dialect.recommendation_link(recommendation_url, c[CODE]),
        *(text(c[i]) for i in TRANSLATIONS),
    ]


def link(dialect, template: str, value: str) -> str:
    """A link filled in from a template reversed once (serializers.link_template), a text cell; only the
    template's prefix can make it start with a formula trigger, and it is our own, so the guard is spelt
    out only when the prefix asks for it (or the dialect must look at the whole cell anyway)."""
    prefix, _slot, suffix = template.partition(SLOT)
    filled = f"{dialect.literal(prefix)} || {value} || {dialect.literal(suffix)}"
    return filled if dialect.plain_link(prefix, suffix) else dialect.text(filled)


def select(dialect, rows: QuerySet, recommendation_url: str, claim_url: str, connection) -> tuple[str, tuple]:
    """`SELECT <the dialect's line> FROM (<the rows' SQL>) s`, with the rows' parameters."""
    inner, params = rows.query.sql_with_params()
    line = dialect.line(cells(dialect, recommendation_url, claim_url, connection))
    return dialect.select(line, inner), tuple(params)
