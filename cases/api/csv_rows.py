"""The recommendation export's rows read straight from the database, for speed.

The streamed export of every recommendation (`/api/v1/export/recommendations.csv`) is the one response that
reads the whole table. Serialising each row through DRF (a model instance, a prefetch cache, a nested
serializer per state claim and per translations object, a dict, then a CSV line from the dict) was nearly all
of its time. Here the same rows come as tuples from `values_list()` on the very queryset the list uses (its
filters, search and ordering), the themes of each chunk come in one query, and `csv.writer` writes a chunk
at a time. The cells are the serializer's to the byte — same header, values, escaping
(`renderers.escape_cell`'s rule), links — which tests/test_export_fast.py checks against the serializer on
nasty data, for every kind of viewer.

What may be exported is decided where it always is: recommendations are not confidential, and the state
claim's columns are filled only when `access.exports_state_claim` says so (a published claim).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from urllib.parse import quote

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import RFC3986_SUBDELIMS

from cases import access
from cases.models import Recommendation, Theme
from cases.translations.models import ContentLanguage, translation_attr

from . import csv_copy, csv_lines
from .renderers import FORMULA_TRIGGERS, LIST_SEPARATOR
from .serializers import SLOT, link_template

TRIGGERS = frozenset(FORMULA_TRIGGERS)
# Codes that reverse() leaves as they are (quote()'s always-safe characters): most of them, quoted for none.
PLAIN_CODE = re.compile(r"[A-Za-z0-9_.~-]*\Z")
# What reverse() leaves unquoted in a path argument (serializers.ApiLink quotes the same way).
PATH_SAFE = RFC3986_SUBDELIMS + "/~:@"

# The recommendation export's columns (the serializer's, `csv_columns`), checked against it at each export.
RECOMMENDATION_COLUMNS = [
    "code",
    "document",
    "paragraph",
    "text",
    "addressee",
    "themes",
    "implementation_status",
    "state_response",
    "state_claim.id",
    "state_claim.implementation_status",
    "state_claim.state_response",
    "state_claim.assessed_on",
    "state_claim.url",
    "status_updated_at",
    "updated_at",
    "url",
    *(f"translations.{language}" for language in ContentLanguage.values),
]
# What is read for them, in this order (positions below).
RECOMMENDATION_VALUES = (
    "id",
    "code",
    "document__slug",
    "paragraph",
    "text",
    "addressee",
    "implementation_status",
    "state_response",
    "state_claim_id",
    "state_claim__review_state",
    "state_claim__implementation_status",
    "state_claim__state_response",
    "state_claim__assessed_on",
    *(translation_attr(language) for language in ContentLanguage.values),
    # then status_updated_at and updated_at (datetime_column)
)


def text_cell(value: str | None) -> str:
    """`renderers.escape_cell` for a text value (a str or None), without its type tests."""
    if value is None:
        return ""
    return "'" + value if value[:1] in TRIGGERS else value


# How Django stores an aware datetime in SQLite: its UTC wall time, `str(datetime)` (adapt_datetimefield_value).
SQLITE_UTC = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?\Z")


def _is_utc(zone) -> bool:
    return zone is datetime.UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


class DatetimeCells:
    """DRF's ISO 8601 DateTimeField as a cell: the instant in the current time zone, `Z` for UTC.

    SQLite hands over the stored text (`datetime_column`), which in the usual case (UTC, as Django writes
    it) is the cell with a `T` and a `Z`, without a datetime parsed and formatted per cell; anything else
    goes the way Django's SQLite converter and DRF go. PostgreSQL hands over aware datetimes."""

    def __init__(self, connection):
        self.zone = timezone.get_current_timezone()
        self.stored_zone = connection.timezone
        self.utc = _is_utc(self.zone) and _is_utc(self.stored_zone)

    def __call__(self, value: str | datetime.datetime | None) -> str:
        if value is None:
            return ""
        if value.__class__ is str:
            if self.utc and SQLITE_UTC.match(value) and not value.endswith(".000000"):
                return value[:10] + "T" + value[11:] + "Z"
            value = parse_datetime(value)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, self.stored_zone)
        text = value.astimezone(self.zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


def datetime_column(name: str, connection) -> Cast | F:
    """A datetime column as DatetimeCells reads it: on SQLite its stored text (a cast, so that neither the
    driver nor Django parses it), elsewhere the column."""
    return Cast(name, TextField()) if connection.vendor == "sqlite" else F(name)


def recommendation_link(template: str, code: str) -> str:
    """A recommendation's link as serializers.ApiLink writes it (reverse() quotes the code), not guarded."""
    return template.replace(SLOT, code if PLAIN_CODE.match(code) else quote(code, safe=PATH_SAFE))


def sqlite_functions(sender, connection, **kwargs) -> None:
    """The rules of the rare cells that SQLite's export leaves to Python (csv_lines.py), on each SQLite
    connection: a code reverse() quotes, a datetime not stored as Django stores one in UTC."""
    if connection.vendor != "sqlite":
        return

    def export_datetime(value: str) -> str:
        return DatetimeCells(connection)(value)  # the current time zone, as for a row written here

    connection.connection.create_function("export_link", 2, recommendation_link, deterministic=True)
    connection.connection.create_function("export_datetime", 1, export_datetime)


connection_created.connect(sqlite_functions, dispatch_uid="cases.api.csv_rows.sqlite_functions")


def date_cell(value: datetime.date | None) -> str:
    return "" if value is None else value.isoformat()


class RecommendationRows:
    """CSV chunks of the recommendation export: `stream(queryset)` yields bytes, the header first."""

    columns = RECOMMENDATION_COLUMNS
    # The database writes the CSV (csv_copy.py on PostgreSQL, csv_lines.py on SQLite) when the datetimes
    # are UTC's; False: the rows are always written here.
    database_writes = True

    def __init__(self, request, chunk_size: int = 500):
        self.chunk_size = chunk_size
        self.recommendation_url = link_template(request, "api:recommendation-detail", "code")
        self.claim_url = link_template(request, "api:assessment-detail", "pk")

    def stream(self, queryset: QuerySet) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        yield self._take(buffer).encode()  # the header, before the query runs (an empty set has it too)
        # The list's queryset without what only instances need (related objects, prefetches, deferred
        # columns); its filters, annotations (translations, search) and ordering stay.
        connection = connections[queryset.db]
        rows = (
            queryset.select_related(None)
            .prefetch_related(None)
            .values_list(
                *RECOMMENDATION_VALUES,
                datetime_column("status_updated_at", connection),
                datetime_column("updated_at", connection),
            )
        )
        datetime_cell = DatetimeCells(connection)
        if self.database_writes and datetime_cell.utc and connection.vendor in ("postgresql", "sqlite"):
            try:
                rows.query.sql_with_params()
            except EmptyResultSet:
                return  # a filter no row can pass (`pk__in=[]`): Django runs no query, nor do we
        if self.database_writes and datetime_cell.utc and connection.vendor == "postgresql":
            # PostgreSQL writes the CSV itself (csv_copy.py), several times faster.
            statement = csv_copy.copy_statement(rows, self.recommendation_url, self.claim_url, connection)
            yield from csv_copy.copy_chunks(connection, statement, self.chunk_size)
            return
        if self.database_writes and datetime_cell.utc and connection.vendor == "sqlite":
            # SQLite writes each line (csv_lines.py), several times faster.
            urls = self.recommendation_url, self.claim_url
            yield from csv_lines.line_chunks(connection, rows, *urls, self.chunk_size)
            return
        themes_sql = self.themes_sql(connection)
        iterator = rows.iterator(chunk_size=self.chunk_size)
        while chunk := list(islice(iterator, self.chunk_size)):
            themes = self.themes(connection, themes_sql, [row[0] for row in chunk])
            writer.writerows(self.lines(chunk, themes, datetime_cell))
            yield self._take(buffer).encode()

    @staticmethod
    def _take(buffer: io.StringIO) -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    @staticmethod
    def themes_sql(connection) -> str:
        """Theme slugs of some recommendations, in slug order per recommendation (the serializer's prefetch
        order, the database's collation). SQL rather than the ORM: the ORM prepares each of a chunk's ids
        one by one, which took a fifth of the export's time. Names from the models' metadata."""
        through = Recommendation.themes.through._meta
        name = connection.ops.quote_name
        recommendation = name(through.get_field("recommendation").column)
        theme = Theme._meta
        return (
            f"SELECT rt.{recommendation}, t.{name(theme.get_field('slug').column)} "  # noqa: S608
            f"FROM {name(through.db_table)} rt JOIN {name(theme.db_table)} t "
            f"ON t.{name(theme.pk.column)} = rt.{name(through.get_field('theme').column)} "
            f"WHERE rt.{recommendation} IN ({{}}) ORDER BY 1, 2"
        )

    @staticmethod
    def themes(connection, sql: str, ids: list[int]) -> dict[int, list[str]]:
        slugs: dict[int, list[str]] = {}
        with connection.cursor() as cursor:
            cursor.execute(sql.format(", ".join(["%s"] * len(ids))), ids)
            for recommendation_id, slug in cursor.fetchall():
                if recommendation_id in slugs:
                    slugs[recommendation_id].append(slug)
                else:
                    slugs[recommendation_id] = [slug]
        return slugs

    def lines(self, chunk: Iterable[tuple], themes: dict[int, list[str]], datetime_cell) -> Iterator[list]:
        recommendation_url, claim_url = self.recommendation_url, self.claim_url
        exports_claim = access.exports_state_claim
        cell, join, link = text_cell, LIST_SEPARATOR.join, recommendation_link
        no_claim = ["", "", "", "", ""]
        for (
            pk,
            code,
            document,
            paragraph,
            text,
            addressee,
            status,
            response,
            claim_id,
            claim_state,
            claim_status,
            claim_response,
            claim_on,
            *translations,
            status_updated_at,
            updated_at,
        ) in chunk:
            slugs = themes.get(pk)
            if claim_id is not None and exports_claim(claim_state):
                claim = [
                    claim_id,
                    cell(claim_status),
                    cell(claim_response),
                    date_cell(claim_on),
                    cell(claim_url.replace(SLOT, str(claim_id))),
                ]
            else:
                claim = no_claim
            url = cell(link(recommendation_url, code)) if code else ""
            yield [
                cell(code),
                cell(document),
                cell(paragraph),
                cell(text),
                cell(addressee),
                cell(join(slugs)) if slugs else "",
                cell(status),
                cell(response),
                *claim,
                datetime_cell(status_updated_at),
                datetime_cell(updated_at),
                url,
                *map(cell, translations),
            ]
