"""Importing people from a spreadsheet (CSV or XLSX), with likely duplicates in the preview.

It reuses the recommendations importer's machinery (cases/imports): `encoding.sniff` (what the file is, its
encoding: BOM, UTF-8, UTF-16, Windows-1252 or Mac Roman), `tables` (rows numbered as the spreadsheet shows
them, header found, blank and repeated header rows skipped), `normalise.header_key`/`clean`/`values`, the
`ImportRun` report and the `import.*` audit events. What is particular to people lives here:

    options = PeopleOptions(mapping={...}, encoding=None, decisions={row: "create"|"skip"|"merge"})
    preview = prepare_people(path, options, organisation_id=org.pk)   # reads, never writes
    run = apply_people(preview, user=curator, path=path)             # batches, each one transaction

The preview rejects a bad row with its number, column and reason (no name and no external reference, an
unknown gender, consent, risk or confidentiality, a year of birth out of range, a value too long, a
recommendation code we do not have), and lists, for each good row, the organisation's people it is likely
to be (`services.likely_duplicates`: names folded across scripts, birth year, prefecture, external ids)
and the earlier rows of the same file it is likely to repeat (the same scoring, `dedupe.score`). A row
with a likely duplicate is never created silently: it waits for the curator's decision, `create` (a
different person), `skip` (already on record; the default) or `merge` (its names become aliases of the
match, its empty details filled in, its recommendations linked). People are created by
`services.add_person`, held by the importing curator's organisation, with the model's defaults where the
file says nothing: consent `unknown`, risk `high`, confidentiality `internal`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.imports.apply import ImportFailed, file_sha256
from cases.imports.encoding import BadFile, sniff
from cases.imports.normalise import clean, header_key, values
from cases.imports.preview import Rejection
from cases.imports.tables import Table, csv_rows, xlsx_rows
from cases.models import Confidentiality, ImportRun, ImportStatus, Recommendation
from tracker.accounts.audit import record
from tracker.accounts.roles import is_curator

from . import dedupe, services
from .models import Consent, Gender, Person, Risk

FORMAT = "people"

# FIELD → header synonyms (compared by header_key: case, spaces, underscores and punctuation ignored).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name_latin": ("name_latin", "name (latin)", "latin name", "name", "full name", "name latin script"),
    "name_uyghur": ("name_uyghur", "name (uyghur)", "uyghur name", "name (uyghur arabic script)", "ئىسمى"),
    "name_chinese": ("name_chinese", "name (chinese)", "chinese name", "中文名", "姓名"),
    "aliases": ("aliases", "alias", "other names", "other spellings"),
    "gender": ("gender", "sex", "性别"),
    "birth_year": ("birth_year", "year of birth", "birth year", "born", "出生年份"),
    "ethnicity": ("ethnicity", "ethnic group", "民族"),
    "prefecture": ("prefecture", "place of origin", "place of origin (prefecture)", "hometown", "origin"),
    "occupation": ("occupation", "profession", "job"),
    "xvdb_entry": ("xvdb_entry", "xvdb", "xinjiang victims database entry", "shahit", "entry number"),
    "wgeid_ref": ("wgeid_ref", "wgeid", "wgeid case reference", "wgeid case"),
    "un_communication_ref": ("un_communication_ref", "un communication", "un communication reference"),
    "document_refs": ("document_refs", "document numbers", "court or police document numbers"),
    "consent": ("consent", "consent to public advocacy"),
    "risk": ("risk", "risk level"),
    "confidentiality": ("confidentiality",),
    "recommendations": ("recommendations", "recommendation", "recommendation codes"),
}
FIELDS = tuple(COLUMNS)
NAME_FIELDS = ("name_latin", "name_uyghur", "name_chinese")

GENDERS = {
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
    "woman": Gender.FEMALE,
    "女": Gender.FEMALE,
    "ئايال": Gender.FEMALE,
    "male": Gender.MALE,
    "m": Gender.MALE,
    "man": Gender.MALE,
    "男": Gender.MALE,
    "ئەر": Gender.MALE,
    "other": Gender.OTHER,
    "unknown": Gender.UNKNOWN,
    "?": Gender.UNKNOWN,
}
CONSENTS = {
    "yes": Consent.YES,
    "y": Consent.YES,
    "no": Consent.NO,
    "n": Consent.NO,
    "unknown": Consent.UNKNOWN,
    "?": Consent.UNKNOWN,
}
DECISIONS = ("create", "skip", "merge")
MAX_MATCHES_SHOWN = 3


class PeopleOptions:
    """What the curator chose: columns (--map), encoding, and a decision per row with a likely duplicate
    (`create`, `skip`, `merge`); `duplicates` is the decision for rows without one of their own."""

    def __init__(
        self,
        *,
        mapping: dict[str, str] | None = None,
        encoding: str | None = None,
        decisions: dict[int, str] | None = None,
        duplicates: str = "skip",
        batch_size: int = 200,
    ):
        self.mapping = dict(mapping or {})
        self.encoding = encoding or None
        self.decisions = dict(decisions or {})
        self.duplicates = duplicates
        self.batch_size = batch_size
        for name in self.mapping:
            if name not in COLUMNS:
                raise BadFile(
                    _("--map %(name)s: unknown field; the fields are: %(all)s.")
                    % {"name": name, "all": ", ".join(FIELDS)}
                )
        for row, decision in [*self.decisions.items(), (0, duplicates)]:
            if decision not in DECISIONS:
                raise BadFile(
                    _("Row %(row)s: “%(d)s” is not a decision; choose create, skip or merge.")
                    % {"row": row, "d": decision}
                )
        if batch_size < 1:
            raise BadFile(_("The batch size must be at least 1."))

    def as_dict(self) -> dict:
        return {
            "map": self.mapping,
            "encoding": self.encoding or "",
            "decisions": {str(k): v for k, v in sorted(self.decisions.items())},
            "duplicates": self.duplicates,
        }


@dataclass
class PersonRow:
    """One good row: the person as it will be stored, and what it is likely to be already."""

    row: int
    fields: dict[str, object]
    recommendations: list[str] = field(default_factory=list)
    matches: list[dict] = field(default_factory=list)  # existing people: reference, score, reasons
    same_as_rows: list[int] = field(default_factory=list)  # earlier rows of this file
    action: str = "create"  # create, skip, merge
    merge_into: str = ""  # a reference, or "row:N"

    @property
    def duplicate(self) -> bool:
        return bool(self.matches or self.same_as_rows)

    def label(self) -> str:
        names = [str(self.fields.get(n) or "") for n in NAME_FIELDS]
        return " / ".join(n for n in names if n) or str(self.fields.get("xvdb_entry") or "")

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "name": self.label(),
            "birth_year": self.fields.get("birth_year"),
            "prefecture": self.fields.get("prefecture", ""),
            "matches": self.matches,
            "same_as_rows": self.same_as_rows,
            "action": self.action,
            "merge_into": self.merge_into,
        }


@dataclass
class PeoplePreview:
    file_name: str
    encoding: str
    encoding_detected: bool
    columns: dict[str, str]
    ignored_columns: list[str]
    options: PeopleOptions
    organisation_id: int
    rows_read: int = 0
    rows: list[PersonRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    applied: bool = False

    @property
    def format(self) -> str:
        return FORMAT

    def counts(self) -> dict:
        actions = Counter(r.action for r in self.rows)
        return {
            "rows": {
                "read": self.rows_read,
                "rejected": len({r.row for r in self.rejections}),
                "likely_duplicates": sum(1 for r in self.rows if r.duplicate),
            },
            "people": {k: actions.get(k, 0) for k in DECISIONS},
        }

    def duplicates(self) -> list[PersonRow]:
        return [r for r in self.rows if r.duplicate]

    def as_dict(self) -> dict:
        return {
            "file_name": self.file_name,
            "format": FORMAT,
            "encoding": self.encoding,
            "encoding_detected": self.encoding_detected,
            "columns": self.columns,
            "ignored_columns": self.ignored_columns,
            "counts": self.counts(),
            "rejections": [r.as_dict() for r in self.rejections],
            "duplicates": [r.as_dict() for r in self.duplicates()],
        }


# --- Reading ------------------------------------------------------------------------------------------------


def _table(path: Path, options: PeopleOptions) -> tuple[Table, str, bool]:
    if not path.is_file():
        raise BadFile(_("No such file: %(p)s") % {"p": path})
    sniffed = sniff(path, options.encoding)
    if sniffed.kind == "json":
        raise BadFile(_("People are imported from a CSV or XLSX table, not JSON."))
    if sniffed.kind == "xlsx":
        return Table(xlsx_rows(path)), "xlsx", False
    return Table(csv_rows(path, sniffed.encoding)), sniffed.encoding, sniffed.detected


def _resolve(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    by_key = {header_key(h): h for h in header if h}
    for name, column in mapping.items():
        if header_key(column) not in by_key:
            raise BadFile(
                _("--map %(name)s=%(col)s: the file has no column “%(col)s”; its columns are: %(all)s.")
                % {"name": name, "col": column, "all": ", ".join(header)}
            )
    mapped = {header_key(c) for c in mapping.values()}
    columns: dict[str, str] = {}
    for name, synonyms in COLUMNS.items():
        for synonym in synonyms:
            key = header_key(synonym)
            if key in by_key and key not in mapped and by_key[key] not in columns.values():
                columns[name] = by_key[key]
                break
    for name, column in mapping.items():
        columns[name] = by_key[header_key(column)]
    return columns


def prepare_people(
    path: Path | str, options: PeopleOptions | None = None, *, organisation_id: int
) -> PeoplePreview:
    """Read the file and work out what importing it would do for the organisation. Reads, never writes."""
    options = options or PeopleOptions()
    path = Path(path)
    table, encoding, detected = _table(path, options)
    columns = _resolve(table.header, options.mapping)
    if not any(name in columns for name in (*NAME_FIELDS, "xvdb_entry", "wgeid_ref")):
        raise BadFile(
            _(
                "No column holds a name or an external reference; map one with --map name_latin=COLUMN. "
                "Its columns are: %(all)s."
            )
            % {"all": ", ".join(table.header)}
        )
    used = set(columns.values())
    preview = PeoplePreview(
        file_name=path.name,
        encoding=encoding,
        encoding_detected=detected,
        columns=columns,
        ignored_columns=[h for h in table.header if h and h not in used],
        options=options,
        organisation_id=organisation_id,
    )
    parsed: list[tuple[int, dict, list[str]]] = []
    wanted_codes: set[str] = set()
    for number, cells in table:
        preview.rows_read += 1
        raw = {name: cells.get(column) for name, column in columns.items()}
        result = _parse(number, raw, columns, preview)
        if result is not None:
            parsed.append(result)
            wanted_codes.update(result[2])
    known = _known_codes(wanted_codes)
    for number, fields, codes in parsed:
        missing = [c for c in codes if c.casefold() not in known]
        if missing:
            preview.rejections.append(
                Rejection(
                    number,
                    columns.get("recommendations", "recommendations"),
                    _("no recommendation with the code %(codes)s") % {"codes": ", ".join(missing)},
                )
            )
            continue
        preview.rows.append(PersonRow(number, fields, [known[c.casefold()] for c in codes]))
    _find_duplicates(preview)
    _decide(preview)
    return preview


def _known_codes(codes: set[str]) -> dict[str, str]:
    """Our codes for the codes the file gives (casefolded → ours), a thousand at a time; a code typed in
    another case ("xj22-151-i") is looked up again case-insensitively."""
    from django.db.models import Q

    found: dict[str, str] = {}
    wanted = sorted(codes)
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(
            (c.casefold(), c)
            for c in Recommendation.objects.filter(code__in=chunk).values_list("code", flat=True)
        )
    missing = [c for c in wanted if c.casefold() not in found]
    for start in range(0, len(missing), 100):
        q = Q(pk__in=[])
        for code in missing[start : start + 100]:
            q |= Q(code__iexact=code)
        found.update(
            (c.casefold(), c) for c in Recommendation.objects.filter(q).values_list("code", flat=True)
        )
    return found


def _choice(raw: str, table: dict, choices) -> str | None:
    key = raw.strip().casefold()
    if not key:
        return ""
    if key in table:
        return table[key]
    return key if key in choices.values else None


def _parse(
    number: int, raw: dict, columns: dict, preview: PeoplePreview
) -> tuple[int, dict, list[str]] | None:
    def reject(name: str, reason: str) -> None:
        preview.rejections.append(Rejection(number, columns.get(name, name), reason))

    fields: dict[str, object] = {}
    for name in FIELDS:
        if name in ("aliases", "document_refs", "recommendations"):
            continue
        fields[name] = clean(raw.get(name))
    fields["aliases"] = "\n".join(values(raw.get("aliases")))
    fields["document_refs"] = "\n".join(values(raw.get("document_refs")))
    codes = values(raw.get("recommendations"))
    if not any(fields[n] for n in (*NAME_FIELDS, "xvdb_entry", "wgeid_ref")) and not fields["aliases"]:
        reject("name_latin", _("no name and no external reference"))
        return None
    for name, table, choices, default in (
        ("gender", GENDERS, Gender, Gender.UNKNOWN),
        ("consent", CONSENTS, Consent, Consent.UNKNOWN),
        ("risk", {}, Risk, Risk.HIGH),
        ("confidentiality", {}, Confidentiality, Confidentiality.INTERNAL),
    ):
        value = _choice(str(fields[name]), table, choices)
        if value is None:
            reject(
                name,
                _("unknown %(field)s “%(v)s”; one of: %(all)s")
                % {"field": name, "v": fields[name], "all": ", ".join(choices.values)},
            )
            return None
        fields[name] = value or default
    year = fields.pop("birth_year")
    if year:
        try:
            birth_year = int(float(str(year)))
        except ValueError:
            reject("birth_year", _("not a year: “%(v)s”") % {"v": year})
            return None
        if not 1880 <= birth_year <= timezone.now().year:
            reject("birth_year", _("year of birth %(v)s is out of range") % {"v": birth_year})
            return None
        fields["birth_year"] = birth_year
    for name, value in fields.items():
        limit = Person._meta.get_field(name).max_length
        if limit and isinstance(value, str) and len(value) > limit:
            reject(name, _("longer than %(n)s characters") % {"n": limit})
            return None
    return number, fields, codes


# --- Duplicates -----------------------------------------------------------------------------------------------


def _names(fields: dict) -> list[str]:
    names = [str(fields.get(n) or "") for n in NAME_FIELDS]
    names += str(fields.get("aliases") or "").splitlines()
    return [n for n in names if n.strip()]


def _refs(fields: dict) -> dict[str, str]:
    return {f: str(fields.get(f) or "") for f in dedupe.EXTERNAL_REFS if fields.get(f)}


def _find_duplicates(preview: PeoplePreview) -> None:
    """Each row against the organisation's people (services.likely_duplicates, one query a row) and against
    the earlier rows of the file (blocked by name skeleton words and external references, scored alike)."""
    seen: list[SimpleNamespace] = []
    blocks: dict[str, list[int]] = defaultdict(list)
    for row in preview.rows:
        f = row.fields
        names, refs = _names(f), _refs(f)
        birth_year, prefecture = f.get("birth_year"), str(f.get("prefecture") or "")
        for m in services.likely_duplicates(
            preview.organisation_id,
            names=names,
            birth_year=birth_year,
            prefecture=prefecture,
            refs=refs,
            limit=MAX_MATCHES_SHOWN,
        ):
            row.matches.append(
                {"reference": m.person.reference, "score": m.score, "reasons": list(m.reasons)}
            )
        me = SimpleNamespace(
            row=row.row,
            search_key=dedupe.search_key(
                SimpleNamespace(name_latin="", name_uyghur="", name_chinese="", aliases="\n".join(names))
            ),
            birth_year=birth_year,
            prefecture=prefecture,
            **{r: str(f.get(r) or "") for r in dedupe.EXTERNAL_REFS},
        )
        keys = {f"ref:{k}:{v.strip().casefold()}" for k, v in refs.items()}
        for name in names:
            keys.update(f"w:{w}" for w in dedupe.skeleton(dedupe.fold(name)).split() if len(w) >= 3)
        candidates = sorted({i for k in keys for i in blocks.get(k, ())})
        for i in candidates:
            other = seen[i]
            if dedupe.score(names, other, birth_year=birth_year, prefecture=prefecture, refs=refs):
                row.same_as_rows.append(other.row)
        for k in keys:
            blocks[k].append(len(seen))
        seen.append(me)


def _decide(preview: PeoplePreview) -> None:
    by_row = {r.row: r for r in preview.rows}
    for row in preview.rows:
        if not row.duplicate:
            row.action = "create"
            continue
        row.action = preview.options.decisions.get(row.row, preview.options.duplicates)
        if row.action == "merge":
            if row.matches:
                row.merge_into = row.matches[0]["reference"]
            else:
                # Into the earlier row of the file, which must itself become (or join) a person.
                target = by_row[row.same_as_rows[0]]
                row.merge_into = f"row:{target.row}"
                if target.action == "skip":
                    row.action = "skip"
                    row.merge_into = ""


# --- Writing ---------------------------------------------------------------------------------------------------


def apply_people(preview: PeoplePreview, *, user, path: Path | str | None = None, progress=None) -> ImportRun:
    """Write a prepared people import as `user`, a curator of the organisation it was prepared for, in
    batches (each one transaction; `ImportRun.batches_done` moves with it). Returns the report."""
    if not is_curator(user):
        raise PermissionDenied(_("Only curators import people."))
    organisation = services.organisation_of(user)
    if organisation.pk != preview.organisation_id:
        raise PermissionDenied(_("This import was prepared for another organisation."))
    if preview.applied:
        raise ValueError("This preview has been applied already; prepare the file again.")
    preview.applied = True
    work = [r for r in preview.rows if r.action in ("create", "merge")]
    size = preview.options.batch_size
    batches = [work[i : i + size] for i in range(0, len(work), size)]
    sha = file_sha256(path) if path else ""
    with transaction.atomic():
        run = ImportRun.objects.create(
            file_name=preview.file_name[:255],
            sha256=sha,
            format=FORMAT,
            encoding=preview.encoding,
            options=preview.options.as_dict(),
            rows_read=preview.rows_read,
            batches_total=len(batches),
            counts=preview.counts(),
            rejections=[r.as_dict() for r in preview.rejections[:10_000]],
            created_by=user,
            organisation=organisation,
        )
        record("import.apply", actor=user, target=run, format=FORMAT, rows=run.rows_read, sha256=sha[:16])
    done: Counter = Counter()
    by_row: dict[int, Person] = {}
    step = 0
    try:
        for step, batch in enumerate(batches, start=1):
            with transaction.atomic():
                for row in batch:
                    _write(row, user, by_row, done)
                ImportRun.objects.filter(pk=run.pk).update(batches_done=step, updated_at=timezone.now())
            if progress:
                progress(step, len(batches))
    except Exception as exc:
        detail = (
            "; ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        )
        message = _(
            "Batch %(step)s of %(total)s failed (%(error)s). Batches 1 to %(done)s are applied; run the same "
            "import again: the people they created are found as likely duplicates and skipped."
        ) % {"step": step, "total": len(batches), "error": detail[:300], "done": max(0, step - 1)}
        with transaction.atomic():
            ImportRun.objects.filter(pk=run.pk).update(
                status=ImportStatus.FAILED, error=message, finished_at=timezone.now()
            )
            run.refresh_from_db()
            record("import.fail", actor=user, target=run, batches_done=run.batches_done)
        raise ImportFailed(message, run) from exc
    with transaction.atomic():
        counts = preview.counts()
        counts["written"] = dict(done)
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.DONE, counts=counts, finished_at=timezone.now(), batches_done=len(batches)
        )
        run.refresh_from_db()
        record(
            "import.finish",
            actor=user,
            target=run,
            created=done["created"],
            updated=done["merged"],
            responses=0,
        )
    return run


def _write(row: PersonRow, user, by_row: dict[int, Person], done: Counter) -> None:
    recommendations = list(Recommendation.objects.filter(code__in=row.recommendations))
    if row.action == "create":
        person = services.add_person(created_by=user, recommendations=recommendations, **row.fields)
        by_row[row.row] = person
        done["created"] += 1
        return
    if row.merge_into.startswith("row:"):
        target = by_row.get(int(row.merge_into[4:]))
    else:
        target = (
            Person.objects.active()
            .filter(organisation_id=services.organisation_of(user).pk, reference=row.merge_into)
            .first()
        )
    if target is None:
        raise ValidationError(
            _("Row %(row)s: the record to merge into (%(t)s) is gone.")
            % {"row": row.row, "t": row.merge_into}
        )
    services.change_person(target, by=user, **_merged_fields(target, row.fields))
    if recommendations:
        services.link_person(target, recommendations, by=user)
    by_row[row.row] = target
    done["merged"] += 1


def _merged_fields(person: Person, fields: dict) -> dict:
    """What a merged row adds to a record: its names as aliases (those not on record yet), and the details
    the record lacks. It never overwrites what a curator recorded."""
    known = {n.strip().casefold() for n in dedupe.names_of(person)}
    aliases = [line for line in person.aliases.splitlines() if line.strip()]
    for name in _names(fields):
        if name.strip().casefold() not in known:
            aliases.append(name.strip())
            known.add(name.strip().casefold())
    changes: dict[str, object] = {"aliases": "\n".join(aliases)}
    for name in ("birth_year", "prefecture", "ethnicity", "occupation", *dedupe.EXTERNAL_REFS):
        if not getattr(person, name) and fields.get(name):
            changes[name] = fields[name]
    if person.gender == Gender.UNKNOWN and fields.get("gender") not in (None, "", Gender.UNKNOWN):
        changes["gender"] = fields["gender"]
    return changes


__all__ = ["FIELDS", "PeopleOptions", "PeoplePreview", "apply_people", "prepare_people"]
