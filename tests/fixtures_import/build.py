"""Small import files built at test time, in every format and encoding the importer claims to read."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

UHRI_HEADER = [
    "Text",
    "Countries Concerned",
    "Reccomending Body",
    "Document Symbol",
    "Themes",
    "Affected Persons",
    "Sdgs",
    "Document Publication Date",
    "UPR Reccomending States",
    "UPR Position",
    "Type",
    "OHCHR Annotation Id",
    "UPR Session",
    "Regions Concerned",
    "Recommending Regions",
    "Date of publication on UHRI",
]

# Names a Windows or Mac spreadsheet mangles: accents, typographic quotes, dashes.
NASTY = "Côte d\u2019Ivoire, Türkiye and São Tomé urge \u201cprompt\u201d release \u2014 naïve"
UPR_HEADER = ["Recommendation", "Recommending State", "State under Review", "Response", "Issue", "Paragraph"]


def upr_rows() -> list[list[str]]:
    """Long format: one row per recommendation x recommending State x theme (3 recommendations)."""
    return [
        UPR_HEADER,
        ["Ratify the ICCPR", "France", "China", "Supported", "Acceptance of international norms", "28.1"],
        ["Ratify the ICCPR", "France", "China", "Supported", "Civil & political rights", "28.1"],
        ["Ratify the ICCPR", "Japan", "China", "Supported", "Acceptance of international norms", "28.1"],
        [NASTY, "Côte d\u2019Ivoire", "China", "Noted", "Arbitrary detention", "28.2"],
        ["Abolish the death penalty", "Norway", "China", "Noted", "Death penalty", "28.3"],
    ]


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str = "utf-8",
    newline: str = "\n",
    delimiter: str = ",",
    bom: bool = False,
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline, delimiter=delimiter).writerows(rows)
    data = buffer.getvalue().encode(encoding)
    if bom and encoding == "utf-8":
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def write_excel_unicode_text(path: Path, rows: list[list[str]]) -> Path:
    """What Excel's "Unicode Text" and "CSV UTF-16" save: UTF-16 LE with a BOM, tab-separated, CRLF."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n", delimiter="\t").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-16"))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def uhri_row(
    annotation_id: str,
    text: str,
    *,
    symbol: str = "CERD/C/CHN/CO/14-17",
    body: str = "CERD",
    themes: str = "- Racial discrimination\n- Freedom of movement",
    date: object = 43334,  # an Excel serial number: 2018-08-22
    states: str = "",
    position: str = "",
    countries: str = "- China",
    session: str = "",
) -> list[object]:
    return [
        text,
        countries,
        body,
        symbol,
        themes,
        "- Minorities/ racial, ethnic, linguistic, religious or descent-based groups\n- Uyghurs",
        "- SDG 10",
        date,
        states,
        position,
        "Recommendation",
        annotation_id,
        session,
        "- Asia",
        "",
        "2019-01-01",
    ]


def uhri_json_record(annotation_id: str, text: str, **overrides) -> dict:
    record = {
        "AnnotationId": annotation_id,
        "AnnotationType": "Recommendation",
        "Body": "CAT",
        "Countries": "- China",
        "DocumentId": 1,
        "Symbol": "CAT/C/CHN/CO/5",
        "PublicationDate": "2016-02-03T00:00:00",
        "PublicationDateOnUhri": "2016-05-01T00:00:00",
        "Text": text,
        "Themes": "- Torture and other cruel, inhuman or degrading treatment or punishment",
        "AffectedPersons": "- Persons deprived of their liberty",
        "Sdgs": "",
        "Regions": "- Asia",
        "UprCycle": None,
        "UprSession": None,
        "UprPositions": None,
        "UprRecommendingCountry": None,
        "UprRecommendingRegions": None,
    }
    record.update(overrides)
    return record


def write_json(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
