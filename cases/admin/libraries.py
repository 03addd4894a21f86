"""ModelAdmins the libraries register (Django's groups, allauth's e-mail addresses, authenticators and
sessions), held to the same lookup rules as ours: no lookup through what an organisation owns (a group
filtered by `?user=<id>` would tell a curator another organisation's member's roles), and no out-of-range
id that SQLite answers with a server error. The admin keeps each library's own class; only the mixin is
added. tracker/accounts/admin.py replaces some of these with its own classes, which take the same mixin."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.auth.models import Group

from cases.admin.base import ScopedLookupsMixin


def guard_lookups(*models) -> None:
    """Re-register each model's current ModelAdmin with `ScopedLookupsMixin` mixed in (once)."""
    for model in models:
        current = admin.site._registry.get(model)
        if current is None or isinstance(current, ScopedLookupsMixin):
            continue
        cls = type(current)
        guarded = type(cls.__name__, (ScopedLookupsMixin, cls), {"__module__": cls.__module__})
        admin.site.unregister(model)
        admin.site.register(model, guarded)


guard_lookups(Group, EmailAddress, Authenticator, UserSession)
