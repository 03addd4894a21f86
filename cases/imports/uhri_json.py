"""UHRI's JSON export: one array of records, streamed with ijson (the full dump is about 400 MB and is never
loaded whole). Multi-value strings are "- "-prefixed lines, as in the spreadsheet; lists are accepted too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from .encoding import BadFile

NAME = "uhri-json"
KEYS = {
    "AnnotationId": "external_id",
    "Body": "body",
    "Countries": "state_under_review",
    "Symbol": "document",
    "PublicationDate": "document_date",
    "Text": "text",
    "Themes": "themes",
    "AffectedPersons": "affected_persons",
    "UprCycle": "cycle",
    "UprSession": "session",
    "UprPositions": "response",
    "UprRecommendingCountry": "recommending_states",
}
IGNORED = [
    "AnnotationType",
    "DocumentId",
    "PublicationDateOnUhri",
    "Sdgs",
    "Regions",
    "UprRecommendingRegions",
]
DEFAULTS: dict[str, str] = {}


def records(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, object]]]:
    """(record number, record) for each element of the top-level array; numbered from 1."""
    import ijson

    with open(path, "rb") as raw:
        head = raw.read(4)
        raw.seek(3 if head.startswith(b"\xef\xbb\xbf") else 0)
        source = raw
        if encoding and encoding.replace("_", "-").lower() not in ("utf-8", "utf-8-sig", "ascii", "utf8"):
            import io

            source = io.TextIOWrapper(raw, encoding=encoding)
        number = 0
        try:
            for number, item in enumerate(ijson.items(source, "item", use_float=True), start=1):
                if not isinstance(item, dict):
                    raise BadFile(_("Record %(n)s of the JSON array is not an object.") % {"n": number})
                yield number, item
        except ijson.JSONError as exc:
            raise BadFile(
                _("The JSON is not valid after record %(n)s (%(e)s).") % {"n": number, "e": str(exc)[:200]}
            ) from None
        if number == 0:
            raise BadFile(_("The JSON file is not an array of UHRI records (found no records)."))
