"""The benchmark's floors: for each measured page, the same SQL through a bare Django view that returns
`.values()` as JSON. The distance between a page and its floor is what templates, forms, serializers and
middleware add; the floor is what the database itself costs. Mounted under /_floor/ by bench_urls, only in
the benchmark's server (DJANGO_SETTINGS_MODULE=tests.perf.bench_settings), never in the application.

Each view repeats the page's queries as of this writing (see the page's view for the reference): the
session or key lookup, the rows, the count a paginator makes, and the themes or evidence a row shows.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q
from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.urls import path

from cases import access, services
from cases.models import (
    Assessment,
    Evidence,
    ImplementationStatus,
    Recommendation,
    ReviewState,
    StateResponse,
    StatusTotal,
)
from cases.search import search_recommendations

PAGE_SIZE = 50
LIST_FIELDS = (
    "id",
    "code",
    "paragraph",
    "text",
    "addressee",
    "implementation_status",
    "state_response",
    "document__short_name",
    "status_updated_at",
)
API_FIELDS = (
    "id",
    "code",
    "document__slug",
    "paragraph",
    "text",
    "addressee",
    "implementation_status",
    "state_response",
    "state_claim__assessed_on",
    "state_claim__implementation_status",
    "status_updated_at",
    "updated_at",
)


def _json(data) -> JsonResponse:
    return JsonResponse(data, encoder=DjangoJSONEncoder, safe=False)


def _signed_in(request) -> access.Viewer | None:
    # The session and user lookups every signed-in page makes.
    if not request.user.is_authenticated:
        return None
    return access.viewer_for_user(request.user)


def _themes(ids: list[int]) -> dict[int, list[str]]:
    through = Recommendation.themes.through
    themes: dict[int, list[str]] = {}
    for rec_id, slug in through.objects.filter(recommendation_id__in=ids).values_list(
        "recommendation_id", "theme__slug"
    ):
        themes.setdefault(rec_id, []).append(slug)
    return themes


def dashboard(request):
    viewer = _signed_in(request)
    if viewer is None:
        return HttpResponseForbidden()
    data = {
        # The page's source: the maintained whole-index totals (cases.status_counts), both charts in one read.
        "counts": list(StatusTotal.objects.values("implementation_status", "state_response", "count")),
        "latest": list(
            Assessment.objects.published()
            .order_by("-published_at", "-id")
            .values(
                "id", "recommendation__code", "author__username", "implementation_status", "published_at"
            )[:10]
        ),
        "own": list(
            access.visible_assessments(viewer)
            .filter(author=request.user, review_state__in=[ReviewState.SUBMITTED, ReviewState.RETURNED])
            .order_by("-updated_at", "-id")
            .values("id", "recommendation__code", "review_state")[:100]
        ),
    }
    if viewer.is_curator:
        data["waiting"] = (
            Assessment.objects.filter(
                review_state=ReviewState.SUBMITTED, organisation_id=viewer.organisation_id
            )
            .exclude(author=request.user)
            .count()
        )
    return _json(data)


def _filtered(params) -> object:
    queryset = Recommendation.objects.all()
    for name, choices in (
        ("implementation_status", ImplementationStatus),
        ("state_response", StateResponse),
    ):
        if params.get(name) in choices.values:
            queryset = queryset.filter(**{name: params[name]})
    if params.get("addressee"):
        queryset = queryset.filter(addressee=params["addressee"])
    if params.get("document"):
        queryset = queryset.filter(document__slug=params["document"])
    if params.get("theme"):
        queryset = queryset.filter(themes__slug=params["theme"])
    if params.get("q"):
        queryset = search_recommendations(queryset, params["q"])
    return queryset


def _list_ordering() -> tuple:
    # The page's own default ordering, so the floor follows when the page changes it.
    try:
        from cases.views import DEFAULT_RECOMMENDATION_SORT, RECOMMENDATION_SORTS

        return tuple(RECOMMENDATION_SORTS[DEFAULT_RECOMMENDATION_SORT].ordering)
    except (ImportError, KeyError, AttributeError):
        return ("document", "position", "code")


def recommendation_list(request):
    if _signed_in(request) is None:
        return HttpResponseForbidden()
    queryset = _filtered(request.GET).order_by(*_list_ordering())
    count = queryset.count()
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    offset = min((page - 1) * PAGE_SIZE, max(count - 1, 0) // PAGE_SIZE * PAGE_SIZE)
    rows = list(queryset.values(*LIST_FIELDS)[offset : offset + PAGE_SIZE])
    themes = _themes([row["id"] for row in rows])
    for row in rows:
        row["themes"] = themes.get(row["id"], [])
    return _json({"count": count, "results": rows})


def recommendation_detail(request, code: str):
    viewer = _signed_in(request)
    if viewer is None:
        return HttpResponseForbidden()
    rec = Recommendation.objects.filter(code=code).values("id", "code", "text", "document__title").first()
    if rec is None:
        raise Http404
    rows = list(
        access.visible_assessments(viewer, Assessment.objects.filter(recommendation_id=rec["id"]))
        .order_by("-assessed_on", "-published_at", "-id")
        .values(
            "id",
            "basis",
            "implementation_status",
            "state_response",
            "assessed_on",
            "rationale",
            "review_state",
            "author__username",
            "reviewer__username",
            "corrects_id",
        )
    )
    cited = Assessment.evidence.through.objects.filter(assessment_id__in=[row["id"] for row in rows])
    shown: dict[int, list] = {}
    for link in cited.filter(access.evidence_q(viewer, "evidence__")).values(
        "assessment_id", "evidence__title", "evidence__url"
    ):
        shown.setdefault(link["assessment_id"], []).append(link)
    withheld = dict(
        cited.exclude(access.evidence_q(viewer, "evidence__"))
        .order_by()
        .values("assessment_id")
        .annotate(n=Count("pk"))
        .values_list("assessment_id", "n")
    )
    for row in rows:
        row["evidence"] = shown.get(row["id"], [])
        row["withheld"] = withheld.get(row["id"], 0)
    evidence = list(
        access.visible_evidence(viewer, Evidence.objects.filter(recommendations=rec["id"]))
        .order_by("-published_on", "title")
        .values("id", "title", "url", "publisher", "confidentiality")
    )
    rec["themes"] = _themes([rec["id"]]).get(rec["id"], [])
    return _json({"recommendation": rec, "timeline": rows, "evidence": evidence})


def _key(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return services.authenticate_api_key(header[7:]) if header.startswith("Bearer ") else None


def api_list(request):
    """The API list's rows: `ordering` (comma-separated, as in the API's cursor) and `after` (a JSON list of
    the previous page's last values) give the same keyset page as a cursor."""
    if _key(request) is None:
        return HttpResponseForbidden()
    ordering = [term for term in request.GET.get("ordering", "code").split(",") if term]
    queryset = Recommendation.objects.order_by(*ordering)
    if request.GET.get("after"):
        values = json.loads(request.GET["after"])
        condition, equal = Q(), {}
        for term, value in zip(ordering, values, strict=True):
            name = term.lstrip("-")
            condition |= Q(**equal, **{f"{name}__{'lt' if term.startswith('-') else 'gt'}": value})
            equal[name] = value
        queryset = queryset.filter(condition)
    rows = list(queryset.values(*API_FIELDS)[: PAGE_SIZE + 1])
    themes = _themes([row["id"] for row in rows[:PAGE_SIZE]])
    for row in rows:
        row["themes"] = themes.get(row["id"], [])
    return _json({"more": len(rows) > PAGE_SIZE, "results": rows[:PAGE_SIZE]})


def api_detail(request, code: str):
    if _key(request) is None:
        return HttpResponseForbidden()
    row = Recommendation.objects.filter(code=code).values(*API_FIELDS).first()
    if row is None:
        raise Http404
    row["themes"] = _themes([row["id"]]).get(row["id"], [])
    return _json(row)


urlpatterns = [
    path("dashboard/", dashboard, name="floor-dashboard"),
    path("recommendations/", recommendation_list, name="floor-recommendation-list"),
    path("recommendations/<slug:code>/", recommendation_detail, name="floor-recommendation"),
    path("api/recommendations/", api_list, name="floor-api-list"),
    path("api/recommendations/<slug:code>/", api_detail, name="floor-api-detail"),
]
