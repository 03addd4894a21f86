"""`manage.py restore FILE`: verify a backup completely, then replace all data with it in one transaction."""

from django.core.management.base import BaseCommand, CommandError

from cases.backup import BackupError, restore_backup, verify_backup
from cases.management.commands.backup import _progress


class Command(BaseCommand):
    help = "Replace all data with a backup's, after checking its checksum. A damaged file changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--verify-only", action="store_true", help="Check the file and exit.")

    def handle(self, *args, file, verify_only, **options):
        try:
            if verify_only:
                header = verify_backup(file)
                self.stdout.write(self.style.SUCCESS(f"{file} is intact: {header['objects']} objects."))
                return
            count = restore_backup(file, progress=_progress(self.stderr))
        except BackupError as exc:
            raise CommandError(f"Refused: {exc} The database was not changed.") from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {count} objects from {file}."))
