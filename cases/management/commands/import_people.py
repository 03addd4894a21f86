"""Thin command: parse arguments, call `cases.people.imports` (prepare → preview → apply)."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from cases.imports import BadFile, ImportFailed
from cases.imports.report import write_rejections
from cases.people.imports import FIELDS, PeopleOptions, apply_people, prepare_people
from cases.services import organisation_of
from tracker.accounts.roles import is_curator


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"{option} {item!r}: write it as NAME=VALUE.")
        out[name.strip()] = value.strip()
    return out


def _decisions(items: list[str]) -> dict[int, str]:
    out = {}
    for row, decision in _pairs(items, "--decide").items():
        if not row.isdigit():
            raise CommandError(f"--decide {row}={decision}: ROW is the row number the preview shows.")
        out[int(row)] = decision
    return out


class Command(BaseCommand):
    help = (
        "Import people (individual cases) from a CSV or XLSX table, held by the curator's organisation. "
        "Prints a preview with rejected rows and likely duplicates (of recorded people and within the file); "
        "a likely duplicate is skipped unless --decide ROW=create|merge or --duplicates create|merge says "
        "otherwise. --dry-run writes nothing. Fields: " + ", ".join(FIELDS) + "."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN")
        parser.add_argument("--encoding", help="The file's encoding, when detection guesses wrong.")
        parser.add_argument(
            "--decide",
            action="append",
            default=[],
            metavar="ROW=create|skip|merge",
            help="For a row with a likely duplicate: create a new person, skip it (the default), or merge it "
            "into the best match (its names become aliases, missing details are filled in).",
        )
        parser.add_argument(
            "--duplicates",
            choices=["skip", "create", "merge"],
            default="skip",
            help="The decision for every likely duplicate without a --decide of its own (default: skip).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the preview; write nothing.")
        parser.add_argument("--as", dest="username", metavar="USERNAME", required=True)
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument(
            "--errors", type=Path, metavar="FILE", help="Write every rejected row to a CSV file."
        )

    def handle(self, *args, file: Path, **o):
        user = get_user_model().objects.filter(username=o["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {o['username']!r}.")
        if not is_curator(user):
            raise CommandError("Only curators import people.")
        try:
            options = PeopleOptions(
                mapping=_pairs(o["map"], "--map"),
                encoding=o["encoding"],
                decisions=_decisions(o["decide"]),
                duplicates=o["duplicates"],
                batch_size=o["batch_size"],
            )
            preview = prepare_people(file, options, organisation_id=organisation_of(user).pk)
        except BadFile as exc:
            raise CommandError(f"{file}: {exc}") from None
        for line in preview_lines(preview):
            self.stdout.write(line)
        if o["errors"]:
            write_rejections(preview, o["errors"])
            self.stdout.write(f"Rejected rows written to {o['errors']}.")
        if o["dry_run"]:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
            return
        try:
            run = apply_people(preview, user=user, path=file)
        except (PermissionDenied, ImportFailed) as exc:
            raise CommandError(str(exc)) from None
        written = run.counts.get("written", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported (report #{run.pk}): {written.get('created', 0)} people created, "
                f"{written.get('merged', 0)} merged into existing records."
            )
        )


def preview_lines(preview):
    from django.utils.translation import gettext as _

    counts = preview.counts()
    how = _("detected; override with --encoding") if preview.encoding_detected else _("as given")
    yield _("File: %(f)s — people, encoding %(enc)s (%(how)s)") % {
        "f": preview.file_name,
        "enc": preview.encoding,
        "how": how,
    }
    yield _("Columns: %(c)s") % {"c": ", ".join(f"{n} ← {c}" for n, c in preview.columns.items())}
    if preview.ignored_columns:
        yield _("Ignored columns (map them with --map FIELD=COLUMN): %(c)s") % {
            "c": ", ".join(preview.ignored_columns)
        }
    yield (
        _("Rows: %(read)s read, %(rejected)s rejected, %(likely_duplicates)s likely duplicates")
        % counts["rows"]
    )
    yield (
        _("People: %(create)s to create, %(merge)s to merge into existing records, %(skip)s skipped")
        % counts["people"]
    )
    if preview.rejections:
        yield _("Rejected rows (row, column, reason):")
        for r in preview.rejections:
            yield f"  {_('row')} {r.row}, “{r.column}”: {r.reason}"
    duplicates = preview.duplicates()
    if duplicates:
        yield _("Likely duplicates (row: what it is likely to be → decision; change it with --decide ROW=…):")
        for row in duplicates:
            seen = [f"{m['reference']} ({m['score']}%, {', '.join(m['reasons'])})" for m in row.matches]
            seen += [_("row %(n)s of this file") % {"n": n} for n in row.same_as_rows]
            target = f" → {row.merge_into}" if row.merge_into else ""
            yield f"  {_('row')} {row.row}: {row.label()} ≈ {'; '.join(seen)} → {row.action}{target}"
