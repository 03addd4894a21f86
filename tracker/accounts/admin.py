"""Organisations, memberships, users, invitations, failed sign-ins and the audit trail in the admin.

Superusers (instance operators) see and run everything. A curator sees only her own organisation's
accounts, memberships, invitations, failed sign-ins and audit events, through `cases.access`; she invites
monitors (nobody adds an account with a password typed by someone else), and she cannot move anyone
between organisations, grant the Curators group or staff status, or set or learn a password.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as AxesAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as AxesAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import access
from cases.admin.base import ScopedLookupsMixin, _count, _own_organisation_only, _viewer
from cases.models import ApiKey, Evidence, Membership, Organisation
from tracker.accounts import services
from tracker.accounts.audit import EVENTS
from tracker.accounts.models import AuditEvent, Invitation, InvitationState, InvitedRole
from tracker.accounts.roles import MONITORS

User = get_user_model()


def _is_curator(request) -> bool:
    return request.user.is_active and (request.user.is_superuser or _viewer(request).is_curator)


def _visible_users(request):
    """The accounts this request may administer (cases.access decides)."""
    queryset = User.objects.all()
    if request.user.is_superuser:
        return queryset
    return access.visible_users(_viewer(request), queryset)


class SuperuserOnlyMixin:
    """Anything across organisations is for instance operators only: curators get 403."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


# --- Organisations ---------------------------------------------------------------------------------------


@admin.register(Organisation)
class OrganisationAdmin(SuperuserOnlyMixin, ScopedLookupsMixin, admin.ModelAdmin):
    """Operators run every organisation. A curator sees her own and changes one thing: whether the public
    site names it ("a monitor of <organisation>"; cases.access.may_choose_public_name)."""

    list_display = [
        "name",
        "slug",
        "public_name_allowed",
        "member_count",
        "evidence_count",
        "api_key_count",
        "created_at",
    ]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["name"]

    def _chooses(self, request, obj=None) -> bool:
        viewer = access.viewer_for_admin(request.user)
        if obj is None:
            return request.user.is_active and (access.is_operator(viewer) or viewer.is_curator)
        return request.user.is_active and access.may_choose_public_name(viewer, obj.pk)

    def has_module_permission(self, request):
        return self._chooses(request)

    def has_view_permission(self, request, obj=None):
        return self._chooses(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._chooses(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return ["name", "slug", *self.readonly_fields]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}

    def get_queryset(self, request):
        queryset = access.admin_organisations(
            access.viewer_for_admin(request.user), super().get_queryset(request)
        )
        return queryset.annotate(
            n_members=_count(Membership, "organisation"),
            n_evidence=_count(Evidence, "organisation"),
            n_keys=_count(ApiKey, "organisation", revoked_at__isnull=True),
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


# --- Memberships -----------------------------------------------------------------------------------------


@admin.register(Membership)
class MembershipAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    """Curators see their organisation's memberships; only superusers add, re-point or delete one (a
    curator without a membership, or with another one, would read another organisation's work)."""

    list_display = ["user", "organisation", "created_at"]
    list_select_related = ["user", "organisation"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["organisation__name", "user__username"]

    def get_list_filter(self, request):
        return ["organisation"] if request.user.is_superuser else []

    def get_search_fields(self, request):
        return (
            [*self.search_fields, "organisation__name"] if request.user.is_superuser else self.search_fields
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _own_organisation_only(request):
            queryset = queryset.filter(user__in=_visible_users(request))
        return queryset

    def has_module_permission(self, request):
        return _is_curator(request)

    def has_view_permission(self, request, obj=None):
        return _is_curator(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_actions(self, request):
        # Bulk deletion would bypass delete_membership's audit; one at a time, superusers only.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        obj.pk = services.set_membership(obj.user, obj.organisation, actor=request.user).pk

    def delete_model(self, request, obj):
        services.delete_membership(obj, actor=request.user)


class MembershipInline(admin.StackedInline):
    """The user's organisation on the user's page: shown to curators, changed by superusers only."""

    model = Membership
    fields = ["organisation"]
    can_delete = False
    max_num = 1
    verbose_name = _("organisation")
    verbose_name_plural = _("organisation")

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return _is_curator(request)


# --- Users -----------------------------------------------------------------------------------------------


class AccountChangeForm(UserChangeForm):
    """Django's user form without the password: nobody sets or learns another user's password here."""

    class Meta(UserChangeForm.Meta):
        fields = ["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("password", None)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(ScopedLookupsMixin, DjangoUserAdmin):
    form = AccountChangeForm
    inlines = [MembershipInline]
    change_list_template = "accounts/admin/user_change_list.html"
    fieldsets = (
        (None, {"fields": ("username",)}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
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
    list_select_related = ["membership__organisation"]
    actions = ["send_password_reset", "reset_second_factor"]

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return ["is_active", "is_staff", "is_superuser", "groups", "membership__organisation"]
        # No organisation filter for curators: its choices would list every organisation.
        return ["is_active", "groups"]

    def get_queryset(self, request):
        return _visible_users(request).prefetch_related("groups").select_related("membership__organisation")

    def has_module_permission(self, request):
        return _is_curator(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return _is_curator(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        # Accounts are made by invitation (or `manage.py adduser` on the server), never with a password
        # typed in here: see add_view.
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # A curator could otherwise take over a fellow curator's account (its address, then a reset) and
        # get round the four-eyes rule: staff accounts other than one's own are changed by superusers only.
        if (
            obj is not None
            and not request.user.is_superuser
            and (obj.is_superuser or (obj.is_staff and obj.pk != request.user.pk))
        ):
            return False
        return _is_curator(request) and super().has_change_permission(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:accounts_invitation_add"))

    def user_change_password(self, request, id, form_url=""):
        # Nobody sets another user's password, superusers included: send a reset e-mail instead.
        raise PermissionDenied

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
        readonly += ["last_login", "date_joined"]
        if not request.user.is_superuser:
            # Otherwise change_user would be enough to become a superuser, or to mint a second curator
            # account and review one's own assessments: only superusers make curators.
            readonly += ["is_superuser", "is_staff", "user_permissions"]
        return readonly

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name=MONITORS)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change:
                services.record_user_change(obj, actor=request.user, changed=list(form.changed_data))

    def save_related(self, request, form, formsets, change):
        if not request.user.is_superuser and "groups" in form.changed_data:
            # The field only offers Monitors; a curator may still not take away (or keep) other groups.
            kept = set(form.instance.groups.exclude(name=MONITORS).values_list("pk", flat=True))
            form.cleaned_data["groups"] = list(form.cleaned_data["groups"]) + list(
                Group.objects.filter(pk__in=kept)
            )
        super().save_related(request, form, formsets, change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # The organisation changes through the service (superusers only, audited), not formset.save().
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            organisation = inline_form.cleaned_data.get("organisation")
            if inline_form.has_changed() and organisation is not None:
                services.set_membership(form.instance, organisation, actor=request.user)
        return None

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("reset_second_factor", None)
        return actions

    @admin.action(description=_("Send a password reset e-mail"), permissions=["change"])
    def send_password_reset(self, request, queryset):
        sent = 0
        for user in queryset:
            if self.has_change_permission(request, user) and services.send_password_reset(
                user, actor=request.user, request=request
            ):
                sent += 1
        self.message_user(
            request,
            ngettext(
                "A password reset e-mail was sent to %(count)d account.",
                "Password reset e-mails were sent to %(count)d accounts.",
                sent,
            )
            % {"count": sent},
            messages.SUCCESS if sent else messages.WARNING,
        )

    @admin.action(description=_("Reset the second factor"), permissions=["change"])
    def reset_second_factor(self, request, queryset):
        if not request.user.is_superuser:
            raise PermissionDenied
        for user in queryset:
            services.reset_second_factor(user, actor=request.user)
        self.message_user(
            request,
            _("The second factor was removed; the account sets up a new one at its next sign-in."),
            messages.SUCCESS,
        )


# --- Invitations -----------------------------------------------------------------------------------------


class InvitationForm(forms.ModelForm):
    """The inviter's form. A curator's invitation is always into her own organisation (set here, not
    chosen); the checks that need the database are the service's own, asked early for a friendly error."""

    inviter = None
    own_organisation_id = None

    class Meta:
        model = Invitation
        fields = ["email", "role", "organisation"]

    def clean(self):
        cleaned = super().clean()
        if self.own_organisation_id is not None:
            self.instance.organisation_id = self.own_organisation_id
            organisation = Organisation.objects.get(pk=self.own_organisation_id)
        else:
            organisation = cleaned.get("organisation")
        email, role = cleaned.get("email"), cleaned.get("role")
        if email and User.objects.filter(email__iexact=email).exists():
            self.add_error("email", _("An account with this e-mail address exists already."))
        if organisation is not None and role and not services.may_invite(self.inviter, organisation, role):
            self.add_error("role", _("You may not invite this role into this organisation."))
        return cleaned


class InvitationStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return InvitationState.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == InvitationState.ACCEPTED:
            return queryset.filter(accepted_at__isnull=False)
        if value == InvitationState.REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        if value == InvitationState.EXPIRED:
            return queryset.open().filter(expires_at__lte=now)
        if value == InvitationState.PENDING:
            return queryset.open().filter(expires_at__gt=now)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    """ "Invite a user": the inviter names the address and role; the app e-mails a one-time link."""

    form = InvitationForm
    list_display = [
        "email",
        "role",
        "organisation",
        "invited_by",
        "state",
        "created_at",
        "expires_at",
        "user",
    ]
    list_select_related = ["organisation", "invited_by", "user"]
    search_fields = ["email"]
    actions = ["revoke"]
    readonly_fields = [
        "email",
        "role",
        "organisation",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "user",
        "revoked_at",
    ]

    def get_list_filter(self, request):
        filters = [InvitationStateFilter, "role"]
        return [*filters, "organisation"] if request.user.is_superuser else filters

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _own_organisation_only(request):
            queryset = queryset.filter(organisation_id=_viewer(request).organisation_id)
        return queryset

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is not None:
            return self.readonly_fields
        return ["email", "role", "organisation"] if request.user.is_superuser else ["email", "role"]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [(InvitedRole.MONITOR, InvitedRole.MONITOR.label)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form
        own = None if request.user.is_superuser else _viewer(request).organisation_id
        return type("InvitationForm", (form,), {"inviter": request.user, "own_organisation_id": own})

    def has_module_permission(self, request):
        return _is_curator(request)

    def has_view_permission(self, request, obj=None):
        return _is_curator(request)

    def has_add_permission(self, request):
        return _is_curator(request)

    def has_change_permission(self, request, obj=None):
        return False  # revoke, then invite again

    def has_delete_permission(self, request, obj=None):
        return False  # the record of who invited whom stays

    def save_model(self, request, obj, form, change):
        invitation = services.invite(
            email=obj.email,
            role=obj.role,
            organisation=obj.organisation,
            invited_by=request.user,
            request=request,
        )
        obj.pk = invitation.pk

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, _("The invitation was sent to %(email)s.") % {"email": obj.email}, messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:accounts_invitation_changelist"))

    @admin.display(description=_("state"))
    def state(self, obj: Invitation) -> str:
        return InvitationState(obj.state()).label

    @admin.action(description=_("Revoke the selected invitations"))
    def revoke(self, request, queryset):
        count = services.revoke_invitations(queryset, actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d invitation revoked.", "%(count)d invitations revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )


# --- Failed sign-ins (django-axes) -----------------------------------------------------------------------


class _ScopedAttemptsMixin(ScopedLookupsMixin):
    """axes's admin keyed by username, scoped to the accounts the curator may administer (a failed sign-in
    naming no account is keyed by a hash and belongs to no organisation: superusers only)."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _own_organisation_only(request):
            queryset = queryset.filter(username__in=_visible_users(request).values("username"))
        return queryset

    def has_module_permission(self, request):
        return _is_curator(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return _is_curator(request) and super().has_view_permission(request, obj)


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(_ScopedAttemptsMixin, AxesAccessAttemptAdmin):
    """Deleting an account's failed sign-ins unlocks it: audited as `lockout.clear`."""

    @admin.display(description=_("Status"))
    def status(self, obj: AccessAttempt):
        # axes names this column after its method, in English ("Status"), outside every catalogue.
        return super().status(obj)

    def has_delete_permission(self, request, obj=None):
        return _is_curator(request) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            # axes's clean-up deletes expired attempts of every organisation at once.
            actions.pop("cleanup_expired_attempts", None)
        return actions

    def delete_model(self, request, obj):
        services.clear_lockouts(AccessAttempt.objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request, queryset):
        services.clear_lockouts(queryset, actor=request.user)


admin.site.unregister(AccessLog)


@admin.register(AccessLog)
class AccessLogAdmin(_ScopedAttemptsMixin, AxesAccessLogAdmin):
    pass


admin.site.unregister(AccessFailureLog)


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(_ScopedAttemptsMixin, AxesAccessFailureLogAdmin):
    pass


# --- The audit trail -------------------------------------------------------------------------------------


class EventFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(EVENTS)]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    """Read-only: curators see their own organisation's events, superusers every event."""

    list_display = ["created_at", "event", "actor", "key_prefix", "target_type", "target_id", "organisation"]
    list_select_related = ["actor", "organisation"]
    date_hierarchy = "created_at"
    search_fields = ["target_id", "actor__username"]
    fields = [
        "created_at",
        "event",
        "actor",
        "key_prefix",
        "organisation",
        "target_type",
        "target_id",
        "fields",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def get_list_filter(self, request):
        filters = [EventFilter, "created_at"]
        return [*filters, "organisation"] if request.user.is_superuser else filters

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if _own_organisation_only(request):
            queryset = queryset.filter(organisation_id=_viewer(request).organisation_id)
        return queryset

    def has_module_permission(self, request):
        return _is_curator(request)

    def has_view_permission(self, request, obj=None):
        return _is_curator(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
