"""People (individual cases): a person whose detention, disappearance or death bears on a recommendation,
and their situation over time as dated, append-only, four-eyes-reviewed status entries.

Choice values are a public contract (database, API, CSV, URLs). Who may see a person, and which of their
fields, is decided in cases/access.py (`# --- People`), never here.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from cases.models import Confidentiality, Evidence, Organisation, Recommendation, ReviewState, TimeStamped


def _in(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class Consent(models.TextChoices):
    """Whether the person or the family agreed to public advocacy. Only `yes` lets the name leave the
    holding organisation."""

    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class Risk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class PersonStatusKind(models.TextChoices):
    DETAINED = "detained", _("Detained")
    SENTENCED = "sentenced", _("Sentenced")
    RELEASED = "released", _("Released")
    RELEASED_RESTRICTED = "released_restricted", _("Released under restrictions")
    TRANSFERRED = "transferred", _("Transferred")
    WHEREABOUTS_UNKNOWN = "whereabouts_unknown", _("Whereabouts unknown")
    DIED_IN_CUSTODY = "died_in_custody", _("Died in custody")
    DECEASED = "deceased", _("Deceased")


class FacilityType(models.TextChoices):
    VOCATIONAL = "vocational_centre", _("“Vocational training centre”")
    DETENTION_CENTRE = "detention_centre", _("Detention centre")
    PRISON = "prison", _("Prison")
    UNKNOWN = "unknown", _("Unknown")


class StatusBasis(models.TextChoices):
    FAMILY_TESTIMONY = "family_testimony", _("Family testimony")
    OFFICIAL_STATEMENT = "official_statement", _("Official statement")
    LEAKED_DOCUMENT = "leaked_document", _("Leaked document")
    COURT_RECORD = "court_record", _("Court record")
    MEDIA = "media", _("Media")


# The fields a curator may mark "never export" (Person.never_export): everything that identifies a person.
# Bookkeeping (reference, consent, risk, confidentiality, the search key) is not a detail of the person, and
# the prefecture and status history are what anyone who may know of the case sees by design.
NEVER_EXPORT_FIELDS: tuple[str, ...] = (
    "name_latin",
    "name_uyghur",
    "name_chinese",
    "aliases",
    "gender",
    "birth_year",
    "ethnicity",
    "occupation",
    "xvdb_entry",
    "wgeid_ref",
    "un_communication_ref",
    "document_refs",
)


def never_export_names(value: str) -> list[str]:
    """The field names of a stored (or typed) `never_export` value: space-separated, in any order."""
    return (value or "").split()


def canonical_never_export(names) -> str:
    """The stored form: the names once each, in the order of NEVER_EXPORT_FIELDS, space-separated."""
    chosen = set(names)
    return " ".join(name for name in NEVER_EXPORT_FIELDS if name in chosen)


def validate_never_export(value: str) -> None:
    unknown = sorted(set(never_export_names(value)) - set(NEVER_EXPORT_FIELDS))
    if unknown:
        raise ValidationError(
            _("These cannot be marked “never export”: %(names)s."), params={"names": ", ".join(unknown)}
        )


class PersonQuerySet(models.QuerySet):
    def active(self) -> PersonQuerySet:
        """People not merged into another record (a merged record stays, pointing at the survivor)."""
        return self.filter(merged_into__isnull=True)


class Person(TimeStamped):
    # A stable pseudonymous reference, generated once (services.add_person): what anyone outside the
    # holding organisation sees of a person without consent.
    reference = models.CharField(_("reference"), max_length=12, unique=True, editable=False)
    name_latin = models.CharField(_("name (Latin script)"), max_length=200, blank=True)
    name_uyghur = models.CharField(_("name (Uyghur Arabic script)"), max_length=200, blank=True)
    name_chinese = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    aliases = models.TextField(_("aliases"), blank=True, help_text=_("Other spellings, one a line."))
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=100, blank=True)
    prefecture = models.CharField(_("place of origin (prefecture)"), max_length=100, blank=True)
    occupation = models.CharField(_("occupation"), max_length=200, blank=True)
    xvdb_entry = models.CharField(_("Xinjiang Victims Database entry"), max_length=50, blank=True)
    wgeid_ref = models.CharField(_("WGEID case reference"), max_length=50, blank=True)
    un_communication_ref = models.CharField(
        _("UN communication reference"), max_length=50, blank=True, help_text=_("For example CHN 18/2019.")
    )
    document_refs = models.TextField(_("court or police document numbers"), blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="people", verbose_name=_("held by")
    )
    consent = models.CharField(
        _("consent to public advocacy"), max_length=16, choices=Consent.choices, default=Consent.UNKNOWN
    )
    risk = models.CharField(_("risk"), max_length=16, choices=Risk.choices, default=Risk.HIGH)
    confidentiality = models.CharField(
        _("confidentiality"),
        max_length=16,
        choices=Confidentiality.choices,
        default=Confidentiality.INTERNAL,
        help_text=_(
            "Who outside your organisation may know this case exists. Names leave it only with consent."
        ),
    )
    # Fields that never leave through the API (JSON, CSV) or a download, whoever asks; still shown on the
    # holding organisation's own pages. Names from NEVER_EXPORT_FIELDS, space-separated (canonical order).
    never_export = models.CharField(
        _("never export"),
        max_length=300,
        blank=True,
        validators=[validate_never_export],
        help_text=_(
            "These details never leave through the API, CSV or any download, whatever the clearance; "
            "your organisation's own pages still show them."
        ),
    )
    recommendations = models.ManyToManyField(
        Recommendation, verbose_name=_("recommendations"), blank=True, related_name="people"
    )
    # Normalised Latin forms of every name and alias (cases.people.dedupe.search_key): search across
    # scripts and duplicate detection read this, never the raw names.
    search_key = models.TextField(_("search key"), editable=False, blank=True)
    # Denormalised from the latest published status entry (services.recompute_person_status), so the
    # list's filters and the recommendation page's counts never aggregate the history.
    current_status = models.CharField(
        _("current status"), max_length=32, choices=PersonStatusKind.choices, blank=True
    )
    current_facility = models.CharField(
        _("current facility type"), max_length=32, choices=FacilityType.choices, blank=True
    )
    status_on = models.DateField(_("status as of"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.CheckConstraint(condition=_in("gender", Gender), name="cases_person_gender_valid"),
            models.CheckConstraint(condition=_in("consent", Consent), name="cases_person_consent_valid"),
            models.CheckConstraint(condition=_in("risk", Risk), name="cases_person_risk_valid"),
            models.CheckConstraint(
                condition=_in("confidentiality", Confidentiality), name="cases_person_confidentiality_valid"
            ),
            models.CheckConstraint(
                condition=Q(current_status="") | _in("current_status", PersonStatusKind),
                name="cases_person_current_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(current_facility="") | _in("current_facility", FacilityType),
                name="cases_person_current_facility_valid",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | ~Q(merged_into=F("id")),
                name="cases_person_not_merged_into_self",
            ),
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1880, birth_year__lte=2100),
                name="cases_person_birth_year_range",
            ),
        ]
        indexes = [
            # The people list of an organisation, filtered by status (and the counts on a recommendation).
            models.Index(fields=["organisation", "current_status"], name="cases_person_org_status"),
            # Other organisations' visible people: by confidentiality.
            models.Index(fields=["confidentiality", "current_status"], name="cases_person_conf_status"),
            # The list's facility-type filter, on the same two sides (tests/perf/people_bench.py).
            models.Index(fields=["organisation", "current_facility"], name="cases_person_org_facility"),
            models.Index(fields=["confidentiality", "current_facility"], name="cases_person_conf_facility"),
            # Duplicate detection's candidates: same birth year or prefecture within an organisation.
            models.Index(fields=["organisation", "birth_year"], name="cases_person_org_birth_year"),
            models.Index(fields=["organisation", "prefecture"], name="cases_person_org_prefecture"),
        ]

    def __str__(self) -> str:
        # Never the name: a person's str() ends up in logs, admin messages and audit labels.
        return self.reference

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("cases:person", args=[self.reference])

    @property
    def never_export_set(self) -> set[str]:
        return set(never_export_names(self.never_export))

    def never_export_labels(self) -> list[str]:
        """The marked fields' names as a person reads them (the holder's page)."""
        return [
            str(self._meta.get_field(name).verbose_name) for name in never_export_names(self.never_export)
        ]


class PublishedStatusImmutable(Exception):
    """A published status entry is part of the record: correct it with a new entry instead."""


# A merge moves entries to the surviving person: the only change a published entry allows.
_MOVABLE = {"person", "person_id", "updated_at"}


class PersonStatusQuerySet(models.QuerySet):
    def published(self) -> PersonStatusQuerySet:
        return self.filter(review_state=ReviewState.PUBLISHED)

    def for_timeline(self) -> PersonStatusQuerySet:
        return self.select_related("author", "reviewer").order_by(
            "-occurred_on", F("published_at").desc(nulls_first=True), "-id"
        )

    def update(self, **kwargs):
        if set(kwargs) - _MOVABLE and self.published().exists():
            raise PublishedStatusImmutable("Published status entries cannot be changed.")
        return super().update(**kwargs)

    def delete(self):
        if self.published().exists():
            raise PublishedStatusImmutable("Published status entries cannot be deleted.")
        return super().delete()


class PersonStatus(TimeStamped):
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="statuses"
    )
    status = models.CharField(_("status"), max_length=32, choices=PersonStatusKind.choices)
    facility_type = models.CharField(
        _("facility type"), max_length=32, choices=FacilityType.choices, blank=True
    )
    term = models.CharField(_("term"), max_length=100, blank=True, help_text=_("For a sentence."))
    charge = models.CharField(_("charge as stated"), max_length=300, blank=True)
    basis = models.CharField(_("basis"), max_length=32, choices=StatusBasis.choices)
    occurred_on = models.DateField(_("date"), help_text=_("The date this status speaks for."))
    note = models.TextField(_("note"), max_length=5000, blank=True)
    evidence = models.ManyToManyField(
        Evidence, verbose_name=_("evidence"), blank=True, related_name="person_statuses"
    )
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT, related_name="person_statuses"
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
        related_name="+",
    )
    review_comment = models.TextField(_("review comment"), max_length=2000, blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    objects = PersonStatusQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-published_at", "-id"]
        verbose_name = _("status entry")
        verbose_name_plural = _("status entries")
        constraints = [
            models.CheckConstraint(
                condition=_in("status", PersonStatusKind), name="cases_personstatus_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(facility_type="") | _in("facility_type", FacilityType),
                name="cases_personstatus_facility_valid",
            ),
            # A facility type describes a detention, nothing else.
            models.CheckConstraint(
                condition=Q(facility_type="") | Q(status__in=["detained", "sentenced", "transferred"]),
                name="cases_personstatus_facility_only_when_held",
            ),
            models.CheckConstraint(
                condition=_in("basis", StatusBasis), name="cases_personstatus_basis_valid"
            ),
            models.CheckConstraint(
                condition=_in("review_state", ReviewState), name="cases_personstatus_review_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("author")),
                name="cases_personstatus_reviewer_not_author",
            ),
            models.CheckConstraint(
                condition=~Q(review_state=ReviewState.PUBLISHED)
                | Q(reviewer__isnull=False, published_at__isnull=False),
                name="cases_personstatus_published_has_reviewer",
            ),
        ]
        indexes = [
            # A person's timeline and the current-status recomputation.
            models.Index(fields=["person", "review_state", "-occurred_on"], name="cases_pstatus_timeline"),
            # The people review queue: an organisation's submitted entries, oldest first.
            models.Index(fields=["organisation", "review_state", "created_at"], name="cases_pstatus_queue"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.person_id and self.person.reference} · {self.occurred_on} · {self.get_status_display()}"
        )

    def save(self, *args, **kwargs):
        if self.pk and PersonStatus.objects.published().filter(pk=self.pk).exists():
            raise PublishedStatusImmutable("Published status entries cannot be changed; submit a correction.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and PersonStatus.objects.published().filter(pk=self.pk).exists():
            raise PublishedStatusImmutable("Published status entries cannot be deleted.")
        return super().delete(*args, **kwargs)


class PersonStatusTransition(models.Model):
    """One row per review transition of a status entry: who moved it from what to what, and why."""

    entry = models.ForeignKey(
        PersonStatus, verbose_name=_("status entry"), on_delete=models.CASCADE, related_name="transitions"
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
        verbose_name = _("status transition")
        verbose_name_plural = _("status transitions")
        constraints = [
            models.CheckConstraint(
                condition=_in("to_state", ReviewState), name="cases_personstatustransition_to_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_from_state_display() or '∅'} → {self.get_to_state_display()} · {self.actor}"


__all__ = [
    "NEVER_EXPORT_FIELDS",
    "Consent",
    "FacilityType",
    "Gender",
    "Person",
    "PersonStatus",
    "PersonStatusKind",
    "PersonStatusTransition",
    "Risk",
    "StatusBasis",
]
