"""Importing people from a spreadsheet (issue 12): real messy files (Windows-1252, UTF-16 with Latin, Uyghur
and Chinese names, XLSX), likely duplicates against the database and within the file shown in the preview
and never created silently, bad rows rejected with row number and reason, curators only, one organisation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from cases.imports import BadFile
from cases.models import ImportRun
from cases.people import services
from cases.people.imports import PeopleOptions, apply_people, prepare_people
from cases.people.models import Person
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

# Row 1 is the header. Row 3 repeats the person on record (another spelling, same birth year and place);
# row 6 repeats row 2 within the file; rows 4, 7 to 11 are bad, each for one reason.
CP1252_ROWS = [
    "Name;Year of birth;Prefecture;Gender;Consent;Recommendations;XVDB",
    "Mihrigül Tursun;1989;Cherchen;F;;XJ22-151-i;",
    "Abdurahim Héyit;1962;Kashgar;male;no;xj22-151-i;",
    ";1970;Hotan;;;;",
    "Gulbahar Jalilova;1964;Ghulja;female;yes;;",
    "Mihrigul Tursun;1989;Cherchen;f;;;",
    "Zumret Dawut;19x7;Urumqi;;;;",
    "Qelbinur Sidiq;1700;Urumqi;;;;",
    "Sayragul Sauytbay;1977;Ili;xx;;;",
    "Omir Bekali;1976;Turpan;;maybe;;",
    "Rahile Dawut;1966;Hotan;;;XJ99-999;",
]


def write_cp1252(tmp_path: Path) -> Path:
    path = tmp_path / "people-windows.csv"
    path.write_bytes("\r\n".join(CP1252_ROWS).encode("cp1252"))
    return path


UTF16_ROWS = [
    ["Name (Latin)", "Name (Uyghur)", "Name (Chinese)", "Birth year", "Prefecture", "WGEID case", "Notes"],
    ["", "ئابدۇرېھىم ھېيىت", "", "1962", "Kashgar", "", "same as on record"],
    ["Ilham Tohti", "ئىلھام توختى", "伊力哈木·土赫提", "1969", "Atush", "", ""],
    ["", "", "伊力哈木·土赫提", "1969", "", "", "same as row 3, Chinese only"],
    ["Tashpolat Tiyip", "", "塔西甫拉提·特依拜", "1958", "Ghulja", "WG-1001", ""],
    ["Tashpolat Teyip", "", "", "", "", "WG-1001", "same external id as row 5"],
]


def write_utf16(tmp_path: Path) -> Path:
    # What Excel writes as "Unicode text": UTF-16 with a byte-order mark, tab-separated.
    path = tmp_path / "people-unicode.txt"
    text = "\r\n".join("\t".join(cells) for cells in UTF16_ROWS)
    path.write_bytes(text.encode("utf-16"))
    return path


@pytest.fixture
def world(personas):
    p = personas
    from tests.factories import make_user

    p.oscar = make_user("oscar", role="curator", organisation=p.other_org)
    p.on_record = services.add_person(
        created_by=p.alice,
        name_latin="Abdurehim Heyit",
        name_uyghur="ئابدۇرېھىم ھېيىت",
        birth_year=1962,
        prefecture="Kashgar",
    )
    # Held by another organisation: never a duplicate candidate of ours, never touched by our import.
    p.theirs = services.add_person(
        created_by=p.mallory, name_latin="Gulbahar Jalilova", birth_year=1964, prefecture="Ghulja"
    )
    return p


def _prepare(path, world, **options):
    return prepare_people(path, PeopleOptions(**options), organisation_id=world.org.pk)


def test_windows_1252_file_preview(world, tmp_path):
    preview = _prepare(write_cp1252(tmp_path), world)
    assert preview.encoding == "cp1252" and preview.encoding_detected
    assert preview.rows_read == 10
    rejected = {(r.row, r.column): r.reason for r in preview.rejections}
    assert set(rejected) == {
        (4, "Name"),
        (7, "Year of birth"),
        (8, "Year of birth"),
        (9, "Gender"),
        (10, "Consent"),
        (11, "Recommendations"),
    }
    assert "no name" in rejected[(4, "Name")]
    assert "19x7" in rejected[(7, "Year of birth")] and "1700" in rejected[(8, "Year of birth")]
    assert "XJ99-999" in rejected[(11, "Recommendations")]
    rows = {r.row: r for r in preview.rows}
    assert rows[2].fields["name_latin"] == "Mihrigül Tursun"  # decoded, not mojibake
    assert rows[2].recommendations == ["XJ22-151-i"] and rows[3].recommendations == ["XJ22-151-i"]
    # Against the database: another spelling of the person on record, never another organisation's.
    assert [m["reference"] for m in rows[3].matches] == [world.on_record.reference]
    assert rows[5].matches == []  # Gulbahar Jalilova is held by the other organisation only
    # Within the file.
    assert rows[6].same_as_rows == [2] and rows[2].same_as_rows == []
    assert {r.row: r.action for r in preview.rows} == {2: "create", 3: "skip", 5: "create", 6: "skip"}
    assert preview.counts()["people"] == {"create": 2, "skip": 2, "merge": 0}
    assert Person.objects.count() == 2  # the preview wrote nothing


def test_utf16_file_with_three_scripts(world, tmp_path):
    preview = _prepare(write_utf16(tmp_path), world)
    assert preview.encoding == "utf-16" and preview.rejections == []
    assert preview.ignored_columns == ["Notes"]
    rows = {r.row: r for r in preview.rows}
    assert rows[2].fields["name_uyghur"] == "ئابدۇرېھىم ھېيىت"
    assert rows[2].matches[0]["reference"] == world.on_record.reference
    assert rows[4].same_as_rows == [3]  # Chinese only, found by pinyin
    assert rows[6].same_as_rows == [5]  # the same WGEID case
    assert rows[3].matches == [] and not rows[5].duplicate


def test_apply_creates_with_the_models_defaults_and_skips_duplicates(world, tmp_path):
    path = write_cp1252(tmp_path)
    run = apply_people(_prepare(path, world), user=world.carol, path=path)
    assert run.format == "people" and run.status == "done" and run.organisation_id == world.org.pk
    assert run.counts["written"] == {"created": 2}
    created = Person.objects.filter(created_by=world.carol).order_by("name_latin")
    assert [p.name_latin for p in created] == ["Gulbahar Jalilova", "Mihrigül Tursun"]
    gulbahar, mihrigul = created
    assert gulbahar.organisation_id == world.org.pk and gulbahar.consent == "yes"
    assert (
        mihrigul.consent == "unknown" and mihrigul.confidentiality == "internal" and mihrigul.risk == "high"
    )
    assert mihrigul.gender == "female" and mihrigul.birth_year == 1989
    assert [r.code for r in mihrigul.recommendations.all()] == ["XJ22-151-i"]
    assert {r["row"] for r in run.rejections} == {4, 7, 8, 9, 10, 11}
    # Audited: the import and each person added.
    assert AuditEvent.objects.filter(event="import.apply", target_id=str(run.pk)).exists()
    assert AuditEvent.objects.filter(event="import.finish", target_id=str(run.pk)).exists()
    assert AuditEvent.objects.filter(event="person.add", actor_id=world.carol.pk).count() == 2
    # Importing the same file again creates nobody: each row is now a likely duplicate.
    again = _prepare(path, world)
    assert again.counts()["people"]["create"] == 0
    apply_people(again, user=world.carol, path=path)
    assert Person.objects.count() == 4


def test_curator_decides_merge_and_create(world, tmp_path):
    path = write_cp1252(tmp_path)
    preview = _prepare(path, world, decisions={3: "merge", 6: "create"})
    assert {r.row: (r.action, r.merge_into) for r in preview.rows if r.duplicate} == {
        3: ("merge", world.on_record.reference),
        6: ("create", ""),
    }
    apply_people(preview, user=world.carol, path=path)
    on_record = Person.objects.get(pk=world.on_record.pk)
    assert "Abdurahim Héyit" in on_record.aliases.splitlines()
    assert on_record.name_latin == "Abdurehim Heyit" and on_record.gender == "male"  # filled, not overwritten
    assert [r.code for r in on_record.recommendations.all()] == ["XJ22-151-i"]
    assert Person.objects.filter(name_latin__startswith="Mihrig").count() == 2
    assert AuditEvent.objects.filter(event="person.change", target_id=str(on_record.pk)).exists()


def test_merge_into_an_earlier_row_of_the_file(world, tmp_path):
    path = write_utf16(tmp_path)
    preview = _prepare(path, world, duplicates="merge")
    rows = {r.row: r for r in preview.rows}
    assert rows[4].merge_into == "row:3" and rows[2].merge_into == world.on_record.reference
    apply_people(preview, user=world.carol, path=path)
    ilham = Person.objects.get(name_latin="Ilham Tohti", organisation=world.org)
    assert ilham.name_chinese == "伊力哈木·土赫提"
    tashpolat = Person.objects.get(wgeid_ref="WG-1001")
    assert "Tashpolat Teyip" in tashpolat.aliases.splitlines()
    assert Person.objects.filter(organisation=world.org).count() == 3  # on record, Ilham, Tashpolat


def test_xlsx_file(world, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Full name", "Born", "Hometown", "Shahit"])
    sheet.append(["Mihrigul Tursun", 1989.0, "Cherchen", 1234])
    sheet.append([None, None, None, None])
    sheet.append(["Abdurehim Heyit", 1962, "Kashgar", None])
    path = tmp_path / "upload"  # no extension: the bytes say what it is
    workbook.save(path)
    preview = _prepare(path, world)
    assert preview.encoding == "xlsx" and preview.rejections == []
    rows = {r.row: r for r in preview.rows}
    assert rows[2].fields["birth_year"] == 1989 and rows[2].fields["xvdb_entry"] == "1234"
    assert rows[4].matches[0]["reference"] == world.on_record.reference


def test_only_curators_of_the_organisation(world, tmp_path):
    path = write_cp1252(tmp_path)
    preview = _prepare(path, world)
    with pytest.raises(PermissionDenied) as refused:
        apply_people(preview, user=world.alice, path=path)  # a monitor
    assert "curators" in str(refused.value)
    with pytest.raises(PermissionDenied) as other:
        apply_people(_prepare(path, world), user=world.oscar, path=path)  # prepared for our organisation
    assert "another organisation" in str(other.value)
    assert Person.objects.count() == 2 and not ImportRun.objects.exists()


def test_another_organisation_imports_into_its_own_records(world, tmp_path):
    path = write_cp1252(tmp_path)
    preview = prepare_people(path, PeopleOptions(), organisation_id=world.other_org.pk)
    rows = {r.row: r for r in preview.rows}
    assert rows[3].matches == []  # our record is not theirs to see
    assert rows[5].matches[0]["reference"] == world.theirs.reference  # theirs is
    apply_people(preview, user=world.oscar, path=path)
    assert Person.objects.filter(organisation=world.org).count() == 1  # ours unchanged
    assert Person.objects.get(pk=world.on_record.pk).aliases == ""
    assert set(Person.objects.filter(created_by=world.oscar).values_list("organisation_id", flat=True)) == {
        world.other_org.pk
    }


def test_bad_files_and_options(world, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BadFile):
        _prepare(empty, world)
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("Colour,Size\nred,1\n")
    with pytest.raises(BadFile, match="name"):
        _prepare(nameless, world)
    with pytest.raises(BadFile, match="no column"):
        _prepare(write_cp1252(tmp_path), world, mapping={"name_latin": "Nom"})
    with pytest.raises(BadFile, match="unknown field"):
        _prepare(write_cp1252(tmp_path), world, mapping={"photo": "Name"})
    with pytest.raises(BadFile, match="decision"):
        _prepare(write_cp1252(tmp_path), world, decisions={3: "overwrite"})


def test_mapping_a_column(world, tmp_path):
    path = tmp_path / "mapped.csv"
    path.write_text("Nom complet,Année\nMihrigul Tursun,1989\n", encoding="utf-8")
    preview = _prepare(path, world, mapping={"name_latin": "Nom complet", "birth_year": "Année"})
    assert (
        preview.rows[0].fields["name_latin"] == "Mihrigul Tursun"
        and preview.rows[0].fields["birth_year"] == 1989
    )


# --- The command -----------------------------------------------------------------------------------------


def _command(*args) -> str:
    out = io.StringIO()
    call_command("import_people", *map(str, args), stdout=out)
    return out.getvalue()


def test_command_dry_run_prints_the_preview_and_writes_nothing(world, tmp_path):
    out = _command(write_cp1252(tmp_path), "--as", "carol", "--dry-run")
    assert "encoding cp1252 (detected" in out
    assert "row 7, “Year of birth”: not a year: “19x7”" in out
    assert f"row 3: Abdurahim Héyit ≈ {world.on_record.reference}" in out
    assert "row 6: Mihrigul Tursun ≈ row 2 of this file → skip" in out
    assert "Dry run" in out and Person.objects.count() == 2


def test_command_applies_with_decisions(world, tmp_path):
    out = _command(write_cp1252(tmp_path), "--as", "carol", "--decide", "3=merge", "--duplicates", "create")
    assert "3 people created, 1 merged" in out
    assert Person.objects.filter(organisation=world.org).count() == 4


def test_command_refuses_a_monitor_and_unknown_users(world, tmp_path):
    path = write_cp1252(tmp_path)
    with pytest.raises(CommandError, match="Only curators"):
        _command(path, "--as", "alice")
    with pytest.raises(CommandError, match="No active user"):
        _command(path, "--as", "nobody")
    with pytest.raises(CommandError, match="ROW"):
        _command(path, "--as", "carol", "--decide", "x=create")
    assert Person.objects.count() == 2
