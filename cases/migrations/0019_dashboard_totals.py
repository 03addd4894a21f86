"""The dashboard at any size (issue 14: at 300,000 recommendations within 1.2x of 3,000):

- cases.models.StatusTotal: the recommendations of the whole index per pair of current statuses (at most 20
  rows), kept by triggers on cases_recommendation beside migration 0013's (in the same statement), so the
  dashboard's charts read 20 rows instead of summing cases_statuscount (37,017 rows at 300,000);
- the "latest published" index gains its `-id` tie-break (SQLite sorted each publication time's rows), and
  the correction subquery of each latest publication (AssessmentQuerySet.with_correction) gets its own
  partial index with equality on two columns, so SQLite keeps it there, statistics or not, instead of reading
  every publication through the recent index for each row (what hung the 300,000 dashboard when `-id` was
  added alone).

On SQLite, a database analysed before (generate_data does) gets fresh statistics for the new indexes
(sampled: quick at any size), as in 0014.

Each trigger statement runs only on its own database; the other databases skip it. The triggers are new ones
(migration 0013's are left as they are). NOTE for later migrations: as for 0013's, a SQLite rebuild of
cases_recommendation drops them: run SQLITE_TRIGGERS again (and cases.status_counts.recount);
tests/test_status_counts.py fails if they are missing after all migrations.
"""

from django.db import migrations, models

_KEY = "implementation_status = {r}.implementation_status AND state_response = {r}.state_response"
_ADD = """
    INSERT INTO cases_statustotal (implementation_status, state_response, count)
    VALUES ({r}.implementation_status, {r}.state_response, 1)
    ON CONFLICT (implementation_status, state_response) DO UPDATE SET count = cases_statustotal.count + 1;
"""
_REMOVE = """
    UPDATE cases_statustotal SET count = count - 1 WHERE {key};
    DELETE FROM cases_statustotal WHERE {key} AND count = 0;
"""


def _add(row: str) -> str:
    return _ADD.format(r=row)


def _remove(row: str) -> str:
    return _REMOVE.format(key=_KEY.format(r=row))


SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statustotal_insert AFTER INSERT ON cases_recommendation BEGIN
        {_add("new")}
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statustotal_delete AFTER DELETE ON cases_recommendation BEGIN
        {_remove("old")}
    END
    """,
    # A move to another document leaves the totals as they are.
    f"""
    CREATE TRIGGER IF NOT EXISTS cases_statustotal_update
    AFTER UPDATE OF implementation_status, state_response ON cases_recommendation
    WHEN old.implementation_status <> new.implementation_status OR old.state_response <> new.state_response
    BEGIN
        {_remove("old")}
        {_add("new")}
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS cases_statustotal_insert",
    "DROP TRIGGER IF EXISTS cases_statustotal_delete",
    "DROP TRIGGER IF EXISTS cases_statustotal_update",
]

# As 0013's: a move locks its two rows in one order (the smaller key first), so two moves in opposite
# directions cannot deadlock. PostgreSQL fires a row's triggers in name order: the document's counts
# (cases_statuscount_maintain), then these totals, in every statement.
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION cases_statustotal_maintain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add("NEW")}
    ELSIF TG_OP = 'DELETE' THEN
        {_remove("OLD")}
    ELSIF (OLD.implementation_status, OLD.state_response)
            IS DISTINCT FROM (NEW.implementation_status, NEW.state_response) THEN
        IF (OLD.implementation_status, OLD.state_response)
                < (NEW.implementation_status, NEW.state_response) THEN
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
CREATE TRIGGER cases_statustotal_maintain
AFTER INSERT OR DELETE OR UPDATE OF implementation_status, state_response ON cases_recommendation
FOR EACH ROW EXECUTE FUNCTION cases_statustotal_maintain()
"""
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS cases_statustotal_maintain ON cases_recommendation",
    "DROP FUNCTION IF EXISTS cases_statustotal_maintain()",
]

# The rows for the recommendations already there, before the triggers exist (nothing is counted twice).
POPULATE = """
INSERT INTO cases_statustotal (implementation_status, state_response, count)
SELECT implementation_status, state_response, COUNT(*) FROM cases_recommendation
GROUP BY implementation_status, state_response
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
        return f"Status totals kept by triggers ({self.vendor})"


def refresh_statistics(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone():
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE cases_assessment")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0018_public_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatusTotal",
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
            ],
            options={
                "verbose_name": "status total",
                "verbose_name_plural": "status totals",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("implementation_status", "state_response"), name="cases_statustotal_unique"
                    )
                ],
            },
        ),
        migrations.RunSQL(POPULATE, migrations.RunSQL.noop, elidable=False),
        VendorRunSQL("sqlite", SQLITE_TRIGGERS, SQLITE_DROP),
        VendorRunSQL("postgresql", [POSTGRESQL_FUNCTION, POSTGRESQL_TRIGGER], POSTGRESQL_DROP),
        # Plain CREATE/DROP INDEX on both databases: no table rebuild, 0018's triggers on cases_assessment stay.
        migrations.RemoveIndex(
            model_name="assessment",
            name="cases_assessment_recent",
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["review_state", "-published_at", "-id"], name="cases_assessment_recent"
            ),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                condition=models.Q(("corrects__isnull", False)),
                fields=["corrects", "review_state", "-published_at", "-id"],
                name="cases_assessment_corrections",
            ),
        ),
        migrations.RunPython(refresh_statistics, migrations.RunPython.noop, elidable=True),
    ]
