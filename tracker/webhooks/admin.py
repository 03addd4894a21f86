"""Webhooks in the admin: a curator registers, pauses/resumes and deletes her own organisation's endpoints
and reads their delivery log; operators see all. Scoped by cases/access.py (`admin_webhook_endpoints`,
`admin_webhook_deliveries`); writes go through services.py (audited). The secret is shown once, in the
message after the endpoint is made. While an endpoint of hers is paused, the list warns her (the notice of
a pause; see services.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import access
from cases.admin.base import OwnOrganisationMixin, ScopedLookupsMixin, _viewer

from . import net, services
from .models import Delivery, Endpoint, Event


class EndpointAddForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("events"), choices=Event.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Endpoint
        fields = ["organisation", "url", "description", "events", "clearance"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            net.check_destination(url)
        except net.Refused as exc:
            raise forms.ValidationError(exc.messages) from None
        return url


@admin.register(Endpoint)
class EndpointAdmin(OwnOrganisationMixin, ScopedLookupsMixin, admin.ModelAdmin):
    list_display = [
        "url",
        "organisation",
        "clearance",
        "events",
        "active",
        "consecutive_failures",
        "paused_at",
    ]
    list_filter = ["active", "clearance"]
    list_select_related = ["organisation"]
    search_fields = ["url", "description"]
    ordering = ["-created_at"]
    actions = ["resume_selected", "delete_selected"]
    readonly_fields = [
        "organisation",
        "url",
        "events",
        "clearance",
        "active",
        "consecutive_failures",
        "paused_at",
        "created_by",
        "created_by_key",
        "created_at",
        "updated_at",
    ]
    fields = ["organisation", "url", "description", *readonly_fields[2:]]

    def get_queryset(self, request):
        return access.admin_webhook_endpoints(_viewer(request), super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        # Made once; a new URL or clearance is a new endpoint (with its own secret).
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return EndpointAddForm.Meta.fields if obj is None else self.fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = EndpointAddForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access.administers(_viewer(request), obj.organisation_id):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not access.administers(_viewer(request), obj.organisation_id):
            return False
        return super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request):
        return {
            "organisation": _viewer(request).organisation_id,
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        endpoint, secret = services.create_endpoint(
            data["organisation"],
            url=data["url"],
            events=data["events"],
            clearance=data["clearance"],
            description=data.get("description", ""),
            created_by=request.user,
        )
        obj.__dict__.update({k: v for k, v in endpoint.__dict__.items() if k != "_state"})
        obj._state.adding = False
        self.message_user(
            request,
            _("Copy the endpoint's signing secret now; it will not be shown again: %(secret)s")
            % {"secret": secret},
            messages.WARNING,
        )

    def delete_model(self, request, obj):
        services.delete_endpoint(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in access.admin_webhook_endpoints(_viewer(request), queryset):
            services.delete_endpoint(endpoint, by=request.user)

    def changelist_view(self, request, extra_context=None):
        paused = services.paused_endpoints(_viewer(request)).count()
        if paused and request.method == "GET":
            self.message_user(
                request,
                ngettext(
                    "%(count)d webhook endpoint is paused after repeated failed deliveries; resume it "
                    "once its receiver works again.",
                    "%(count)d webhook endpoints are paused after repeated failed deliveries; resume them "
                    "once their receivers work again.",
                    paused,
                )
                % {"count": paused},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Resume selected paused endpoints"), permissions=["change"])
    def resume_selected(self, request, queryset):
        resumed = sum(
            services.resume_endpoint(endpoint, by=request.user)
            for endpoint in access.admin_webhook_endpoints(_viewer(request), queryset)
        )
        self.message_user(
            request,
            ngettext("Resumed %(count)d endpoint.", "Resumed %(count)d endpoints.", resumed)
            % {"count": resumed},
            messages.SUCCESS,
        )


@admin.register(Delivery)
class DeliveryAdmin(ScopedLookupsMixin, admin.ModelAdmin):
    """The delivery log: read-only."""

    list_display = [
        "created_at",
        "event",
        "subject",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
    search_fields = ["subject", "=idempotency_id"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [
        "endpoint",
        "event",
        "subject",
        "idempotency_id",
        "status",
        "attempts",
        "response_code",
        "response_excerpt",
        "last_error",
        "first_attempt_at",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "payload",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return access.admin_webhook_deliveries(_viewer(request), super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
