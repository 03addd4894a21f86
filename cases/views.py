"""Reading pages: the dashboard, the recommendations with their timelines, and the evidence.

Every object comes through access.py, which applies visibility in the queryset, so nothing a viewer may not
see is ever loaded for them. Each page runs a fixed number of queries whatever the amount of data; the tests
hold every page to its budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from . import access, list_count, status_counts
from .collation import ByLanguage
from .filters import EvidenceFilter, RecommendationFilter
from .models import Assessment, Evidence, ImplementationStatus, Recommendation, ReviewState
from .services import status_changed_on
from .translations.models import with_translated_name

PAGE_SIZE = 50
LATEST_PUBLISHED = 10
# The dashboard lists the user's own open work; a person does not have more than this in flight, and the
# bound keeps the page fast even if they somehow do.
OWN_OPEN_LIMIT = 100


@dataclass(frozen=True)
class Sort:
    label: str
    ordering: tuple


def _status_rank() -> Case:
    """Implementation statuses in their declared order (not assessed … regressed), not alphabetically."""
    return Case(
        *(
            When(implementation_status=value, then=Value(rank))
            for rank, value in enumerate(ImplementationStatus.values)
        ),
        default=Value(len(ImplementationStatus.values)),
        output_field=IntegerField(),
    )


# The `sort` parameter is whitelisted: only these keys reach order_by(). Every ordering ends on a unique
# column so that pages never overlap or skip rows.
RECOMMENDATION_SORTS: dict[str, Sort] = {
    # document_id, not document: ordering by the relation would pull in Document's own ordering (a join and a
    # sort of every matching row); the id uses the cases_rec_document_order index directly.
    "paragraph": Sort(_("Document order"), ("document_id", "position", "code")),
    "code": Sort(_("Code"), ("code",)),
    "status": Sort(_("Implementation status"), (_status_rank(), "document_id", "position", "code")),
    "updated": Sort(_("Recently updated"), ("-updated_at", "code")),
}
DEFAULT_RECOMMENDATION_SORT = "paragraph"


def _prepare_filter_form(form: forms.Form) -> None:
    """Friendlier widgets for a FilterSet's form: "Any" instead of dashes, a search box, and errors tied to
    their fields for screen readers."""
    for name, field in form.fields.items():
        if getattr(field, "empty_label", None) is not None:
            field.empty_label = _("Any")
            # The widget holds a shallow copy of the class-level choices, still bound to the FilterSet's
            # field; rebind it to this form's field so the new label shows.
            field.widget.choices = field.choices
        if name == "q":
            field.widget.input_type = "search"
        if form.is_bound and name in form.errors:
            field.widget.attrs["aria-describedby"] = f"{form[name].auto_id}-error"


def _paginate(request: HttpRequest, queryset: QuerySet) -> Page:
    # get_page() turns a missing, malformed or out-of-range page number into the nearest real page.
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    page.elided_range = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page


@login_required
@require_safe
@access.require_role(access.MEMBER)
def dashboard(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    # Maintained whole-index totals (cases.status_counts), the same for every viewer: one read of <= 20 rows.
    implementation, responses = status_counts.totals()
    latest = list(
        Assessment.objects.published()
        .with_correction()
        .select_related("recommendation", "author")
        .order_by("-published_at", "-id")[:LATEST_PUBLISHED]
    )
    own = list(
        access.open_work(viewer)
        .select_related("recommendation")
        .order_by("-updated_at", "-id")[:OWN_OPEN_LIMIT]
    )
    waiting_for_review = None
    if viewer.is_curator:
        # Four eyes: a curator's own submissions are not theirs to review, so they are not counted here.
        waiting_for_review = access.review_queue(viewer).exclude(author=request.user).order_by().count()
    return render(
        request,
        "cases/dashboard.html",
        {
            "implementation_counts": implementation,
            "response_counts": responses,
            "total": sum(row["count"] for row in implementation),
            "latest": latest,
            "returned": [a for a in own if a.review_state == ReviewState.RETURNED],
            "submitted": [a for a in own if a.review_state == ReviewState.SUBMITTED],
            "waiting_for_review": waiting_for_review,
        },
    )


def filtered_recommendations(
    request: HttpRequest, base: QuerySet
) -> tuple[RecommendationFilter, bool, str, QuerySet]:
    """The list's rows as the request filters and sorts them (the page and its CSV and XLSX downloads,
    cases.exports): the filter set, whether it is valid, the sort key and the ordered rows."""
    filterset = RecommendationFilter(request.GET, queryset=base)
    sort = request.GET.get("sort")
    if sort not in RECOMMENDATION_SORTS:
        sort = DEFAULT_RECOMMENDATION_SORT
    # An invalid filter shows its error and no rows: silently dropping it would present an unfiltered
    # list as if it were the filtered one.
    valid = filterset.is_valid()
    queryset = filterset.qs.order_by(*RECOMMENDATION_SORTS[sort].ordering) if valid else base.none()
    return filterset, valid, sort, queryset


def recommendation_page(
    request: HttpRequest,
    filterset: RecommendationFilter,
    valid: bool,
    sort: str,
    queryset: QuerySet,
    rows: QuerySet,
) -> Page:
    """The page of a recommendation list (this one and the public search) that the request asks for, counted by
    cases.list_count. `queryset`: the filtered rows (filtered_recommendations); `rows`: every recommendation
    with what a row shows (`for_list`), unfiltered: the page's rows are picked out of it by their keys
    (list_count.DeferredRows), so the filters, a text search above all, run once in the rows query, not a
    second time around the keys."""
    ordering = RECOMMENDATION_SORTS[sort].ordering

    def many() -> QuerySet:
        # More matches than cases.list_count counts: the same filters, the search planned for many rows.
        filterset.many_matches = True
        return filterset.filter_queryset(Recommendation.objects.all()).order_by(*ordering)

    return list_count.paginate(
        request, filterset, valid, queryset, rows.order_by(*ordering), PAGE_SIZE, many=many
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def recommendation_list(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    # Filtered without the list's joins, so that the total (cases.list_count) counts bare rows; the page's
    # rows then get what a list row shows.
    filterset, valid, sort, queryset = filtered_recommendations(request, Recommendation.objects.all())
    _prepare_filter_form(filterset.form)
    page = recommendation_page(request, filterset, valid, sort, queryset, Recommendation.objects.for_list())
    return render(
        request,
        "cases/recommendation_list.html",
        {
            "filter": filterset,
            "form": filterset.form,
            "filters_valid": valid,
            "filtered": any(request.GET.get(name) for name in filterset.form.fields),
            "page": page,
            "sort": sort,
            "sorts": RECOMMENDATION_SORTS,
        },
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def recommendation_detail(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    recommendation = access.get_recommendation(code)
    # Queries: the timeline rows with author, reviewer and corrected assessment joined, and a count of the
    # cited evidence the viewer may not see (its existence is shown, never its content); then the visible
    # cited evidence of all rows in one prefetch.
    timeline = list(
        access.with_cited_evidence(
            viewer,
            access.visible_assessments(viewer, recommendation.assessments.all())
            .for_timeline()
            .with_correction(),
        )
    )
    by_pk = {assessment.pk: assessment for assessment in timeline}
    for assessment in timeline:
        assessment.corrected_by = []
    for assessment in timeline:
        if assessment.corrects_id in by_pk:
            by_pk[assessment.corrects_id].corrected_by.append(assessment)
    return render(
        request,
        "cases/recommendation_detail.html",
        {
            "recommendation": recommendation,
            "themes": list(with_translated_name(recommendation.themes.all())),
            "timeline": timeline,
            "evidence_list": list(
                access.visible_evidence(viewer)
                .filter(recommendations=recommendation)
                .order_by("-published_on", ByLanguage("title"), "pk")
            ),
            "state_claim": recommendation.state_claim,
            # From the assessments' own dates (never the time the status was computed, which is the day the
            # data set was loaded): every published assessment is in the timeline.
            "status_changed_on": status_changed_on(timeline),
        },
    )


def filtered_evidence(
    request: HttpRequest, viewer: access.Viewer, base: QuerySet
) -> tuple[EvidenceFilter, bool, QuerySet]:
    """The evidence the viewer may see as the request filters it, newest first (the page and its downloads)."""
    filterset = EvidenceFilter(request.GET, queryset=access.visible_evidence(viewer, base))
    valid = filterset.is_valid()
    queryset = (
        filterset.qs.order_by("-published_on", ByLanguage("title"), "pk")
        if valid
        else filterset.queryset.none()
    )
    return filterset, valid, queryset


@login_required
@require_safe
@access.require_role(access.MEMBER)
def evidence_list(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    filterset, valid, queryset = filtered_evidence(request, viewer, Evidence.objects.all())
    _prepare_filter_form(filterset.form)
    return render(
        request,
        "cases/evidence_list.html",
        {
            "filter": filterset,
            "form": filterset.form,
            "filters_valid": valid,
            "filtered": any(request.GET.get(name) for name in filterset.form.fields),
            "page": _paginate(request, queryset),
            "viewer_organisation_id": viewer.organisation_id,
        },
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def evidence_detail(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    evidence = access.get_evidence_for(viewer, pk)
    return render(
        request,
        "cases/evidence_detail.html",
        {
            "evidence": evidence,
            # Recommendations are not confidential; the evidence's visibility was checked above.
            "recommendations": list(evidence.recommendations.select_related("document").with_claim_status()),
            "assessments": list(
                access.visible_assessments(viewer, evidence.assessments.all())
                .for_timeline()
                .with_correction()
            ),
            "held_by_viewer": evidence.organisation_id == viewer.organisation_id,
        },
    )
