"""Text search indexes for recommendations (cases.search): FTS5 on SQLite, a GIN index on PostgreSQL.

Each statement runs only on its own database; the other databases skip it. The model state does not change.

SQLite: an external-content FTS5 table (it stores only the index; the text stays in cases_recommendation)
with the trigram tokenizer, so a search matches substrings in any script, as `icontains` does. Triggers keep
it in step with every insert, delete and change of code, paragraph or text; status updates do not touch it.
NOTE for later migrations: SQLite rebuilds a table for some schema changes (AlterField, RemoveField...) by
dropping and recreating it, which drops these triggers. Such a migration must run SQLITE_TRIGGERS (and the
'rebuild') again; tests/test_scale.py fails if the triggers are missing after all migrations.
"""

from django.db import migrations

SQLITE_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS cases_recommendation_fts USING fts5(
    code, paragraph, text,
    content='cases_recommendation', content_rowid='id',
    tokenize='trigram'
)
"""

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS cases_recommendation_fts_insert AFTER INSERT ON cases_recommendation BEGIN
        INSERT INTO cases_recommendation_fts (rowid, code, paragraph, text)
        VALUES (new.id, new.code, new.paragraph, new.text);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS cases_recommendation_fts_delete AFTER DELETE ON cases_recommendation BEGIN
        INSERT INTO cases_recommendation_fts (cases_recommendation_fts, rowid, code, paragraph, text)
        VALUES ('delete', old.id, old.code, old.paragraph, old.text);
    END
    """,
    # Only changes of the indexed columns: publishing an assessment updates the status columns many times
    # more often, and must not rewrite the index.
    """
    CREATE TRIGGER IF NOT EXISTS cases_recommendation_fts_update
    AFTER UPDATE OF code, paragraph, text ON cases_recommendation BEGIN
        INSERT INTO cases_recommendation_fts (cases_recommendation_fts, rowid, code, paragraph, text)
        VALUES ('delete', old.id, old.code, old.paragraph, old.text);
        INSERT INTO cases_recommendation_fts (rowid, code, paragraph, text)
        VALUES (new.id, new.code, new.paragraph, new.text);
    END
    """,
]

# Indexes the rows that exist already (none on a fresh install, all of them on an upgrade).
SQLITE_REBUILD = "INSERT INTO cases_recommendation_fts (cases_recommendation_fts) VALUES ('rebuild')"

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS cases_recommendation_fts_insert",
    "DROP TRIGGER IF EXISTS cases_recommendation_fts_delete",
    "DROP TRIGGER IF EXISTS cases_recommendation_fts_update",
    "DROP TABLE IF EXISTS cases_recommendation_fts",
]

# The expression must stay identical to cases.search.PG_DOCUMENT, or the planner cannot use the index.
POSTGRESQL_INDEX = """
CREATE INDEX IF NOT EXISTS cases_rec_search ON cases_recommendation
USING gin (to_tsvector('simple', code || ' ' || paragraph || ' ' || text))
"""
POSTGRESQL_DROP = ["DROP INDEX IF EXISTS cases_rec_search"]


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
        return f"Text search index ({self.vendor})"


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial_domain"),
    ]

    operations = [
        VendorRunSQL("sqlite", [SQLITE_TABLE, *SQLITE_TRIGGERS, SQLITE_REBUILD], SQLITE_DROP),
        VendorRunSQL("postgresql", [POSTGRESQL_INDEX], POSTGRESQL_DROP),
    ]
