"""Recommendations per document and current statuses, maintained (cases.models.StatusCount) instead of
aggregated on every load of the dashboard and the public scorecards.

The counts are kept by database triggers on cases_recommendation (migration 0013_status_counts), in the
statement that inserts, deletes or changes a recommendation's document, implementation status or State
response, so every writer is covered: recompute_current_status, imports, the admin, bulk loads, raw SQL.
Statuses are the stored current ones, derived from *published* assessments only, which every viewer may
see (recommendations are not confidential): the same counts are right for everybody.

`recount` rebuilds the table from the recommendations (a portable restore, which leaves the derived table
out, calls it); `mismatches` compares the table with a full recount (`manage.py check_status_counts`).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, Sum

from . import access
from .models import ImplementationStatus, Recommendation, StateResponse, StatusCount

Key = tuple[int, str, str]


def full_count(using: str = DEFAULT_DB_ALIAS) -> dict[Key, int]:
    """{(document id, implementation status, State response): recommendations}, aggregated afresh."""
    rows = (
        Recommendation.objects.using(using)
        .order_by()
        .values_list("document_id", "implementation_status", "state_response")
        .annotate(n=Count("pk"))
    )
    return {(document, status, response): n for document, status, response, n in rows}


def maintained(using: str = DEFAULT_DB_ALIAS) -> dict[Key, int]:
    """The same, as the triggers keep it."""
    rows = StatusCount.objects.using(using).values_list(
        "document_id", "implementation_status", "state_response", "count"
    )
    return {(document, status, response): n for document, status, response, n in rows}


def mismatches(using: str = DEFAULT_DB_ALIAS) -> dict[Key, tuple[int, int]]:
    """{key: (maintained, recounted)} wherever the two differ; empty when the table is right."""
    kept, counted = maintained(using), full_count(using)
    return {
        key: (kept.get(key, 0), counted.get(key, 0))
        for key in kept.keys() | counted.keys()
        if kept.get(key, 0) != counted.get(key, 0)
    }


def recount(using: str = DEFAULT_DB_ALIAS) -> None:
    """Replace the table's rows with a full recount, in one transaction."""
    with transaction.atomic(using=using):
        StatusCount.objects.using(using).all().delete()
        StatusCount.objects.using(using).bulk_create(
            StatusCount(document_id=document, implementation_status=status, state_response=response, count=n)
            for (document, status, response), n in full_count(using).items()
        )


def rows(choices: type, found: dict) -> list[dict]:
    """Every value of a status, in declared order, with its count (zero included): one chart's rows."""
    return [
        {"value": value, "label": label, "count": found.get(value, 0)} for value, label in choices.choices
    ]


def totals() -> tuple[list[dict], list[dict]]:
    """The whole index by implementation status and by State response (the dashboard's two charts), in one
    query over the maintained counts (at most 20 groups, whatever the number of recommendations)."""
    by_status: dict[str, int] = {}
    by_response: dict[str, int] = {}
    grouped = (
        access.visible_status_counts()
        .order_by()
        .values_list("implementation_status", "state_response")
        .annotate(n=Sum("count"))
    )
    for status, response, n in grouped:
        by_status[status] = by_status.get(status, 0) + n
        by_response[response] = by_response.get(response, 0) + n
    return rows(ImplementationStatus, by_status), rows(StateResponse, by_response)


def by_document(document_ids: list[int]) -> tuple[dict[int, dict], dict[int, dict]]:
    """({document id: {implementation status: n}}, {document id: {State response: n}}) for the given
    documents, in one query (the public scorecards)."""
    by_status: dict[int, dict] = {}
    by_response: dict[int, dict] = {}
    found = (
        access.visible_status_counts()
        .filter(document_id__in=document_ids)
        .values_list("document_id", "implementation_status", "state_response", "count")
    )
    for document, status, response, n in found:
        statuses = by_status.setdefault(document, {})
        statuses[status] = statuses.get(status, 0) + n
        responses = by_response.setdefault(document, {})
        responses[response] = responses.get(response, 0) + n
    return by_status, by_response
