"""Browsing the record: the assessments browser (/assessments/) and a recommendation's printable dossier.

Both read through access.py: the browser lists the assessments the viewer may see (published ones, and her
own organisation's in review), the dossier the published timeline; cited sources come from
`access.with_cited_evidence`, so a confidential source is counted as withheld, never loaded. Query budgets
are fixed whatever the number of rows (tests/test_assessments_browser.py, tests/test_dossier.py).
"""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from . import access
from .filters import AssessmentBrowserFilter
from .models import Assessment, Evidence
from .translations.models import with_translated_name
from .views import Sort, _paginate, _prepare_filter_form

# The `sort` parameter is whitelisted; each ordering ends on the unique id, so pages never overlap, and each
# is served by the cases_assessment_by_date index (read backwards for the oldest first).
ASSESSMENT_SORTS: dict[str, Sort] = {
    "newest": Sort(_("Newest first"), ("-assessed_on", "-id")),
    "oldest": Sort(_("Oldest first"), ("assessed_on", "id")),
}
DEFAULT_ASSESSMENT_SORT = "newest"


def filtered_assessments(
    request: HttpRequest, viewer: access.Viewer, base: QuerySet
) -> tuple[AssessmentBrowserFilter, bool, str, QuerySet]:
    """The assessments the viewer may see, as the request filters and sorts them: the browser's page and
    its CSV and XLSX downloads (cases.exports) share it, so a download holds exactly the rows listed."""
    filterset = AssessmentBrowserFilter(
        request.GET, queryset=access.visible_assessments(viewer, base), request=request
    )
    sort = request.GET.get("sort")
    if sort not in ASSESSMENT_SORTS:
        sort = DEFAULT_ASSESSMENT_SORT
    # As on the other lists: an invalid filter shows its error and no rows, never the unfiltered set.
    valid = filterset.is_valid()
    queryset = filterset.qs.order_by(*ASSESSMENT_SORTS[sort].ordering) if valid else base.none()
    return filterset, valid, sort, queryset


@login_required
@require_safe
@access.require_role(access.MEMBER)
def assessment_list(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    # Queries: session, user, membership; the count; the page's rows with recommendation, author and
    # organisation joined, the correction that supersedes each and the number of its sources the viewer may
    # not see; the visible sources of the page's rows (one prefetch); the document and author options.
    base = Assessment.objects.select_related("recommendation", "author", "organisation").with_correction()
    filterset, valid, sort, queryset = filtered_assessments(request, viewer, base)
    queryset = access.with_cited_evidence(
        viewer, queryset, evidence=Evidence.objects.only("id").order_by("id")
    )
    _prepare_filter_form(filterset.form)
    return render(
        request,
        "cases/assessment_list.html",
        {
            "filter": filterset,
            "form": filterset.form,
            "filters_valid": valid,
            "filtered": any(request.GET.get(name) for name in request.GET if name not in ("page", "sort")),
            "page": _paginate(request, queryset),
            "sort": sort,
            "sorts": ASSESSMENT_SORTS,
        },
    )


@login_required
@require_safe
@access.require_role(access.MEMBER)
def recommendation_dossier(request: HttpRequest, viewer: access.Viewer, code: str) -> HttpResponse:
    """One recommendation on paper: its text, status card, the published timeline (corrected entries struck
    through, linked to their correction) and the sources cited that the viewer may see, dated."""
    recommendation = access.get_recommendation(code)
    # Queries: the recommendation (document, State claim), the published timeline (organisation and the
    # corrected entry joined, the correction of each and its withheld count as subqueries), the visible
    # cited sources of all of it (one prefetch), the themes.
    timeline = list(
        access.with_cited_evidence(
            viewer,
            access.visible_assessments(viewer, recommendation.assessments.published())
            .for_timeline()
            .select_related("organisation")
            .with_correction(),
        )
    )
    by_pk = {assessment.pk: assessment for assessment in timeline}
    sources: dict[int, Evidence] = {}
    for assessment in timeline:
        assessment.correction = by_pk.get(assessment.correction_id)
        for evidence in assessment.visible_evidence:
            sources.setdefault(evidence.pk, evidence)
    # Newest first, undated last, as on the recommendation page.
    cited = sorted(sources.values(), key=lambda evidence: evidence.title)
    cited.sort(key=lambda evidence: evidence.published_on or datetime.date.min, reverse=True)
    return render(
        request,
        "cases/recommendation_dossier.html",
        {
            "recommendation": recommendation,
            "themes": list(with_translated_name(recommendation.themes.all())),
            "timeline": timeline,
            "sources": cited,
            # A printed page travels: say so when it holds what only the viewer's organisation may see.
            "holds_internal": any(not evidence.leaves_organisation for evidence in cited),
            "any_withheld": any(assessment.withheld_count for assessment in timeline),
            "printed_at": timezone.now(),
        },
    )
