"""`manage.py backup FILE`: a complete, checksummed backup of all data (see cases/backup.py)."""

import sys

from django.core.management.base import BaseCommand

from cases.backup import write_backup


class Command(BaseCommand):
    help = "Write a complete, checksummed backup of all data to FILE (gzip'd JSON lines)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        count = write_backup(file, progress=_progress(self.stderr))
        self.stdout.write(self.style.SUCCESS(f"Wrote {count} objects to {file}."))
        self.stdout.write("The file holds password and key hashes and internal evidence: store it encrypted.")


def _progress(stream):
    def report(count: int, label: str) -> None:
        stream.write(f"  {count} objects… {label}", ending="\r" if sys.stderr.isatty() else "\n")

    return report
