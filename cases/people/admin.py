"""People in the admin: the curator's own organisation's records only (access.admin_people; operators all),
so another organisation's cases never reach this screen and no redaction is needed here. Writes go through
cases.people.services; status entries are shown, never edited (the review happens on /people/review/).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from cases import access
from cases.admin.base import ReadOnlyMixin, ScopedLookupsMixin, _errors, _viewer

from . import services
from .forms import NeverExportField
from .models import Person, PersonStatus
from .services import PERSON_FIELDS


class PersonStatusInline(ReadOnlyMixin, admin.TabularInline):
    model = PersonStatus
    fk_name = "person"
    fields = ["occurred_on", "status", "facility_type", "basis", "review_state", "author", "reviewer"]
    readonly_fields = fields
    extra = 0
    ordering = ["-occurred_on", "-id"]


class PersonAdminForm(forms.ModelForm):
    never_export = NeverExportField()

    class Meta:
        model = Person
        # The admin asks for the fieldsets' fields (ModelAdmin.get_form); this is the one declared here.
        fields = ["never_export"]


@admin.register(Person)
class PersonAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    form = PersonAdminForm
    list_display = [
        "reference",
        "name_latin",
        "name_uyghur",
        "prefecture",
        "current_status",
        "consent",
        "risk",
    ]
    list_filter = ["current_status", "current_facility", "consent", "risk", "confidentiality"]
    search_fields = ["reference", "name_latin", "name_uyghur", "name_chinese", "aliases", "search_key"]
    readonly_fields = [
        "reference",
        "current_status",
        "current_facility",
        "status_on",
        "merged_into",
        "created_at",
    ]
    autocomplete_fields = ["recommendations"]
    inlines = [PersonStatusInline]
    actions = ["merge_selected"]
    fieldsets = [
        (_("Names"), {"fields": ["reference", "name_latin", "name_uyghur", "name_chinese", "aliases"]}),
        (_("Details"), {"fields": ["gender", "birth_year", "ethnicity", "prefecture", "occupation"]}),
        (_("References"), {"fields": ["xvdb_entry", "wgeid_ref", "un_communication_ref", "document_refs"]}),
        (_("Protection"), {"fields": ["consent", "risk", "confidentiality", "never_export"]}),
        (_("Situation"), {"fields": ["recommendations", "current_status", "current_facility", "status_on"]}),
        (_("Record"), {"fields": ["merged_into", "created_at"]}),
    ]

    def get_queryset(self, request):
        return access.admin_people(_viewer(request), super().get_queryset(request))

    def has_delete_permission(self, request, obj=None):
        # The record is append-only: a duplicate is merged, never deleted.
        return False

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in PERSON_FIELDS if name in form.cleaned_data}
        try:
            if change:
                stored = Person.objects.get(pk=obj.pk)
                services.change_person(stored, by=request.user, **data)
                wanted = set(form.cleaned_data.get("recommendations", ()))
                if wanted - set(stored.recommendations.all()):
                    services.link_person(stored, wanted, by=request.user)
                added = stored
            else:
                added = services.add_person(
                    created_by=request.user,
                    recommendations=form.cleaned_data.get("recommendations", ()),
                    **data,
                )
            obj.__dict__.update(
                {k: v for k, v in Person.objects.get(pk=added.pk).__dict__.items() if k != "_state"}
            )
            obj._state.adding = False
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, _errors(exc), messages.ERROR)
        form.cleaned_data.pop("recommendations", None)

    def save_related(self, request, form, formsets, change):
        # Links are written by the services above; the inline is read-only: nothing of it is saved, and the
        # admin's change message reads that nothing was (it expects what formset.save() sets).
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description=_("Merge the two selected records (the older one is kept)"))
    def merge_selected(self, request, queryset):
        people = list(queryset.order_by("created_at", "id")[:3])
        if len(people) != 2:
            self.message_user(request, _("Select exactly two records to merge."), messages.ERROR)
            return
        try:
            services.merge_people(people[0], people[1], by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, _errors(exc), messages.ERROR)
        else:
            self.message_user(
                request, _("%(dup)s was merged into %(ref)s.") % {"dup": people[1], "ref": people[0]}
            )
