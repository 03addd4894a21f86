"""The curators' admin panel: every model, with search, filters, inlines and edit history.

The admin follows the same rules as the web app. Writes that touch more than one row go through
`services` (publish, return, API keys), visibility comes from `access` (a curator never sees another
organisation's internal evidence or unpublished assessments here either), and the workflow's derived data
(a recommendation's current status, an assessment's review state) is never editable by hand.
"""

from __future__ import annotations

import logging

from allauth.account.decorators import secure_admin_login
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from . import access, services
from .models import (
    ApiKey,
    Assessment,
    AssessmentTransition,
    Document,
    Evidence,
    Membership,
    Organisation,
    PublishedAssessmentImmutable,
    Recommendation,
    ReviewState,
    Theme,
)
from .roles import MONITORS

security_log = logging.getLogger("security")
User = get_user_model()

admin.site.site_header = _("Accountability Tracker administration")
admin.site.site_title = _("Accountability Tracker administration")
admin.site.index_title = _("Curation")
# Sign-in to the admin goes through the accounts pages, so two-factor authentication and allauth's rate
# limits apply here too; a signed-in user who is not staff gets 403 instead of a second password form.
admin.site.login = secure_admin_login(admin.site.login)


# --- Helpers -------------------------------------------------------------------------------------------


def _viewer(request) -> access.Viewer:
    """The request's Viewer, computed once: list pages and their inlines ask for it many times."""
    viewer = getattr(request, "_cases_admin_viewer", None)
    if viewer is None:
        viewer = access.viewer_for_user(request.user)
        request._cases_admin_viewer = viewer
    return viewer


def _own_organisation_only(request) -> bool:
    """Curators manage their own organisation's users and sources; superusers run the whole instance."""
    return not request.user.is_superuser


def _count(model, field: str, **filters) -> Coalesce:
    """A per-row count as a correlated subquery: several counts on one list do not multiply each other's
    joins, and the list stays one query whatever its length."""
    counted = (
        model.objects.filter(**{field: OuterRef("pk")}, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _errors(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


class GuardedHistoryAdmin(SimpleHistoryAdmin):
    """simple_history's pages, held to the same rules as the change form.

    Its history view falls back to the historical rows when the object is not in `get_queryset` (which
    would show a restricted object's past), and its version view saves a POSTed revert for anyone who may
    merely *view* the object. Here both need the object to be visible, and a revert needs change permission.
    The history of a deleted object is therefore no longer browsable; the admin log keeps the deletion.
    """

    def _visible(self, request, object_id) -> bool:
        try:
            return self.get_queryset(request).filter(pk=object_id).exists()
        except (ValueError, TypeError, ValidationError):
            return False

    def history_view(self, request, object_id, extra_context=None):
        if not self._visible(request, unquote(object_id)):
            raise Http404
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        object_id = unquote(object_id)
        if not self._visible(request, object_id):
            raise Http404
        if request.method == "POST":
            obj = self.get_object(request, object_id)
            if obj is None or not self.has_change_permission(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)

    def revert_disabled(self, request, obj=None):
        return super().revert_disabled(request, obj) or not self.has_change_permission(request, obj)


# --- Organisations and users ---------------------------------------------------------------------------


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "member_count", "evidence_count", "api_key_count", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=_count(Membership, "organisation"),
                n_evidence=_count(Evidence, "organisation"),
                n_keys=_count(ApiKey, "organisation", revoked_at__isnull=True),
            )
        )

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj: Organisation) -> int:
        return obj.n_members

    @admin.display(description=_("evidence held"), ordering="n_evidence")
    def evidence_count(self, obj: Organisation) -> int:
        return obj.n_evidence

    @admin.display(description=_("active API keys"), ordering="n_keys")
    def api_key_count(self, obj: Organisation) -> int:
        return obj.n_keys


class ReadOnlyMixin:
    """For the record's history (assessments listed on a recommendation, review transitions): it is shown,
    never added to, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnOrganisationMixin:
    """Limits organisation and user choices for curators who are not superusers, so nobody can move a
    user (themselves included) into another organisation and read its internal evidence."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if _own_organisation_only(request):
            if db_field.name == "organisation":
                kwargs["queryset"] = Organisation.objects.filter(pk=_viewer(request).organisation_id)
            elif db_field.name == "user":
                kwargs["queryset"] = User.objects.filter(
                    membership__organisation_id=_viewer(request).organisation_id
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Membership)
class MembershipAdmin(OwnOrganisationMixin, admin.ModelAdmin):
    list_display = ["user", "organisation", "created_at"]
    list_filter = ["organisation"]
    list_select_related = ["user", "organisation"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["organisation__name", "user__username"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _own_organisation_only(request):
            queryset = queryset.filter(organisation_id=_viewer(request).organisation_id)
        return queryset


class MembershipInline(OwnOrganisationMixin, admin.StackedInline):
    model = Membership
    fields = ["organisation"]
    can_delete = False
    min_num = 1
    max_num = 1
    verbose_name = _("organisation")
    verbose_name_plural = _("organisation")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            kwargs.setdefault("initial", _viewer(request).organisation_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [MembershipInline]
    list_display = [
        "username",
        "email",
        "full_name",
        "organisation",
        "roles",
        "is_staff",
        "is_active",
        "last_login",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups", "membership__organisation"]
    list_select_related = ["membership__organisation"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("groups")
        if _own_organisation_only(request):
            queryset = queryset.filter(membership__organisation_id=_viewer(request).organisation_id)
        return queryset

    @admin.display(description=_("name"), ordering="last_name")
    def full_name(self, obj) -> str:
        return obj.get_full_name()

    @admin.display(description=_("organisation"), ordering="membership__organisation__name")
    def organisation(self, obj) -> str:
        try:
            return str(obj.membership.organisation)
        except Membership.DoesNotExist:
            return "—"

    @admin.display(description=_("roles"))
    def roles(self, obj) -> str:
        return ", ".join(group.name for group in obj.groups.all()) or "—"

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["last_login", "date_joined"]
        if not request.user.is_superuser:
            # Otherwise change_user would be enough to become a superuser, or to mint a second curator
            # account and review one's own assessments: only superusers make curators.
            readonly += ["is_superuser", "is_staff", "user_permissions"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # A curator could otherwise reset a fellow curator's password, sign in as them and get round the
        # four-eyes rule: staff accounts other than one's own are changed by superusers only.
        if (
            obj is not None
            and not request.user.is_superuser
            and (obj.is_superuser or (obj.is_staff and obj.pk != request.user.pk))
        ):
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name=MONITORS)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # An inline left at its initial value is not saved; every user still belongs to an organisation.
        if not Membership.objects.filter(user=form.instance).exists():
            services.set_membership(form.instance, services.organisation_of(request.user))


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


# --- Assessments ---------------------------------------------------------------------------------------


class TransitionInline(ReadOnlyMixin, admin.TabularInline):
    model = AssessmentTransition
    fields = ["created_at", "from_state", "to_state", "actor", "comment"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


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
class AssessmentAdmin(admin.ModelAdmin):
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
    list_filter = ["review_state", "basis", "implementation_status", "state_response", "organisation"]
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
                    "reviewer",
                    "review_comment",
                    "published_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    inlines = [TransitionInline]
    actions = ["publish_selected", "return_selected"]

    def get_queryset(self, request):
        return access.visible_assessments(_viewer(request), super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        return [name for _title, options in self.fieldsets for name in options["fields"]]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The cited sources the viewer may see; the rest are counted, never loaded.
            visible = list(access.visible_evidence(_viewer(request), obj.evidence.all()))
            obj._visible_evidence = visible
            obj._withheld_evidence = obj.evidence.count() - len(visible)
        return obj

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
            for evidence in getattr(obj, "_visible_evidence", [])
        ]
        withheld = getattr(obj, "_withheld_evidence", 0)
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
        if (
            obj is not None
            and Assessment.objects.filter(pk=obj.pk, review_state=ReviewState.PUBLISHED).exists()
        ):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # An unpublished assessment's review trail goes with it (the admin log keeps the deletion); the
        # trail cannot be deleted on its own, which is what the transitions' own admin refuses.
        perms_needed.discard(AssessmentTransition._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        security_log.info(
            "assessment.delete id=%s state=%s user=%s via=admin", obj.pk, obj.review_state, request.user.pk
        )
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
        for assessment in queryset.select_related("recommendation"):
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
class AssessmentTransitionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "assessment", "from_state", "to_state", "actor"]
    list_filter = ["to_state", "from_state"]
    list_select_related = ["assessment__recommendation", "actor"]
    search_fields = ["assessment__recommendation__code", "actor__username", "comment"]
    date_hierarchy = "created_at"
    fields = ["assessment", "from_state", "to_state", "actor", "comment", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(access.assessment_q(_viewer(request), prefix="assessment__"))
        )


# --- Partner API keys ----------------------------------------------------------------------------------


class KeyStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("usable", _("Usable")), ("revoked", _("Revoked")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        match self.value():
            case "usable":
                return queryset.usable()
            case "revoked":
                return queryset.filter(revoked_at__isnull=False)
            case "expired":
                return queryset.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
        return queryset


class ApiKeyAddForm(forms.ModelForm):
    expires_days = forms.IntegerField(
        label=_("expires after (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Leave empty for a key that does not expire."),
    )

    class Meta:
        model = ApiKey
        fields = ["organisation", "name", "clearance"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued through services.issue_api_key; the secret is shown once and only its hash kept."""

    list_display = [
        "prefix",
        "organisation",
        "name",
        "clearance",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "usable",
    ]
    list_filter = [KeyStateFilter, "clearance", "organisation"]
    list_select_related = ["organisation"]
    search_fields = ["prefix", "name", "organisation__name"]
    ordering = ["-created_at"]
    actions = ["revoke_selected"]
    add_fieldsets = [(None, {"fields": ["organisation", "name", "clearance", "expires_days"]})]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "prefix", "clearance", "expires_at"]}),
        (_("Use"), {"fields": ["revoked_at", "last_used_at", "created_by", "created_at", "updated_at"]}),
    ]

    @admin.display(description=_("usable"), boolean=True)
    def usable(self, obj: ApiKey) -> bool:
        return obj.is_usable

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A key's owner and clearance are fixed when it is issued: issue a new key rather than widen one.
        return [
            "organisation",
            "prefix",
            "clearance",
            "revoked_at",
            "last_used_at",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        key, secret = services.issue_api_key(
            data["organisation"],
            clearance=data["clearance"],
            name=data.get("name", ""),
            expires_days=data.get("expires_days"),
            created_by=request.user,
        )
        # The admin goes on with `obj` (log entry, redirect to the change page): make it the issued key.
        obj.__dict__.update({k: v for k, v in key.__dict__.items() if k != "_state"})
        obj._state.adding = False
        self.message_user(
            request,
            _("Copy the new key now; it will not be shown again: %(secret)s") % {"secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_selected(self, request, queryset):
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_key(key, by=request.user)
            revoked += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked) % {"count": revoked},
            messages.SUCCESS,
        )
