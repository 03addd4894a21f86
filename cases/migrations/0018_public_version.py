"""The public record's version (cases.models.PublicVersion, read by cases.public_version): its one row, then
the triggers that bump it in the statement that changes anything a public page shows, on SQLite and
PostgreSQL, whatever makes the change (services, the admin, `QuerySet.update()`, raw SQL):

- a published assessment (inserted, changed, deleted, or leaving/entering `published`) and its citations;
- any recommendation, document, theme, their translations and the recommendations' themes;
- `public` evidence (or evidence that stops or starts being public) and its links to recommendations;
- a person counted on the public site (not merged, `public`, consented) before or after the change, and
  such a person's links to recommendations;
- an organisation named on the public site before or after the change.

`changed_at` becomes the latest of itself, the database clock and the changed rows' `updated_at` (the
application's clock), so it never goes back.

Each statement runs only on its own database; the other databases skip it.
NOTE for later migrations: SQLite rebuilds a table for some schema changes (AlterField, RemoveField...) by
dropping and recreating it, which drops its triggers. Such a migration on one of TABLES must run
SQLITE_TRIGGERS again; tests/test_public_version.py fails if a trigger is missing after all migrations.
"""

from django.db import migrations, models

_PUBLISHED = "{r}.review_state = 'published'"
_PUBLIC_EVIDENCE = "{r}.confidentiality = 'public'"
_PUBLIC_PERSON = "{r}.merged_into_id IS NULL AND {r}.confidentiality = 'public' AND {r}.consent = 'yes'"


def _exists(table: str, key: str, condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM {table} p WHERE p.id = {{r}}.{key} AND {condition.format(r='p')})"  # noqa: S608 (constants)


# table -> (the condition on a row, old or new, that makes its change public; whether it has updated_at).
TABLES = {
    "cases_assessment": (_PUBLISHED, True),
    "cases_assessment_evidence": (_exists("cases_assessment", "assessment_id", _PUBLISHED), False),
    "cases_recommendation": ("1 = 1", True),
    "cases_recommendation_themes": ("1 = 1", False),
    "cases_recommendationtranslation": ("1 = 1", True),
    "cases_document": ("1 = 1", True),
    "cases_theme": ("1 = 1", True),
    "cases_themetranslation": ("1 = 1", True),
    "cases_evidence": (_PUBLIC_EVIDENCE, True),
    "cases_evidence_recommendations": (_exists("cases_evidence", "evidence_id", _PUBLIC_EVIDENCE), False),
    "cases_person": (_PUBLIC_PERSON, True),
    "cases_person_recommendations": (_exists("cases_person", "person_id", _PUBLIC_PERSON), False),
    "cases_organisation": ("{r}.public_name_allowed", True),
}

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_SQLITE_BUMP = """
    INSERT INTO cases_publicversion (id, version, changed_at) VALUES (1, 1, {ts})
    ON CONFLICT (id) DO UPDATE SET version = cases_publicversion.version + 1,
        changed_at = MAX(COALESCE(cases_publicversion.changed_at, ''), excluded.changed_at);
"""


def _sqlite_trigger(table: str, event: str, condition: str, stamped: bool) -> str:
    rows = {"INSERT": ["new"], "DELETE": ["old"], "UPDATE": ["old", "new"]}[event]
    when = " OR ".join(f"({condition.format(r=r)})" for r in rows)
    ts = f"MAX({_SQLITE_NOW}, COALESCE(new.updated_at, ''))" if stamped and event != "DELETE" else _SQLITE_NOW
    return f"""
    CREATE TRIGGER IF NOT EXISTS {table}_public_{event.lower()} AFTER {event} ON {table}
    WHEN {when}
    BEGIN
        {_SQLITE_BUMP.format(ts=ts)}
    END
    """


SQLITE_TRIGGERS = [
    _sqlite_trigger(table, event, condition, stamped)
    for table, (condition, stamped) in TABLES.items()
    for event in ("INSERT", "UPDATE", "DELETE")
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_public_{event}"
    for table in TABLES
    for event in ("insert", "update", "delete")
]

# On PostgreSQL, statement-level triggers over the statement's transition tables: one bump per statement
# (a bulk update or a restore's batch of thousands of rows bumps once), none for a statement that changed
# nothing public.
POSTGRESQL_BUMP = """
CREATE OR REPLACE FUNCTION cases_publicversion_bump(latest timestamptz) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO cases_publicversion (id, version, changed_at) VALUES (1, 1, GREATEST(clock_timestamp(), latest))
    ON CONFLICT (id) DO UPDATE SET version = cases_publicversion.version + 1,
        changed_at = GREATEST(cases_publicversion.changed_at, excluded.changed_at)
$$
"""


def _postgresql_function(table: str, condition: str, stamped: bool) -> str:
    where = condition.format(r="r")
    latest = "max(r.updated_at)" if stamped else "NULL::timestamptz"

    return f"""
CREATE OR REPLACE FUNCTION {table}_public() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hits bigint := 0;
    more bigint := 0;
    latest timestamptz;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), {latest} INTO hits, latest FROM new_rows r WHERE {where};
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*) INTO more FROM old_rows r WHERE {where};
        hits := hits + more;
    END IF;
    IF hits > 0 THEN
        PERFORM cases_publicversion_bump(latest);
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (constants)


def _postgresql_triggers(table: str) -> list[str]:
    referencing = {
        "INSERT": "NEW TABLE AS new_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
    }
    return [
        f"CREATE TRIGGER {table}_public_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {referencing[event]} FOR EACH STATEMENT EXECUTE FUNCTION {table}_public()"
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


POSTGRESQL_SQL = [POSTGRESQL_BUMP] + [
    statement
    for table, (condition, stamped) in TABLES.items()
    for statement in [_postgresql_function(table, condition, stamped), *_postgresql_triggers(table)]
]
POSTGRESQL_DROP = (
    [
        f"DROP TRIGGER IF EXISTS {table}_public_{event} ON {table}"
        for table in TABLES
        for event in ("insert", "update", "delete")
    ]
    + [f"DROP FUNCTION IF EXISTS {table}_public()" for table in TABLES]
    + ["DROP FUNCTION IF EXISTS cases_publicversion_bump(timestamptz)"]
)

POPULATE = "INSERT INTO cases_publicversion (id, version, changed_at) VALUES (1, 1, CURRENT_TIMESTAMP)"


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
        return f"Public record version kept by triggers ({self.vendor})"


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0017_document_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="PublicVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField(default=0, verbose_name="version")),
                ("changed_at", models.DateTimeField(verbose_name="changed")),
            ],
            options={
                "verbose_name": "public record version",
                "verbose_name_plural": "public record versions",
            },
        ),
        migrations.RunSQL(POPULATE, migrations.RunSQL.noop, elidable=False),
        VendorRunSQL("sqlite", SQLITE_TRIGGERS, SQLITE_DROP),
        VendorRunSQL("postgresql", POSTGRESQL_SQL, POSTGRESQL_DROP),
    ]
