"""`manage.py restore FILE`: authenticate a backup completely, then replace the database with it."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from cases.backup import BackupError, restore_backup, verify_backup
from cases.management.commands.backup import _progress


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an empty database (or, with --replace, over one that "
        "holds data). The whole file is authenticated first: a damaged, truncated or tampered file, or the "
        "wrong key, changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--verify-only", action="store_true", help="Authenticate the file and exit.")
        parser.add_argument(
            "--replace", action="store_true", help="Replace the data of a database that already holds some."
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, file, verify_only, replace, database, **options):
        try:
            if verify_only:
                summary = verify_backup(file, using=database)
                rows = f", {summary.rows} rows" if summary.tables else ""
                self.stdout.write(
                    self.style.SUCCESS(
                        f"{file} is intact and authentic: a {summary.kind} backup of "
                        f"{summary.header.get('created_at')}{rows}."
                    )
                )
                return
            summary = restore_backup(
                file,
                using=database,
                replace=replace,
                progress=_progress(self.stderr) if options["verbosity"] > 1 else None,
            )
        except BackupError as exc:
            raise CommandError(f"Refused: {exc} The database was not changed.") from exc
        rows = f" ({summary.rows} rows)" if summary.kind == "portable" else ""
        self.stdout.write(self.style.SUCCESS(f"Restored the {summary.kind} backup {file}{rows}."))
        if summary.kind != "portable":
            self.stdout.write(
                "Run `manage.py migrate` if this version of the application is newer than the backup."
            )
