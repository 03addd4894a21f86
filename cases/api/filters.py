"""The export's FilterSets: the web list's filters (cases.filters) plus `updated_since` on every list.

`updated_since` is inclusive (>=): a row changed in the same instant as the previous sync's watermark is sent
again rather than missed, so clients upsert by key. For recommendations and assessments a change to a
published assessment or to the evidence they rest on counts as a change of the row.
"""

from __future__ import annotations

import datetime
import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter

from cases import access
from cases import filters as web_filters
from cases.models import (
    Assessment,
    Document,
    Evidence,
    IssuingBody,
    Theme,
)

LEAP_SECOND = re.compile(r"(?<=T\d\d:\d\d):60(?:\.\d+)?(?=Z|[+-]|$)")
UPDATED_SINCE_HELP = _(
    "Only rows changed at or after this instant (ISO 8601, e.g. 2024-08-31T00:00:00Z; a time without an "
    "offset is UTC). For incremental sync, pass the time your previous sync started."
)


class UpdatedSinceField(forms.Field):
    """An ISO 8601 instant; anything else (or a date beyond what the database can compare) is a clear 400."""

    default_error_messages = {
        "invalid": _("Enter an ISO 8601 date and time, for example 2024-08-31T00:00:00Z."),
    }

    def to_python(self, value):
        # RFC 3339 allows a lowercase t and z; a leap second is read as the last instant of its minute.
        value = LEAP_SECOND.sub(":59.999999", (value or "").strip().upper())
        if not value:
            return None
        try:
            parsed = parse_datetime(value)
            if parsed is None:
                # A bare date means its midnight in UTC.
                parsed = datetime.datetime.combine(datetime.date.fromisoformat(value), datetime.time())
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=datetime.UTC)
            # Normalising to UTC overflows for instants at the edge of the calendar (year 1 or 9999).
            parsed = parsed.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return parsed


class UpdatedSinceFilter(django_filters.IsoDateTimeFilter):
    field_class = UpdatedSinceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Updated since"))
        kwargs.setdefault("help_text", UPDATED_SINCE_HELP)
        kwargs.setdefault("method", "filter_updated_since")
        super().__init__(*args, **kwargs)


def _no_nul(data):
    """PostgreSQL refuses NUL characters in text; refuse them up front as a 400 rather than a driver error."""
    for key in data:
        if any("\x00" in value for value in data.getlist(key)):
            return key
    return None


class ApiFilterSet(django_filters.FilterSet):
    updated_since = UpdatedSinceFilter()

    def is_valid(self):
        bad = _no_nul(self.data) if hasattr(self.data, "getlist") else None
        if bad:
            self.form.is_valid()  # builds cleaned_data and errors before we add ours
            # The name goes in as a parameter, never into the message itself: django-filter applies
            # `message % params` when it turns form errors into the API's, so a `%` in a name formatted in
            # here would be formatted again (a 500 for `?%25x=%00`).
            self.form.add_error(
                None,
                ValidationError(
                    _("Parameter “%(name)s” contains a NUL character."), code="nul", params={"name": bad}
                ),
            )
            return False
        return super().is_valid()

    def filter_updated_since(self, queryset, name, value):
        return queryset.filter(updated_at__gte=value)


class StableOrderingFilter(OrderingFilter):
    """DRF's `ordering` (comma-separated, `-` for descending, unknown names ignored), described in the
    schema with the allowed values. Pagination appends a unique tiebreaker, so any choice pages stably."""

    def get_schema_operation_parameters(self, view):
        values = [prefix + name for name in view.ordering_fields for prefix in ("", "-")]
        default = ",".join(view.ordering)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Sort order: one of the listed values, or several separated by commas (default %(d)s).")
                    % {"d": default}
                ),
                "schema": {"type": "string", "example": values[0]},
                "examples": {value.replace("-", "desc_") or "default": {"value": value} for value in values},
            }
        ]


def _ids_with_changed_evidence(value, owner: str, request):
    """Ids of the recommendations (or assessments) linked to evidence changed since `value` that the
    requester may see: a change to evidence it may not see (another organisation's internal source) is no
    change for it, and must not show. Uncorrelated, so the database runs it once (from the evidence
    `updated_at` index), not once per row."""
    through = Evidence.recommendations.through if owner == "recommendation" else Assessment.evidence.through
    visible = access.evidence_q(access.viewer_for_request(request), prefix="evidence__")
    return through.objects.filter(visible, evidence__updated_at__gte=value).values(f"{owner}_id")


class RecommendationFilter(ApiFilterSet, web_filters.RecommendationFilter):
    class Meta(web_filters.RecommendationFilter.Meta):
        fields = [*web_filters.RecommendationFilter.Meta.fields, "updated_since"]

    def filter_updated_since(self, queryset, name, value):
        # Publishing and linking evidence already touch the recommendation (services); evidence edited later
        # (a corrected title, a new archive link) does not, so it is looked up here too.
        published = Assessment.objects.published().filter(updated_at__gte=value)
        return queryset.filter(
            Q(updated_at__gte=value)
            | Q(pk__in=published.values("recommendation_id"))
            | Q(pk__in=_ids_with_changed_evidence(value, "recommendation", self.request))
        )


class EvidenceFilter(ApiFilterSet, web_filters.EvidenceFilter):
    class Meta(web_filters.EvidenceFilter.Meta):
        fields = [*web_filters.EvidenceFilter.Meta.fields, "updated_since"]


class AssessmentFilter(ApiFilterSet, web_filters.AssessmentFilter):
    # The assessments browser's filters (cases.filters.AssessmentBrowserFilter) less author and review state:
    # the export is published assessments only, and never names a person.
    class Meta(web_filters.AssessmentFilter.Meta):
        fields = [*web_filters.AssessmentFilter.Meta.fields, "updated_since"]

    def filter_updated_since(self, queryset, name, value):
        # The evidence list and the withheld count change when a cited source is edited or reclassified.
        return queryset.filter(
            Q(updated_at__gte=value) | Q(pk__in=_ids_with_changed_evidence(value, "assessment", self.request))
        )


class DocumentFilter(ApiFilterSet):
    issuing_body = django_filters.ChoiceFilter(choices=IssuingBody.choices, label=_("Issuing body"))

    class Meta:
        model = Document
        fields = ["issuing_body", "updated_since"]


class ThemeFilter(ApiFilterSet):
    class Meta:
        model = Theme
        fields = ["updated_since"]
