"""Parse → fold → match: what an import would do, computed without writing anything.

`prepare(path, options)` reads the file once and returns a `Preview`: counts of documents and
recommendations to create, update, leave unchanged and reject; every rejected row (row number, column,
reason); values that map to nothing we know (themes, bodies, responses), listed, never created; paragraph
numbers the file gives to several different texts; a sample of recommendations as they will be stored. The
same object carries the plan that `apply.apply()` writes, so a web page or a background task can show the
preview, wait for confirmation, then apply it.

Keys, in order (each recommendation is matched to at most one row in the database):
1. UHRI's annotation id (`external_id`), wherever the recommendation is;
2. our code (tracker CSV);
3. within its document: the paragraph and the text's hash; then, among the paragraph's remaining
   recommendations, the only one left, or the one with the same recommending States (a corrected text
   updates the recommendation instead of creating another);
4. within its document, no paragraph: the text's hash.
Long-format rows fold into one recommendation by the same key (paragraph and text, or the annotation id):
their recommending States, themes, States concerned and affected persons are merged.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from cases.models import (
    Addressee,
    Assessment,
    Basis,
    Document,
    IssuingBody,
    Recommendation,
    Theme,
    ThemeMapping,
)

from . import tracker_csv
from .normalise import (
    body,
    clean,
    date,
    header_key,
    make_code,
    paragraph,
    response,
    split_affected,
    text_hash,
    values,
)
from .reader import Options, Progress, Row, Source

SAMPLE_SIZE = 5
# Compared, and written, for a matched recommendation.
COMPARED = (
    "text",
    "paragraph",
    "recommending_states",
    "states_concerned",
    "affected_persons",
    "source_url",
    "external_id",
    "addressee",
)


@dataclass
class Rejection:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class DocumentPlan:
    symbol: str
    body: str = ""
    published_on: datetime.date | None = None
    session: str = ""
    cycle: str = ""
    title: str = ""
    first_row: int = 0
    existing: Document | None = None
    action: str = ""  # create, update, unchanged, reject
    changes: dict = field(default_factory=dict)
    reason: str = ""


@dataclass
class Candidate:
    """One recommendation as the file describes it, folded from one or more rows."""

    document: str  # symbol (or slug, tracker CSV)
    text: str
    paragraph: str
    digest: str
    rows: list[int]
    external_id: str = ""
    code: str = ""
    addressee: str = Addressee.STATE
    recommending_states: list[str] = field(default_factory=list)
    states_concerned: list[str] = field(default_factory=list)
    affected_persons: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)  # source names (or slugs, tracker CSV)
    theme_ids: list[int] = field(default_factory=list)
    source_url: str = ""
    response: str = ""
    response_document: str = ""
    # Filled by matching.
    existing_id: int | None = None
    variant: int = 0
    action: str = ""
    changes: list[str] = field(default_factory=list)
    submit_response: bool = False

    def stored(self) -> dict:
        return {
            "code": self.code,
            "document": self.document,
            "paragraph": self.paragraph,
            "text": self.text,
            "recommending_states": self.recommending_states,
            "states_concerned": self.states_concerned,
            "themes": self.themes,
            "response": self.response,
            "action": self.action,
        }


@dataclass
class Preview:
    file_name: str
    format: str
    encoding: str
    encoding_detected: bool
    columns: dict[str, str]
    ignored_columns: list[str]
    rows_read: int = 0
    rows_filtered: int = 0
    documents: dict[str, DocumentPlan] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    unknown: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    shared_paragraphs: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    applied: bool = False

    def counts(self) -> dict[str, dict[str, int]]:
        docs = Counter(d.action for d in self.documents.values())
        recs = Counter(c.action for c in self.candidates)
        return {
            "documents": {k: docs.get(k, 0) for k in ("create", "update", "unchanged", "reject")},
            "recommendations": {k: recs.get(k, 0) for k in ("create", "update", "unchanged", "reject")},
            "rows": {
                "read": self.rows_read,
                "filtered_out": self.rows_filtered,
                "rejected": len({r.row for r in self.rejections}),
            },
            "responses": {"submit": sum(1 for c in self.candidates if c.submit_response)},
        }

    def sample(self, n: int = SAMPLE_SIZE) -> list[dict]:
        shown = [c for c in self.candidates if c.action in ("create", "update")][:n]
        return [c.stored() for c in shown or self.candidates[:n]]

    def as_dict(self) -> dict:
        """Everything a page or a report shows, JSON-serialisable."""
        return {
            "file_name": self.file_name,
            "format": self.format,
            "encoding": self.encoding,
            "encoding_detected": self.encoding_detected,
            "columns": self.columns,
            "ignored_columns": self.ignored_columns,
            "counts": self.counts(),
            "rejections": [r.as_dict() for r in self.rejections],
            "unknown": {kind: dict(c.most_common()) for kind, c in self.unknown.items() if c},
            "shared_paragraphs": self.shared_paragraphs,
            "conflicts": self.conflicts,
            "sample": self.sample(),
        }


def prepare(path: Path | str, options: Options | None = None, *, progress: Progress | None = None) -> Preview:
    """Read the file and work out what importing it would do. Reads the database, never writes."""
    options = options or Options()
    source = Source(Path(path), options)
    preview = Preview(
        file_name=Path(path).name,
        format=source.format,
        encoding=source.encoding,
        encoding_detected=source.encoding_detected,
        columns=dict(source.columns),
        ignored_columns=source.ignored,
        options=options,
    )
    folder = _Folder(preview, tracker=source.format == tracker_csv.NAME)
    for row in source.read_all(progress):
        folder.add(row)
    preview.rows_read, preview.rows_filtered = source.rows_read, source.rows_filtered
    folder.finish()
    _Matcher(preview, tracker=source.format == tracker_csv.NAME).run()
    return preview


# --- Parsing and folding ---------------------------------------------------------------------------------


class _Folder:
    def __init__(self, preview: Preview, *, tracker: bool):
        self.preview = preview
        self.options = preview.options
        self.tracker = tracker
        self.by_key: dict[tuple, Candidate] = {}
        self.themes = _ThemeVocabulary(self.options, tracker=tracker)

    def reject(self, row: Row, name: str, reason: str) -> None:
        self.preview.rejections.append(Rejection(row.number, row.columns.get(name, name), reason))

    def add(self, row: Row) -> None:
        v = row.values
        text = clean(v.get("text"))
        if not text:
            return self.reject(row, "text", _("no text"))
        symbol = clean(v.get("document"))
        if not symbol:
            return self.reject(
                row, "document", _("no document symbol (give it for every row with --set document=SYMBOL)")
            )
        code = clean(v.get("code"))
        if self.tracker and not code:
            return self.reject(row, "code", _("no code"))
        addressee = clean(v.get("addressee")) or Addressee.STATE
        if addressee not in Addressee.values:
            return self.reject(row, "addressee", _("unknown addressee “%(v)s”") % {"v": addressee})
        source_url = clean(v.get("source_url"))
        if source_url and not source_url.startswith(("http://", "https://")):
            return self.reject(row, "source_url", _("not a web address"))
        raw_date = v.get("document_date")
        published_on = date(raw_date) if clean(raw_date) else None
        if clean(raw_date) and published_on is None:
            return self.reject(row, "document_date", _("unreadable date “%(v)s”") % {"v": clean(raw_date)})
        document = self.document(symbol, row, published_on)
        if document is None:
            return None

        themes, affected = [], values(v.get("affected_persons"))
        for theme in values(v.get("themes")):
            theme, glued = split_affected(theme)
            affected += [a for a in glued if a not in affected]
            if theme:
                themes.append(theme)
        answer = self.response(v.get("response"))
        para = paragraph(v.get("paragraph"))
        external_id = clean(v.get("external_id"))
        digest = text_hash(text)
        if code:
            key: tuple = ("code", code)
        elif external_id:
            key = ("id", external_id)
        else:
            key = ("text", symbol, para, digest)
        candidate = self.by_key.get(key)
        if candidate is None:
            candidate = Candidate(
                document=symbol,
                text=text,
                paragraph=para,
                digest=digest,
                rows=[row.number],
                external_id=external_id,
                code=code,
                addressee=addressee,
                source_url=source_url,
                response=answer,
                response_document=clean(v.get("response_document")),
            )
            self.by_key[key] = candidate
            self.preview.candidates.append(candidate)
        else:
            candidate.rows.append(row.number)
            if answer and candidate.response and answer != candidate.response:
                self.preview.conflicts.append(
                    {
                        "rows": [candidate.rows[0], row.number],
                        "column": row.columns.get("response", "response"),
                        "reason": _("one recommendation, two responses (%(a)s, %(b)s): the first is kept")
                        % {"a": candidate.response, "b": answer},
                    }
                )
            candidate.response = candidate.response or answer
        _merge(candidate.recommending_states, values(v.get("recommending_states")))
        _merge(candidate.states_concerned, values(v.get("state_under_review")))
        _merge(candidate.affected_persons, affected)
        _merge(candidate.themes, themes)
        return None

    def document(self, symbol: str, row: Row, published_on: datetime.date | None) -> DocumentPlan | None:
        plan = self.preview.documents.get(symbol)
        v = row.values
        if plan is None:
            raw_body = clean(v.get("body"))
            mapped = self.options.value("body", raw_body) if raw_body else None
            issuing = mapped if mapped is not None else body(raw_body)
            if issuing is None:
                self.preview.unknown["body"][raw_body] += 1
                issuing = IssuingBody.OTHER
            plan = DocumentPlan(
                symbol=symbol,
                body=issuing or "",
                published_on=published_on,
                session=clean(v.get("session")),
                cycle=clean(v.get("cycle")),
                title=clean(v.get("title")),
                first_row=row.number,
            )
            self.preview.documents[symbol] = plan
        elif published_on and not plan.published_on:
            plan.published_on = published_on
        return plan

    def response(self, raw: object) -> str:
        text = clean(raw)
        if not text:
            return ""
        mapped = self.options.value("response", text)
        if mapped is not None:
            return mapped
        # UHRI lists a position per line when it changed (e.g. "- Supported" then "- Noted" for part).
        items = values(raw) or [text]
        answers = {response(item) for item in items}
        if len(answers) == 1 and None not in answers:
            return answers.pop()
        self.preview.unknown["response"][text] += 1
        return ""

    def finish(self) -> None:
        by_paragraph: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
        for c in self.preview.candidates:
            if c.paragraph and not c.code:
                by_paragraph[(c.document, c.paragraph)].append(c)
        for (symbol, para), group in by_paragraph.items():
            if len(group) > 1:
                self.preview.shared_paragraphs.append(
                    {
                        "document": symbol,
                        "paragraph": para,
                        "texts": len(group),
                        "rows": [c.rows[0] for c in group],
                        "reason": _(
                            "the file gives paragraph %(p)s to %(n)s different texts: kept apart by text, "
                            "as %(n)s recommendations"
                        )
                        % {"p": para, "n": len(group)},
                    }
                )
        for c in self.preview.candidates:
            c.theme_ids = self.themes.resolve(c.themes, self.preview.unknown["theme"])


def _merge(into: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in into:
            into.append(item)


class _ThemeVocabulary:
    """Source theme names → our themes: --value theme:NAME=slug, then the curated mappings, then our own
    themes by name or slug. Anything else is reported as unknown; a theme is never created."""

    def __init__(self, options: Options, *, tracker: bool):
        themes = list(Theme.objects.only("pk", "name", "slug"))
        self.by_slug = {t.slug: t.pk for t in themes}
        self.known: dict[str, int | None] = {header_key(t.name): t.pk for t in themes}
        if not tracker:
            self.known.update({header_key(t.slug): t.pk for t in themes})
            for m in ThemeMapping.objects.only("source_name", "theme_id"):
                self.known[header_key(m.source_name)] = m.theme_id
        for (kind, source), target in options.value_map.items():
            if kind == "theme":
                self.known[header_key(source)] = self.by_slug.get(target) if target else None
        self.tracker = tracker

    def resolve(self, names: list[str], unknown: Counter) -> list[int]:
        ids = []
        for name in names:
            if self.tracker:
                pk = self.by_slug.get(name)
                found = pk is not None
            else:
                found = header_key(name) in self.known
                pk = self.known.get(header_key(name))
            if not found:
                unknown[name] += 1
            elif pk is not None and pk not in ids:
                ids.append(pk)
        return ids


# --- Matching with the database ------------------------------------------------------------------------


class _Matcher:
    def __init__(self, preview: Preview, *, tracker: bool):
        self.preview = preview
        self.tracker = tracker
        self.codes_taken: set[str] = set()

    def run(self) -> None:
        documents = self.preview.documents
        field_name = "slug" if self.tracker else "symbol"
        existing = {
            getattr(d, field_name): d
            for d in Document.objects.filter(**{f"{field_name}__in": list(documents)})
        }
        if not self.tracker:
            # Symbols as typed may differ in case from ours.
            lower = {s.casefold(): d for s, d in existing.items()}
            missing = [s for s in documents if s not in existing]
            if missing:
                for d in Document.objects.exclude(symbol=""):
                    lower.setdefault(d.symbol.casefold(), d)
                existing.update({s: lower[s.casefold()] for s in missing if s.casefold() in lower})
        for symbol, plan in documents.items():
            plan.existing = existing.get(symbol)
            self.plan_document(plan)
        by_document: dict[str, list[Candidate]] = defaultdict(list)
        for c in self.preview.candidates:
            by_document[c.document].append(c)
        for symbol, group in by_document.items():
            plan = documents[symbol]
            if plan.action == "reject":
                for c in group:
                    c.action = "reject"
                    self.preview.rejections.append(Rejection(c.rows[0], "document", plan.reason))
                continue
            # Looked up one document at a time, so a re-import holds one document's recommendations, not
            # the whole file's (1.8 GB at 250,000 when they were all loaded at once).
            self.match_document(plan, group, self.existing_by_external_id(group))
        self.assign_codes()
        self.plan_responses()

    def plan_document(self, plan: DocumentPlan) -> None:
        doc = plan.existing
        if doc is None:
            if self.tracker:
                plan.action, plan.reason = (
                    "reject",
                    _("no document with the slug “%(s)s”") % {"s": plan.symbol},
                )
            elif plan.published_on is None:
                plan.action = "reject"
                plan.reason = _(
                    "document %(s)s is new and the file gives no date: add --set document_date=YYYY-MM-DD"
                ) % {"s": plan.symbol}
            else:
                plan.action = "create"
            return
        wanted = {"session": plan.session, "cycle": plan.cycle}
        # A file only fills in; it never blanks what a curator or an earlier file wrote.
        plan.changes = {k: v for k, v in wanted.items() if v and getattr(doc, k) != v}
        plan.action = "update" if plan.changes else "unchanged"

    def existing_by_external_id(self, candidates: list[Candidate]) -> dict[str, Recommendation]:
        ids = [c.external_id for c in candidates if c.external_id]
        found: dict[str, Recommendation] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for r in Recommendation.objects.filter(external_id__in=chunk).prefetch_related("themes"):
                found[r.external_id] = r
        return found

    def match_document(self, plan: DocumentPlan, group: list[Candidate], by_external: dict) -> None:
        existing: list[Recommendation] = []
        if plan.existing is not None:
            existing = list(plan.existing.recommendations.prefetch_related("themes"))
        by_code = {r.code: r for r in existing}
        used: set[int] = set()
        by_para: dict[str, list[Recommendation]] = defaultdict(list)
        by_digest: dict[str, list[Recommendation]] = defaultdict(list)
        for r in existing:
            by_para[r.paragraph].append(r)
            by_digest[text_hash(r.text)].append(r)

        def take(c: Candidate, r: Recommendation | None) -> None:
            if r is not None:
                used.add(r.pk)
            self.compare(c, r)

        pending: dict[str, list[Candidate]] = defaultdict(list)
        for c in group:
            if self.tracker:
                r = by_code.get(c.code)
                if r is None:
                    c.action = "reject"
                    self.preview.rejections.append(
                        Rejection(
                            c.rows[0],
                            "code",
                            _("no recommendation with this code in %(d)s") % {"d": c.document},
                        )
                    )
                    continue
                take(c, r)
            elif c.external_id and c.external_id in by_external:
                take(c, by_external[c.external_id])
            elif c.paragraph:
                pending[c.paragraph].append(c)
            else:
                r = next(
                    (r for r in by_digest.get(c.digest, []) if r.pk not in used and not r.paragraph), None
                )
                r = r or next((r for r in by_digest.get(c.digest, []) if r.pk not in used), None)
                take(c, r)
        for para, cands in pending.items():
            olds = [r for r in by_para.get(para, []) if r.pk not in used]
            rest = []
            for c in cands:
                r = next(
                    (r for r in olds if r.pk not in used and (text_hash(r.text)) == c.digest),
                    None,
                )
                if r is not None:
                    take(c, r)
                else:
                    rest.append(c)
            olds = [r for r in olds if r.pk not in used and not r.external_id]
            if len(rest) == 1 and len(olds) == 1:
                take(rest[0], olds[0])  # the text was corrected
                rest = []
            for c in rest:
                same = [
                    r
                    for r in olds
                    if r.pk not in used
                    and r.recommending_states == c.recommending_states
                    and c.recommending_states
                ]
                take(c, same[0] if len(same) == 1 else None)
            variants = {r.paragraph_variant for r in by_para.get(para, [])}
            for c in cands:
                if c.existing_id is None and c.action != "reject":
                    c.variant = next(n for n in range(len(variants) + len(cands) + 1) if n not in variants)
                    variants.add(c.variant)

    def compare(self, c: Candidate, r: Recommendation | None) -> None:
        if r is None:
            c.action = "create"
            return
        c.existing_id = r.pk
        c.variant = r.paragraph_variant
        c.code = r.code
        changes = []
        for name in COMPARED:
            new = getattr(c, name)
            if name in ("external_id", "source_url") and not new:
                continue  # never blank a value the file does not have
            if name == "paragraph" and not new:
                continue
            if name == "addressee" and not self.tracker:
                continue
            if getattr(r, name) != new:
                changes.append(name)
        have = {t.pk for t in r.themes.all()}
        if any(pk not in have for pk in c.theme_ids):
            changes.append("themes")
        # The hash is bookkeeping: a row imported before it existed (or typed in the admin) is not
        # "changed" by lacking it; it is written along with any real change.
        if changes and r.text_hash != c.digest:
            changes.append("text_hash")
        c.changes = changes
        c.action = "update" if changes else "unchanged"
        if changes:
            # Kept for the update only; an unchanged one is found again by its id if a response needs it.
            c.existing = r  # type: ignore[attr-defined]

    def assign_codes(self) -> None:
        new = [c for c in self.preview.candidates if c.action == "create"]
        for c in new:
            c.code = make_code(c.document, c.paragraph, c.variant, c.digest)
        wanted = [c.code for c in new]
        taken: set[str] = set()
        for start in range(0, len(wanted), 1000):
            taken.update(
                Recommendation.objects.filter(code__in=wanted[start : start + 1000]).values_list(
                    "code", flat=True
                )
            )
        for c in new:
            code, n = c.code, 1
            while code in taken or code in self.codes_taken:
                n += 1
                code = f"{c.code[: 50 - len(str(n)) - 2]}-x{n}"
            c.code = code
            self.codes_taken.add(code)

    def plan_responses(self) -> None:
        """A response becomes a submitted State claim, unless this recommendation already has one with the
        same response that is submitted or published (re-imports add nothing)."""
        wanted = [
            c
            for c in self.preview.candidates
            if c.response and c.response != "no_response" and c.action != "reject"
        ]
        ids = [c.existing_id for c in wanted if c.existing_id]
        have: set[tuple[int, str]] = set()
        for start in range(0, len(ids), 1000):
            have.update(
                Assessment.objects.standing()
                .filter(recommendation_id__in=ids[start : start + 1000], basis=Basis.STATE_CLAIM)
                .values_list("recommendation_id", "state_response")
            )
        for c in wanted:
            c.submit_response = (c.existing_id, c.response) not in have
