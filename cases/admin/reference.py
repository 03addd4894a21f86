"""Shared reference data curated by every curator: documents, themes, recommendations."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cases import access
from cases.admin.base import GuardedHistoryAdmin, ReadOnlyMixin, _count, _viewer
from cases.models import (
    Assessment,
    Document,
    Evidence,
    Recommendation,
    Theme,
)

security_log = logging.getLogger("security")

# --- Documents, themes, recommendations ----------------------------------------------------------------


class RecommendationInline(admin.TabularInline):
    """The document's recommendations at a glance; each is edited on its own page."""

    model = Recommendation
    fields = [
        "code",
        "paragraph",
        "addressee",
        "implementation_status",
        "state_response",
        "status_updated_at",
    ]
    readonly_fields = fields
    ordering = ["position", "code"]
    show_change_link = True
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(GuardedHistoryAdmin):
    list_display = ["short_name", "title", "symbol", "issuing_body", "published_on", "recommendation_count"]
    list_filter = ["issuing_body"]
    search_fields = ["short_name", "title", "symbol", "slug"]
    date_hierarchy = "published_on"
    prepopulated_fields = {"slug": ["short_name"]}
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RecommendationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_recommendations=_count(Recommendation, "document"))

    @admin.display(description=_("recommendations"), ordering="n_recommendations")
    def recommendation_count(self, obj: Document) -> int:
        return obj.n_recommendations


@admin.register(Theme)
class ThemeAdmin(GuardedHistoryAdmin):
    list_display = ["name", "slug", "recommendation_count"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_recommendations=_count(Recommendation.themes.through, "theme"))
        )

    @admin.display(description=_("recommendations"), ordering="n_recommendations")
    def recommendation_count(self, obj: Theme) -> int:
        return obj.n_recommendations


class AssessmentInline(ReadOnlyMixin, admin.TabularInline):
    """The recommendation's assessments as the viewer may see them; they change only through review."""

    model = Assessment
    fk_name = "recommendation"
    fields = ["review_state", "basis", "implementation_status", "state_response", "assessed_on", "author"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False
    extra = 0

    def get_queryset(self, request):
        return access.visible_assessments(_viewer(request), super().get_queryset(request)).select_related(
            "author"
        )


def _evidence_link_str(link) -> str:
    return str(link.evidence) if link.evidence_id else ""


# The auto-created link model would otherwise head each inline row, and name the link in the admin log,
# as "Evidence_recommendations object (4)".
Evidence.recommendations.through.__str__ = _evidence_link_str


class EvidenceLinkInline(admin.TabularInline):
    """Evidence supporting the recommendation. Links to sources the curator may not see are neither shown
    nor touched (the formset only saves the rows it listed)."""

    model = Evidence.recommendations.through
    fields = ["evidence", "confidentiality", "held_by"]
    readonly_fields = ["confidentiality", "held_by"]
    autocomplete_fields = ["evidence"]
    extra = 0
    verbose_name = _("supporting evidence")
    verbose_name_plural = _("supporting evidence")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(access.evidence_q(_viewer(request), prefix="evidence__"))
            .select_related("evidence__organisation")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "evidence":
            kwargs["queryset"] = access.visible_evidence(_viewer(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("confidentiality"))
    def confidentiality(self, obj) -> str:
        return obj.evidence.get_confidentiality_display() if obj.evidence_id else ""

    @admin.display(description=_("held by"))
    def held_by(self, obj) -> str:
        return str(obj.evidence.organisation) if obj.evidence_id else ""


# Derived by services.recompute_current_status from the published assessments.
DERIVED_STATUS_FIELDS = ["implementation_status", "state_response", "state_claim", "status_updated_at"]


@admin.register(Recommendation)
class RecommendationAdmin(GuardedHistoryAdmin):
    list_display = [
        "code",
        "paragraph",
        "document",
        "addressee",
        "implementation_status",
        "state_response",
        "theme_names",
        "status_updated_at",
    ]
    list_display_links = ["code"]
    list_filter = ["document", "addressee", "implementation_status", "state_response", "themes"]
    list_select_related = ["document"]
    search_fields = ["code", "paragraph", "text"]
    filter_horizontal = ["themes"]
    readonly_fields = [*DERIVED_STATUS_FIELDS, "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["document", "paragraph", "code", "position", "addressee", "text", "themes"]}),
        (
            _("Current status"),
            {
                "fields": DERIVED_STATUS_FIELDS,
                "description": _(
                    "Derived from the published assessments; publish a new assessment to change it."
                ),
            },
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [EvidenceLinkInline, AssessmentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("themes")

    @admin.display(description=_("themes"))
    def theme_names(self, obj: Recommendation) -> str:
        return ", ".join(theme.name for theme in obj.themes.all())

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        if not change:
            obj.save()
            return
        # The status fields were read when the form was opened; a publication since then must not be
        # overwritten with those stale values, so they are re-read and left out of the UPDATE.
        obj.refresh_from_db(fields=DERIVED_STATUS_FIELDS)
        obj.save(
            update_fields=[
                f.name
                for f in obj._meta.concrete_fields
                if not f.primary_key and f.name not in DERIVED_STATUS_FIELDS
            ]
        )
