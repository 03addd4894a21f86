"""Organisations, memberships and users in the admin."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from cases import services
from cases.admin.base import OwnOrganisationMixin, _count, _own_organisation_only, _viewer
from cases.models import (
    ApiKey,
    Evidence,
    Membership,
    Organisation,
)
from tracker.accounts.roles import MONITORS

security_log = logging.getLogger("security")
User = get_user_model()

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
