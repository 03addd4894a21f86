"""Assessments and their transitions: reviewed through the services, scoped to the curator's organisation."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import access, services
from cases.admin.base import ReadOnlyMixin, ScopedLookupsMixin, _errors, _viewer
from cases.models import (
    Assessment,
    AssessmentTransition,
    PublishedAssessmentImmutable,
    ReviewState,
)
from tracker.accounts import audit

# --- Assessments ---------------------------------------------------------------------------------------


class TransitionInline(ReadOnlyMixin, admin.TabularInline):
    """The review trail (who returned it, with what comment): its own organisation's alone, even once the
    assessment is published."""

    model = AssessmentTransition
    fields = ["created_at", "from_state", "to_state", "actor", "comment"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("actor")
        return access.owned(_viewer(request), queryset, "assessment__organisation")


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment for the author"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_("Say what the author should change. The same comment goes to every selected assessment."),
    )

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise ValidationError(_("Say what the author should change."))
        return comment


@admin.register(Assessment)
class AssessmentAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    """Assessments are viewed here and reviewed with the actions; nothing else changes them.

    They are created through the web form, and only their author changes them (resubmitting a returned
    one). Editing in place here would let a reviewer publish words the author never wrote, which defeats
    the four-eyes rule, and a published assessment is part of the public record in any case.
    """

    list_display = [
        "__str__",
        "review_state",
        "implementation_status",
        "state_response",
        "basis",
        "assessed_on",
        "author",
        "organisation",
        "published_at",
    ]
    # The organisation filter offers only organisations whose assessments the viewer can see.
    list_filter = [
        "review_state",
        "basis",
        "implementation_status",
        "state_response",
        ("organisation", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["recommendation", "author", "organisation"]
    search_fields = ["recommendation__code", "rationale", "author__username"]
    date_hierarchy = "assessed_on"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "recommendation",
                    "implementation_status",
                    "state_response",
                    "basis",
                    "assessed_on",
                    "rationale",
                    "evidence_cited",
                    "corrects",
                ]
            },
        ),
        (
            _("Review"),
            {
                "fields": [
                    "review_state",
                    "author",
                    "organisation",
                    "published_by",
                    "returned_by",
                    "review_comment",
                    "published_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [TransitionInline]
    object_history_template = "admin/cases/assessment/object_history.html"
    actions = ["publish_selected", "return_selected"]

    def get_queryset(self, request):
        return access.admin_assessments(_viewer(request), super().get_queryset(request))

    def _held_elsewhere(self, request, obj) -> bool:
        return obj is not None and not access.administers(_viewer(request), obj.organisation_id)

    def get_readonly_fields(self, request, obj=None):
        return [name for _title, options in self.fieldsets for name in options["fields"]]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        # `reviewer` and `review_comment` hold the *latest* review action: once a returned assessment is
        # resubmitted and published, the comment is the returner's and the reviewer the publisher. Shown
        # side by side they put one curator's words under another's name, so each is shown only for the
        # state it describes; the review trail below names every action's own actor.
        hidden = set()
        if obj is None or obj.review_state != ReviewState.PUBLISHED:
            hidden.add("published_by")
        if obj is None or obj.review_state != ReviewState.RETURNED:
            hidden |= {"returned_by", "review_comment"}
        if self._held_elsewhere(request, obj):
            # Another organisation's published assessment: the record, not its review (who reviewed it,
            # and the return comment that survives resubmission on the row).
            hidden |= {"published_by", "returned_by", "review_comment"}
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for title, options in fieldsets
        ]

    @admin.display(description=_("Published by"))
    def published_by(self, obj: Assessment) -> str:
        return str(obj.reviewer) if obj.reviewer_id else "—"

    @admin.display(description=_("Returned by"))
    def returned_by(self, obj: Assessment) -> str:
        return str(obj.reviewer) if obj.reviewer_id else "—"

    def get_object(self, request, object_id, from_field=None):
        # As ModelAdmin.get_object, with the cited sources the viewer may see (the rest counted, never
        # loaded) from the one access function every page showing an assessment uses.
        queryset = access.with_cited_evidence(_viewer(request), self.get_queryset(request))
        field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (self.model.DoesNotExist, ValidationError, ValueError, OverflowError):
            return None

    def history_view(self, request, object_id, extra_context=None):
        # Assessments change only through the review services, never this admin's forms, so Django's own
        # history (the admin log) has nothing to show; the review trail is the assessment's history. It is
        # scoped as the inline is: another organisation's trail (actors, comments) stays with it.
        obj = self.get_object(request, unquote(object_id))
        transitions = []
        if obj is not None:
            transitions = list(
                access.owned(_viewer(request), obj.transitions.all(), "assessment__organisation")
                .select_related("actor")
                .order_by("created_at", "id")
            )
        context = {
            **(extra_context or {}),
            "transitions": transitions,
            "trail_held_elsewhere": self._held_elsewhere(request, obj),
        }
        return super().history_view(request, object_id, extra_context=context)

    @admin.display(description=_("evidence"))
    def evidence_cited(self, obj: Assessment) -> str:
        lines = [
            format_html(
                '<a href="{}">{}</a> ({}) — {}',
                reverse("admin:cases_evidence_change", args=[evidence.pk]),
                evidence.title,
                evidence.get_confidentiality_display(),
                evidence.url,
            )
            for evidence in getattr(obj, "visible_evidence", [])
        ]
        withheld = getattr(obj, "withheld_count", 0)
        if withheld:
            lines.append(
                ngettext("%(count)d withheld source", "%(count)d withheld sources", withheld)
                % {"count": withheld}
            )
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Without an object: the list and its review actions. With one: the form is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        if self._held_elsewhere(request, obj):
            return False
        if obj is not None and Assessment.objects.filter(pk=obj.pk).published().exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # An unpublished assessment's review trail goes with it (the admin log keeps the deletion); the
        # trail cannot be deleted on its own, which is what the transitions' own admin refuses.
        perms_needed.discard(AssessmentTransition._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @transaction.atomic
    def delete_model(self, request, obj):
        audit.record("assessment.delete", actor=request.user, target=obj, state=obj.review_state, via="admin")
        super().delete_model(request, obj)

    def get_actions(self, request):
        # Bulk deletion would reach published rows; unpublished ones are deleted one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _review(self, request, queryset, apply) -> int:
        """Apply a review service to each selected row; a refused row (four eyes, wrong state) becomes an
        error message and the others go ahead, each in its own transaction."""
        done = 0
        # Only the viewer's own organisation's work is reviewed here; other rows are not even tried.
        for assessment in access.owned(_viewer(request), queryset).select_related("recommendation"):
            try:
                apply(assessment)
            except (ValidationError, PermissionDenied, PublishedAssessmentImmutable) as exc:
                self.message_user(request, f"{assessment}: {_errors(exc)}", messages.ERROR)
            else:
                done += 1
        return done

    @admin.action(description=_("Publish selected assessments"), permissions=["change"])
    def publish_selected(self, request, queryset):
        done = self._review(
            request,
            queryset,
            lambda assessment: services.publish_assessment(assessment, reviewer=request.user),
        )
        if done:
            message = ngettext("Published %(count)d assessment.", "Published %(count)d assessments.", done)
            self.message_user(request, message % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Return selected assessments to their authors…"), permissions=["change"])
    def return_selected(self, request, queryset):
        if "apply" in request.POST:
            form = ReturnForm(request.POST)
            if form.is_valid():
                comment = form.cleaned_data["comment"]
                done = self._review(
                    request,
                    queryset,
                    lambda assessment: services.return_assessment(
                        assessment, reviewer=request.user, comment=comment
                    ),
                )
                if done:
                    message = ngettext(
                        "Returned %(count)d assessment.", "Returned %(count)d assessments.", done
                    )
                    self.message_user(request, message % {"count": done}, messages.SUCCESS)
                return None
        else:
            form = ReturnForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Return assessments to their authors"),
            "opts": self.model._meta,
            "assessments": list(queryset.select_related("recommendation", "author")),
            "form": form,
            "action_name": "return_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/cases/assessment/return_selected.html", context)


@admin.register(AssessmentTransition)
class AssessmentTransitionAdmin(ReadOnlyMixin, ScopedLookupsMixin, admin.ModelAdmin):
    """The review trail, its own organisation's alone: comments and who acted never leave it."""

    list_display = ["created_at", "assessment", "from_state", "to_state", "actor"]
    list_filter = ["to_state", "from_state"]
    list_select_related = ["assessment__recommendation", "actor"]
    search_fields = ["assessment__recommendation__code", "actor__username", "comment"]
    date_hierarchy = "created_at"
    fields = ["assessment", "from_state", "to_state", "actor", "comment", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return access.owned(_viewer(request), super().get_queryset(request), "assessment__organisation")
