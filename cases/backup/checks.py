"""What a recovery must preserve, measured: per-table row counts and content hashes, and the application's
own invariants (stored status = recomputed status, four eyes, no dangling references). Used by the backup
tests, and by operators after a restore (`manage.py shell -c "from cases.backup.checks import report; report()"`).
"""

from __future__ import annotations

import hashlib
import json

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F

from .portable import _rows, snapshot
from .tables import backed_up_models


def table_digests(using: str = DEFAULT_DB_ALIAS, *, include_sessions: bool = False) -> dict[str, list]:
    """{table: [rows, sha256 of its rows in primary-key order]}, the same on SQLite and PostgreSQL for the
    same data (values are normalised as the portable format writes them)."""
    result = {}
    with snapshot(using):
        for model in backed_up_models(include_sessions=include_sessions):
            digest = hashlib.sha256()
            n = 0
            for row in _rows(model, using, list(model._meta.concrete_fields)):
                digest.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                n += 1
            result[model._meta.db_table] = [n, digest.hexdigest()]
    return result


def dangling_references(using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """{table.column: rows whose foreign key points at no row} for every foreign key of every table."""
    connection = connections[using]
    quote = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for model in backed_up_models(include_sessions=True):
            for field in model._meta.concrete_fields:
                if not field.is_relation or field.related_model is None:
                    continue
                target = field.target_field
                child, parent = quote(model._meta.db_table), quote(field.related_model._meta.db_table)
                cursor.execute(
                    f"SELECT COUNT(*) FROM {child} c LEFT JOIN {parent} p ON c.{quote(field.column)} = "  # noqa: S608
                    f"p.{quote(target.column)} WHERE c.{quote(field.column)} IS NOT NULL AND "
                    f"p.{quote(target.column)} IS NULL"
                )
                count = cursor.fetchone()[0]
                if count:
                    found[f"{model._meta.db_table}.{field.column}"] = count
    return found


def status_mismatches(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Codes of recommendations whose stored current status differs from the one their published
    assessments give (services.recompute_current_status, run in a transaction that is rolled back)."""
    from cases.models import Recommendation
    from cases.services import recompute_current_status

    facts = ("implementation_status", "state_response", "state_claim_id")
    wrong = []
    with transaction.atomic(using=using):
        for recommendation in Recommendation.objects.using(using).order_by("pk").iterator(chunk_size=500):
            stored = tuple(getattr(recommendation, f) for f in facts)
            recompute_current_status(recommendation, now=recommendation.status_updated_at)
            if tuple(getattr(recommendation, f) for f in facts) != stored:
                wrong.append(recommendation.code)
        transaction.set_rollback(True, using=using)
    return wrong


def four_eyes_violations(using: str = DEFAULT_DB_ALIAS) -> int:
    from cases.models import Assessment

    published = Assessment.objects.using(using).published()
    return (
        published.filter(reviewer_id=F("author_id")).count() + published.filter(reviewer__isnull=True).count()
    )


def invariants(using: str = DEFAULT_DB_ALIAS) -> dict:
    """Everything that must hold after a restore; all empty/zero when it does."""
    return {
        "status_mismatches": status_mismatches(using),
        "four_eyes_violations": four_eyes_violations(using),
        "dangling_references": dangling_references(using),
    }


def report(using: str = DEFAULT_DB_ALIAS) -> dict:
    """Digests and invariants as one JSON-ready dict (printed by the recovery tests' subprocesses)."""
    return {"tables": table_digests(using), "invariants": invariants(using)}
