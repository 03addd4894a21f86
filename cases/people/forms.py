"""The people forms and the list's FilterSet (shared with /api/v1/people/)."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from cases import access
from cases.filters import MAX_QUERY_LENGTH

from . import dedupe
from .models import (
    NEVER_EXPORT_FIELDS,
    Consent,
    FacilityType,
    Person,
    PersonStatus,
    PersonStatusKind,
    canonical_never_export,
    never_export_names,
)


class PersonFilter(django_filters.FilterSet):
    """Filters of the people list and the API. Applied to a queryset already cut by access.visible_people;
    the search (`q`) asks access.people_search_q, which matches names only where the viewer may see them."""

    status = django_filters.ChoiceFilter(
        field_name="current_status", choices=PersonStatusKind.choices, label=_("Current status")
    )
    facility_type = django_filters.ChoiceFilter(
        field_name="current_facility", choices=FacilityType.choices, label=_("Facility type")
    )
    recommendation = django_filters.CharFilter(
        field_name="recommendations__code", max_length=50, label=_("Recommendation code")
    )
    prefecture = django_filters.CharFilter(lookup_expr="iexact", max_length=100, label=_("Prefecture"))
    consent = django_filters.ChoiceFilter(
        method="filter_consent", choices=Consent.choices, label=_("Consent")
    )
    q = django_filters.CharFilter(method="filter_q", max_length=MAX_QUERY_LENGTH, label=_("Search"))

    class Meta:
        model = Person
        fields = ["status", "facility_type", "recommendation", "prefecture", "consent", "q"]

    # The API's subclass sets it: a field marked "never export" is then never matched by the search.
    export = False

    def __init__(self, *args, viewer: access.Viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer

    def filter_consent(self, queryset, name, value):
        # Consent is the holder's record: a filter on it would sort another organisation's people by it.
        return queryset.filter(consent=value, organisation_id=self.viewer.organisation_id or 0)

    def filter_q(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(
            access.people_search_q(self.viewer, dedupe.query_forms(value), value, export=self.export)
        )


class NeverExportField(forms.MultipleChoiceField):
    """The fields a curator marks "never export", as checkboxes; cleans to the stored form (names in
    canonical order, space-separated), and shows a stored value ticked."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Never export"))
        kwargs.setdefault("help_text", Person._meta.get_field("never_export").help_text)
        choices = [
            (name, capfirst(Person._meta.get_field(name).verbose_name)) for name in NEVER_EXPORT_FIELDS
        ]
        super().__init__(choices=choices, **kwargs)

    def prepare_value(self, value):
        return never_export_names(value) if isinstance(value, str) else value

    def clean(self, value):
        return canonical_never_export(super().clean(value))


class PersonForm(forms.ModelForm):
    never_export = NeverExportField()
    recommendations = forms.CharField(
        label=_("Recommendations"),
        required=False,
        help_text=_("Codes, separated by spaces or commas, for example XJ22-151-i."),
    )

    class Meta:
        model = Person
        fields = [
            "name_latin",
            "name_uyghur",
            "name_chinese",
            "aliases",
            "gender",
            "birth_year",
            "ethnicity",
            "prefecture",
            "occupation",
            "xvdb_entry",
            "wgeid_ref",
            "un_communication_ref",
            "document_refs",
            "consent",
            "risk",
            "confidentiality",
            "never_export",
        ]
        widgets = {
            "name_uyghur": forms.TextInput(attrs={"dir": "rtl", "lang": "ug"}),
            "name_chinese": forms.TextInput(attrs={"lang": "zh"}),
            "aliases": forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
            "document_refs": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, may_mark_never_export: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_mark_never_export:
            # Curators only (access.may_mark_never_export); a posted value is then simply not read.
            del self.fields["never_export"]

    def clean_recommendations(self):
        from cases.models import Recommendation

        codes = [c for c in self.cleaned_data["recommendations"].replace(",", " ").split() if c]
        found = list(Recommendation.objects.filter(code__in=codes))
        missing = sorted(set(codes) - {r.code for r in found})
        if missing:
            raise ValidationError(_("Unknown recommendation: %(codes)s") % {"codes": ", ".join(missing)})
        return found

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.fields}


class StatusForm(forms.ModelForm):
    class Meta:
        model = PersonStatus
        fields = ["status", "facility_type", "term", "charge", "basis", "occurred_on", "note"]
        widgets = {
            "occurred_on": forms.DateInput(attrs={"type": "date"}),
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_occurred_on(self):
        value = self.cleaned_data["occurred_on"]
        if value and value > timezone.now().date():
            raise ValidationError(_("The date a status speaks for cannot be in the future."))
        return value


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label=_("What should change"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class MergeForm(forms.Form):
    duplicate = forms.CharField(label=_("Reference of the duplicate record"), max_length=12)
