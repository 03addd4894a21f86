"""Thin command: parse arguments, call `cases.imports` (prepare → preview → apply)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from cases.imports import FORMATS, BadFile, ImportFailed, Options, apply, prepare
from cases.imports.report import preview_lines, write_rejections


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"{option} {item!r}: write it as FIELD=VALUE.")
        out[name.strip()] = value.strip()
    return out


def _value_map(items: list[str]) -> dict[tuple[str, str], str]:
    out = {}
    for item in items or []:
        kind, sep, rest = item.partition(":")
        source, sep2, target = rest.rpartition("=")
        if not sep or not sep2 or kind not in ("theme", "response", "body") or not source:
            raise CommandError(f"--value {item!r}: write it as theme|response|body:SOURCE VALUE=OUR VALUE.")
        out[(kind, source.strip())] = target.strip()
    return out


class Command(BaseCommand):
    help = (
        "Import recommendations (and State responses, as submitted State-claim assessments) from UHRI's "
        "XLSX or JSON export, a UPR table, our own CSV export or any CSV/XLSX with --map. Prints a preview; "
        "--dry-run writes nothing; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN")
        parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
        parser.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE")
        parser.add_argument(
            "--value",
            action="append",
            default=[],
            metavar="KIND:SOURCE=OURS",
            help="Map a value the preview lists as unknown: theme:NAME=our-theme-slug (empty drops it), "
            "response:NAME=accepted|noted|rejected, body:NAME=cat|cerd|upr|…",
        )
        parser.add_argument("--encoding", help="The file's encoding, when detection guesses wrong.")
        parser.add_argument("--dry-run", action="store_true", help="Print the preview; write nothing.")
        parser.add_argument("--as", dest="username", metavar="USERNAME", help="The importing curator.")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--errors", type=Path, metavar="FILE", help="Write every rejected row to a CSV file."
        )

    def handle(self, *args, file: Path, **o):
        options = Options(
            format=o["format"],
            mapping=_pairs(o["map"], "--map"),
            fixed=_pairs(o["set"], "--set"),
            filters=_pairs(o["filter"], "--filter"),
            encoding=o["encoding"],
            value_map=_value_map(o["value"]),
            batch_size=o["batch_size"],
        )
        user = None
        if not o["dry_run"]:
            if not o["username"]:
                raise CommandError("Give the importing curator with --as USERNAME (or use --dry-run).")
            user = get_user_model().objects.filter(username=o["username"]).first()
            if user is None:
                raise CommandError(f"No user {o['username']!r}.")
        try:
            preview = prepare(file, options, progress=self._progress)
        except BadFile as exc:
            raise CommandError(f"{file}: {exc}") from None
        self.stderr.write("")
        for line in preview_lines(preview):
            self.stdout.write(line)
        if o["errors"]:
            write_rejections(preview, o["errors"])
            self.stdout.write(f"Rejected rows written to {o['errors']}.")
        if o["dry_run"]:
            preview.close()
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
            return
        try:
            run = apply(preview, user=user, path=file, progress=self._batch)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except ImportFailed as exc:
            raise CommandError(str(exc)) from None
        finally:
            preview.close()
        written = run.counts.get("written", {})
        self.stderr.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported (report #{run.pk}): {written.get('created', 0)} created, "
                f"{written.get('updated', 0)} updated, {written.get('responses', 0)} State responses "
                "submitted for review."
            )
        )

    def _progress(self, rows: int, seconds: float) -> None:
        rate = rows / seconds if seconds > 0 else 0
        self.stderr.write(f"\rrows read: {rows}  ({rate:,.0f} rows/s)", ending="")
        self.stderr.flush()

    def _batch(self, done: int, total: int) -> None:
        self.stderr.write(f"\rbatches applied: {done}/{total}", ending="")
        self.stderr.flush()
