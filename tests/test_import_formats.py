"""Import, reading side: every format and encoding the importer claims, the nasty ones included, and files
that are not what they claim. Each builds a small file at run time and checks what would be stored."""

from __future__ import annotations

import datetime

import pytest

from cases.imports import BadFile, Options, apply, prepare
from cases.models import Document, Recommendation
from tests.fixtures_import.build import (
    NASTY,
    UHRI_HEADER,
    uhri_json_record,
    uhri_row,
    upr_rows,
    write_csv,
    write_excel_unicode_text,
    write_json,
    write_xlsx,
)

pytestmark = pytest.mark.django_db

UPR_SET = {"document": "A/HRC/40/6", "document_date": "2018-12-26"}


def _texts(preview) -> list[str]:
    return [c.text for c in preview.candidates]


# --- Encodings and line endings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom", "newline", "expected"),
    [
        ("utf-8", False, "\n", "utf-8"),
        ("utf-8", True, "\r\n", "utf-8-sig"),
        ("cp1252", False, "\r\n", "cp1252"),
        ("mac_roman", False, "\r", "mac_roman"),
        ("utf-8", False, "\r", "utf-8"),
    ],
)
def test_encodings_and_line_endings_are_detected_and_decoded(tmp_path, encoding, bom, newline, expected):
    path = write_csv(tmp_path / "upr.csv", upr_rows(), encoding=encoding, bom=bom, newline=newline)
    preview = prepare(path, Options(fixed=UPR_SET))
    assert preview.encoding == expected
    assert preview.encoding_detected
    assert preview.format == "upr"
    # No mojibake: the nasty text is stored exactly, and the BOM is not glued to the first header.
    assert NASTY in _texts(preview)
    assert preview.columns["text"] == "Recommendation"
    assert preview.counts()["recommendations"]["create"] == 3
    assert preview.rejections == []


def test_utf16_tab_separated_as_excel_saves_it(tmp_path):
    path = write_excel_unicode_text(tmp_path / "excel.txt", upr_rows())
    preview = prepare(path, Options(fixed=UPR_SET))
    assert preview.encoding == "utf-16"
    assert NASTY in _texts(preview)
    assert preview.counts()["recommendations"]["create"] == 3


def test_semicolon_separated_excel_csv(tmp_path):
    path = write_csv(tmp_path / "eu.csv", upr_rows(), encoding="cp1252", delimiter=";", newline="\r\n")
    preview = prepare(path, Options(fixed=UPR_SET))
    assert NASTY in _texts(preview)


def test_encoding_override_is_used_and_shown(tmp_path):
    path = write_csv(tmp_path / "win.csv", upr_rows(), encoding="cp1252")
    preview = prepare(path, Options(fixed=UPR_SET, encoding="cp1252"))
    assert (preview.encoding, preview.encoding_detected) == ("cp1252", False)
    # A wrong override decodes into visible mojibake (the sample shows it) rather than failing silently.
    wrong = prepare(path, Options(fixed=UPR_SET, encoding="mac_roman"))
    assert NASTY not in _texts(wrong)


def test_wrong_encoding_for_the_bytes_is_refused_clearly(tmp_path):
    path = write_csv(tmp_path / "win.csv", upr_rows(), encoding="cp1252")
    with pytest.raises(BadFile, match="not valid utf-8"):
        prepare(path, Options(fixed=UPR_SET, encoding="utf-8"))
    with pytest.raises(BadFile, match="Unknown encoding"):
        prepare(path, Options(fixed=UPR_SET, encoding="klingon-8"))


def test_blank_and_repeated_header_rows_are_skipped_and_row_numbers_kept(tmp_path):
    rows = upr_rows()
    messy = [
        [""] * 6,
        rows[0],
        rows[1],
        ["", "", "", "", "", ""],
        rows[0],
        rows[2],
        ["", "France", "China", "", "", "28.9"],
    ]
    path = write_csv(tmp_path / "messy.csv", messy)
    preview = prepare(path, Options(fixed=UPR_SET))
    assert preview.counts()["recommendations"]["create"] == 1
    # The row without text is rejected with its row number as a spreadsheet shows it, and its column.
    assert [(r.row, r.column, r.reason) for r in preview.rejections] == [(7, "Recommendation", "no text")]


# --- UPR tables ------------------------------------------------------------------------------------------


def test_long_format_folds_into_one_recommendation(tmp_path):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    preview = prepare(path, Options(fixed={**UPR_SET, "state_under_review": "Ignored, the file has it"}))
    iccpr = next(c for c in preview.candidates if c.text == "Ratify the ICCPR")
    assert iccpr.rows == [2, 3, 4]
    assert iccpr.recommending_states == ["France", "Japan"]
    assert iccpr.themes == ["Acceptance of international norms", "Civil & political rights"]
    assert iccpr.states_concerned == ["China"]
    assert iccpr.response == "accepted"
    assert iccpr.code == "a-hrc-40-6-28-1"
    assert {c.response for c in preview.candidates} == {"accepted", "noted"}


def test_unknown_response_and_themes_are_listed_never_created(tmp_path):
    rows = upr_rows()
    rows[5][3] = "Supported in part"
    path = write_csv(tmp_path / "upr.csv", rows)
    preview = prepare(path, Options(fixed=UPR_SET))
    unknown = preview.as_dict()["unknown"]
    assert unknown["response"] == {"Supported in part": 1}
    assert "Death penalty" in unknown["theme"]
    death = next(c for c in preview.candidates if c.paragraph == "28.3")
    assert death.response == "" and death.theme_ids == []
    # Mapped by the curator: the value is used.
    mapped = prepare(path, Options(fixed=UPR_SET, value_map={("response", "supported in part"): "accepted"}))
    assert next(c for c in mapped.candidates if c.paragraph == "28.3").response == "accepted"
    assert "response" not in mapped.as_dict()["unknown"]


def test_filter_keeps_only_matching_rows(tmp_path):
    other = ["Protect defenders", "Chile", "Viet Nam", "Supported", "Human rights defenders", "9.1"]
    rows = [*upr_rows(), other]
    path = write_csv(tmp_path / "upr.csv", rows)
    preview = prepare(path, Options(fixed=UPR_SET, filters={"state_under_review": "china"}))
    assert preview.rows_filtered == 1
    assert "Protect defenders" not in _texts(preview)


def test_without_document_every_row_is_rejected_with_a_hint(tmp_path):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    preview = prepare(path, Options())
    assert len(preview.rejections) == 5
    assert preview.rejections[0].column == "document"
    assert "--set document=" in preview.rejections[0].reason


def test_new_document_without_date_is_rejected(tmp_path):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    preview = prepare(path, Options(fixed={"document": "A/HRC/40/6"}))
    assert preview.counts()["documents"]["reject"] == 1
    assert preview.counts()["recommendations"]["reject"] == 3
    assert "document_date" in preview.rejections[0].reason


# --- UHRI exports ----------------------------------------------------------------------------------------


def test_uhri_xlsx_with_misspelt_headers_serial_dates_and_multi_value_cells(tmp_path):
    rows = [
        UHRI_HEADER,
        uhri_row("a1b2", "Release all persons arbitrarily detained in Xinjiang"),
        uhri_row("c3d4", NASTY, themes="- Racial discrimination"),
    ]
    path = write_xlsx(tmp_path / "uhri.xlsx", rows)
    preview = prepare(path, Options())
    assert preview.format == "uhri-xlsx"
    doc = preview.documents["CERD/C/CHN/CO/14-17"]
    assert (doc.body, doc.published_on) == ("cerd", datetime.date(2018, 8, 22))
    first = preview.candidates[0]
    assert first.external_id == "a1b2"
    assert first.themes == ["Racial discrimination", "Freedom of movement"]
    assert first.affected_persons[-1] == "Uyghurs"
    assert first.states_concerned == ["China"]
    assert NASTY in _texts(preview)
    # No paragraph in UHRI: the code comes from the symbol and the text's hash.
    assert first.code.startswith("cerd-c-chn-co-14-17-t")


def test_uhri_xlsx_with_correct_spelling_is_recognised(tmp_path):
    header = [h.replace("Reccomending", "Recommending") for h in UHRI_HEADER]
    path = write_xlsx(tmp_path / "uhri.xlsx", [header, uhri_row("x1", "Some text")])
    assert prepare(path, Options()).format == "uhri-xlsx"


def test_uhri_json_is_streamed(tmp_path, monkeypatch):
    records = [uhri_json_record(f"id-{i}", f"Text number {i}") for i in range(3)]
    records.append(
        uhri_json_record(
            "id-upr",
            "Ratify the ICCPR",
            Body="UPR",
            Symbol="A/HRC/40/6",
            UprPositions="- Supported",
            UprRecommendingCountry="- France\n- Japan",
            UprSession="31",
            UprCycle="3",
        )
    )
    path = write_json(tmp_path / "uhri.json", records)
    import json

    def no_whole_load(*args, **kwargs):
        raise AssertionError("the JSON export must be streamed, never loaded whole")

    monkeypatch.setattr(json, "load", no_whole_load)
    monkeypatch.setattr(json, "loads", no_whole_load)
    preview = prepare(path, Options())
    assert preview.format == "uhri-json"
    assert preview.rows_read == 4
    upr = next(c for c in preview.candidates if c.external_id == "id-upr")
    assert upr.recommending_states == ["France", "Japan"]
    assert upr.response == "accepted"
    plan = preview.documents["A/HRC/40/6"]
    assert (plan.body, plan.session, plan.cycle, plan.published_on) == (
        "upr",
        "31",
        "3",
        datetime.date(2016, 2, 3),
    )
    assert preview.documents["CAT/C/CHN/CO/5"].body == "cat"


# --- Files that are not what they claim ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, {}, "not a CSV, XLSX or JSON"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, {}, "old .xls"),
        (b"PK\x03\x04this is no workbook", {}, "not a readable XLSX"),
        (b'{"not": "an array"}', {}, "not an array of UHRI records"),
        (b'[{"AnnotationId": "x", "Text": "t"}, {broken', {}, "not valid after record 1"),
        (b"a,b,c\n1,2,3\n", {}, "No column we recognise"),
        (b"Recommendation,Response\nDo it,Supported\n", {"format": "uhri-xlsx"}, "not an XLSX workbook"),
        (b"Recommendation,Response\nDo it,Supported\n", {"format": "uhri-json"}, "not a JSON file"),
        (b"Recommendation,Response\nDo it,Supported\n", {"format": "tracker-csv"}, "no column for code"),
        (b"Recommendation\nDo it\n", {"mapping": {"paragraph": "Nope"}}, "no column “Nope”"),
        (b"   \n", {}, "empty"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_clearly(tmp_path, content, options, message):
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    with pytest.raises(BadFile, match=message):
        prepare(path, Options(**options))
    assert Recommendation.objects.count() == 0


def test_unknown_field_in_options_is_refused(tmp_path):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    with pytest.raises(BadFile, match="unknown field"):
        prepare(path, Options(fixed={"colour": "red"}))


# --- Our own export --------------------------------------------------------------------------------------


def test_export_then_reimport_changes_nothing(tmp_path, client, personas):
    from django.test import Client

    staff = Client()
    staff.force_login(personas.carol)
    response = staff.get("/api/v1/export/recommendations.csv")
    assert response.status_code == 200
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(response.streaming_content))
    before = {r.code: (r.text, r.updated_at) for r in Recommendation.objects.all()}
    preview = prepare(path, Options())
    assert preview.format == "tracker-csv"
    assert preview.counts()["recommendations"] == {"create": 0, "update": 0, "unchanged": 2, "reject": 0}
    apply(preview, user=personas.carol, path=path)
    assert {r.code: (r.text, r.updated_at) for r in Recommendation.objects.all()} == before
    assert Document.objects.count() == 1


def test_edited_export_updates_text_with_a_history_row(tmp_path, personas):
    from cases.models import Recommendation as R

    rows = [["code", "document", "paragraph", "text", "addressee", "themes", "implementation_status"]]
    rows.append(
        ["XJ22-151-i", "xj22", "151(i)", "A corrected text.", "state", "arbitrary-detention", "implemented"]
    )
    rows.append(["NOPE-1", "xj22", "1", "Unknown code.", "state", "", ""])
    path = write_csv(tmp_path / "edited.csv", rows)
    preview = prepare(path, Options())
    assert preview.counts()["recommendations"]["update"] == 1
    assert [(r.row, r.column) for r in preview.rejections] == [(3, "code")]
    apply(preview, user=personas.carol, path=path)
    rec = R.objects.get(code="XJ22-151-i")
    assert rec.text == "A corrected text."
    # The status column is never imported: status changes through the review workflow only.
    assert rec.implementation_status == "not_assessed"
    latest = rec.history.first()
    assert latest.history_type == "~" and latest.history_user == personas.carol
