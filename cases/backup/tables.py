"""Which tables a backup holds, in what order, and how to tell whether a database is empty."""

from __future__ import annotations

from django.apps import apps
from django.db import connections

# Secrets that sign someone in or prove a one-time action, and throttling/lockout state: not worth keeping,
# dangerous to keep (a session key set as the `sessionid` cookie signs in as its user, second factor
# passed). Left out of every backup unless `--include-sessions`; emptied in the target by every restore.
TRANSIENT_TABLES = (
    "django_session",
    "usersessions_usersession",  # the session list behind "sign out everywhere" (session keys)
    "account_emailconfirmation",  # allauth's one-time e-mail confirmation keys
    "axes_accessattempt",
    "axes_accessattemptexpiration",
    "axes_accessfailurelog",
    "axes_accesslog",
)

# Derived from other tables and kept by triggers (cases.status_counts): a portable backup leaves it out and its
# restore recounts it, since the triggers count the restored recommendations as they go in. The public record's
# version (cases.public_version) too: the restore bumps the target's own past anything a reader has seen.
DERIVED_TABLES = ("cases_statuscount", "cases_statustotal", "cases_publicversion")

# Rows that only people make: a database with none of them is "empty" (what `migrate` writes — content
# types, permissions, groups — does not count).
DATA_TABLES = ("auth_user", "cases_document", "cases_recommendation", "cases_evidence", "cases_assessment")


def backed_up_models(*, include_sessions: bool = False) -> list:
    """Every concrete table Django manages (many-to-many link tables and history tables included), parents
    before children where the foreign keys allow it (cycles are fine: the restore checks foreign keys at
    commit)."""
    models = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed
        and not m._meta.proxy
        and (include_sessions or m._meta.db_table not in TRANSIENT_TABLES)
        and m._meta.db_table not in DERIVED_TABLES
    ]
    by_label = {m._meta.label_lower: m for m in models}
    ordered: list = []
    seen: set[str] = set()

    def visit(model, path: frozenset) -> None:
        label = model._meta.label_lower
        if label in seen or label in path:
            return
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is not None and target is not model:
                parent = by_label.get(target._meta.label_lower)
                if parent is not None:
                    visit(parent, path | {label})
        seen.add(label)
        ordered.append(model)

    for model in sorted(models, key=lambda m: m._meta.label_lower):
        visit(model, frozenset())
    return ordered


def data_rows(alias: str) -> int:
    """How many people-made rows the database holds (0 for a freshly migrated one, or for an unmigrated one)."""
    connection = connections[alias]
    existing = set(connection.introspection.table_names())
    total = 0
    with connection.cursor() as cursor:
        for table in DATA_TABLES:
            if table in existing:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (our names)
                total += cursor.fetchone()[0]
    return total


def applied_migrations(alias: str) -> list[list[str]]:
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connections[alias])
    if not recorder.has_table():
        return []
    return sorted([app, name] for app, name in recorder.applied_migrations())
