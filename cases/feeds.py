"""Atom feeds (RFC 4287) of what leaves the organisation: published assessments — publications and
corrections — for the whole site, a document, a recommendation or a theme, and the correction log; in each
language under its prefix. The partner feed (`/api/v1/feed.atom`, `PartnerFeedView`) adds the sources a
key's clearance allows, exactly as the API's evidence list does; `internal` never leaves.

Everything comes from access.py (`published_changes`, `published_corrections`, `public_feed_evidence`).
No account's name appears: the author of every feed is the tracker itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.syndication.views import Feed
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from . import access
from .api.authentication import ApiKeyAuthentication
from .api.errors import JSONErrorsMixin
from .api.throttling import KeyRateThrottle
from .corrections import (
    assessment_permalink,
    describe_correction,
    recommendation_permalink,
    require_public_site,
)
from .corrections import status_summary as summary_of
from .models import ApiKey, Document, Theme

# How many entries a feed holds: readers poll, so the newest are what matter.
FEED_LENGTH = 50
# Public feeds change only when something is published: a reader polling every few minutes is served
# from any shared cache in between.
PUBLIC_MAX_AGE = 300


def _public_url(names: tuple[str, ...], args: list, fallback: str) -> str:
    """The public page's address by its URL name (the public pages' module), else its documented path
    under the current language's prefix."""
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    prefix = reverse("public_feeds:corrections").removesuffix("corrections/")
    return prefix + fallback


def _where(request) -> dict:
    # A feed instance serves every request (it is the URL's view): what depends on the request travels in
    # the scope, never on the instance.
    return {
        "host": request.get_host().split(":")[0],
        "path": request.path,
        "url": request.build_absolute_uri(request.path),
    }


@dataclass
class Scope:
    """What one request of a feed covers: the kind, its object (a document, a recommendation, a theme or
    nothing), who asks (the public, or a key) and the host the entries' ids are minted under."""

    kind: str
    host: str
    path: str
    url: str
    target: object = None
    viewer: access.Viewer = access.ANONYMOUS
    with_sources: bool = False


@dataclass
class Entry:
    kind: str  # "publication", "correction" or "source"
    title: str
    link: str
    guid: str
    published: object
    updated: object
    categories: list[str] = field(default_factory=list)
    obj: object = None
    correction: object = None


def _tag(host: str, what: str, pk: int) -> str:
    # RFC 4151 tag URIs: one id per assessment or source, the same in every language's feed and for ever.
    return f"tag:{host},2022:{what}/{pk}"


def assessment_entry(assessment, host: str) -> Entry:
    code = assessment.recommendation.code
    summary = summary_of(assessment)
    if assessment.corrects_id:
        title = _("Correction: %(code)s — %(summary)s") % {"code": code, "summary": summary}
        kind, correction = "correction", describe_correction(assessment)
    else:
        title = _("%(code)s — %(summary)s") % {"code": code, "summary": summary}
        kind, correction = "publication", None
    return Entry(
        kind=kind,
        title=title,
        link=assessment_permalink(assessment.pk),
        guid=_tag(host, "assessment", assessment.pk),
        published=assessment.published_at,
        # A published assessment never changes: its last update is its publication.
        updated=assessment.published_at,
        categories=[code, assessment.implementation_status, assessment.state_response, kind],
        obj=assessment,
        correction=correction,
    )


def source_entry(evidence, host: str) -> Entry:
    return Entry(
        kind="source",
        title=_("Source: %(title)s") % {"title": evidence.title},
        link=evidence.url,
        guid=_tag(host, "evidence", evidence.pk),
        published=evidence.created_at,
        updated=evidence.updated_at,
        categories=["source", evidence.confidentiality, evidence.kind],
        obj=evidence,
    )


class ChangesFeed(Feed):
    """Published changes, newest first. `kind` picks the scope; the object comes from the URL."""

    feed_type = Atom1Feed
    description_template = "public/corrections_feed_entry.html"
    kind = "site"

    def __call__(self, request, *args, **kwargs):
        require_public_site()
        response = super().__call__(request, *args, **kwargs)
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        return response

    def get_object(self, request, slug: str | None = None, code: str | None = None):
        target = None
        if self.kind == "document":
            target = get_object_or_404(Document, slug=slug)
        elif self.kind == "theme":
            target = get_object_or_404(Theme, slug=slug)
        elif self.kind == "recommendation":
            target = access.get_recommendation(code)
        return Scope(kind=self.kind, target=target, **_where(request))

    # --- The feed

    def title(self, scope: Scope) -> str:
        site = _("Accountability Tracker")
        if scope.kind == "document":
            return _("%(site)s: published changes, %(document)s") % {"site": site, "document": scope.target}
        if scope.kind == "theme":
            return _("%(site)s: published changes, theme %(theme)s") % {"site": site, "theme": scope.target}
        if scope.kind == "recommendation":
            return _("%(site)s: published changes, recommendation %(code)s") % {
                "site": site,
                "code": scope.target.code,
            }
        if scope.kind == "corrections":
            return _("%(site)s: corrections") % {"site": site}
        if scope.kind == "partner":
            return _("%(site)s: published changes and sources for partners") % {"site": site}
        return _("%(site)s: published changes") % {"site": site}

    def subtitle(self, scope: Scope) -> str:
        if scope.kind == "corrections":
            return _(
                "Every correction of a published assessment: what changed and why, linking both versions."
            )
        return _("Assessments as they are published, and their corrections. Public sources only.")

    def link(self, scope: Scope) -> str:
        if scope.kind == "document":
            return _public_url(
                ("public:document", "public:document-detail"),
                [scope.target.slug],
                f"public/documents/{scope.target.slug}/",
            )
        if scope.kind == "theme":
            return _public_url(
                ("public:theme", "public:theme-detail"),
                [scope.target.slug],
                f"public/themes/{scope.target.slug}/",
            )
        if scope.kind == "recommendation":
            return recommendation_permalink(scope.target.code)
        if scope.kind in ("corrections", "partner"):
            return reverse("public_feeds:corrections")
        return _public_url(("public:home", "public:index"), [], "public/")

    def feed_url(self, scope: Scope) -> str:
        return scope.path

    def feed_guid(self, scope: Scope) -> str:
        # The feed's id: its own address (language prefix included: each language's feed is its own).
        return scope.url

    def author_name(self, scope: Scope) -> str:
        return _("Accountability Tracker")

    def items(self, scope: Scope) -> list[Entry]:
        if scope.kind == "corrections":
            changes = access.published_corrections(scope.viewer)
        else:
            changes = access.published_changes(scope.viewer)
        if scope.kind == "document":
            changes = changes.filter(recommendation__document=scope.target)
        elif scope.kind == "theme":
            changes = changes.filter(recommendation__themes=scope.target)
        elif scope.kind == "recommendation":
            changes = changes.filter(recommendation=scope.target)
        entries = [assessment_entry(a, scope.host) for a in changes[:FEED_LENGTH]]
        if scope.with_sources:
            sources = access.public_feed_evidence(scope.viewer)[:FEED_LENGTH]
            entries += [source_entry(e, scope.host) for e in sources]
            entries.sort(key=lambda entry: entry.updated, reverse=True)
            entries = entries[:FEED_LENGTH]
        return entries

    # --- Each entry

    def item_title(self, entry: Entry) -> str:
        return entry.title

    def item_link(self, entry: Entry) -> str:
        return entry.link

    def item_guid(self, entry: Entry) -> str:
        return entry.guid

    item_guid_is_permalink = False

    def item_pubdate(self, entry: Entry):
        return entry.published

    def item_updateddate(self, entry: Entry):
        return entry.updated

    def item_author_name(self, entry: Entry) -> str | None:
        """ "A monitor of <organisation>" where the organisation chose to be named; otherwise the feed's
        author (the tracker). Never an account."""
        organisation = getattr(entry.obj, "public_organisation", None) if entry.kind != "source" else None
        return _("A monitor of %(organisation)s") % {"organisation": organisation} if organisation else None

    def item_categories(self, entry: Entry) -> list[str]:
        return entry.categories

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        entry = kwargs["item"]
        context.update(entry=entry, item=entry.obj, correction=entry.correction)
        return context


class DocumentFeed(ChangesFeed):
    kind = "document"


class ThemeFeed(ChangesFeed):
    kind = "theme"


class RecommendationFeed(ChangesFeed):
    kind = "recommendation"


class CorrectionsFeed(ChangesFeed):
    kind = "corrections"


# --- The partner feed ----------------------------------------------------------------------------------


class PartnerChangesFeed(ChangesFeed):
    """The public changes with the sources a key's clearance allows (cited ones in each entry, and new
    ones as entries of their own). Built per request by `PartnerFeedView` with the key's viewer."""

    kind = "partner"

    def __init__(self, viewer: access.Viewer):
        super().__init__()
        self.viewer = viewer

    def __call__(self, request, *args, **kwargs):
        # Not the public site's switch: partners' feeds work whether or not the public pages are on.
        return Feed.__call__(self, request, *args, **kwargs)

    def get_object(self, request, *args, **kwargs):
        return Scope(kind="partner", viewer=self.viewer, with_sources=True, **_where(request))

    def subtitle(self, scope: Scope) -> str:
        return _(
            "Assessments as they are published, their corrections, and the sources your key's clearance allows."
        )


class IsKey(BasePermission):
    """A partner organisation's key, nothing else: a signed-in member's session would carry her own
    organisation's internal sources, which no feed may hold."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class PartnerFeedView(JSONErrorsMixin, APIView):
    """`GET /api/v1/feed.atom` with `Authorization: Bearer <key>`: no key 401, a bad key 401, errors as
    JSON (as the API)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsKey]
    throttle_classes = [KeyRateThrottle]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="partner_feed",
        summary="Atom feed of published changes, as the key's clearance allows",
        description="An Atom (RFC 4287) feed of publications and corrections with the sources the key's "
        "clearance allows (never internal ones). Poll it instead of the API when only changes matter.",
        responses={
            (200, "application/atom+xml"): OpenApiResponse(OpenApiTypes.STR, description="The Atom feed."),
            401: OpenApiResponse(description="No key, or a key that is unknown, expired or revoked."),
        },
    )
    def get(self, request, *args, **kwargs) -> HttpResponse:
        viewer = access.viewer_for_request(request)
        return PartnerChangesFeed(viewer)(request._request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # What it holds depends on the key: no shared cache may keep it (as every API response).
        patch_cache_control(response, private=True, no_store=True)
        patch_vary_headers(response, ["Authorization"])
        return response
