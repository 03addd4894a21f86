"""The preview as lines of text (the command prints them; a report page can show the same)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from .normalise import FIELDS
from .preview import Preview
from .reader import SET_COLUMN

SHOWN = 50


def preview_lines(preview: Preview, *, rejections_shown: int = SHOWN) -> Iterator[str]:
    counts = preview.counts()
    how = _("detected; override with --encoding") if preview.encoding_detected else _("as given")
    yield _("File: %(f)s — format %(fmt)s, encoding %(enc)s (%(how)s)") % {
        "f": preview.file_name,
        "fmt": preview.format,
        "enc": preview.encoding,
        "how": how,
    }
    columns = ", ".join(
        f"{name} ← {'--set' if col == SET_COLUMN else col}"
        for name, col in preview.columns.items()
        if name in FIELDS
    )
    yield _("Columns: %(c)s") % {"c": columns}
    if preview.ignored_columns:
        yield _("Ignored columns (map them with --map FIELD=COLUMN): %(c)s") % {
            "c": ", ".join(preview.ignored_columns)
        }
    rows = counts["rows"]
    yield _("Rows: %(read)s read, %(filtered_out)s filtered out, %(rejected)s rejected") % rows
    for kind, label in (("documents", _("Documents")), ("recommendations", _("Recommendations"))):
        c = counts[kind]
        yield _(
            "%(label)s: %(create)s to create, %(update)s to update, %(unchanged)s unchanged, %(reject)s rejected"
        ) % {
            "label": label,
            **c,
        }
    if preview.documents_skipped:
        yield _(
            "(%(n)s documents are as the last import left them, in the file and in the database: their "
            "recommendations were not compared one by one)"
        ) % {"n": preview.documents_skipped}
    yield _("State responses: %(n)s to submit as State claims (another curator publishes them)") % {
        "n": counts["responses"]["submit"]
    }
    if preview.rejections:
        yield _("Rejected rows (row, column, reason):")
        for r in preview.rejections[:rejections_shown]:
            yield f"  {_('row')} {r.row}, “{r.column}”: {r.reason}"
        if preview.rejections_total > rejections_shown:
            yield "  " + _("… and %(n)s more (all of them with --errors FILE)") % {
                "n": preview.rejections_total - rejections_shown
            }
    unknown = {k: c for k, c in preview.unknown.items() if c}
    if unknown:
        yield _(
            "Values we do not know (nothing is created: map them with --value KIND:VALUE=OURS, or leave them out):"
        )
        for kind, counter in unknown.items():
            items = ", ".join(f"“{v}” ({n})" for v, n in counter.most_common(20))
            more = len(counter) - 20
            yield f"  {kind} ({len(counter)}): {items}" + (f", … {more} more" if more > 0 else "")
    if preview.shared_paragraphs:
        yield _("Paragraph numbers the file gives to several different texts (kept apart by text):")
        for s in preview.shared_paragraphs[:rejections_shown]:
            yield "  " + _("%(d)s ¶%(p)s: %(n)s texts (rows %(rows)s)") % {
                "d": s["document"],
                "p": s["paragraph"],
                "n": s["texts"],
                "rows": ", ".join(map(str, s["rows"])),
            }
    for c in preview.conflicts[:rejections_shown]:
        yield "  " + _("rows %(rows)s, “%(col)s”: %(reason)s") % {
            "rows": ", ".join(map(str, c["rows"])),
            "col": c["column"],
            "reason": c["reason"],
        }
    sample = preview.sample()
    if sample:
        yield _("Sample, as it will be stored:")
        for s in sample:
            text = s["text"] if len(s["text"]) <= 100 else s["text"][:99] + "…"
            yield (
                f"  {s['code']} [{s['action']}] ¶{s['paragraph']} · {', '.join(s['recommending_states']) or '-'}"
                f" · {s['response'] or '-'} · {text}"
            )


def write_rejections(preview: Preview, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "column", "reason"])
        for r in preview.all_rejections():
            writer.writerow([r.row, r.column, r.reason])
