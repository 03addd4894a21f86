"""Partner API keys: issued and revoked through the services, shown once."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import access, services
from cases.admin.base import OwnOrganisationMixin, ScopedLookupsMixin, _viewer
from cases.models import (
    ApiKey,
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
class ApiKeyAdmin(OwnOrganisationMixin, ScopedLookupsMixin, admin.ModelAdmin):
    """Keys are issued through services.issue_api_key; the secret is shown once and only its hash kept.
    A curator sees, names, issues and revokes her own organisation's keys only; operators all of them."""

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
    list_filter = [KeyStateFilter, "clearance", ("organisation", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organisation"]
    search_fields = ["prefix", "name", "organisation__name"]
    ordering = ["-created_at"]
    actions = ["revoke_selected"]
    add_fieldsets = [(None, {"fields": ["organisation", "name", "clearance", "expires_days"]})]
    fieldsets = [
        (None, {"fields": ["organisation", "name", "prefix", "clearance", "expires_at"]}),
        (_("Use"), {"fields": ["revoked_at", "last_used_at", "created_by", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return access.owned(_viewer(request), super().get_queryset(request))

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access.administers(_viewer(request), obj.organisation_id):
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        return {
            "organisation": _viewer(request).organisation_id,
            **super().get_changeform_initial_data(request),
        }

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
        # The changelist is already the viewer's own keys; a forged selection does not widen it.
        for key in access.owned(_viewer(request), queryset).filter(revoked_at__isnull=True):
            services.revoke_api_key(key, by=request.user)
            revoked += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", revoked) % {"count": revoked},
            messages.SUCCESS,
        )
