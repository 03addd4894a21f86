"""Recommendations per document and current statuses, maintained (cases.models.StatusCount, read by
cases.status_counts): the table, its rows for the recommendations that exist (none on a fresh install, all
of them on an upgrade), then the triggers that keep it in step with every insert, delete and change of a
recommendation's document, implementation status or State response, on SQLite and PostgreSQL.

Each statement runs only on its own database; the other databases skip it.
NOTE for later migrations: SQLite rebuilds a table for some schema changes (AlterField, RemoveField...) by
dropping and recreating it, which drops these triggers. Such a migration on cases_recommendation must run
SQLITE_TRIGGERS again (and cases.status_counts.recount); tests/test_status_counts.py fails if the triggers
are missing after all migrations.
"""

import django.db.models.deletion
from django.db import migrations, models

# The key of a count row; `count = count + 1` or `- 1`; a row that reaches zero is deleted.
_KEY = (
    "document_id = {r}.document_id AND implementation_status = {r}.implementation_status AND "
    "state_response = {r}.state_response"
)
_ADD = """
    INSERT INTO cases_statuscount (document_id, implementation_status, state_response, count)
    VALUES ({r}.document_id, {r}.implementation_status, {r}.state_response, 1)
    ON CONFLICT (document_id, implementation_status, state_response) DO UPDATE SET count = cases_statuscount.count + 1;
"""
_REMOVE = """
    UPDATE cases_statuscount SET count = count - 1 WHERE {key};
    DELETE FROM cases_statuscount WHERE {key} AND count = 0;
"""


def _add(row: str) -> str:
    return _ADD.format(r=row)


def _remove(row: str) -> str:
    return _REMOVE.format(key=_KEY.format(r=row))


SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statuscount_insert AFTER INSERT ON cases_recommendation BEGIN
        {_add("new")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statuscount_delete AFTER DELETE ON cases_recommendation BEGIN
        {_remove("old")}
    END
    """,
    # Only when one of the three changes: recompute_current_status writes the columns on every publication,
    # mostly with the values they had.
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statuscount_update
    AFTER UPDATE OF document_id, implementation_status, state_response ON cases_recommendation
    WHEN old.document_id <> new.document_id OR old.implementation_status <> new.implementation_status
        OR old.state_response <> new.state_response
    BEGIN
        {_remove("old")}
        {_add("new")}
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS cases_statuscount_insert",
    "DROP TRIGGER IF EXISTS cases_statuscount_delete",
    "DROP TRIGGER IF EXISTS cases_statuscount_update",
]

# On PostgreSQL two transactions may change counts at once (row locks, held to commit): a move locks its
# two rows in one order (the smaller key first), so two moves in opposite directions cannot deadlock.
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION cases_statuscount_maintain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add("NEW")}
    ELSIF TG_OP = 'DELETE' THEN
        {_remove("OLD")}
    ELSIF (OLD.document_id, OLD.implementation_status, OLD.state_response)
            IS DISTINCT FROM (NEW.document_id, NEW.implementation_status, NEW.state_response) THEN
        IF (OLD.document_id, OLD.implementation_status, OLD.state_response)
                < (NEW.document_id, NEW.implementation_status, NEW.state_response) THEN
            {_remove("OLD")}
            {_add("NEW")}
        ELSE
            {_add("NEW")}
            {_remove("OLD")}
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGER = """
CREATE TRIGGER cases_statuscount_maintain
AFTER INSERT OR DELETE OR UPDATE OF document_id, implementation_status, state_response ON cases_recommendation
FOR EACH ROW EXECUTE FUNCTION cases_statuscount_maintain()
"""
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS cases_statuscount_maintain ON cases_recommendation",
    "DROP FUNCTION IF EXISTS cases_statuscount_maintain()",
]

# The rows for the recommendations already there, before the triggers exist (nothing is counted twice).
POPULATE = """
INSERT INTO cases_statuscount (document_id, implementation_status, state_response, count)
SELECT document_id, implementation_status, state_response, COUNT(*) FROM cases_recommendation
GROUP BY document_id, implementation_status, state_response
"""


class VendorRunSQL(migrations.RunSQL):
    """RunSQL that runs only on one database vendor (and is a no-op elsewhere)."""

    def __init__(self, vendor, sql, reverse_sql):
        self.vendor = vendor
        super().__init__(sql, reverse_sql, elidable=False)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Status counts kept by triggers ({self.vendor})"


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_verbose_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatusCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "implementation_status",
                    models.CharField(
                        choices=[
                            ("not_assessed", "Not assessed"),
                            ("not_implemented", "Not implemented"),
                            ("partially_implemented", "Partially implemented"),
                            ("implemented", "Fully implemented"),
                            ("regressed", "Regressed"),
                        ],
                        max_length=32,
                        verbose_name="implementation status",
                    ),
                ),
                (
                    "state_response",
                    models.CharField(
                        choices=[
                            ("no_response", "No response"),
                            ("accepted", "Accepted"),
                            ("noted", "Noted"),
                            ("rejected", "Rejected"),
                        ],
                        max_length=32,
                        verbose_name="State response",
                    ),
                ),
                ("count", models.PositiveIntegerField(verbose_name="count")),
                (
                    "document",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="status_counts",
                        to="cases.document",
                    ),
                ),
            ],
            options={
                "verbose_name": "status count",
                "verbose_name_plural": "status counts",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("document", "implementation_status", "state_response"),
                        name="cases_statuscount_unique",
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["implementation_status", "state_response", "count"],
                        name="cases_statuscount_totals",
                    )
                ],
            },
        ),
        migrations.RunSQL(POPULATE, migrations.RunSQL.noop, elidable=False),
        VendorRunSQL("sqlite", SQLITE_TRIGGERS, SQLITE_DROP),
        VendorRunSQL("postgresql", [POSTGRESQL_FUNCTION, POSTGRESQL_TRIGGER], POSTGRESQL_DROP),
    ]
