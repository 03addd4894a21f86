"""Evidence: held by an organisation. Read as `access` allows, changed only by its holder, through the
services; what a published assessment cites is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from cases import access, services
from cases.admin.base import GuardedHistoryAdmin, OwnOrganisationMixin, _errors, _viewer
from cases.models import Evidence, Organisation

# --- Evidence ------------------------------------------------------------------------------------------

# What a reader of a published assessment relies on: read-only once a published assessment cites the
# source (a correction is a new source and a corrective assessment). The services and the model refuse
# such a change too; here the form does not offer it.
RECORDED_FIELDS = ["url", "title", "excerpt", "published_on", "confidentiality", "kind", "publisher"]
RECORD_FIELDS = ["added_by", "created_at", "updated_at"]
# What the form may change through services.change_evidence (the holder and who added it are facts).
EDITABLE_FIELDS = [*RECORDED_FIELDS, "language", "archive_url"]
# Link rows the admin writes through services.link_evidence / unlink_evidence, never form.save_m2m().
LINKS = "recommendations"


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
        if self.is_bound and self.instance.pk and self.instance.assessments.published().exists():
            # A revert to an older version starts from that version's values; the recorded fields the
            # form leaves out (read-only while cited) keep what is stored.
            frozen = [name for name in RECORDED_FIELDS if name not in self.fields]
            stored = Evidence.objects.filter(pk=self.instance.pk).values(*frozen).get()
            for name, value in stored.items():
                setattr(self.instance, name, value)
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
    # The holder filter offers only organisations whose sources the viewer can see.
    list_filter = ["confidentiality", "kind", ("organisation", admin.RelatedOnlyFieldListFilter), "language"]
    list_select_related = ["organisation"]
    search_fields = ["title", "url", "publisher", "excerpt"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["recommendations"]
    readonly_fields = RECORD_FIELDS
    fieldsets = [
        (None, {"fields": ["title", "url", "publisher", "published_on", "kind", "language", "excerpt"]}),
        (_("Access"), {"fields": ["confidentiality", "organisation"]}),
        (_("Links"), {"fields": ["recommendations", "archive_url"]}),
        (_("Record"), {"fields": RECORD_FIELDS}),
    ]

    def get_queryset(self, request):
        return access.admin_evidence(_viewer(request), super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        # The recommendation page's link rows autocomplete from here: only the curator's own sources may
        # be linked, so only those are offered.
        if request.path.endswith("/autocomplete/") and request.GET.get("field_name") == "evidence":
            queryset = access.owned(_viewer(request), queryset)
        return queryset, duplicates

    # --- History: versions judged as they were -------------------------------------------------------

    def visible_versions(self, request, versions):
        return access.admin_evidence_versions(_viewer(request), versions)

    def hides_actor(self, request, version) -> bool:
        return not access.administers(_viewer(request), version.organisation_id)

    # --- Who changes what ------------------------------------------------------------------------------

    def _held_elsewhere(self, request, obj) -> bool:
        return obj is not None and not access.administers(_viewer(request), obj.organisation_id)

    @staticmethod
    def _cited(obj) -> bool:
        return obj is not None and obj.pk is not None and obj.assessments.published().exists()

    def has_change_permission(self, request, obj=None):
        # Another organisation's source is theirs to edit, even when everyone may read it.
        return not self._held_elsewhere(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting would silently drop a source from an assessment: from the public record if published,
        # from someone's draft otherwise (perhaps another organisation's, which the confirmation page
        # would then list).
        if self._held_elsewhere(request, obj) or (obj is not None and obj.assessments.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._held_elsewhere(request, obj):
            return fieldsets
        # Who in another organisation added a source is theirs to know.
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f != "added_by"]})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._cited(obj):
            readonly += RECORDED_FIELDS
        return readonly

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            # services.add_evidence files a source under its author's organisation: nothing else to offer.
            kwargs["queryset"] = Organisation.objects.filter(pk=_viewer(request).organisation_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- Writes through the services --------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                self._change(request, obj, form)
            else:
                fields = {name: data[name] for name in form.fields if name not in {"organisation", LINKS}}
                added = services.add_evidence(
                    added_by=request.user, recommendations=data.get(LINKS, ()), **fields
                )
                # The admin goes on with `obj` (log entry, redirect): make it the added source.
                obj.__dict__.update({k: v for k, v in added.__dict__.items() if k != "_state"})
                obj._state.adding = False
        except services.NoOrganisation:
            raise
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, _errors(exc), messages.ERROR)
        # The links are written; form.save_m2m() must not write them again behind the services' back.
        data.pop(LINKS, None)

    def _change(self, request, obj, form) -> None:
        """Save a change (or a revert to an older version) as differences from what is stored: the
        service writes only the fields that differ, and links and unlinks one by one."""
        stored = Evidence.objects.get(pk=obj.pk)
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        services.change_evidence(stored, by=request.user, **fields)
        if LINKS in form.cleaned_data:
            wanted = set(form.cleaned_data[LINKS])
            present = set(stored.recommendations.all())
            if wanted - present:
                services.link_evidence(stored, wanted - present, by=request.user)
            if present - wanted:
                services.unlink_evidence(stored, present - wanted, by=request.user)
        obj.__dict__.update(
            {k: v for k, v in Evidence.objects.get(pk=obj.pk).__dict__.items() if k != "_state"}
        )
