"""`manage.py backup FILE`: an encrypted, authenticated backup of the database (see cases/backup/)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS

from cases.backup import FORMATS, BackupError, write_backup


class Command(BaseCommand):
    help = (
        "Write an encrypted backup of the database to FILE (mode 0600). native (default): pg_dump or SQLite's "
        "online backup, restores into the same kind of database; portable: rows as JSON lines, restores into "
        "SQLite or PostgreSQL. Needs BACKUP_KEY or BACKUP_PASSPHRASE."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", choices=FORMATS, default="native")
        parser.add_argument(
            "--include-sessions",
            action="store_true",
            help="Also keep sessions, one-time keys and lockout rows (left out by default).",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, file, format, include_sessions, database, **options):
        try:
            summary = write_backup(
                file,
                format=format,
                include_sessions=include_sessions,
                using=database,
                progress=_progress(self.stderr) if options["verbosity"] > 1 else None,
            )
        except BackupError as exc:
            raise CommandError(f"Backup failed: {exc}") from exc
        rows = f", {summary.rows} rows" if summary.kind == "portable" else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote a {summary.kind} backup to {file} ({summary.bytes} bytes{rows}), encrypted."
            )
        )


def _progress(stream):
    def report(count: int, label: str) -> None:
        stream.write(f"  {count} {label}", ending="\r" if sys.stderr.isatty() else "\n")

    return report
