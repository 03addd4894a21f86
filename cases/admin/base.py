"""Shared pieces of the admin: the site's titles, the viewer of a request, scoped mixins and guarded history pages."""

from __future__ import annotations

import logging

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from cases import access
from cases.models import (
    Organisation,
)

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
