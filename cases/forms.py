"""Forms for the writing pages: a new (or resubmitted) assessment, a new piece of evidence, a review comment.

Forms validate and shape input; the writes themselves happen in `services.py`, and who may see which
evidence is decided by `access.py`. Choices that depend on the viewer are always built from the viewer's
visible querysets, so a posted id of something the user may not see is rejected like any unknown id.
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Max, QuerySet
from django.forms.models import ModelChoiceIteratorValue
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from tracker.accounts import audit

from . import access, services
from .collation import ByLanguage
from .models import (
    Assessment,
    Basis,
    Confidentiality,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    Recommendation,
    StateResponse,
)

# The one URL validator (normalise_url stays importable from here for existing callers).
from .validators import URL_MAX, check_url, normalise_url, validate_plain_text  # noqa: F401

RATIONALE_MAX = 5000
EXCERPT_MAX = 2000
COMMENT_MAX = 2000
# How many "other" sources the assessment form lists. Every visible source can still be cited (the field
# validates against all of them); the list only bounds the page size on a large install.
OTHER_EVIDENCE_LISTED = 200
# A few common BCP 47 tags offered as suggestions (a <datalist>); any well-formed tag is accepted.
LANGUAGE_SUGGESTIONS = (
    "en",
    "zh",
    "zh-Hans",
    "zh-Hant",
    "ug",
    "kk",
    "ky",
    "ru",
    "tr",
    "ar",
    "fr",
    "de",
    "es",
    "ja",
)


# --- Shared pieces -------------------------------------------------------------------------------------


class MultilineField(forms.CharField):
    """A textarea's text with line endings normalised, so the length limit counts what the browser's
    `maxlength` counted (browsers count a line break as one character but submit it as two)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class DateInput(forms.DateInput):
    """The browser's date picker; ISO format is what `<input type="date">` sends and expects."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _not_in_future(value: datetime.date | None, message) -> None:
    if value and value > timezone.localdate():
        raise ValidationError(message, code="future")


def apply_service_errors(
    form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None
) -> None:
    """Show a service's ValidationError on the form: on the field it names when the form has that field,
    otherwise at the top of the form."""
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            name = aliases.get(field, field)
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- Assessments ---------------------------------------------------------------------------------------


def published_marker(recommendation: Recommendation) -> str:
    """When the newest published assessment of the recommendation was published ("" if none).

    The assessment form carries this from the moment it is opened. Publishing locks the recommendation
    row and takes its timestamp inside that lock, so a later publication always has a later timestamp,
    even one that was in flight while the form was being opened.
    """
    latest = recommendation.assessments.published().aggregate(latest=Max("published_at"))["latest"]
    return latest.isoformat() if latest else ""


def _parse_marker(value: str | None) -> datetime.datetime | None:
    try:
        parsed = parse_datetime(value or "")
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return parsed


class EvidenceChoiceField(forms.ModelMultipleChoiceField):
    default_error_messages = {
        # Also what someone sees who posts the id of a source they may not see: no hint that it exists.
        "invalid_choice": _("One of the chosen sources is not available to you. Choose again."),
        "invalid_pk_value": _("One of the chosen sources is not available to you. Choose again."),
    }

    def _check_values(self, value):
        # Django looks each id up and catches ValueError and TypeError, not the OverflowError of an id
        # beyond 64 bits: such an id is refused here, with the same message as any unknown id.
        for pk in value:
            try:
                number = int(str(pk).strip())
            except ValueError:
                continue  # not a number: Django's own check refuses it
            if not 0 < number <= MAX_ID:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)

    def label_from_instance(self, obj: Evidence) -> str:
        details = ", ".join(str(part) for part in (obj.publisher, obj.published_on) if part)
        return f"{obj.title} ({details})" if details else obj.title


class CorrectsChoiceField(forms.ModelChoiceField):
    default_error_messages = {
        "invalid_choice": _("Only a published assessment of this recommendation can be corrected."),
    }

    def label_from_instance(self, obj: Assessment) -> str:
        status, basis = obj.get_implementation_status_display(), obj.get_basis_display()
        return f"{obj.assessed_on:%Y-%m-%d} · {status} · {basis}"


class AssessmentForm(forms.Form):
    """A new assessment of one recommendation, or a returned one being revised.

    It also detects the edit conflict: `seen` holds `published_marker()` from when the form was first
    opened; if assessments were published since, the form refuses (keeping every value) until the user
    ticks `confirm_conflict`. `acknowledged` records the newest publication the user was shown, so a
    confirmation never covers an assessment published after it was given.
    """

    implementation_status = forms.ChoiceField(
        label=_("Implementation status"),
        choices=ImplementationStatus.choices,
        widget=forms.RadioSelect,
        help_text=_("What the State has done about this recommendation, as of the date below."),
    )
    state_response = forms.ChoiceField(
        label=_("State response"),
        choices=StateResponse.choices,
        widget=forms.RadioSelect,
        help_text=_("Whether the State accepted, noted or rejected the recommendation."),
    )
    basis = forms.ChoiceField(
        label=_("Basis"),
        choices=Basis.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "Independent: your organisation's own assessment. UN finding: what a UN body found. "
            "State claim: what the State says it has done; it is shown apart from the findings."
        ),
    )
    assessed_on = forms.DateField(
        label=_("Assessed on"),
        widget=DateInput,
        help_text=_(
            "The date this assessment speaks for: not before the recommendation was issued, nor in the future."
        ),
    )
    rationale = MultilineField(
        label=_("Rationale"),
        max_length=RATIONALE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Why this status, in your own words, with reference to the evidence. At most 5,000 characters."
        ),
    )
    evidence = EvidenceChoiceField(
        label=_("Evidence linked to this recommendation"),
        queryset=Evidence.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other_evidence = EvidenceChoiceField(
        label=_("Other evidence"),
        queryset=Evidence.objects.none(),
        required=False,
        # A checkbox list (templates/cases/workflow/_evidence_picker.html), filtered as one types by
        # static/js/evidence-filter.js; without JavaScript a plain list. Never a multi-select (Ctrl-click).
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Sources not yet linked to this recommendation, newest first. Tick each one this assessment "
            "rests on; it is linked to the recommendation when the assessment is published."
        ),
    )
    corrects = CorrectsChoiceField(
        label=_("Corrects"),
        queryset=Assessment.objects.none(),
        required=False,
        empty_label=_("Nothing: this is a new assessment"),
        help_text=_("If this assessment corrects a published one, choose it. The history keeps both."),
    )
    seen = forms.CharField(required=False, widget=forms.HiddenInput)
    acknowledged = forms.CharField(required=False, widget=forms.HiddenInput)
    confirm_conflict = forms.BooleanField(
        label=_("I have read the new assessment; submit mine anyway"), required=False
    )

    def __init__(self, *args, recommendation: Recommendation, viewer: access.Viewer, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.recommendation = recommendation
        self.viewer = viewer
        self.conflicts: list[Assessment] = []
        today = timezone.localdate()
        if not self.is_bound:
            self.initial.setdefault("assessed_on", today)
            if "seen" not in self.initial:
                self.initial["seen"] = published_marker(recommendation)
        self.fields["assessed_on"].widget.attrs["max"] = today.isoformat()
        # The earliest date is checked in services._validate_assessment; the picker offers the same range.
        self.fields["assessed_on"].widget.attrs["min"] = recommendation.document.published_on.isoformat()
        visible = access.visible_evidence(viewer)
        self.fields["evidence"].queryset = access.visible_evidence(
            viewer, recommendation.evidence.all()
        ).order_by("-published_on", ByLanguage("title"), "pk")
        # Validation accepts any visible source; only the rendered list is bounded (OTHER_EVIDENCE_LISTED).
        other = self.fields["other_evidence"]
        other.queryset = visible
        other.widget.choices = self._other_evidence_choices(visible)
        self.fields["corrects"].queryset = recommendation.assessments.published().order_by(
            "-assessed_on", "-published_at", "-id"
        )

    def _other_evidence_choices(self, visible: QuerySet) -> list:
        field = self.fields["other_evidence"]
        if self.is_bound:
            key = self.add_prefix("other_evidence")
            chosen = self.data.getlist(key) if hasattr(self.data, "getlist") else self.data.get(key, [])
        else:
            chosen = self.initial.get("other_evidence", [])
        chosen = _int_values(chosen)
        listed = list(
            visible.exclude(recommendations=self.recommendation).order_by("-created_at", "-pk")[
                :OTHER_EVIDENCE_LISTED
            ]
        )
        listed_pks = {e.pk for e in listed}
        missing = [pk for pk in chosen if pk not in listed_pks]
        if missing:
            # Chosen earlier but beyond the listed window: keep it selectable (if, and only if, visible).
            listed = list(visible.filter(pk__in=missing)) + listed
        return [(ModelChoiceIteratorValue(e.pk, e), field.label_from_instance(e)) for e in listed]

    @classmethod
    def initial_evidence(cls, recommendation: Recommendation, pks) -> dict[str, list[int]]:
        """Split preselected evidence ids between the two fields (visibility is checked when rendering and
        again on submit, so ids from a URL cannot reveal anything)."""
        pks = _int_values(pks)
        linked = set(recommendation.evidence.filter(pk__in=pks).values_list("pk", flat=True))
        return {
            "evidence": [pk for pk in pks if pk in linked],
            "other_evidence": [pk for pk in pks if pk not in linked],
        }

    # What a draft keeps while the monitor records a missing source (issue 16, gap 4); the conflict
    # confirmation is not kept: it answers what the page showed at submission time.
    DRAFT_FIELDS = (
        "implementation_status", "state_response", "basis", "assessed_on", "rationale", "evidence",
        "other_evidence", "corrects", "seen", "acknowledged",
    )  # fmt: skip
    _MULTIPLE = ("evidence", "other_evidence")

    @classmethod
    def draft_from(cls, data) -> dict[str, list[str]]:
        """The typed values of a posted form, as the session keeps them: text only, bounded (a draft is
        never validated, so nothing in it is trusted; it only pre-fills the form again)."""
        draft = {}
        for name in cls.DRAFT_FIELDS:
            values = [str(v)[: RATIONALE_MAX + 100] for v in data.getlist(name)[:OTHER_EVIDENCE_LISTED]]
            if values:
                draft[name] = values
        return draft

    @classmethod
    def initial_from_draft(cls, draft: dict, recommendation: Recommendation, chosen=()) -> dict:
        """The form's initial values from a kept draft plus sources chosen since (`chosen`, ids from
        ?evidence=), split between the linked and the other evidence as `initial_evidence` does."""
        initial = {
            name: values[0]
            for name, values in (draft or {}).items()
            if name in cls.DRAFT_FIELDS and name not in cls._MULTIPLE and values
        }
        pks = [*(draft or {}).get("evidence", []), *(draft or {}).get("other_evidence", []), *chosen]
        initial.update(cls.initial_evidence(recommendation, pks))
        return initial

    @classmethod
    def initial_from(cls, assessment: Assessment, visible_evidence: list[Evidence]) -> dict:
        initial = {
            "implementation_status": assessment.implementation_status,
            "state_response": assessment.state_response,
            "basis": assessment.basis,
            "assessed_on": assessment.assessed_on,
            "rationale": assessment.rationale,
            "corrects": assessment.corrects_id,
        }
        initial.update(cls.initial_evidence(assessment.recommendation, [e.pk for e in visible_evidence]))
        return initial

    def clean_assessed_on(self) -> datetime.date:
        value = self.cleaned_data["assessed_on"]
        _not_in_future(value, _("The date an assessment speaks for cannot be in the future."))
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        if "evidence" in cleaned and "other_evidence" in cleaned:
            chosen: dict[int, Evidence] = {}
            for item in [*cleaned["evidence"], *cleaned["other_evidence"]]:
                chosen.setdefault(item.pk, item)
            if not chosen:
                self.add_error(
                    "evidence",
                    ValidationError(
                        _("Choose at least one piece of evidence: an assessment rests on its sources."),
                        code="required",
                    ),
                )
            cleaned["all_evidence"] = list(chosen.values())
        self._check_conflict(cleaned)
        return cleaned

    def _check_conflict(self, cleaned: dict) -> None:
        published = self.recommendation.assessments.published()
        seen = _parse_marker(cleaned.get("seen"))
        newer = published.filter(published_at__gt=seen) if seen else published
        self.conflicts = list(
            access.with_cited_evidence(
                self.viewer, newer.select_related("author", "corrects").order_by("-published_at", "-id")
            )
        )
        if not self.conflicts:
            return
        newest = self.conflicts[0].published_at
        acknowledged = _parse_marker(cleaned.get("acknowledged"))
        if cleaned.get("confirm_conflict") and acknowledged and acknowledged >= newest:
            return
        self.add_error(
            None,
            ValidationError(
                _(
                    "Another assessment of this recommendation was published after you opened this form. "
                    "Read it below; your own entries are kept. To submit yours anyway, tick the confirmation."
                ),
                code="conflict",
            ),
        )
        # Re-rendered values come from the submitted data: record what the user is now being shown, and
        # clear a confirmation that was given before the newest publication existed.
        data = self.data.copy()
        data[self.add_prefix("acknowledged")] = newest.isoformat()
        data.pop(self.add_prefix("confirm_conflict"), None)
        self.data = data

    def service_kwargs(self) -> dict:
        """The cleaned values, named as `services.submit_assessment` and `resubmit_assessment` take them."""
        cleaned = self.cleaned_data
        return {
            "implementation_status": cleaned["implementation_status"],
            "state_response": cleaned["state_response"],
            "basis": cleaned["basis"],
            "assessed_on": cleaned["assessed_on"],
            "rationale": cleaned["rationale"],
            "evidence": cleaned["all_evidence"],
            "corrects": cleaned["corrects"],
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        apply_service_errors(self, exc, aliases={"all_evidence": "evidence"})


# Ids are positive 64-bit integers: a larger number is no id, and the database driver refuses it (an
# OverflowError on SQLite, an out-of-range error on PostgreSQL) instead of finding nothing.
MAX_ID = 2**63 - 1


def _int_values(values) -> list[int]:
    """The distinct ids among `values` (ids, their text or objects), in order; anything else is dropped."""
    if isinstance(values, (str, int)):
        values = [values]
    result = []
    for value in values or []:
        try:
            number = int(getattr(value, "pk", value))
        except (TypeError, ValueError):
            continue
        if 0 < number <= MAX_ID and number not in result:
            result.append(number)
    return result


# --- Evidence ------------------------------------------------------------------------------------------


class RecommendationChoiceField(forms.ModelMultipleChoiceField):
    default_error_messages = {"invalid_choice": _("%(value)s is not a recommendation code.")}

    def label_from_instance(self, obj: Recommendation) -> str:
        return f"{obj.code}: {Truncator(obj.text).words(16)}"


# Most restrictive first, each with who exactly may see it (access.py enforces the same rules).
CONFIDENTIALITY_CHOICES = [
    (Confidentiality.INTERNAL, _("Internal: members of your organisation only")),
    (Confidentiality.PARTNERS, _("Partners: every signed-in user and partner organisations' keys")),
    (Confidentiality.PUBLIC, _("Public: anyone who can see the tracker, partner keys and public pages")),
]


class EvidenceForm(forms.Form):
    """A new source. An address that is already recorded, exactly or in its canonical form
    (`validators.canonical_url`), is never duplicated: `duplicate` is set to the existing entry when the
    user may see it (the view links it to what she ticked and sends her there); otherwise a neutral error
    says only that the address cannot be recorded, so another organisation's internal source stays
    unknown."""

    url = forms.CharField(
        label=_("Address (URL)"),
        max_length=URL_MAX + 100,  # normalise_url enforces the real limit after stripping whitespace
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
        help_text=_("The page or document as published, starting with https:// or http://."),
    )
    title = forms.CharField(label=_("Title"), max_length=500, validators=[validate_plain_text])
    publisher = forms.CharField(
        label=_("Publisher"), max_length=200, required=False, help_text=_("The outlet, body or author.")
    )
    published_on = forms.DateField(
        label=_("Publication date"), required=False, widget=DateInput, help_text=_("Cannot be in the future.")
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=EvidenceKind.choices, initial=EvidenceKind.NEWS)
    excerpt = MultilineField(
        label=_("Excerpt"),
        max_length=EXCERPT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("A short quotation from the source, at most 2,000 characters."),
    )
    language = forms.CharField(
        label=_("Language"),
        max_length=35,
        initial="en",
        validators=[
            RegexValidator(
                r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
                _("Enter a language tag such as en, zh-Hans or ug."),
                code="invalid_language",
            )
        ],
        widget=forms.TextInput(
            attrs={"list": "evidence-languages", "autocapitalize": "none", "spellcheck": "false"}
        ),
        help_text=_("The source's language as a BCP 47 tag: en, zh, ug, ru…"),
    )
    archive_url = forms.CharField(
        label=_("Archive address"),
        max_length=URL_MAX + 100,
        required=False,
        widget=forms.URLInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
        help_text=_("A copy at web.archive.org or archive.today, in case the original disappears."),
    )
    confidentiality = forms.ChoiceField(
        label=_("Who may see it"),
        choices=CONFIDENTIALITY_CHOICES,
        initial=Confidentiality.INTERNAL,
        widget=forms.RadioSelect,
        help_text=_(
            "Internal unless you choose otherwise, so nothing is exposed by accident. Choose internal for "
            "testimony or anything that could put a person at risk."
        ),
    )
    recommendations = RecommendationChoiceField(
        label=_("Recommendations it supports"),
        queryset=Recommendation.objects.none(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, viewer: access.Viewer, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        self.duplicate: Evidence | None = None
        # What cases.validators.check_url flagged (a lookalike or punycode host): shown, never blocking.
        self.warnings: list[str] = []
        self.fields["published_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["recommendations"].queryset = (
            Recommendation.objects.select_related("document")
            .only("code", "paragraph", "text", "document__short_name", "document__published_on")
            .order_by("document__published_on", "document__short_name", "document_id", "position", "code")
        )

    def recommendation_groups(self) -> list[tuple[str, list]]:
        """The recommendation checkboxes grouped for display: the chosen ones first (so a preselected one
        is never hidden far down a long list), then one group per document."""
        chosen, by_document = [], {}
        for option in self["recommendations"]:
            recommendation = option.data["value"].instance
            if option.data["selected"]:
                chosen.append(option)
            else:
                by_document.setdefault(recommendation.document.short_name, []).append(option)
        groups = [(_("Chosen"), chosen)] if chosen else []
        return groups + list(by_document.items())

    def clean_url(self) -> str:
        raw = self.cleaned_data["url"]
        url, warnings = check_url(raw)
        self.warnings.extend(warnings)
        # The same source pasted another way (http, a trailing slash, utm_ parameters) is the same entry.
        existing = services.recorded_source(url)
        if existing is not None:
            if access.can_see_evidence(self.viewer, existing):
                self.duplicate = existing
                raise ValidationError(_("This source is already recorded."), code="duplicate")
            # The refusal is the author's organisation's to see, as the attempt was hers.
            audit.record(
                "evidence.duplicate_refused",
                actor=self.viewer.user,
                target=existing,
                organisation=self.viewer.organisation_id,
            )
            raise ValidationError(
                _("This address cannot be recorded. If you need it, ask a curator."), code="unavailable"
            )
        return url

    def clean_archive_url(self) -> str:
        value = self.cleaned_data["archive_url"].strip()
        if not value:
            return ""
        url, warnings = check_url(value)
        self.warnings.extend(warnings)
        return url

    def clean_published_on(self) -> datetime.date | None:
        value = self.cleaned_data["published_on"]
        _not_in_future(value, _("The publication date cannot be in the future."))
        return value

    def clean_language(self) -> str:
        return self.cleaned_data["language"].strip()

    def service_kwargs(self) -> dict:
        cleaned = self.cleaned_data
        fields = ("url", "title", "publisher", "published_on", "kind", "excerpt", "language", "archive_url",
                  "confidentiality", "recommendations")  # fmt: skip
        return {name: cleaned[name] for name in fields}

    def add_service_errors(self, exc: ValidationError) -> None:
        apply_service_errors(self, exc)


# --- Review --------------------------------------------------------------------------------------------


class VersionField(forms.CharField):
    """The `updated_at` of the assessment a page showed, carried in a hidden input, so that a service acting
    on it can refuse a version the person did not see (services `seen_version`). Empty: None (no check). A
    value that is no timestamp never matches, so the action is refused as if the assessment had changed."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value.isoformat() if isinstance(value, datetime.datetime) else value

    def clean(self, value) -> datetime.datetime | None:
        return version_from(super().clean(value))


def version_from(value: str | None) -> datetime.datetime | None:
    """A posted version (see VersionField): None when empty, a timestamp nothing matches when garbled."""
    if not value:
        return None
    return _parse_marker(value) or datetime.datetime.min.replace(tzinfo=datetime.UTC)


class ReviewForm(forms.Form):
    """A review's one form: the comment box serves both Publish and Return (a note typed before pressing
    Publish is kept on the transition, never lost), and Publish needs its confirmation box ticked, which
    works without JavaScript. Return uses ReturnForm, which makes the comment required."""

    comment = MultilineField(
        label=_("Comment"),
        help_text=_(
            "Required to return the assessment: say what the author should change. Optional when publishing."
        ),
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I have checked this assessment: publish it"),
        required=False,
    )
    # The version the queue showed (services.publish_assessment's `seen_version`).
    version = VersionField()

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PublishForm(ReviewForm):
    confirm = forms.BooleanField(
        label=ReviewForm.base_fields["confirm"].label,
        error_messages={"required": _("Tick “I have checked this assessment” to publish it.")},
    )


class ReturnForm(ReviewForm):
    comment = MultilineField(
        label=ReviewForm.base_fields["comment"].label,
        help_text=ReviewForm.base_fields["comment"].help_text,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say what the author should change.")},
    )


# --- Bulk review, and the author's own submission --------------------------------------------------------

# How many assessments one bulk review may act on: the queue's page (workflow_views.REVIEW_QUEUE_LIMIT).
BULK_REVIEW_MAX = 50


class IdListField(forms.Field):
    """A list of distinct object ids (posted as repeated values; the template renders them as checkboxes).
    Which of them the user may act on is access.py's question, asked by the view."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Tick at least one assessment."),
        "invalid": _("One of the chosen assessments is not available to you. Choose again."),
        "too_many": _("Choose at most %(limit)d assessments at once."),
    }

    def __init__(self, *, max_items: int, **kwargs) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if isinstance(value, (str, int)):
            value = [value]
        ids: list[int] = []
        for item in value:
            try:
                number = int(str(item).strip())
            except ValueError:
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
            if not 0 < number <= MAX_ID:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            if number not in ids:
                ids.append(number)
        return ids

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(
                self.error_messages["too_many"], code="too_many", params={"limit": self.max_items}
            )


class BulkReviewForm(ReviewForm):
    """Publish or return several assessments of the queue at once, with one comment. One item's rules
    apply to all: Publish needs the confirmation, Return the comment. It works without JavaScript: each
    item's checkbox (`items`) and version (`version-<id>`) belong to this form through the HTML `form`
    attribute, and the two submit buttons send `action`."""

    items = IdListField(max_items=BULK_REVIEW_MAX)
    action = forms.ChoiceField(
        choices=[("publish", _("Publish")), ("return", _("Return"))],
        widget=forms.HiddenInput,
        error_messages={"required": _("Choose Publish or Return.")},
    )
    comment = MultilineField(
        label=_("Comment for every selected assessment"),
        help_text=_(
            "Required to return them: say what the authors should change. Optional when publishing; kept in "
            "each assessment's history."
        ),
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm = forms.BooleanField(
        label=_("I have checked every selected assessment: publish them"), required=False
    )
    version = None  # one per item instead, `version-<id>`

    def clean(self) -> dict:
        cleaned = super().clean()
        action = cleaned.get("action")
        if action == "publish" and not cleaned.get("confirm"):
            self.add_error(
                "confirm",
                ValidationError(
                    _("Tick “I have checked every selected assessment” to publish them."), code="required"
                ),
            )
        if action == "return" and "comment" in cleaned and not cleaned["comment"].strip():
            self.add_error(
                "comment", ValidationError(_("Say what the authors should change."), code="required")
            )
        versions = {pk: version_from(self.data.get(f"version-{pk}")) for pk in cleaned.get("items") or []}
        cleaned["versions"] = {pk: version for pk, version in versions.items() if version is not None}
        return cleaned

    def selected(self) -> set[int]:
        """The ids ticked in the submitted data (valid or not), to tick them again on a re-rendered queue."""
        try:
            return set(self.fields["items"].to_python(self.data.getlist(self.add_prefix("items"))))
        except (ValidationError, AttributeError):
            return set()


class EditAssessmentForm(AssessmentForm):
    """The author's own submitted assessment, edited before anyone reviews it: the assessment form, its
    conflict check included, plus the version it was opened on (services.edit_submission's
    `seen_version`)."""

    version = VersionField()

    def acknowledge_version(self, version: datetime.datetime) -> None:
        """After a refusal because the submission changed elsewhere: carry the version now stored, so that
        submitting again (having been told) replaces it. Everything typed is kept."""
        data = self.data.copy()
        data[self.add_prefix("version")] = version.isoformat()
        self.data = data


class WithdrawForm(forms.Form):
    reason = MultilineField(
        label=_("Why are you withdrawing it?"),
        help_text=_("Kept in the assessment's history, which only your organisation sees."),
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
