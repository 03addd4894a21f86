"""The read-only export under /api/v1/.

Visibility lives in each `get_queryset` and comes from access.py: assessments are published ones only
(whoever asks, sessions included, because this is what leaves the organisation), evidence is what the
viewer's clearance allows, and an assessment's evidence list is prefetched through the same rule. Lists,
details, `?format=csv` pages and the streamed export (export.py) all share these querysets.

Query budget per request, whatever the page size or depth (the tests hold each list to it): the key lookup
(plus at most one `last_used_at` write a minute), the page, and one query per prefetched relation.
"""

from __future__ import annotations

from functools import cached_property

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from cases import access
from cases.models import ApiKey, Assessment, Document, Evidence, Recommendation, Theme
from cases.translations.models import with_all_translations

from . import filters, serializers
from .authentication import ApiKeyAuthentication
from .errors import JSONErrorsMixin
from .pagination import StableCursorPagination
from .renderers import CSVRenderer
from .schema import ApiAutoSchema
from .throttling import KeyRateThrottle, MemberRateThrottle


class IsKeyOrMonitor(BasePermission):
    """An organisation key, or a signed-in monitor or curator (the people the web app serves), by the web's
    own role rule (access.require_role): a user without a membership is refused (403), never moved."""

    message = _("Your account has no monitor or curator role.")
    requirement = access.require_role(access.MONITOR)

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False  # 401: DRF asks for credentials
        viewer = access.viewer_for_request(request)
        if self.requirement.allows(viewer):
            return True
        refusal = self.requirement.refuse(request, viewer)
        if not viewer.member:
            self.message = refusal
        return False


class ApiMixin(JSONErrorsMixin):
    """What every export endpoint shares: authentication, permission, throttles, formats, filters, pages,
    errors as JSON whatever format was asked for (errors.JSONErrorsMixin)."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsKeyOrMonitor]
    throttle_classes = [KeyRateThrottle, MemberRateThrottle]
    renderer_classes = [JSONRenderer, CSVRenderer]
    filter_backends = [DjangoFilterBackend, filters.StableOrderingFilter]
    pagination_class = StableCursorPagination
    schema = ApiAutoSchema()

    def get_object(self):
        # PostgreSQL refuses NUL in text parameters with a driver error; such a lookup finds nothing anyway.
        if "\x00" in str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")):
            raise exceptions.NotFound()
        return super().get_object()

    @cached_property
    def viewer(self) -> access.Viewer:
        return access.viewer_for_request(self.request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # What a response holds depends on who asks: no shared cache may keep it, no browser disk either.
        patch_cache_control(response, private=True, no_store=True)
        patch_vary_headers(response, ["Authorization", "Cookie"])
        return response


# --- Resources: one queryset, filter set and ordering each, shared by the viewset and the CSV export --------


RECOMMENDATION_COLUMNS = (
    "id",
    "code",
    "document",
    "paragraph",
    "text",
    "addressee",
    "implementation_status",
    "state_response",
    "state_claim",
    "status_updated_at",
    "updated_at",
)
CLAIM_COLUMNS = ("id", "implementation_status", "state_response", "assessed_on", "review_state")
ASSESSMENT_COLUMNS = (
    "id",
    "recommendation",
    "implementation_status",
    "state_response",
    "basis",
    "assessed_on",
    "rationale",
    "organisation",
    "corrects",
    "review_state",
    "published_at",
    "updated_at",
)


class RecommendationResource(ApiMixin):
    serializer_class = serializers.RecommendationSerializer
    filterset_class = filters.RecommendationFilter
    ordering_fields = ["code", "updated_at", "implementation_status", "state_response", "addressee"]
    ordering = ["code"]
    cursor_tiebreaker = "code"
    lookup_field = "code"

    def get_queryset(self) -> QuerySet:
        # Recommendations are not confidential; the nested state claim is checked to be published. Only the
        # exported columns are read: the full export reads every row, and model instances are its main cost.
        # The translations are subqueries of the same query (the `translations` object).
        return with_all_translations(
            Recommendation.objects.select_related("document", "state_claim")
            .only(
                *RECOMMENDATION_COLUMNS,
                "document__slug",
                *(f"state_claim__{name}" for name in CLAIM_COLUMNS),
            )
            .prefetch_related(Prefetch("themes", queryset=Theme.objects.only("id", "slug").order_by("slug")))
        )


class AssessmentResource(ApiMixin):
    serializer_class = serializers.AssessmentSerializer
    filterset_class = filters.AssessmentFilter
    ordering_fields = ["updated_at", "assessed_on", "id"]
    ordering = ["-updated_at", "-id"]
    cursor_tiebreaker = "id"

    def get_queryset(self) -> QuerySet:
        # Published only, whoever asks (sessions included): this is what leaves the organisation.
        return access.with_cited_evidence(
            self.viewer,
            Assessment.objects.published()
            .select_related("recommendation", "organisation")
            .only(*ASSESSMENT_COLUMNS, "recommendation__code", "organisation__name"),
            evidence=Evidence.objects.only("id").order_by("id"),
        )


class EvidenceResource(ApiMixin):
    serializer_class = serializers.EvidenceSerializer
    filterset_class = filters.EvidenceFilter
    ordering_fields = ["updated_at", "id", "title"]
    ordering = ["-updated_at", "-id"]
    cursor_tiebreaker = "id"

    def get_queryset(self) -> QuerySet:
        return access.visible_evidence(
            self.viewer,
            Evidence.objects.prefetch_related(
                Prefetch(
                    "recommendations", queryset=Recommendation.objects.only("id", "code").order_by("code")
                )
            ),
        )


class DocumentResource(ApiMixin):
    serializer_class = serializers.DocumentSerializer
    filterset_class = filters.DocumentFilter
    ordering_fields = ["slug", "published_on", "updated_at", "short_name"]
    ordering = ["slug"]
    cursor_tiebreaker = "slug"
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet:
        return Document.objects.all()


class ThemeResource(ApiMixin):
    serializer_class = serializers.ThemeSerializer
    filterset_class = filters.ThemeFilter
    ordering_fields = ["slug", "name", "updated_at"]
    ordering = ["slug"]
    cursor_tiebreaker = "slug"
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet:
        return with_all_translations(Theme.objects.all())


# --- Viewsets -------------------------------------------------------------------------------------------

_LIST_DOC = _(
    "Cursor-paginated: follow `next` until it is null. `?format=csv` returns the same page as CSV "
    "(header row, `; `-joined lists, the links in the `Link` header); /api/v1/export/… streams the whole "
    "filtered set."
)
_ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_("Stable id."))


@extend_schema_view(
    list=extend_schema(summary=_("List recommendations"), description=_LIST_DOC),
    retrieve=extend_schema(summary=_("One recommendation by its code")),
)
class RecommendationViewSet(RecommendationResource, viewsets.ReadOnlyModelViewSet):
    """Recommendations with their current status (denormalised from the published assessments) and themes."""


@extend_schema_view(
    list=extend_schema(summary=_("List published assessments"), description=_LIST_DOC),
    retrieve=extend_schema(summary=_("One published assessment"), parameters=[_ID_PARAM]),
)
class AssessmentViewSet(AssessmentResource, viewsets.ReadOnlyModelViewSet):
    """Published assessments only: a recommendation's status history, with the evidence you may see."""


@extend_schema_view(
    list=extend_schema(summary=_("List evidence"), description=_LIST_DOC),
    retrieve=extend_schema(summary=_("One piece of evidence"), parameters=[_ID_PARAM]),
)
class EvidenceViewSet(EvidenceResource, viewsets.ReadOnlyModelViewSet):
    """Sources up to your clearance: a `public` key sees public evidence, a `partners` key also partners."""

    def get_object(self):
        evidence = super().get_object()
        # Audited as on the web's evidence page (access.get_evidence_for).
        access.record_evidence_read(self.viewer, evidence)
        return evidence


@extend_schema_view(
    list=extend_schema(summary=_("List documents"), description=_LIST_DOC),
    retrieve=extend_schema(summary=_("One document by its slug")),
)
class DocumentViewSet(DocumentResource, viewsets.ReadOnlyModelViewSet):
    """Outcome documents that contain recommendations."""


@extend_schema_view(
    list=extend_schema(summary=_("List themes"), description=_LIST_DOC),
    retrieve=extend_schema(summary=_("One theme by its slug")),
)
class ThemeViewSet(ThemeResource, viewsets.ReadOnlyModelViewSet):
    """The controlled vocabulary of themes."""


class ErrorsAsJSON(BaseContentNegotiation):
    """For views whose own body is not rendered (the CSV export, the catch-all 404): only their errors go
    through a renderer, and those are JSON whatever the Accept header or `format` parameter says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return None


def _resolve(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Unknown paths under /api/ answer a JSON 404 like the rest of the API, not the site's HTML page."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSON

    def get(self, request, *args, **kwargs):
        # Keep the friendliness of APPEND_SLASH, which this catch-all would otherwise disable.
        if not request.path.endswith("/"):
            match = _resolve(request.path + "/")
            if match is not None and match.url_name != "not-found":
                query = request.META.get("QUERY_STRING", "")
                return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
        raise exceptions.NotFound()

    post = put = patch = delete = get
