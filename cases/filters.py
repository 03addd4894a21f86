"""FilterSets shared by the web pages and the API, so a filter means the same thing everywhere."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import (
    Addressee,
    Confidentiality,
    Document,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    Recommendation,
    StateResponse,
    Theme,
)
from .search import search_recommendations

MAX_QUERY_LENGTH = 200


class OnePassSelect(forms.Select):
    """A <select> rendered in one pass. Django renders each option through its own template, which costs
    about 0.3 ms an option: with thousands of documents that alone made the list page slow."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (str(option), " selected" if str(option) == selected else "", label)
                for option, label in self.choices
            ),
        )
        return format_html(
            "<select{}>{}</select>", flatatt(self.build_attrs(self.attrs, attrs) | {"name": name}), options
        )


class SearchFilter(django_filters.CharFilter):
    """Text search over the given fields; bounded so a pasted page cannot become a costly query."""

    def __init__(self, *args, search_fields: tuple[str, ...], **kwargs):
        kwargs.setdefault("max_length", MAX_QUERY_LENGTH)
        super().__init__(*args, **kwargs)
        self.search_fields = search_fields

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        condition = Q()
        for name in self.search_fields:
            condition |= Q(**{f"{name}__icontains": value})
        return qs.filter(condition)


class RecommendationFilter(django_filters.FilterSet):
    document = django_filters.ModelChoiceFilter(
        queryset=Document.objects.all(), to_field_name="slug", label=_("Document"), widget=OnePassSelect
    )
    addressee = django_filters.ChoiceFilter(choices=Addressee.choices, label=_("Addressee"))
    theme = django_filters.ModelChoiceFilter(
        field_name="themes", queryset=Theme.objects.all(), to_field_name="slug", label=_("Theme")
    )
    implementation_status = django_filters.ChoiceFilter(
        choices=ImplementationStatus.choices, label=_("Implementation status")
    )
    state_response = django_filters.ChoiceFilter(choices=StateResponse.choices, label=_("State response"))
    # Indexed text search (cases.search): FTS5 on SQLite, full-text search on PostgreSQL.
    q = django_filters.CharFilter(method="filter_q", max_length=MAX_QUERY_LENGTH, label=_("Search"))

    class Meta:
        model = Recommendation
        fields = ["document", "addressee", "theme", "implementation_status", "state_response", "q"]

    def filter_q(self, queryset, name, value):
        return search_recommendations(queryset, value) if value else queryset


class EvidenceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EvidenceKind.choices, label=_("Kind"))
    confidentiality = django_filters.ChoiceFilter(choices=Confidentiality.choices, label=_("Confidentiality"))
    recommendation = django_filters.CharFilter(
        field_name="recommendations__code", max_length=50, label=_("Recommendation code")
    )
    language = django_filters.CharFilter(max_length=35, label=_("Language"))
    q = SearchFilter(search_fields=("title", "publisher", "url", "excerpt"), label=_("Search"))

    class Meta:
        model = Evidence
        fields = ["kind", "confidentiality", "recommendation", "language", "q"]
