"""The correction log (`/corrections/`), the permalink page of a published assessment
(`/public/assessments/<id>/`) with its citation, and a recommendation's status image
(`/public/recommendations/<code>/status.svg`). All public, all 404 while `PUBLIC_SITE` is off; what they
show comes from access.py as the public sees it (published only, `public` sources only, no account names).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language, to_locale
from django.views.decorators.http import require_safe

from . import access
from .corrections import (
    assessment_permalink,
    cite_assessment,
    describe_correction,
    recommendation_permalink,
    require_public_site,
    status_image_context,
    status_summary,
)

CORRECTIONS_PER_PAGE = 25
PUBLIC_MAX_AGE = 300


@require_safe
def corrections(request: HttpRequest) -> HttpResponse:
    """Every correction of a published assessment, newest first: the date, what changed (before → after),
    why (the correction's rationale), the sources added or no longer cited, and links to both versions.

    Queries: the page's corrections with the withheld counts (1), the count for the paginator (1), the
    sources of the corrections (1) and of the versions they correct (1)."""
    require_public_site()
    page = Paginator(access.published_corrections(), CORRECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    page.elided_range = list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    entries = [describe_correction(assessment) for assessment in page.object_list]
    return render(request, "public/corrections.html", {"page": page, "entries": entries})


@require_safe
def assessment(request: HttpRequest, pk: int) -> HttpResponse:
    """One published assessment at its permanent address: what it says, the public sources it cites (and
    how many it cites that are not public), the version it corrects and the one that corrects it, Open
    Graph and Twitter card metadata for link previews, and how to cite it."""
    require_public_site()
    item = access.get_published_assessment(pk)
    url = request.build_absolute_uri(assessment_permalink(item.pk))
    recommendation_url = recommendation_permalink(item.recommendation.code)
    context = {
        "assessment": item,
        "recommendation": item.recommendation,
        "correction": describe_correction(item) if item.corrects_id else None,
        "permalink": url,
        "recommendation_url": recommendation_url,
        "share": {
            "title": f"{item.recommendation.code} — {status_summary(item)}",
            "description": item.rationale[:300],
            "url": url,
            "image": request.build_absolute_uri(recommendation_url + "status.png"),
            "locale": to_locale(get_language()),
        },
        "citation": cite_assessment(item, url),
    }
    return render(request, "public/assessment_public.html", context)


@require_safe
def status_svg(request: HttpRequest, code: str) -> HttpResponse:
    """The recommendation's status card as an image (SVG, 1200 x 630) for link previews: what the public
    recommendation page shows, in the language of the address."""
    require_public_site()
    recommendation = access.get_recommendation(code)
    response = render(
        request,
        "public/corrections_status.svg",
        status_image_context(recommendation),
        content_type="image/svg+xml; charset=utf-8",
    )
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    return response
