"""Shared pieces of the admin: the site's titles, the viewer of a request, scoped mixins and guarded history pages."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from cases import access
from cases.models import (
    ApiKey,
    Assessment,
    AssessmentTransition,
    Evidence,
    Membership,
    Organisation,
)

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
        viewer = access.viewer_for_admin(request.user)
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


# What an organisation owns. A lookup through one of these (`?evidence=<id>` on recommendations,
# `?assessments=<id>` on organisations) would filter visible rows by rows the curator may not see, and so
# tell whether another organisation's internal source or draft exists and what it is about.
OWNED_MODELS: frozenset[type[models.Model]] = frozenset(
    {Evidence, Assessment, AssessmentTransition, ApiKey, Membership, User}
)

# Larger than any primary key or integer column (64-bit), on SQLite and PostgreSQL alike.
_INTEGER_LIMIT = 2**63


def _lookup_fields(model, lookup: str) -> list:
    """The fields a `?lookup=` parameter passes through, in order (lookups and transforms left off)."""
    fields, opts = [], model._meta
    for part in lookup.split("__"):
        try:
            field = opts.pk if part == "pk" else opts.get_field(part)
        except FieldDoesNotExist:
            break
        fields.append(field)
        if not field.is_relation:
            break
        opts = field.related_model._meta
    return fields


def _out_of_range(fields: list, lookup: str, value) -> bool:
    """Does an integer (or key) lookup carry a number no integer column holds? SQLite raises
    OverflowError on such a number instead of finding nothing."""
    if not fields or not (fields[-1].is_relation or isinstance(fields[-1], models.IntegerField)):
        return False
    if lookup.endswith("__isnull"):
        return False
    for item in str(value).split(","):
        item = item.strip().lstrip("+-")
        if item.isdigit() and int(item) >= _INTEGER_LIMIT:
            return True
    return False


class ScopedLookupsMixin:
    """URL lookups (`?field=value`, list filters, links from other pages) limited to what cannot reveal
    another organisation's rows: none through a model an organisation owns unless the viewer is an
    operator, and none with a number too large for any column (400 rather than a server error).
    List-filter choices and counts come from `get_queryset`, which each admin scopes through `access`."""

    def lookup_allowed(self, lookup, value, request=None):
        fields = _lookup_fields(self.model, lookup)
        if _out_of_range(fields, lookup, value):
            return False
        through_owned = any(f.is_relation and f.related_model in OWNED_MODELS for f in fields)
        if through_owned and request is not None and not access.is_operator(_viewer(request)):
            return False
        return super().lookup_allowed(lookup, value, request)


class GuardedHistoryAdmin(ScopedLookupsMixin, SimpleHistoryAdmin):
    """simple_history's pages, held to the same rules as the change form.

    Its history view falls back to the historical rows when the object is not in `get_queryset` (which
    would show a restricted object's past), and its version view saves a POSTed revert for anyone who may
    merely *view* the object. Here both need the object to be visible, and a revert needs change permission.
    The history of a deleted object is therefore no longer browsable; the admin log keeps the deletion.

    Within a visible object's history, `visible_versions` keeps the versions the viewer may see (an admin
    of owned data narrows it), and `hides_actor` blanks who made a change the viewer's organisation did not.
    """

    def visible_versions(self, request, versions):
        """The historical rows this viewer may see; shared reference data shows them all."""
        return versions

    def hides_actor(self, request, version) -> bool:
        """Should this version's author stay unnamed for this viewer? Not for shared reference data."""
        return False

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        versions = super().get_history_queryset(request, history_manager, pk_name, object_id)
        return self.visible_versions(request, versions)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # Deltas are computed between the versions left visible, so a hidden version's values never show
        # as the "before" of the next one.
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        for version in historical_records:
            if self.hides_actor(request, version):
                version.history_user = None

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
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        try:
            versions = history.filter(**{self.model._meta.pk.attname: object_id, "history_id": version_id})
            if not self.visible_versions(request, versions).exists():
                raise Http404
        except (ValueError, TypeError, ValidationError, OverflowError):
            raise Http404 from None
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
