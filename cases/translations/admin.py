"""Translations in the admin: inlines on the recommendation's and the theme's change forms.

Recommendations and themes are reference data every curator curates (cases/admin/reference.py), and their
translations go with them: whoever may change the record may add, change or delete its translations, and
whoever may view it sees them. No model permissions of their own, so the roles (tracker/accounts/roles.py)
need no new entries. Each change is kept by simple_history (the translation's own history, with the acting
user from the request) and in the admin log's change message of the record.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ContentLanguage, RecommendationTranslation, ThemeTranslation


class _ParentPermissionsInline(admin.StackedInline):
    """Permissions of the record the translations belong to (`parent_model`)."""

    extra = 0
    max_num = len(ContentLanguage.values)  # one per content language (a database constraint too)

    def _may(self, request, action: str) -> bool:
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view") or self._may(request, "change")

    def has_add_permission(self, request, obj=None):
        return self._may(request, "change")

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "change")


class RecommendationTranslationInline(_ParentPermissionsInline):
    model = RecommendationTranslation
    fields = ["language", "text", "source_note", "created_by", "updated_at"]
    readonly_fields = ["created_by", "updated_at"]
    verbose_name = _("translation")
    verbose_name_plural = _("translations")


class ThemeTranslationInline(_ParentPermissionsInline):
    model = ThemeTranslation
    fields = ["language", "name"]
    verbose_name = _("translation")
    verbose_name_plural = _("translations")


def save_translations(request, formset) -> None:
    """Saves a translation formset, recording who added each new translation."""
    for instance in formset.save(commit=False):
        if instance.pk is None and hasattr(instance, "created_by"):
            instance.created_by = request.user
        instance.save()
    for instance in formset.deleted_objects:
        instance.delete()
