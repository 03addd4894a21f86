"""The review queue by organisation (issue 14): one organisation's submitted assessments, oldest first, read in
index order, so a page of the queue and the dashboard's count of what waits read only that organisation's
entries, however many wait elsewhere. The author index gains the organisation, so the dashboard's "your own
open work" keeps using it rather than the queue's. On SQLite, a database analysed before (generate_data
does) gets fresh statistics for the new indexes (sampled: quick at any size), or the planner would weigh them
with none beside the old ones'."""

from django.conf import settings
from django.db import migrations, models


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
        ("cases", "0013_status_counts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="assessment",
            name="cases_assessment_queue",
        ),
        migrations.RemoveIndex(
            model_name="assessment",
            name="cases_assessment_author",
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["organisation", "review_state", "created_at", "id"], name="cases_assessment_org_queue"
            ),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["author", "review_state", "organisation"], name="cases_assessment_author_org"
            ),
        ),
        migrations.RunPython(refresh_statistics, migrations.RunPython.noop, elidable=True),
    ]
