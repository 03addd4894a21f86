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

Memory does not grow with the file: the folded recommendations and the plan live in a temporary SQLite file
(`store.Store`); the preview keeps counts, the first rejections, the unknown values and a sample, and the
matching reads the file's recommendations, and the database's, one document at a time.

Unchanged documents are skipped whole: applying an import stores, per document, a digest of the file's
recommendations for it (`ImportDigest`) and a fingerprint of the document's state in the database then (its
recommendations' count and latest change, their theme links, their standing State claims, the document's
own latest change). When both match again, the document's recommendations are "unchanged" without being
compared one by one; an edit in the admin, a deletion, a returned claim or a changed row makes it compared
row by row again.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from cases.models import (
    Addressee,
    Assessment,
    Basis,
    Document,
    ImportDigest,
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
from .store import Store

SAMPLE_SIZE = 5
# Kept in memory (and in a page's state); all of them are in the store, the report and its CSV.
KEPT_IN_MEMORY = 1000
# Folded recommendations held in memory before they are written to the store.
FOLD_BUFFER = 2000
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
    order: int = 0  # its position in the file (the store's document key)
    # The digest of the file's recommendations for it, when applying may store it (see ImportDigest).
    digest: str = ""
    skipped: bool = False  # unchanged since the last import: not compared row by row


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

    def dump(self) -> list:
        return [getattr(self, name) for name in _CANDIDATE_FIELDS]

    @classmethod
    def load(cls, data: list) -> Candidate:
        return cls(*data)

    def described(self) -> list:
        """What the file says about it, as the document's digest sees it (not the row numbers)."""
        return [getattr(self, name) for name in _DESCRIBED]

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


_CANDIDATE_FIELDS = [f.name for f in Candidate.__dataclass_fields__.values()]
_DESCRIBED = [n for n in _CANDIDATE_FIELDS[: _CANDIDATE_FIELDS.index("existing_id")] if n != "rows"]
ACTIONS = ("create", "update", "unchanged", "reject")
_ADDRESSEES = frozenset(Addressee.values)


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
    # The first KEPT_IN_MEMORY of each; `rejections_total`… count them all (all rejections are in the store).
    rejections: list[Rejection] = field(default_factory=list)
    rejections_total: int = 0
    unknown: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    shared_paragraphs: list[dict] = field(default_factory=list)
    shared_paragraphs_total: int = 0
    conflicts: list[dict] = field(default_factory=list)
    conflicts_total: int = 0
    options: Options = field(default_factory=Options)
    applied: bool = False
    tally: Counter = field(default_factory=Counter)  # recommendations by action
    responses: int = 0  # to submit
    documents_skipped: int = 0
    rejected_rows: int = 0  # distinct rows (counted in the store once the preview is ready)
    # Documents whose recommendations this import changes through another document's rows (matched by
    # annotation id elsewhere): their stored digests are not refreshed.
    foreign_documents: set[int] = field(default_factory=set)
    store: Store | None = field(default=None, repr=False)
    _sample: list[dict] = field(default_factory=list, repr=False)
    _fallback: list[dict] = field(default_factory=list, repr=False)

    def open_store(self) -> None:
        self.store = Store()
        # The temporary file goes with the preview, whoever forgets to close it.
        self._finalizer = weakref.finalize(self, self.store.close)

    def close(self) -> None:
        """Delete the temporary file (the preview's counts and lists stay readable)."""
        if self.store is not None:
            self._finalizer()

    def reject(self, row: int, column: str, reason: str) -> None:
        self.rejections_total += 1
        if len(self.rejections) < KEPT_IN_MEMORY:
            self.rejections.append(Rejection(row, column, reason))
        self.store.reject(row, column, reason)

    def add_conflict(self, conflict: dict) -> None:
        self.conflicts_total += 1
        if len(self.conflicts) < KEPT_IN_MEMORY:
            self.conflicts.append(conflict)

    def add_shared_paragraph(self, shared: dict) -> None:
        self.shared_paragraphs_total += 1
        if len(self.shared_paragraphs) < KEPT_IN_MEMORY:
            self.shared_paragraphs.append(shared)

    def all_rejections(self, limit: int | None = None) -> Iterator[Rejection]:
        if self.store is None or self.store.db is None:
            yield from self.rejections[:limit]
            return
        for row, column, reason in self.store.rejections(limit):
            yield Rejection(row, column, reason)

    @property
    def candidates(self) -> list[Candidate]:
        """Every recommendation as matched, in the order they are written. Loads them all: for small files
        and tests; the importer itself reads them a batch at a time (`pending`)."""
        return [Candidate.load(d) for d in self.store.planned()]

    def pending(self, size: int) -> Iterator[list[Candidate]]:
        """The recommendations with something to write (create, update, a response to submit), in batches."""
        batch: list[Candidate] = []
        for data in self.store.planned(pending_only=True):
            batch.append(Candidate.load(data))
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def pending_count(self) -> int:
        return self.store.pending_count()

    def counts(self) -> dict[str, dict[str, int]]:
        docs = Counter(d.action for d in self.documents.values())
        return {
            "documents": {k: docs.get(k, 0) for k in ACTIONS},
            "recommendations": {k: self.tally.get(k, 0) for k in ACTIONS},
            "rows": {
                "read": self.rows_read,
                "filtered_out": self.rows_filtered,
                "rejected": self.rejected_rows,
            },
            "responses": {"submit": self.responses},
        }

    def sample(self, n: int = SAMPLE_SIZE) -> list[dict]:
        return (self._sample or self._fallback)[:n]

    def note_sample(self, c: Candidate) -> None:
        if c.action in ("create", "update") and len(self._sample) < SAMPLE_SIZE:
            self._sample.append(c.stored())
        if len(self._fallback) < SAMPLE_SIZE:
            self._fallback.append(c.stored())

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
            "rejections_total": self.rejections_total,
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
    preview.open_store()
    try:
        tracker = source.format == tracker_csv.NAME
        folder = _Folder(preview, tracker=tracker)
        for row in source.read_all(progress):
            folder.add(row)
        folder.flush()
        preview.rows_read, preview.rows_filtered = source.rows_read, source.rows_filtered
        _Matcher(preview, folder.themes, tracker=tracker).run()
        preview.rejected_rows = preview.store.rejected_rows()
    except BaseException:
        preview.close()
        raise
    return preview


# --- Parsing and folding ---------------------------------------------------------------------------------


class _Folder:
    """Rows → recommendations, merged by key. The recommendations seen last wait in memory (long-format rows
    of one recommendation are usually together); the others are in the store, and come back when another row
    of theirs turns up."""

    def __init__(self, preview: Preview, *, tracker: bool):
        self.preview = preview
        self.options = preview.options
        self.tracker = tracker
        self.buffer: dict[str, Candidate] = {}
        self.dates: dict[str, datetime.date | None] = {}
        self.themes = _ThemeVocabulary(self.options, tracker=tracker)

    def reject(self, row: Row, name: str, reason: str) -> None:
        self.preview.reject(row.number, row.columns.get(name, name), reason)

    def flush(self) -> None:
        documents = self.preview.documents
        self.preview.store.fold(
            [(k, documents[c.document].order, c.rows[0], c.dump()) for k, c in self.buffer.items()]
        )
        self.buffer.clear()

    def find(self, key: str) -> Candidate | None:
        candidate = self.buffer.get(key)
        if candidate is None:
            data = self.preview.store.folded(key)
            if data is not None:
                candidate = self.buffer[key] = Candidate.load(data)
        return candidate

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
        if addressee not in _ADDRESSEES:
            return self.reject(row, "addressee", _("unknown addressee “%(v)s”") % {"v": addressee})
        source_url = clean(v.get("source_url"))
        if source_url and not source_url.startswith(("http://", "https://")):
            return self.reject(row, "source_url", _("not a web address"))
        raw_date = clean(v.get("document_date"))
        published_on = self.date(v.get("document_date")) if raw_date else None
        if raw_date and published_on is None:
            return self.reject(row, "document_date", _("unreadable date “%(v)s”") % {"v": raw_date})
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
            key = "code\x1f" + code
        elif external_id:
            key = "id\x1f" + external_id
        else:
            key = "\x1f".join(("text", symbol, para, digest))
        candidate = self.find(key)
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
            if len(self.buffer) >= FOLD_BUFFER:
                self.flush()
            self.buffer[key] = candidate
        else:
            candidate.rows.append(row.number)
            if answer and candidate.response and answer != candidate.response:
                self.preview.add_conflict(
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

    def date(self, raw: object) -> datetime.date | None:
        """A document's rows repeat its date: each text read once (a bounded cache)."""
        if not isinstance(raw, str):
            return date(raw)
        if raw not in self.dates:
            if len(self.dates) > 10_000:
                self.dates.clear()
            self.dates[raw] = date(raw)
        return self.dates[raw]

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
                order=len(self.preview.documents),
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
        self.keys: dict[str, str] = {}  # name → header_key(name), bounded

    def resolve(self, names: list[str], unknown: Counter) -> list[int]:
        ids = []
        for name in names:
            if self.tracker:
                pk = self.by_slug.get(name)
                found = pk is not None
            else:
                key = self.keys.get(name)
                if key is None:
                    if len(self.keys) > 10_000:
                        self.keys.clear()
                    key = self.keys[name] = header_key(name)
                found = key in self.known
                pk = self.known.get(key)
            if not found:
                unknown[name] += 1
            elif pk is not None and pk not in ids:
                ids.append(pk)
        return ids


# --- Matching with the database ------------------------------------------------------------------------


def document_digest(plan: DocumentPlan, group: list[Candidate], *, tracker: bool) -> str:
    """What the file says about one document and its recommendations (themes as resolved to ours, so a new
    theme mapping changes it), in the file's order."""
    described = [
        "tracker" if tracker else "",
        plan.symbol,
        plan.body,
        plan.published_on.isoformat() if plan.published_on else "",
        plan.session,
        plan.cycle,
        plan.title,
        [c.described() for c in group],
    ]
    return hashlib.sha256(json.dumps(described, ensure_ascii=False).encode()).hexdigest()


def document_states(ids: list[int]) -> dict[int, str]:
    """A fingerprint of each document's state in the database, as an import compares with it: the document's
    latest change; its recommendations' number and latest change (an edit in the admin moves it); their theme
    links (removing one in the admin); their standing State claims (a claim returned or withdrawn). Four
    grouped queries per 500 documents."""
    from django.db.models import Count, Max

    states: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        recs = {
            d: (n, last)
            for d, n, last in Recommendation.objects.filter(document_id__in=chunk)
            .order_by()
            .values("document_id")
            .annotate(n=Count("pk"), last=Max("updated_at"))
            .values_list("document_id", "n", "last")
        }
        links = dict(
            Recommendation.themes.through.objects.filter(recommendation__document_id__in=chunk)
            .order_by()
            .values("recommendation__document_id")
            .annotate(n=Count("pk"))
            .values_list("recommendation__document_id", "n")
        )
        claims = dict(
            Assessment.objects.standing()
            .filter(recommendation__document_id__in=chunk, basis=Basis.STATE_CLAIM)
            .order_by()
            .values("recommendation__document_id")
            .annotate(n=Count("pk"))
            .values_list("recommendation__document_id", "n")
        )
        for pk, updated in Document.objects.filter(pk__in=chunk).values_list("pk", "updated_at"):
            n, last = recs.get(pk, (0, None))
            state = f"{updated.isoformat()}|{n}|{last.isoformat() if last else ''}|{links.get(pk, 0)}|{claims.get(pk, 0)}"
            states[pk] = hashlib.sha256(state.encode()).hexdigest()
    return states


class _Matcher:
    def __init__(self, preview: Preview, themes: _ThemeVocabulary, *, tracker: bool):
        self.preview = preview
        self.themes = themes
        self.tracker = tracker
        self.store = preview.store

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
        known = [p.existing.pk for p in documents.values() if p.existing is not None]
        stored: dict[int, tuple[str, str]] = {}
        for start in range(0, len(known), 1000):
            stored.update(
                (d, (digest, state))
                for d, digest, state in ImportDigest.objects.filter(
                    document_id__in=known[start : start + 1000]
                ).values_list("document_id", "digest", "state")
            )
        states = document_states(list(stored))
        for plan in documents.values():
            # One document at a time: its recommendations from the store, its existing ones from the database.
            group = [Candidate.load(d) for d in self.store.of_document(plan.order)]
            if group:
                self.document(plan, group, stored, states)

    def document(self, plan: DocumentPlan, group: list[Candidate], stored: dict, states: dict) -> None:
        self.shared_paragraphs(group)
        for c in group:
            c.theme_ids = self.themes.resolve(c.themes, self.preview.unknown["theme"])
        if plan.action == "reject":
            for c in group:
                c.action = "reject"
                self.preview.reject(c.rows[0], "document", plan.reason)
        else:
            digest = document_digest(plan, group, tracker=self.tracker)
            doc_id = plan.existing.pk if plan.existing is not None else None
            if (
                doc_id is not None
                and stored.get(doc_id) == (digest, states.get(doc_id))
                and len(self.preview._fallback) >= SAMPLE_SIZE
            ):
                # Unchanged since the last import, in the file and in the database: nothing to compare.
                plan.skipped = True
                self.preview.documents_skipped += 1
                for c in group:
                    c.action = "unchanged"
            else:
                self.foreign = False
                self.match_document(plan, group)
                self.assign_codes(group)
                self.plan_responses(group)
                if not self.foreign and all(c.action != "reject" for c in group):
                    plan.digest = digest
        items = []
        for c in group:
            self.preview.tally[c.action] += 1
            self.preview.responses += c.submit_response
            self.preview.note_sample(c)
            items.append((c.action in ("create", "update") or c.submit_response, c.dump()))
        self.store.plan(items)

    def shared_paragraphs(self, group: list[Candidate]) -> None:
        by_paragraph: dict[str, list[Candidate]] = defaultdict(list)
        for c in group:
            if c.paragraph and not c.code:
                by_paragraph[c.paragraph].append(c)
        for para, same in by_paragraph.items():
            if len(same) > 1:
                self.preview.add_shared_paragraph(
                    {
                        "document": same[0].document,
                        "paragraph": para,
                        "texts": len(same),
                        "rows": [c.rows[0] for c in same],
                        "reason": _(
                            "the file gives paragraph %(p)s to %(n)s different texts: kept apart by text, "
                            "as %(n)s recommendations"
                        )
                        % {"p": para, "n": len(same)},
                    }
                )

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

    def existing_by_external_id(
        self, candidates: list[Candidate], have: dict[str, Recommendation]
    ) -> dict[str, Recommendation]:
        """The recommendations these annotation ids name, wherever they are (those of this document are
        in `have` already)."""
        ids = [c.external_id for c in candidates if c.external_id and c.external_id not in have]
        found = dict(have)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for r in Recommendation.objects.filter(external_id__in=chunk).prefetch_related("themes"):
                found[r.external_id] = r
        return found

    def match_document(self, plan: DocumentPlan, group: list[Candidate]) -> None:
        existing: list[Recommendation] = []
        if plan.existing is not None:
            existing = list(plan.existing.recommendations.prefetch_related("themes"))
        self.document_id = plan.existing.pk if plan.existing is not None else None
        by_external = self.existing_by_external_id(
            group, {r.external_id: r for r in existing if r.external_id}
        )
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
                    self.preview.reject(
                        c.rows[0], "code", _("no recommendation with this code in %(d)s") % {"d": c.document}
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
        if r.document_id != self.document_id:
            # Matched by annotation id in another document: neither document's digest can vouch for it.
            self.foreign = True
            self.preview.foreign_documents.add(r.document_id)
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

    def assign_codes(self, group: list[Candidate]) -> None:
        new = [c for c in group if c.action == "create"]
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
            while code in taken or self.store.code_taken(code):
                n += 1
                code = f"{c.code[: 50 - len(str(n)) - 2]}-x{n}"
            c.code = code
            self.store.take_code(code)

    def plan_responses(self, group: list[Candidate]) -> None:
        """A response becomes a submitted State claim, unless this recommendation already has one with the
        same response that is submitted or published (re-imports add nothing)."""
        wanted = [c for c in group if c.response and c.response != "no_response" and c.action != "reject"]
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
