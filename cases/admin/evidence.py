"""Evidence: owned by an organisation, shown and changed only within it."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases import access, services
from cases.admin.base import GuardedHistoryAdmin, OwnOrganisationMixin, _own_organisation_only, _viewer
from cases.models import (
    Evidence,
    Recommendation,
    ReviewState,
)

security_log = logging.getLogger("security")

# --- Evidence ------------------------------------------------------------------------------------------


class EvidenceForm(forms.ModelForm):
    class Meta:
        model = Evidence
        fields = [
            "title",
            "url",
            "publisher",
            "published_on",
            "kind",
            "language",
            "excerpt",
            "confidentiality",
            "organisation",
            "recommendations",
            "archive_url",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "organisation" in self.fields and self.instance.pk is None:
            self.fields["organisation"].required = False
            self.fields["organisation"].help_text = _("Leave empty for your own organisation.")


@admin.register(Evidence)
class EvidenceAdmin(OwnOrganisationMixin, GuardedHistoryAdmin):
    form = EvidenceForm
    list_display = [
        "title",
        "kind",
        "confidentiality",
        "organisation",
        "publisher",
        "published_on",
        "language",
    ]
    list_filter = ["confidentiality", "kind", "organisation", "language"]
    list_select_related = ["organisation"]
    search_fields = ["title", "url", "publisher", "excerpt"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["recommendations"]
    readonly_fields = ["added_by", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "url", "publisher", "published_on", "kind", "language", "excerpt"]}),
        (_("Access"), {"fields": ["confidentiality", "organisation"]}),
        (_("Links"), {"fields": ["recommendations", "archive_url"]}),
        (_("Record"), {"fields": ["added_by", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return access.visible_evidence(_viewer(request), super().get_queryset(request))

    def _held_elsewhere(self, request, obj) -> bool:
        return (
            obj is not None
            and _own_organisation_only(request)
            and obj.organisation_id != _viewer(request).organisation_id
        )

    def has_change_permission(self, request, obj=None):
        # Another organisation's source is theirs to edit, even when everyone may read it.
        return not self._held_elsewhere(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self._held_elsewhere(request, obj):
            return False
        # Deleting would silently drop a source from the public record of a published assessment.
        if obj is not None and obj.assessments.filter(review_state=ReviewState.PUBLISHED).exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if obj.organisation_id is None:
            obj.organisation = services.organisation_of(request.user)
        if not change:
            obj.added_by = request.user
        else:
            form._previous_recommendations = set(obj.recommendations.values_list("pk", flat=True))
        super().save_model(request, obj, form, change)
        if not change:
            security_log.info(
                "evidence.add id=%s confidentiality=%s user=%s via=admin",
                obj.pk,
                obj.confidentiality,
                request.user.pk,
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "recommendations" in form.changed_data:
            # Linking evidence counts as a change of the recommendation for incremental sync, as in
            # services.add_evidence; unlinking does too.
            touched = getattr(form, "_previous_recommendations", set()) | {
                r.pk for r in form.cleaned_data["recommendations"]
            }
            Recommendation.objects.filter(pk__in=touched).update(updated_at=timezone.now())
