"""`manage.py check_status_counts [--fix]`: compare the maintained status counts with a full recount.

The dashboard and the public scorecards read cases_statuscount and its whole-index totals cases_statustotal,
which database triggers keep in step with the recommendations (cases.status_counts). This recounts every
recommendation and lists each document (and "all documents" for the totals) and pair of statuses where the
two differ; it fails (exit status 1) if any does. `--fix` then replaces both tables with the recount (a
migration that rebuilt cases_recommendation on SQLite and dropped the triggers would be one reason; restore
the triggers first, see migrations 0013_status_counts and 0019_dashboard_totals).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cases import status_counts


class Command(BaseCommand):
    help = "Compare the maintained status counts (dashboard, scorecards) with a full recount."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Replace the counts with the recount.")

    def handle(self, *args, fix: bool = False, **options):
        wrong = status_counts.mismatches()
        # The whole index's totals (document None) after the documents'.
        for (document, status, response), (kept, counted) in sorted(
            wrong.items(), key=lambda item: (item[0][0] is None, item[0])
        ):
            where = "all documents" if document is None else f"document {document}"
            self.stdout.write(f"{where} {status} {response}: maintained {kept}, recounted {counted}")
        if not wrong:
            self.stdout.write("Status counts match a full recount.")
            return
        if fix:
            status_counts.recount()
            self.stdout.write(f"Recounted: {len(wrong)} wrong counts replaced.")
            return
        raise CommandError(f"{len(wrong)} status counts differ from a full recount (run with --fix).")
