"""Roles are Django groups: `Monitors` record evidence and assessments, `Curators` also review and curate in
the admin. The groups and their model permissions are (re)created after every `migrate`."""

from __future__ import annotations

from django.db.models.signals import post_migrate
from django.dispatch import receiver

MONITORS = "Monitors"
CURATORS = "Curators"
ROLE_GROUPS = {"monitor": MONITORS, "curator": CURATORS}

_CASES_MODELS = [
    "document",
    "recommendation",
    "theme",
    "evidence",
    "assessment",
    "organisation",
    "membership",
]
_MONITOR_PERMS = [f"cases.view_{m}" for m in _CASES_MODELS] + ["cases.add_evidence", "cases.add_assessment"]
# Organisations and memberships are run by superusers: a curator who could re-point her membership would
# read another organisation's work. Accounts are made by invitation, never added in the admin.
_CROSS_ORGANISATION = {"organisation", "membership"}
_CURATOR_PERMS = (
    [
        f"cases.{action}_{m}"
        for m in _CASES_MODELS
        for action in ("view", "add", "change", "delete")
        if action == "view" or m not in _CROSS_ORGANISATION
    ]
    + ["cases.view_assessmenttransition", "cases.view_apikey", "cases.add_apikey", "cases.change_apikey"]
    # People (cases/people/admin.py): curated in the admin, scoped to the organisation; never deleted.
    + ["cases.view_person", "cases.add_person", "cases.change_person", "cases.view_personstatus"]
    + ["auth.view_user", "auth.change_user", "auth.view_group"]
    + ["accounts.view_invitation", "accounts.add_invitation", "accounts.view_auditevent"]
    # Webhook endpoints of their organisation (tracker/webhooks/admin.py) and the delivery log.
    + [
        "webhooks.view_endpoint",
        "webhooks.add_endpoint",
        "webhooks.change_endpoint",
        "webhooks.delete_endpoint",
    ]
    + ["webhooks.view_delivery"]
    # Unlocking an account after a lockout (django-axes): curators delete the access attempt.
    + ["axes.view_accessattempt", "axes.delete_accessattempt"]
)
ROLE_PERMISSIONS = {MONITORS: _MONITOR_PERMS, CURATORS: _CURATOR_PERMS}


def _in_group(user, name: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    # Cached on the user object: templates and access checks ask several times per request.
    cache = user.__dict__.setdefault("_role_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user.__dict__["_role_names"] = cache
    return name in cache


def is_curator(user) -> bool:
    return bool(getattr(user, "is_superuser", False) and user.is_active) or _in_group(user, CURATORS)


def is_monitor(user) -> bool:
    """Monitors and curators may both record evidence and assessments."""
    return is_curator(user) or _in_group(user, MONITORS)


def ensure_groups() -> None:
    from django.contrib.auth.models import Group, Permission

    names = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    available = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in=[name.split(".")[1] for name in names]
        )
    }
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        group.permissions.set([available[p] for p in perms if p in available])


@receiver(post_migrate)
def _create_groups(sender, **kwargs) -> None:
    if sender.name != "cases":
        return
    # This receiver can be connected before django.contrib.auth's (the admin's autodiscovery imports this
    # module early), so the permissions it grants may not exist yet: create them first.
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    ensure_groups()
