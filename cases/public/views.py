"""The public pages: the scorecard, a recommendation, a document, a theme, search.

Everything shown comes through access.py's public functions, whoever reads (a signed-in reader sees the
public copy too): published assessments, `public` evidence, consented people as counts and names, and
never an account ("a monitor", or "a monitor of <organisation>" where it chose to be named). Each page runs a
fixed number of queries whatever the data (tests/test_public_pages.py holds them to it), plus the one of
`caching.public_state`, which alone answers a conditional GET.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cases import access, status_counts
from cases.collation import ByLanguage
from cases.corrections import recommendation_share
from cases.models import Document, ImplementationStatus, Recommendation, StateResponse, Theme
from cases.people.models import Person, PersonStatusKind
from cases.services import status_changed_on
from cases.views import _prepare_filter_form, filtered_recommendations, recommendation_page
from tracker.accounts.language import set_cookie, supported

from .caching import public_page

LATEST_CHANGES = 10


def _scorecards(documents: list[Document]) -> list[dict]:
    """Each document's recommendations by implementation status and by State response, from the maintained
    counts (cases.status_counts): one query for any number of documents. `implemented` is the number fully
    implemented (the headline's N of M)."""
    by_status, by_response = status_counts.by_document([document.pk for document in documents])
    search = reverse("public:search")
    cards = []
    for document in documents:
        status = by_status.get(document.pk, {})
        cards.append(
            {
                "document": document,
                "total": sum(status.values()),
                "implemented": status.get(ImplementationStatus.IMPLEMENTED, 0),
                "partially": status.get(ImplementationStatus.PARTIALLY_IMPLEMENTED, 0),
                "implementation_counts": status_counts.rows(ImplementationStatus, status),
                "response_counts": status_counts.rows(StateResponse, by_response.get(document.pk, {})),
                # The charts' rows link to the search, filtered to the document and the row's value.
                "list_url": f"{search}?{urlencode({'document': document.slug})}&",
            }
        )
    return cards


@public_page
def home(request: HttpRequest) -> HttpResponse:
    # Queries: the documents that have recommendations (a row in the maintained counts); their counts; the
    # latest publications with their recommendation and correction; the themes with their counts.
    counted = access.visible_status_counts().filter(document=OuterRef("pk"))
    documents = list(Document.objects.filter(Exists(counted)).order_by("-published_on", "pk"))
    cards = _scorecards(documents)
    latest = list(
        access.with_public_organisation(access.public_assessments())
        .with_correction()
        .select_related("recommendation")
        .order_by("-published_at", "-id")[:LATEST_CHANGES]
    )
    themes = list(
        Theme.objects.annotate(n=Count("recommendations")).filter(n__gt=0).order_by(ByLanguage("name"), "pk")
    )
    return render(
        request,
        "public/home.html",
        {
            "scorecards": cards,
            "total": sum(card["total"] for card in cards),
            "implemented": sum(card["implemented"] for card in cards),
            "latest": latest,
            "themes": themes,
        },
    )


def _people(recommendation: Recommendation) -> tuple[list[dict], list[dict]]:
    """The consented public people linked to the recommendation: counts by current status (one query) and
    their names (one query). Nobody else is counted or named."""
    linked = Person.objects.filter(recommendations=recommendation)
    found = dict(
        access.public_people(linked)
        .exclude(current_status="")
        .order_by()
        .values("current_status")
        .annotate(n=Count("pk", distinct=True))
        .values_list("current_status", "n")
    )
    counts = [
        {"status": value, "label": label, "count": found[value]}
        for value, label in PersonStatusKind.choices
        if found.get(value)
    ]
    labels = dict(PersonStatusKind.choices)
    names = [
        {**row, "status_label": labels.get(row["current_status"], "")}
        for row in access.public_people_names(linked).order_by("reference")
        if any(row[f"shown_{name}"] for name in access.PUBLIC_NAME_FIELDS)
    ]
    return counts, names


@public_page
def recommendation(request: HttpRequest, code: str) -> HttpResponse:
    recommendation = access.get_recommendation(code)
    # Queries: the recommendation (document and State claim joined); its themes; the published timeline
    # with the corrected assessment joined, each row's correction and withheld count in the same query; the
    # public sources of all rows in one prefetch; the public evidence; the people's counts and names.
    timeline = list(
        access.public_cited_evidence(
            access.with_public_organisation(access.public_assessments(recommendation.assessments.all()))
            .select_related("corrects")
            .with_correction()
            .order_by("-assessed_on", F("published_at").desc(nulls_first=True), "-id")
        )
    )
    by_pk = {assessment.pk: assessment for assessment in timeline}
    for assessment in timeline:
        assessment.corrected_by = []
    for assessment in timeline:
        if assessment.corrects_id in by_pk:
            by_pk[assessment.corrects_id].corrected_by.append(assessment)
    people_counts, people_names = _people(recommendation)
    return render(
        request,
        "public/recommendation.html",
        {
            "recommendation": recommendation,
            "themes": list(recommendation.themes.all()),
            "timeline": timeline,
            "evidence_list": list(
                access.public_evidence()
                .filter(recommendations=recommendation)
                .order_by("-published_on", ByLanguage("title"), "pk")
            ),
            "people_counts": people_counts,
            "people_names": people_names,
            "status_changed_on": status_changed_on(timeline),
            "share": recommendation_share(request, recommendation),
        },
    )


@public_page
def document(request: HttpRequest, slug: str) -> HttpResponse:
    document = get_object_or_404(Document, slug=slug)
    recommendations = access.public_recommendations(Recommendation.objects.filter(document=document))
    return render(
        request,
        "public/document.html",
        {
            "document": document,
            "scorecard": _scorecards([document])[0],
            "recommendations": list(recommendations.order_by("position", "code")),
        },
    )


@public_page
def theme(request: HttpRequest, slug: str) -> HttpResponse:
    theme = get_object_or_404(Theme, slug=slug)
    return render(
        request,
        "public/theme.html",
        {
            "theme": theme,
            "recommendations": list(
                access.public_recommendations(theme.recommendations.all()).order_by(
                    "document_id", "position", "code"
                )
            ),
        },
    )


@public_page
def search(request: HttpRequest) -> HttpResponse:
    """The recommendations' search and filters (cases.filters.RecommendationFilter, cases.search), over
    what the public may see."""
    filterset, valid, sort, queryset = filtered_recommendations(request, Recommendation.objects.all())
    _prepare_filter_form(filterset.form)
    page = recommendation_page(request, filterset, valid, sort, queryset, access.public_recommendations())
    return render(
        request,
        "public/search.html",
        {
            "form": filterset.form,
            "filters_valid": valid,
            "filtered": any(request.GET.get(name) for name in filterset.form.fields),
            "page": page,
        },
    )


@never_cache
@require_safe
def language(request: HttpRequest, code: str) -> HttpResponse:
    """The public pages' language links: remember the choice (the cookie the switcher sets elsewhere) and go
    to `next`, the page in that language. A link, not the signed-in pages' POST form: that form's CSRF token
    would set a cookie on every public page, and a page that sets a cookie cannot be cached publicly."""
    if not settings.PUBLIC_SITE:
        raise Http404
    chosen = supported(code)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("public:home")
    response = HttpResponseRedirect(next_url)
    if chosen:
        set_cookie(response, chosen)
    return response
