"""Account writes: every account is made here, with its role and its one organisation, in one transaction.

`adduser` (operators), the admin, invitations, the data-set loader's system accounts, the benchmark's
generator and the tests all call `create_user`, so no account ever exists without a membership.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from cases.models import Membership, Organisation

from . import audit
from .roles import CURATORS, MONITORS, ROLE_GROUPS, ensure_groups

ROLES = ("monitor", "curator", "operator", None)


@transaction.atomic
def create_user(
    username: str,
    *,
    role: str | None,
    organisation: Organisation,
    email: str = "",
    password: str | None = None,
    created_by=None,
    **extra,
):
    """Create an account in `role` ("monitor", "curator", "operator" for a superuser, or None for a
    role-less system account) and its membership of `organisation`, and audit it.

    Curators (and operators) get staff status, which the admin needs; their permissions come from the
    group. `password=None` leaves the password unusable (invitations set it; system accounts never sign in).
    """
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    if organisation is None or organisation.pk is None:
        raise ValueError("Every account belongs to one saved organisation.")
    User = get_user_model()
    if role == "operator":
        user = User.objects.create_superuser(username=username, email=email, password=password, **extra)
    else:
        user = User.objects.create_user(username=username, email=email, password=password, **extra)
    if role == "curator" and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if role in ROLE_GROUPS:
        if Group.objects.filter(name__in=[CURATORS, MONITORS]).count() != 2:
            ensure_groups()
        user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
    user.membership = Membership.objects.create(user=user, organisation=organisation)
    audit.record("user.create", actor=created_by, target=user, organisation=organisation, role=role or "-")
    return user
