"""Writing a prepared import: documents first, then recommendations in batches, each batch one transaction.

A batch commits whole or not at all, and `ImportRun.batches_done` moves in the same transaction, so after a
crash the finished batches are whole and the report says where it stopped. Resuming is running the same
import again: `prepare()` matches the finished batches' recommendations and leaves them unchanged.

History: every created or changed document and recommendation gets its simple-history row, attributed to
the importing curator. State responses become submitted `state_claim` assessments by that curator
(`services.submit_assessment`), citing the document that records them as evidence (`services.add_evidence`,
a public UN document); another curator publishes them from the review queue (four eyes).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from cases import services
from cases.access import can_see_evidence, viewer_for_user
from cases.dataset import _history_attributed_to
from cases.models import (
    Basis,
    Document,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    ImportDigest,
    ImportRun,
    ImportStatus,
    IssuingBody,
    Recommendation,
    Theme,
    ThemeMapping,
)
from tracker.accounts.audit import record
from tracker.accounts.roles import is_curator

from .preview import Candidate, DocumentPlan, Preview, document_states

UN_DOCUMENT_URL = "https://undocs.org/{symbol}"
MAX_REJECTIONS_KEPT = 10_000

BatchProgress = Callable[[int, int], None]


class ImportFailed(Exception):
    """A batch failed; the finished ones are applied. The message says where to resume."""

    def __init__(self, message: str, run: ImportRun):
        super().__init__(message)
        self.run = run


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def apply(
    preview: Preview, *, user, path: Path | str | None = None, progress: BatchProgress | None = None
) -> ImportRun:
    """Apply a prepared import as `user`, who must be a curator. Returns the import's report row."""
    if not is_curator(user):
        raise PermissionDenied(_("Only curators import recommendations."))
    if preview.applied:
        # Its plan is stale once written; to resume or repeat, prepare the file again.
        raise ValueError("This preview has been applied already; prepare the file again.")
    preview.applied = True
    organisation = services.organisation_of(user)
    sha = file_sha256(path) if path else ""
    size = preview.options.batch_size
    # Read from the preview's store a batch at a time: the plan is never all in memory.
    batches_total = -(-preview.pending_count() // size)
    with transaction.atomic():
        run = ImportRun.objects.create(
            file_name=preview.file_name[:255],
            sha256=sha,
            format=preview.format,
            encoding=preview.encoding,
            options=_options(preview),
            rows_read=preview.rows_read,
            batches_total=batches_total + 1,
            counts=preview.counts(),
            rejections=[r.as_dict() for r in preview.all_rejections(MAX_REJECTIONS_KEPT)],
            created_by=user,
            organisation=organisation,
        )
        record("import.apply", actor=user, target=run, format=run.format, rows=run.rows_read, sha256=sha[:16])
    writer = _Writer(preview, user, run)
    done = Counter()
    with _history_attributed_to(user):
        step = 0
        try:
            with transaction.atomic():
                writer.save_theme_mappings()
                documents = writer.save_documents()
                ImportRun.objects.filter(pk=run.pk).update(batches_done=1)
            step = 1
            if progress:
                progress(1, run.batches_total)
            for step, batch in enumerate(preview.pending(size), start=2):
                with transaction.atomic():
                    done += writer.save_batch(batch, documents)
                    ImportRun.objects.filter(pk=run.pk).update(batches_done=step, updated_at=timezone.now())
                if progress:
                    progress(step, run.batches_total)
        except Exception as exc:
            finished = max(0, step - 1) if step else 0
            message = _(
                "Batch %(step)s of %(total)s failed (%(error)s). Batches 1 to %(done)s are applied; run the same "
                "import again to resume (applied batches are matched and left unchanged)."
            ) % {"step": step or 1, "total": run.batches_total, "error": _describe(exc), "done": finished}
            with transaction.atomic():
                ImportRun.objects.filter(pk=run.pk).update(
                    status=ImportStatus.FAILED, error=message, finished_at=timezone.now()
                )
                run.refresh_from_db()
                record("import.fail", actor=user, target=run, batches_done=run.batches_done)
            raise ImportFailed(message, run) from exc
    with transaction.atomic():
        writer.save_digests(documents)
        counts = preview.counts()
        counts["written"] = dict(done)
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.DONE,
            counts=counts,
            finished_at=timezone.now(),
            batches_done=run.batches_total,
        )
        run.refresh_from_db()
        record(
            "import.finish",
            actor=user,
            target=run,
            created=done["created"],
            updated=done["updated"],
            responses=done["responses"],
        )
    return run


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)[:500]
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _options(preview: Preview) -> dict:
    o = preview.options
    return {
        "format": o.format,
        "map": o.mapping,
        "set": o.fixed,
        "filter": o.filters,
        "encoding": o.encoding or "",
        "values": [f"{k}:{s}={t}" for (k, s), t in o.value_map.items()],
    }


class _Writer:
    def __init__(self, preview: Preview, user, run: ImportRun):
        self.preview = preview
        self.user = user
        self.run = run
        self.evidence: dict[str, Evidence] = {}

    def save_theme_mappings(self) -> None:
        """The curator's --value theme:NAME=slug choices are kept, so the next import knows them."""
        slugs = {t for (k, _s), t in self.preview.options.value_map.items() if k == "theme" and t}
        themes = {t.slug: t for t in Theme.objects.filter(slug__in=slugs)}
        for (kind, source), target in self.preview.options.value_map.items():
            if kind != "theme":
                continue
            mapping, created = ThemeMapping.objects.update_or_create(
                source_name=source[:300], defaults={"theme": themes.get(target), "created_by": self.user}
            )
            record("import.map_theme", actor=self.user, target=mapping, created=created)

    def save_documents(self) -> dict[str, Document]:
        documents: dict[str, Document] = {}
        for symbol, plan in self.preview.documents.items():
            if plan.action == "reject":
                continue
            if plan.action == "create":
                documents[symbol] = self._create_document(plan)
            else:
                doc = plan.existing
                if plan.action == "update":
                    for name, value in plan.changes.items():
                        setattr(doc, name, value)
                    doc.full_clean()
                    doc.save(update_fields=[*plan.changes, "updated_at"])
                documents[symbol] = doc
        return documents

    def _create_document(self, plan: DocumentPlan) -> Document:
        body = plan.body or IssuingBody.OTHER
        label = IssuingBody(body).label if body in IssuingBody.values else body
        slug = _free_slug(plan.symbol)
        doc = Document(
            symbol=plan.symbol[:100],
            slug=slug,
            short_name=plan.symbol[:100],
            title=(plan.title or f"{label} {plan.symbol}")[:500],
            issuing_body=body,
            published_on=plan.published_on,
            session=plan.session[:50],
            cycle=plan.cycle[:50],
            url=UN_DOCUMENT_URL.format(symbol=plan.symbol),
        )
        doc.full_clean(validate_unique=False)
        doc.save()
        return doc

    def save_digests(self, documents: dict[str, Document]) -> None:
        """Each document this import compared row by row, and whose rows it wrote or found unchanged, gets
        the digest of the file's rows and the fingerprint of its state now: the next import of the same rows
        skips it while that state holds."""
        plans = {
            documents[p.symbol].pk: p
            for p in self.preview.documents.values()
            if p.digest and p.symbol in documents
        }
        ids = [pk for pk in plans if pk not in self.preview.foreign_documents]
        # A document changed through another document's rows is compared row by row next time.
        ImportDigest.objects.filter(document_id__in=list(self.preview.foreign_documents)).delete()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            states = document_states(chunk)
            ImportDigest.objects.bulk_create(
                [ImportDigest(document_id=pk, digest=plans[pk].digest, state=states[pk]) for pk in chunk],
                update_conflicts=True,
                unique_fields=["document"],
                update_fields=["digest", "state", "recorded_at"],
            )

    def save_batch(self, batch: list[Candidate], documents: dict[str, Document]) -> Counter:
        done = Counter()
        new: list[Recommendation] = []
        # The matched recommendations, fetched again (the plan on disk holds their ids).
        existing = Recommendation.objects.in_bulk(
            [c.existing_id for c in batch if c.existing_id and (c.action == "update" or c.submit_response)]
        )
        for c in batch:
            if c.action == "create":
                rec = Recommendation(
                    document=documents[c.document],
                    code=c.code,
                    paragraph=c.paragraph[:50],
                    paragraph_variant=c.variant,
                    text=c.text,
                    addressee=c.addressee,
                    recommending_states=c.recommending_states,
                    states_concerned=c.states_concerned,
                    affected_persons=c.affected_persons,
                    external_id=c.external_id[:100],
                    source_url=c.source_url,
                    text_hash=c.digest,
                )
                # Uniqueness is the database's to enforce (named constraints); full_clean would ask it
                # once per row and constraint.
                rec.full_clean(validate_unique=False, validate_constraints=False)
                new.append(rec)
            elif c.action == "update":
                rec = existing[c.existing_id]
                fields = [f for f in c.changes if f != "themes"]
                for name in fields:
                    setattr(rec, name, c.digest if name == "text_hash" else getattr(c, name))
                if fields:
                    rec.full_clean(validate_unique=False, validate_constraints=False)
                    rec.save(update_fields=[*fields, "updated_at"])  # and its history row
                done["updated"] += 1
        if new:
            created = bulk_create_with_history(new, Recommendation, batch_size=500, default_user=self.user)
            # PostgreSQL and SQLite return the new primary keys from bulk_create.
            for c, rec in zip((c for c in batch if c.action == "create"), created, strict=True):
                c.existing_id = rec.pk
                existing[rec.pk] = rec
            done["created"] += len(created)
        links = [
            Recommendation.themes.through(recommendation_id=c.existing_id, theme_id=pk)
            for c in batch
            if c.action in ("create", "update")
            for pk in c.theme_ids
        ]
        if links:
            # Only added, never removed: a curator's own links survive every re-import.
            Recommendation.themes.through.objects.bulk_create(links, ignore_conflicts=True)
        for c in batch:
            if c.submit_response:
                self._submit_response(c, existing[c.existing_id], documents[c.document])
                done["responses"] += 1
        return done

    def _submit_response(self, c: Candidate, rec: Recommendation, document: Document) -> None:
        symbol = c.response_document or document.symbol
        evidence = self._evidence_for(symbol, document)
        assessed_on = min(document.published_on, timezone.now().date())
        services.submit_assessment(
            rec,
            author=self.user,
            implementation_status=ImplementationStatus.NOT_ASSESSED,
            state_response=c.response,
            basis=Basis.STATE_CLAIM,
            assessed_on=assessed_on,
            rationale=_(
                "The State's response as recorded in %(symbol)s (imported from %(file)s, row %(row)s)."
            )
            % {"symbol": symbol, "file": self.preview.file_name, "row": c.rows[0]},
            evidence=[evidence],
            checked=True,
        )

    def _evidence_for(self, symbol: str, document: Document) -> Evidence:
        if symbol in self.evidence:
            return self.evidence[symbol]
        url = UN_DOCUMENT_URL.format(symbol=symbol)
        evidence = Evidence.objects.filter(url=url).first()
        if evidence is None:
            evidence = services.add_evidence(
                added_by=self.user,
                url=url,
                title=symbol,
                publisher=_("United Nations"),
                published_on=document.published_on,
                kind=EvidenceKind.UN_DOCUMENT,
                confidentiality="public",
                language="en",
            )
        elif not can_see_evidence(viewer_for_user(self.user), evidence):
            raise PermissionDenied(
                _("The evidence for %(s)s is held by another organisation.") % {"s": symbol}
            )
        self.evidence[symbol] = evidence
        return evidence


def _free_slug(symbol: str) -> str:
    from .normalise import symbol_slug

    base = symbol_slug(symbol)[:90]
    slug, n = base, 1
    while Document.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
