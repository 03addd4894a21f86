"""The domain: documents contain recommendations; assessments record their status over time, resting on
evidence. Choice values are the public contract (database, API, CSV, URLs): never rename them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .validators import PlainTextField, WebAddressField


def _in(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Indexed: incremental sync (`updated_since`) filters every list on it.
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


# --- Choices -------------------------------------------------------------------------------------------


class ImplementationStatus(models.TextChoices):
    NOT_ASSESSED = "not_assessed", _("Not assessed")
    NOT_IMPLEMENTED = "not_implemented", _("Not implemented")
    PARTIALLY_IMPLEMENTED = "partially_implemented", _("Partially implemented")
    IMPLEMENTED = "implemented", _("Fully implemented")
    REGRESSED = "regressed", _("Regressed")


class StateResponse(models.TextChoices):
    NO_RESPONSE = "no_response", _("No response")
    ACCEPTED = "accepted", _("Accepted")
    NOTED = "noted", _("Noted")
    REJECTED = "rejected", _("Rejected")


class ReviewState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    PUBLISHED = "published", _("Published")
    RETURNED = "returned", _("Returned")
    # Taken back by its author before review (services.withdraw_assessment): kept, never public, never
    # counted in a recommendation's status, out of the review queue.
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Basis(models.TextChoices):
    INDEPENDENT = "independent", _("Independent assessment")
    UN_FINDING = "un_finding", _("Finding of a UN body")
    STATE_CLAIM = "state_claim", _("Claim by the State")


class Confidentiality(models.TextChoices):
    PUBLIC = "public", _("Public")
    PARTNERS = "partners", _("Partners")
    INTERNAL = "internal", _("Internal")


class EvidenceKind(models.TextChoices):
    UN_DOCUMENT = "un_document", _("UN document")
    NEWS = "news", _("News report")
    GOVERNMENT = "government", _("Government statement")
    NGO_REPORT = "ngo_report", _("NGO report")
    TESTIMONY = "testimony", _("Testimony")
    ACADEMIC = "academic", _("Academic")
    DATASET = "dataset", _("Dataset")
    OTHER = "other", _("Other")


class Addressee(models.TextChoices):
    STATE = "state", _("The State")
    BUSINESS = "business", _("Business enterprises")
    INTERNATIONAL = "international", _("The international community")
    UN = "un", _("The UN system")


class IssuingBody(models.TextChoices):
    OHCHR = "ohchr", _("OHCHR")
    CERD = "cerd", _("CERD")
    UPR = "upr", _("UPR Working Group")
    SPECIAL_PROCEDURE = "special_procedure", _("Special procedure")
    HRC = "hrc", _("Human Rights Council")
    # The other treaty bodies whose concluding observations UHRI publishes (imports, issue 10).
    CAT = "cat", _("CAT")
    CCPR = "ccpr", _("Human Rights Committee")
    CESCR = "cescr", _("CESCR")
    CEDAW = "cedaw", _("CEDAW")
    CRC = "crc", _("CRC")
    CRPD = "crpd", _("CRPD")
    CMW = "cmw", _("CMW")
    CED = "ced", _("CED")
    OTHER = "other", _("Other")


# --- Organisations -------------------------------------------------------------------------------------


class Organisation(TimeStamped):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    # Issue 13: the public site, the correction log and public feeds say "a monitor of <organisation>" only
    # when the organisation chose to be named (its curators decide, in the admin); "a monitor" otherwise.
    public_name_allowed = models.BooleanField(
        _("named on the public site"),
        default=False,
        help_text=_(
            'Public pages and feeds say "a monitor of <organisation>" for its published assessments. '
            'Otherwise they say "a monitor". No account is ever named.'
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Membership(TimeStamped):
    """Every user belongs to exactly one organisation; it decides who sees `internal` evidence."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="membership"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="memberships"
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"


# --- Documents, themes, recommendations ----------------------------------------------------------------


class Document(TimeStamped):
    title = PlainTextField(_("title"), max_length=500)
    short_name = PlainTextField(_("short name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True, help_text=_("Used in filters and URLs."))
    symbol = models.CharField(_("UN symbol"), max_length=100, blank=True)
    issuing_body = models.CharField(_("issuing body"), max_length=32, choices=IssuingBody.choices)
    published_on = models.DateField(_("publication date"))
    url = WebAddressField(_("URL"), max_length=2000, blank=True)
    # Imports: a UPR Working Group report's session and cycle (blank for other documents).
    session = models.CharField(_("session"), max_length=50, blank=True)
    cycle = models.CharField(_("cycle"), max_length=50, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-published_on", "short_name"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        constraints = [
            models.CheckConstraint(
                condition=_in("issuing_body", IssuingBody), name="cases_document_issuing_body_valid"
            ),
            # Imports find a document by its UN symbol; two rows with one symbol would split its paragraphs.
            models.UniqueConstraint(
                fields=["symbol"], condition=~Q(symbol=""), name="cases_document_unique_symbol"
            ),
        ]

    def __str__(self) -> str:
        return self.short_name


class Theme(TimeStamped):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self) -> str:
        return self.name


class RecommendationQuerySet(models.QuerySet):
    def for_list(self) -> RecommendationQuerySet:
        """What a list row shows: the document's name, the themes and the State claim's status (the status
        card), in a constant number of queries. The text and the theme names come with their translation
        into the active language (cases.translations), annotated in the same queries."""
        from .translations.models import with_translated_name, with_translated_text

        themes = models.Prefetch("themes", queryset=with_translated_name(Theme.objects.all()))
        return with_translated_text(
            self.select_related("document").prefetch_related(themes)
        ).with_claim_status()

    def with_claim_status(self) -> RecommendationQuerySet:
        """`claim_status`: the implementation status the State's latest claim states (or None), joined in the
        same query, for the status card (cases/templatetags/tracker_ui.status_card)."""
        return self.annotate(claim_status=F("state_claim__implementation_status"))


class Recommendation(TimeStamped):
    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.PROTECT, related_name="recommendations"
    )
    # Blank only for imported recommendations whose source has no paragraph numbers (UHRI).
    paragraph = models.CharField(
        _("paragraph"), max_length=50, blank=True, help_text=_("For example 151(i).")
    )
    code = models.SlugField(
        _("code"), max_length=50, unique=True, help_text=_("Stable public code, for example XJ22-151-i.")
    )
    text = models.TextField(_("text"))
    addressee = models.CharField(_("addressee"), max_length=32, choices=Addressee.choices)
    themes = models.ManyToManyField(
        Theme, verbose_name=_("themes"), blank=True, related_name="recommendations"
    )
    position = models.PositiveIntegerField(
        _("position"), default=0, help_text=_("Order within the document.")
    )

    # Denormalised from the latest published assessments (services.recompute_current_status), so lists
    # and filters never aggregate the history.
    implementation_status = models.CharField(
        _("implementation status"),
        max_length=32,
        choices=ImplementationStatus.choices,
        default=ImplementationStatus.NOT_ASSESSED,
    )
    state_response = models.CharField(
        _("State response"), max_length=32, choices=StateResponse.choices, default=StateResponse.NO_RESPONSE
    )
    state_claim = models.ForeignKey(
        "Assessment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("State's latest claim"),
    )
    status_updated_at = models.DateTimeField(_("status updated"), null=True, blank=True)

    # Imports (cases/imports): where the recommendation came from and who made it. Lists of names as the
    # source spells them; the import folds long-format rows into them.
    paragraph_variant = models.PositiveSmallIntegerField(
        _("paragraph variant"),
        default=0,
        help_text=_("0, or 1, 2… when the source gives one paragraph number to several different texts."),
    )
    recommending_states = models.JSONField(_("recommending States"), default=list, blank=True)
    states_concerned = models.JSONField(_("States concerned"), default=list, blank=True)
    affected_persons = models.JSONField(_("affected persons"), default=list, blank=True)
    external_id = models.CharField(
        _("external id"), max_length=100, blank=True, help_text=_("UHRI's annotation id, when imported.")
    )
    source_url = models.URLField(_("source URL"), max_length=2000, blank=True)
    # SHA-256 of the normalised text (cases.imports.normalise.text_hash): the import's key of last resort
    # and how it tells apart different texts that share a paragraph number.
    text_hash = models.CharField(_("text hash"), max_length=64, blank=True, editable=False)

    history = HistoricalRecords()
    objects = RecommendationQuerySet.as_manager()

    class Meta:
        ordering = ["document", "position", "code"]
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        constraints = [
            models.CheckConstraint(
                condition=_in("addressee", Addressee), name="cases_recommendation_addressee_valid"
            ),
            models.CheckConstraint(
                condition=_in("implementation_status", ImplementationStatus),
                name="cases_recommendation_implementation_status_valid",
            ),
            models.CheckConstraint(
                condition=_in("state_response", StateResponse),
                name="cases_recommendation_state_response_valid",
            ),
            # A paragraph number names one recommendation, except where the source gives it to several
            # texts (UPR tables with lost trailing zeros): those are told apart by paragraph_variant.
            models.UniqueConstraint(
                fields=["document", "paragraph", "paragraph_variant"],
                condition=~Q(paragraph=""),
                name="cases_recommendation_unique_paragraph",
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="cases_recommendation_unique_external_id",
            ),
        ]
        indexes = [
            # The list's default order within a document, and the document filter.
            models.Index(fields=["document", "position", "code"], name="cases_rec_document_order"),
            # Status filters on the list and the dashboard's counts.
            models.Index(fields=["implementation_status", "code"], name="cases_rec_impl_status"),
            models.Index(fields=["state_response", "code"], name="cases_rec_state_response"),
            models.Index(fields=["addressee", "code"], name="cases_rec_addressee"),
            # The import's last-resort key: the same text within a document.
            models.Index(fields=["document", "text_hash"], name="cases_rec_text_hash"),
        ]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("cases:recommendation", args=[self.code])


class StatusCount(models.Model):
    """How many recommendations of a document have each pair of current statuses (implementation, State
    response): what the dashboard and the public scorecards show, read without aggregating the
    recommendations. Kept by database triggers on cases_recommendation (migration 0013_status_counts) in the
    statement that inserts, deletes or changes a recommendation's document or statuses, whatever makes the
    change (recompute_current_status, imports, the admin, bulk loads); rows at zero are deleted. Derived:
    portable backups leave it out and their restore recounts it (cases.status_counts.recount; native backups
    copy it with the rest); `manage.py check_status_counts` compares it with a full recount."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="status_counts", verbose_name=_("document")
    )
    implementation_status = models.CharField(
        _("implementation status"), max_length=32, choices=ImplementationStatus.choices
    )
    state_response = models.CharField(_("State response"), max_length=32, choices=StateResponse.choices)
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("status count")
        verbose_name_plural = _("status counts")
        constraints = [
            models.UniqueConstraint(
                fields=["document", "implementation_status", "state_response"],
                name="cases_statuscount_unique",
            )
        ]
        # The dashboard's totals: grouped in index order, read from the index alone.
        indexes = [
            models.Index(
                fields=["implementation_status", "state_response", "count"], name="cases_statuscount_totals"
            )
        ]

    def __str__(self) -> str:
        return f"{self.document_id} {self.implementation_status} {self.state_response}: {self.count}"


class StatusTotal(models.Model):
    """How many recommendations of the whole index have each pair of current statuses: StatusCount summed
    over the documents, at most 20 rows whatever the number of recommendations or documents, so the
    dashboard's charts and the list's unfiltered total read a handful of rows (summing StatusCount read
    37,017 of them at 300,000 recommendations). Kept by its own database triggers on cases_recommendation
    (migration 0019_dashboard_totals), in the same statement and transaction as StatusCount; rows at zero are
    deleted. Derived like StatusCount: recounted with it (cases.status_counts.recount) and compared with a
    full recount by `manage.py check_status_counts`."""

    implementation_status = models.CharField(
        _("implementation status"), max_length=32, choices=ImplementationStatus.choices
    )
    state_response = models.CharField(_("State response"), max_length=32, choices=StateResponse.choices)
    count = models.PositiveIntegerField(_("count"))

    class Meta:
        verbose_name = _("status total")
        verbose_name_plural = _("status totals")
        constraints = [
            models.UniqueConstraint(
                fields=["implementation_status", "state_response"], name="cases_statustotal_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.implementation_status} {self.state_response}: {self.count}"


class PublicVersion(models.Model):
    """The public record's version: one row (id 1), bumped by database triggers (migration
    0018_public_version) in the statement that changes anything a public page shows, whatever makes the change
    (services, the admin, bulk `update()`, raw SQL, loads). The public pages' ETag and Last-Modified come from
    it alone (cases.public.caching, cases.public_version). Never backed up: every restore bumps it."""

    version = models.BigIntegerField(_("version"), default=0)
    changed_at = models.DateTimeField(_("changed"))

    class Meta:
        verbose_name = _("public record version")
        verbose_name_plural = _("public record versions")

    def __str__(self) -> str:
        return f"{self.version} ({self.changed_at:%Y-%m-%d %H:%M:%S})"


# --- Evidence ------------------------------------------------------------------------------------------


# What a published assessment's reader relies on: these never change once a published assessment cites the
# source (a correction is a new source and a corrective assessment). Guarded by Evidence.clean/save,
# EvidenceQuerySet.update/delete and a database trigger (migration 0004_cited_evidence_is_frozen); on SQLite
# a migration that rebuilds cases_evidence drops the trigger, and tests/test_record_holds.py then fails.
FROZEN_WHEN_CITED = ("url", "title", "excerpt", "published_on", "confidentiality")


class CitedEvidenceImmutable(Exception):
    """Evidence cited by a published assessment is part of the public record: record a new source and a
    corrective assessment instead."""


class EvidenceQuerySet(models.QuerySet):
    def cited_by_published(self) -> EvidenceQuerySet:
        """Evidence that at least one published assessment cites."""
        return self.filter(pk__in=Assessment.objects.published().values("evidence"))

    def update(self, **kwargs):
        frozen = {name: value for name, value in kwargs.items() if name in FROZEN_WHEN_CITED}
        # Only a real change is refused: exclude() keeps the cited rows where any frozen value differs.
        if frozen and self.cited_by_published().exclude(**frozen).exists():
            raise CitedEvidenceImmutable("Evidence cited by a published assessment cannot change.")
        return super().update(**kwargs)

    def delete(self):
        if self.cited_by_published().exists():
            raise CitedEvidenceImmutable("Evidence cited by a published assessment cannot be deleted.")
        return super().delete()


class Evidence(TimeStamped):
    url = WebAddressField(_("URL"), max_length=2000, unique=True)
    title = PlainTextField(_("title"), max_length=500)
    publisher = PlainTextField(_("publisher"), max_length=200, blank=True)
    published_on = models.DateField(_("publication date"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=32, choices=EvidenceKind.choices, default=EvidenceKind.NEWS)
    excerpt = models.TextField(_("excerpt"), max_length=2000, blank=True, help_text=_("A short quotation."))
    language = models.CharField(
        _("language"), max_length=35, default="en", help_text=_("BCP 47 tag, e.g. en, zh, ug.")
    )
    archive_url = WebAddressField(_("archive URL"), max_length=2000, blank=True)
    confidentiality = models.CharField(
        _("confidentiality"),
        max_length=16,
        choices=Confidentiality.choices,
        default=Confidentiality.INTERNAL,
        help_text=_(
            "Public: everyone. Partners: signed-in users and partner keys. Internal: your organisation."
        ),
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("held by")
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recommendations = models.ManyToManyField(
        Recommendation, verbose_name=_("recommendations"), blank=True, related_name="evidence"
    )

    history = HistoricalRecords(m2m_fields=[recommendations])
    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["-published_on", "title"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="cases_evidence_url_http",
            ),
            models.CheckConstraint(
                condition=Q(archive_url="")
                | Q(archive_url__startswith="http://")
                | Q(archive_url__startswith="https://"),
                name="cases_evidence_archive_url_http",
            ),
            models.CheckConstraint(condition=_in("kind", EvidenceKind), name="cases_evidence_kind_valid"),
            models.CheckConstraint(
                condition=_in("confidentiality", Confidentiality), name="cases_evidence_confidentiality_valid"
            ),
        ]
        indexes = [
            # Visibility: every evidence query filters on confidentiality, and members see their own internal.
            models.Index(fields=["confidentiality", "organisation"], name="cases_evidence_visibility"),
            # The evidence list's default order.
            models.Index(fields=["-published_on", "title"], name="cases_evidence_order"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        fields = [f for f in FROZEN_WHEN_CITED if update_fields is None or f in update_fields]
        if self.frozen_changes(fields):
            raise CitedEvidenceImmutable(
                "Evidence cited by a published assessment cannot change; record a new source and a correction."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and Evidence.objects.filter(pk=self.pk).cited_by_published().exists():
            raise CitedEvidenceImmutable("Evidence cited by a published assessment cannot be deleted.")
        return super().delete(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        changed = self.frozen_changes()
        if changed:
            message = _(
                "A published assessment cites this source, so this cannot change. To correct it, record a "
                "new source and submit an assessment that corrects the published one."
            )
            raise ValidationError(dict.fromkeys(changed, message))

    @property
    def leaves_organisation(self) -> bool:
        """Whether anyone outside the holding organisation may see it (other members, partner keys, the
        public): only then is a change to it a change others can observe."""
        return self.confidentiality != Confidentiality.INTERNAL

    def frozen_changes(self, fields: tuple[str, ...] | list[str] = FROZEN_WHEN_CITED) -> list[str]:
        """The frozen fields this instance would change although a published assessment cites the stored
        row (one query; none for a new row)."""
        if self.pk is None or self._state.adding or not fields:
            return []
        stored = Evidence.objects.cited_by_published().filter(pk=self.pk).values(*fields).first()
        if stored is None:
            return []
        return [
            name
            for name in fields
            if self._meta.get_field(name).to_python(getattr(self, name)) != stored[name]
        ]


# --- Assessments ---------------------------------------------------------------------------------------


class PublishedAssessmentImmutable(Exception):
    """A published assessment is part of the public record: correct it with a new assessment instead."""


class AssessmentQuerySet(models.QuerySet):
    def published(self) -> AssessmentQuerySet:
        return self.filter(review_state=ReviewState.PUBLISHED)

    def standing(self) -> AssessmentQuerySet:
        """On the record or on its way there: published, or submitted and awaiting review (not returned)."""
        return self.filter(review_state__in=[ReviewState.SUBMITTED, ReviewState.PUBLISHED])

    def with_correction(self) -> AssessmentQuerySet:
        """`correction_id`: the latest published assessment that corrects this one, or None. A corrected
        assessment is shown struck through, linked to it, and counts nowhere (services.recompute_current_status
        leaves it out). A correlated subquery in the same query: no query per row."""
        corrections = (
            Assessment.objects.published()
            .filter(corrects=OuterRef("pk"))
            .order_by("-published_at", "-id")
            .values("pk")[:1]
        )
        return self.annotate(correction_id=Subquery(corrections))

    def for_timeline(self) -> AssessmentQuerySet:
        """Newest first, with author, reviewer and the corrected assessment joined in one query."""
        # Unpublished rows (no publication time) first within a date, on SQLite and PostgreSQL alike.
        return self.select_related("author", "reviewer", "corrects", "recommendation").order_by(
            "-assessed_on", F("published_at").desc(nulls_first=True), "-id"
        )

    def update(self, **kwargs):
        if self.filter(review_state=ReviewState.PUBLISHED).exists():
            raise PublishedAssessmentImmutable("Published assessments cannot be changed.")
        return super().update(**kwargs)

    def delete(self):
        if self.filter(review_state=ReviewState.PUBLISHED).exists():
            raise PublishedAssessmentImmutable("Published assessments cannot be deleted.")
        return super().delete()


class Assessment(TimeStamped):
    recommendation = models.ForeignKey(
        Recommendation, verbose_name=_("recommendation"), on_delete=models.PROTECT, related_name="assessments"
    )
    implementation_status = models.CharField(
        _("implementation status"), max_length=32, choices=ImplementationStatus.choices
    )
    state_response = models.CharField(
        _("State response"), max_length=32, choices=StateResponse.choices, default=StateResponse.NO_RESPONSE
    )
    basis = models.CharField(_("basis"), max_length=32, choices=Basis.choices)
    assessed_on = models.DateField(_("assessed on"), help_text=_("The date this assessment speaks for."))
    rationale = models.TextField(_("rationale"), max_length=5000)
    evidence = models.ManyToManyField(Evidence, verbose_name=_("evidence"), related_name="assessments")
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="assessments",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="assessments"
    )
    review_state = models.CharField(
        _("review state"), max_length=16, choices=ReviewState.choices, default=ReviewState.SUBMITTED
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviews",
    )
    review_comment = models.TextField(_("review comment"), max_length=2000, blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-assessed_on", "-published_at", "-id"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.CheckConstraint(
                condition=_in("implementation_status", ImplementationStatus),
                name="cases_assessment_implementation_status_valid",
            ),
            models.CheckConstraint(
                condition=_in("state_response", StateResponse), name="cases_assessment_state_response_valid"
            ),
            models.CheckConstraint(condition=_in("basis", Basis), name="cases_assessment_basis_valid"),
            models.CheckConstraint(
                condition=_in("review_state", ReviewState), name="cases_assessment_review_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("author")),
                name="cases_assessment_reviewer_not_author",
            ),
            models.CheckConstraint(
                condition=~Q(review_state=ReviewState.PUBLISHED)
                | Q(reviewer__isnull=False, published_at__isnull=False),
                name="cases_assessment_published_has_reviewer",
            ),
            models.CheckConstraint(
                condition=Q(review_state=ReviewState.PUBLISHED) | Q(published_at__isnull=True),
                name="cases_assessment_only_published_has_time",
            ),
            models.CheckConstraint(
                condition=Q(corrects__isnull=True) | ~Q(corrects=F("id")),
                name="cases_assessment_not_self_correction",
            ),
        ]
        indexes = [
            # The timeline and the current-status recomputation: published rows of one recommendation,
            # newest first.
            models.Index(
                fields=["recommendation", "review_state", "-assessed_on", "-published_at"],
                name="cases_assessment_timeline",
            ),
            # The review queue and the dashboard's count of what waits: one organisation's submitted,
            # oldest first, read in index order (a page of the queue stops after its rows however many wait).
            models.Index(
                fields=["organisation", "review_state", "created_at", "id"], name="cases_assessment_org_queue"
            ),
            # The dashboard's "your own submitted and returned" (organisation last: with it the planner
            # prefers this index to the queue's for that query, whatever statistics it has).
            models.Index(
                fields=["author", "review_state", "organisation"], name="cases_assessment_author_org"
            ),
            # The dashboard's latest published, read in index order to the last tie-break (without `-id`
            # SQLite sorted the rows of each publication time: 17-20 ms at 300,000 recommendations).
            models.Index(fields=["review_state", "-published_at", "-id"], name="cases_assessment_recent"),
            # with_correction's subquery: one assessment's published corrections, latest first. Partial (the
            # corrections only: small), and with equality on two columns, so SQLite prefers it to the index
            # above even without statistics (the recent index, also in order, would read every publication
            # for each row: the 300,000 dashboard hung when the recent index gained `-id` without this one).
            models.Index(
                fields=["corrects", "review_state", "-published_at", "-id"],
                condition=Q(corrects__isnull=False),
                name="cases_assessment_corrections",
            ),
            # The assessments browser (/assessments/, cases.browse_views) and its downloads: newest (or
            # oldest) first, `assessed_on` from/to; each filter without an index of its own above leads one
            # that then yields its rows already in date order, so a page is read without sorting them all.
            # (recommendation, review state and author are served by the timeline, queue and author indexes.)
            models.Index(fields=["-assessed_on", "-id"], name="cases_assessment_by_date"),
            models.Index(fields=["basis", "-assessed_on", "-id"], name="cases_assessment_basis"),
            models.Index(
                fields=["implementation_status", "-assessed_on", "-id"], name="cases_assessment_impl_status"
            ),
            models.Index(fields=["state_response", "-assessed_on", "-id"], name="cases_assessment_response"),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id and self.recommendation.code} · {self.assessed_on} · {self.get_basis_display()}"

    def save(self, *args, **kwargs):
        # The public record is append-only: a row that is published in the database never changes.
        if self.pk and Assessment.objects.filter(pk=self.pk, review_state=ReviewState.PUBLISHED).exists():
            raise PublishedAssessmentImmutable(
                "Published assessments cannot be changed; submit a correction."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and Assessment.objects.filter(pk=self.pk, review_state=ReviewState.PUBLISHED).exists():
            raise PublishedAssessmentImmutable(
                "Published assessments cannot be deleted; submit a correction."
            )
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.review_state == ReviewState.PUBLISHED


class AssessmentTransition(models.Model):
    """One row per review transition: who moved which assessment from what to what, and why."""

    assessment = models.ForeignKey(
        Assessment, verbose_name=_("assessment"), on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(_("from"), max_length=16, choices=ReviewState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=16, choices=ReviewState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("review transition")
        verbose_name_plural = _("review transitions")
        constraints = [
            models.CheckConstraint(
                condition=Q(from_state="") | _in("from_state", ReviewState),
                name="cases_transition_from_state_valid",
            ),
            models.CheckConstraint(
                condition=_in("to_state", ReviewState), name="cases_transition_to_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["assessment", "created_at"], name="cases_transition_by_assessment")]

    def __str__(self) -> str:
        # The states' labels in the page's language and no English joining word: this is the admin's page title.
        return f"{self.get_from_state_display() or '∅'} → {self.get_to_state_display()} · {self.actor}"


# --- Partner API keys ----------------------------------------------------------------------------------


class KeyClearance(models.TextChoices):
    """What a key may see. `internal` evidence never leaves through a key, so it is not a clearance."""

    PUBLIC = "public", _("Public")
    PARTNERS = "partners", _("Partners")


class ApiKeyQuerySet(models.QuerySet):
    def usable(self) -> ApiKeyQuerySet:
        from django.utils import timezone

        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ApiKey(TimeStamped):
    """An organisation's key for the export. The secret is shown once; only its SHA-256 is stored, and the
    short prefix (also part of the key) finds the row without revealing anything."""

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(_("SHA-256 of the key"), max_length=64, unique=True, editable=False)
    clearance = models.CharField(
        _("clearance"), max_length=16, choices=KeyClearance.choices, default=KeyClearance.PUBLIC
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=_in("clearance", KeyClearance), name="cases_apikey_clearance_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organisation}, {self.clearance})"

    @property
    def is_usable(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


# --- Imports (cases/imports) ---------------------------------------------------------------------------


class ThemeMapping(TimeStamped):
    """A curated mapping from a source's theme name (UHRI's vocabulary) to one of our themes, or to none
    (`theme` empty: the source theme is dropped on purpose). Imports consult it; they never create themes."""

    source_name = models.CharField(_("source theme"), max_length=300, unique=True)
    theme = models.ForeignKey(
        Theme,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mappings",
        verbose_name=_("theme"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["source_name"]
        verbose_name = _("theme mapping")
        verbose_name_plural = _("theme mappings")

    def __str__(self) -> str:
        return f"{self.source_name} → {self.theme or '∅'}"


class ImportStatus(models.TextChoices):
    APPLYING = "applying", _("Applying")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportRun(TimeStamped):
    """One applied import: who, when, which file (name and SHA-256), the counts and the rejected rows. It
    stays as the import's report; `batches_done` says where a failed run stopped (re-running the same file
    resumes: finished batches are matched and left unchanged)."""

    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    format = models.CharField(_("format"), max_length=32)
    encoding = models.CharField(_("encoding"), max_length=64, blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.APPLYING
    )
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    batches_done = models.PositiveIntegerField(_("batches done"), default=0)
    batches_total = models.PositiveIntegerField(_("batches"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    rejections = models.JSONField(_("rejected rows"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="import_runs",
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="import_runs"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        constraints = [
            models.CheckConstraint(
                condition=_in("status", ImportStatus), name="cases_importrun_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.created_at:%Y-%m-%d %H:%M}, {self.get_status_display()})"


class ImportDigest(models.Model):
    """What the last import said about one document, so re-importing an unchanged file skips it whole
    (cases/imports/preview.py): `digest`, of the file's recommendations for the document as normalised and
    mapped; `state`, a fingerprint of the document and its recommendations in the database just after (their
    number, latest change, theme links and standing State claims). Both must match again for a skip."""

    document = models.OneToOneField(
        Document,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="import_digest",
        verbose_name=_("document"),
    )
    digest = models.CharField(_("digest"), max_length=64)
    state = models.CharField(_("state"), max_length=64)
    recorded_at = models.DateTimeField(_("recorded"), auto_now=True)

    class Meta:
        verbose_name = _("import digest")
        verbose_name_plural = _("import digests")

    def __str__(self) -> str:
        return f"{self.document_id}: {self.digest[:12]}"


# People (individual cases) live in their own package; imported here so Django registers them.
from .people.models import *  # noqa: E402, F403

# Translations of recommendations and themes (cases/translations), registered the same way.
from .translations.models import *  # noqa: E402, F403
