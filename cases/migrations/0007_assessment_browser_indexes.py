"""Indexes for the assessments browser (/assessments/) and its CSV and XLSX downloads: date order and the
date range, and the basis, implementation status and State response filters, each leading an index that
yields its rows newest first. Recommendation, review state and author were served already (the timeline,
queue and author indexes). Adding an index rebuilds no table, so the trigger of 0004 is untouched.

0008_withdrawn_review_state was written beside this one and also names 0006 as its parent; `run_before`
puts this one first, so the graph has one leaf without touching 0008.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_people"),
    ]
    run_before = [
        ("cases", "0008_withdrawn_review_state"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(fields=["-assessed_on", "-id"], name="cases_assessment_by_date"),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(fields=["basis", "-assessed_on", "-id"], name="cases_assessment_basis"),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["implementation_status", "-assessed_on", "-id"], name="cases_assessment_impl_status"
            ),
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["state_response", "-assessed_on", "-id"], name="cases_assessment_response"
            ),
        ),
    ]
