"""Evidence cited by a published assessment keeps its URL, title, excerpt, date and confidentiality, even
for a write that bypasses the ORM (a raw UPDATE, a database console, a future bug): a BEFORE UPDATE trigger
on cases_evidence refuses the change when a published assessment cites the row through the
assessment-evidence table. The model layer (Evidence.clean/save, EvidenceQuerySet.update) refuses it first
with a clearer message; this is the backstop. The model state does not change.

Both databases report the refusal as an integrity error naming `cases_evidence_cited_is_frozen`.
NOTE for later migrations: SQLite rebuilds a table for some schema changes (AlterField, RemoveField...) by
dropping and recreating it, which drops this trigger. Such a migration on cases_evidence must run
SQLITE_TRIGGER again; tests/test_record_holds.py fails if the trigger is missing after all migrations.
"""

from django.db import migrations

# Only when a frozen column really changes (`IS NOT` is SQLite's null-safe comparison), and only for a row
# that a published assessment cites: drafts' sources stay editable.
SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS cases_evidence_cited_is_frozen
BEFORE UPDATE OF url, title, excerpt, published_on, confidentiality ON cases_evidence
FOR EACH ROW
WHEN (
    NEW.url IS NOT OLD.url
    OR NEW.title IS NOT OLD.title
    OR NEW.excerpt IS NOT OLD.excerpt
    OR NEW.published_on IS NOT OLD.published_on
    OR NEW.confidentiality IS NOT OLD.confidentiality
) AND EXISTS (
    SELECT 1 FROM cases_assessment_evidence AS cited
    JOIN cases_assessment AS assessment ON assessment.id = cited.assessment_id
    WHERE cited.evidence_id = OLD.id AND assessment.review_state = 'published'
)
BEGIN
    SELECT RAISE(ABORT, 'cases_evidence_cited_is_frozen: evidence cited by a published assessment cannot change');
END
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS cases_evidence_cited_is_frozen"

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION cases_evidence_cited_is_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.url, NEW.title, NEW.excerpt, NEW.published_on, NEW.confidentiality)
        IS DISTINCT FROM (OLD.url, OLD.title, OLD.excerpt, OLD.published_on, OLD.confidentiality)
       AND EXISTS (
            SELECT 1 FROM cases_assessment_evidence AS cited
            JOIN cases_assessment AS assessment ON assessment.id = cited.assessment_id
            WHERE cited.evidence_id = OLD.id AND assessment.review_state = 'published'
       )
    THEN
        -- SQLSTATE 23000 (integrity_constraint_violation): Django raises IntegrityError, as for a constraint.
        RAISE EXCEPTION 'cases_evidence_cited_is_frozen: evidence % is cited by a published assessment', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$
"""
POSTGRESQL_TRIGGER = """
CREATE TRIGGER cases_evidence_cited_is_frozen
BEFORE UPDATE OF url, title, excerpt, published_on, confidentiality ON cases_evidence
FOR EACH ROW EXECUTE FUNCTION cases_evidence_cited_is_frozen()
"""
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS cases_evidence_cited_is_frozen ON cases_evidence",
    "DROP FUNCTION IF EXISTS cases_evidence_cited_is_frozen()",
]


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
        return f"Cited evidence is frozen ({self.vendor})"


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_import_fields"),
    ]

    operations = [
        VendorRunSQL("sqlite", [SQLITE_TRIGGER], [SQLITE_DROP]),
        VendorRunSQL("postgresql", [POSTGRESQL_FUNCTION, POSTGRESQL_TRIGGER], POSTGRESQL_DROP),
    ]
