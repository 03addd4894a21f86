"""Recommendations per document and current statuses, maintained (cases.models.StatusCount) instead of
aggregated on every load of the dashboard and the public scorecards.

The counts are kept by database triggers on cases_recommendation (migration 0013_status_counts), in the
statement that inserts, deletes or changes a recommendation's document, implementation status or State
response, so every writer is covered: recompute_current_status, imports, the admin, bulk loads, raw SQL.
Their sums over the documents (cases.models.StatusTotal, at most 20 rows: what the dashboard reads) are kept
the same way, by triggers of their own (migration 0019_dashboard_totals).
Statuses are the stored current ones, derived from *published* assessments only, which every viewer may
see (recommendations are not confidential): the same counts are right for everybody.

`recount` rebuilds both tables from the recommendations (a portable restore, which leaves the derived tables
out, calls it); `mismatches` compares both with a full recount (`manage.py check_status_counts`).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count

from . import access
from .models import ImplementationStatus, Recommendation, StateResponse, StatusCount, StatusTotal

# (document id, implementation status, State response); document None: the whole index (StatusTotal).
Key = tuple[int | None, str, str]


def full_count(using: str = DEFAULT_DB_ALIAS) -> dict[Key, int]:
    """{(document id, implementation status, State response): recommendations}, aggregated afresh."""
    rows = (
        Recommendation.objects.using(using)
        .order_by()
        .values_list("document_id", "implementation_status", "state_response")
        .annotate(n=Count("pk"))
    )
    return {(document, status, response): n for document, status, response, n in rows}


def with_totals(counts: dict[Key, int]) -> dict[Key, int]:
    """The per-document counts plus their sums over the documents, keyed (None, status, response)."""
    totals: dict[Key, int] = {}
    for (_document, status, response), n in counts.items():
        totals[(None, status, response)] = totals.get((None, status, response), 0) + n
    return {**counts, **totals}


def maintained(using: str = DEFAULT_DB_ALIAS) -> dict[Key, int]:
    """The same, as the triggers keep it."""
    rows = StatusCount.objects.using(using).values_list(
        "document_id", "implementation_status", "state_response", "count"
    )
    return {(document, status, response): n for document, status, response, n in rows}


def maintained_totals(using: str = DEFAULT_DB_ALIAS) -> dict[Key, int]:
    """The whole index's counts as their triggers keep them, keyed (None, status, response)."""
    rows = StatusTotal.objects.using(using).values_list("implementation_status", "state_response", "count")
    return {(None, status, response): n for status, response, n in rows}


def mismatches(using: str = DEFAULT_DB_ALIAS) -> dict[Key, tuple[int, int]]:
    """{key: (maintained, recounted)} wherever the two differ, per document and for the whole index
    (document None); empty when both tables are right."""
    kept = {**maintained(using), **maintained_totals(using)}
    counted = with_totals(full_count(using))
    return {
        key: (kept.get(key, 0), counted.get(key, 0))
        for key in kept.keys() | counted.keys()
        if kept.get(key, 0) != counted.get(key, 0)
    }


def recount(using: str = DEFAULT_DB_ALIAS) -> None:
    """Replace both tables' rows with a full recount, in one transaction."""
    with transaction.atomic(using=using):
        counted = full_count(using)
        StatusCount.objects.using(using).all().delete()
        StatusCount.objects.using(using).bulk_create(
            StatusCount(document_id=document, implementation_status=status, state_response=response, count=n)
            for (document, status, response), n in counted.items()
        )
        StatusTotal.objects.using(using).all().delete()
        StatusTotal.objects.using(using).bulk_create(
            StatusTotal(implementation_status=status, state_response=response, count=n)
            for (document, status, response), n in with_totals(counted).items()
            if document is None
        )


def rows(choices: type, found: dict) -> list[dict]:
    """Every value of a status, in declared order, with its count (zero included): one chart's rows."""
    return [
        {"value": value, "label": label, "count": found.get(value, 0)} for value, label in choices.choices
    ]


def totals() -> tuple[list[dict], list[dict]]:
    """The whole index by implementation status and by State response (the dashboard's two charts), in one
    query over the maintained totals: at most 20 rows, whatever the number of recommendations or documents."""
    by_status: dict[str, int] = {}
    by_response: dict[str, int] = {}
    grouped = access.visible_status_totals().values_list("implementation_status", "state_response", "count")
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
