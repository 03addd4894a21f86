"""Shared reference data curated by every curator: documents, themes, recommendations."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from cases import access, services
from cases.admin.base import GuardedHistoryAdmin, ReadOnlyMixin, _count, _errors, _viewer
from cases.models import (
    Assessment,
    Document,
    Evidence,
    Recommendation,
    Theme,
)
from cases.translations.admin import (
    RecommendationTranslationInline,
    ThemeTranslationInline,
    save_translations,
)
from cases.translations.models import RecommendationTranslation

# --- Documents, themes, recommendations ----------------------------------------------------------------


class ReadableChanges(HistoricalRecordContextHelper):
    """A history page's "before → after" as a curator reads it: choice labels rather than stored codes,
    times to the minute in the site's time zone, and "—" for an empty reference (simple_history shows an
    unset foreign key as "Deleted <model> (pk=None)")."""

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if value is None or value == "" or (isinstance(value, DeletedObject) and value.pk is None):
            return "—"
        if getattr(field, "choices", None) and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, datetime.datetime):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, datetime.date):
            return value.isoformat()
        return value


class ReadableHistoryMixin:
    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableChanges(self.model, historical_record)


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
class DocumentAdmin(ReadableHistoryMixin, GuardedHistoryAdmin):
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
class ThemeAdmin(ReadableHistoryMixin, GuardedHistoryAdmin):
    list_display = ["name", "slug", "recommendation_count"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name"]
    inlines = [ThemeTranslationInline]

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
        return access.admin_assessments(_viewer(request), super().get_queryset(request)).select_related(
            "author"
        )


def _evidence_link_str(link) -> str:
    return str(link.evidence) if link.evidence_id else ""


# The auto-created link model would otherwise head each inline row, and name the link in the admin log,
# as "Evidence_recommendations object (4)".
Evidence.recommendations.through.__str__ = _evidence_link_str


class EvidenceLinkInline(admin.TabularInline):
    """Evidence supporting the recommendation, as links the curator's organisation may change: its own
    sources. Other organisations' links are listed read-only on the page (those the curator may see) or not
    at all, and never touched: the formset only saves the rows it listed, through the link services."""

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
            .filter(access.owned_q(_viewer(request), "evidence__organisation"))
            .select_related("evidence__organisation")
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "evidence":
            viewer = _viewer(request)
            kwargs["queryset"] = access.owned(viewer, access.admin_evidence(viewer))
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
class RecommendationAdmin(ReadableHistoryMixin, GuardedHistoryAdmin):
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
    readonly_fields = [*DERIVED_STATUS_FIELDS, "evidence_held_elsewhere", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["document", "paragraph", "code", "position", "addressee", "text", "themes"]}),
        (_("Evidence held by other organisations"), {"fields": ["evidence_held_elsewhere"]}),
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
    inlines = [RecommendationTranslationInline, EvidenceLinkInline, AssessmentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("themes")

    def has_delete_permission(self, request, obj=None):
        # A recommendation that assessments or evidence rest on is part of organisations' records, some of
        # them unseen by this curator (the confirmation page would list them): only operators delete it.
        in_use = obj is not None and (obj.assessments.exists() or obj.evidence.exists())
        if in_use and not access.is_operator(_viewer(request)):
            return False
        return super().has_delete_permission(request, obj)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Other organisations' sources the viewer may read: listed, not editable (the inline above
            # holds the viewer's own). The rest are not even counted here.
            viewer = _viewer(request)
            obj._held_elsewhere = list(
                access.admin_evidence(viewer, obj.evidence.all())
                .exclude(access.owned_q(viewer))
                .select_related("organisation")
            )
        return obj

    @admin.display(description=_("supporting evidence"))
    def evidence_held_elsewhere(self, obj: Recommendation) -> str:
        rows = getattr(obj, "_held_elsewhere", [])
        lines = ((e.title, e.get_confidentiality_display(), e.organisation) for e in rows)
        return format_html_join(mark_safe("<br>"), "{} ({}, {})", lines) or "—"

    @admin.display(description=_("themes"))
    def theme_names(self, obj: Recommendation) -> str:
        return ", ".join(theme.name for theme in obj.themes.all())

    def save_formset(self, request, form, formset, change):
        if formset.model is RecommendationTranslation:
            save_translations(request, formset)
            return
        if formset.model is not Evidence.recommendations.through:
            super().save_formset(request, form, formset, change)
            return
        # Links are written by the services (holder check, sync touch, audit row), row by row; a refused
        # row becomes an error message and the others go ahead.
        recommendation = form.instance
        # What the admin log's change message reads (ModelAdmin.construct_change_message).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.forms:
            if not row.has_changed() and row not in formset.deleted_forms:
                continue
            # Validation has already put the new choice on row.instance: read the stored link.
            before = (
                formset.model.objects.select_related("evidence").get(pk=row.instance.pk).evidence
                if row.instance.pk
                else None
            )
            after = row.cleaned_data.get("evidence")
            try:
                if before is not None and (row in formset.deleted_forms or after != before):
                    services.unlink_evidence(before, [recommendation], by=request.user)
                    formset.deleted_objects.append(formset.model(evidence=before))
                if after is not None and row not in formset.deleted_forms and after != before:
                    services.link_evidence(after, [recommendation], by=request.user)
                    formset.new_objects.append(formset.model(evidence=after))
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{after or before}: {_errors(exc)}", messages.ERROR)

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
