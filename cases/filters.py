"""FilterSets shared by the web pages and the API, so a filter means the same thing everywhere."""

from __future__ import annotations

from html import escape

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from .collation import ByLanguage
from .models import (
    Addressee,
    Assessment,
    Basis,
    Confidentiality,
    Document,
    Evidence,
    EvidenceKind,
    ImplementationStatus,
    Recommendation,
    ReviewState,
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
        return format_html(
            "<select{}>{}</select>",
            flatatt(self.build_attrs(self.attrs, attrs) | {"name": name}),
            _select(self.options_html(), selected),
        )

    def options_html(self) -> str:
        """Every option, none selected."""
        return format_html_join(
            "", '<option value="{}">{}</option>', ((str(option), label) for option, label in self.choices)
        )


def _select(options: str, selected: str) -> SafeString:
    """`options` with the one whose value is `selected` marked so (values are unique)."""
    marker = format_html('<option value="{}">', selected)
    return mark_safe(options.replace(marker, marker[:-1] + " selected>", 1))  # noqa: S308 -- built escaped


class QuickSelect(forms.Select):
    """Django's own <select> markup, byte for byte (django/forms/widgets/select.html), written in Python
    instead of one template render per option; a select with option groups is left to Django."""

    def render(self, name, value, attrs=None, renderer=None):
        # Not list(): that asks a ModelChoiceIterator for its len(), a COUNT query.
        choices = [choice for choice in self.choices]  # noqa: C416
        if any(isinstance(label, (list, tuple)) for _value, label in choices):
            return super().render(name, value, attrs, renderer)
        wanted = set(self.format_value(value))
        options, chosen = [], False
        for option, label in choices:
            option = "" if option is None else str(option)
            selected = not chosen and option in wanted
            chosen = chosen or selected
            options.append(
                format_html(
                    '\n  <option value="{}"{}>{}</option>\n', option, " selected" if selected else "", label
                )
            )
        attributes = format_html_join(
            "",
            "{}",
            (
                (format_html(" {}", key) if item is True else format_html(' {}="{}"', key, item),)
                for key, item in self.build_attrs(self.attrs, attrs).items()
                if item is not False
            ),
        )
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            attributes,
            mark_safe("".join(options)),  # noqa: S308 -- each option is format_html's
        )


class ValuesSelect(OnePassSelect):
    """A OnePassSelect over a ModelChoiceField's rows, read as bare (value, label) tuples and escaped in one
    comprehension: no model instance and no format_html per option (2,000 documents at the size of the UN's
    index). `label_field` must be what the model's __str__ shows (the field's default label)."""

    def __init__(self, attrs=None, choices=(), label_field: str = "pk"):
        super().__init__(attrs, choices)
        self.label_field = label_field

    def options_html(self) -> str:
        field = self.choices.field
        rows = self.choices.queryset.values_list(field.to_field_name or "pk", self.label_field)
        empty = [] if field.empty_label is None else [("", str(field.empty_label))]
        return "".join(
            f'<option value="{escape(str(value))}">{escape(str(label))}</option>'
            for value, label in [*empty, *rows]
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
        queryset=Document.objects.all(),
        to_field_name="slug",
        label=_("Document"),
        widget=ValuesSelect(label_field="short_name"),
    )
    addressee = django_filters.ChoiceFilter(
        choices=Addressee.choices, label=_("Addressee"), widget=QuickSelect
    )
    theme = django_filters.ModelChoiceFilter(
        widget=QuickSelect,
        field_name="themes",
        # In the reader's alphabet (cases/collation.py: ICU on PostgreSQL, code-point order on SQLite).
        queryset=Theme.objects.order_by(ByLanguage("name"), "pk"),
        to_field_name="slug",
        label=_("Theme"),
    )
    implementation_status = django_filters.ChoiceFilter(
        choices=ImplementationStatus.choices, label=_("Implementation status"), widget=QuickSelect
    )
    state_response = django_filters.ChoiceFilter(
        choices=StateResponse.choices, label=_("State response"), widget=QuickSelect
    )
    # Indexed text search (cases.search): FTS5 on SQLite, full-text search on PostgreSQL.
    q = django_filters.CharFilter(method="filter_q", max_length=MAX_QUERY_LENGTH, label=_("Search"))

    class Meta:
        model = Recommendation
        fields = ["document", "addressee", "theme", "implementation_status", "state_response", "q"]

    # Set by a list that has counted more matches than its bound (cases.list_count.paginate): the search is
    # then planned to read the rows in the list's order (cases.search.search_recommendations, `many`).
    many_matches = False

    def filter_q(self, queryset, name, value):
        return search_recommendations(queryset, value, many=self.many_matches) if value else queryset


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


# --- Assessments: the API's list and export, and the web's assessments browser ----------------------------


class DateRangeInputs(django_filters.widgets.DateRangeWidget):
    """`<name>_after` and `<name>_before` as two date pickers, each with its own visible label. The form's
    label (`for` the field's id) names the first; the second has only its own, so both are labelled."""

    def __init__(self, attrs=None):
        date = {"type": "date"}
        super(django_filters.widgets.RangeWidget, self).__init__(
            (forms.DateInput(attrs=date, format="%Y-%m-%d"), forms.DateInput(attrs=date, format="%Y-%m-%d")),
            attrs,
        )

    def render(self, name, value, attrs=None, renderer=None):
        context = self.get_context(name, value, attrs)["widget"]
        base_id = (attrs or {}).get("id") or self.attrs.get("id") or ""
        parts = []
        for index, (label, sub) in enumerate(zip((_("from"), _("to")), context["subwidgets"], strict=True)):
            sub_attrs = dict(sub["attrs"])
            if base_id:
                sub_attrs["id"] = base_id if index == 0 else f"{base_id}_{self.suffixes[index]}"
            parts.append(
                format_html(
                    '<label class="date-range__part"><span class="date-range__label">{}</span> '
                    '<input type="date" name="{}"{}{}></label>',
                    label,
                    sub["name"],
                    format_html(' value="{}"', sub["value"]) if sub["value"] not in (None, "") else "",
                    flatatt(sub_attrs),
                )
            )
        return format_html(
            '<span class="date-range">{}</span>', format_html_join("", "{}", ((p,) for p in parts))
        )


class AssessmentFilter(django_filters.FilterSet):
    """What an assessment list is filtered by, in the API (cases.api.filters adds `updated_since`) and in the
    assessments browser (AssessmentBrowserFilter adds author and review state)."""

    recommendation = django_filters.CharFilter(
        field_name="recommendation__code", max_length=50, label=_("Recommendation code")
    )
    document = django_filters.ModelChoiceFilter(
        field_name="recommendation__document",
        queryset=Document.objects.all(),
        to_field_name="slug",
        label=_("Document slug"),
        widget=OnePassSelect,
    )
    implementation_status = django_filters.ChoiceFilter(
        choices=ImplementationStatus.choices, label=_("Implementation status")
    )
    state_response = django_filters.ChoiceFilter(choices=StateResponse.choices, label=_("State response"))
    # State claims apart from independent assessments and UN findings (DESIGN "Two status dimensions").
    basis = django_filters.ChoiceFilter(choices=Basis.choices, label=_("Basis"))
    assessed_on = django_filters.DateFromToRangeFilter(
        label=_("Assessed on"),
        help_text=_("assessed_on_after and assessed_on_before, inclusive dates (YYYY-MM-DD)."),
        widget=DateRangeInputs,
    )

    class Meta:
        model = Assessment
        fields = [
            "recommendation",
            "document",
            "implementation_status",
            "state_response",
            "basis",
            "assessed_on",
        ]


class AuthorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


def visible_authors(request):
    """The authors of the assessments the requester may see (the author filter's choices): a name another
    organisation has never published under is not offered, nor accepted."""
    from django.contrib.auth import get_user_model

    from . import access

    viewer = access.viewer_for_user(getattr(request, "user", None))
    # Per person, one visible assessment of theirs (on the author index), not every visible assessment read
    # to collect their authors (a full scan of the assessments at scale: tests/test_query_plans.py).
    authored = access.visible_assessments(viewer).filter(author=OuterRef("pk"))
    return get_user_model().objects.filter(Exists(authored)).order_by(ByLanguage("username"), "pk")


class AuthorFilter(django_filters.ModelChoiceFilter):
    field_class = AuthorChoiceField


class AssessmentBrowserFilter(AssessmentFilter):
    """The assessments browser (/assessments/) and its CSV and XLSX downloads. Applied to the assessments
    the viewer may see (access.visible_assessments): it narrows them, never widens."""

    author = AuthorFilter(
        queryset=visible_authors, to_field_name="username", label=_("Author"), widget=OnePassSelect
    )
    review_state = django_filters.ChoiceFilter(choices=ReviewState.choices, label=_("Review state"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The API names the parameter's value (a slug); on the page it is a list of documents.
        self.filters["document"].label = _("Document")

    class Meta(AssessmentFilter.Meta):
        fields = [
            "recommendation",
            "document",
            "basis",
            "implementation_status",
            "state_response",
            "review_state",
            "author",
            "assessed_on",
        ]
