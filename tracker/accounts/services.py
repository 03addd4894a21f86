"""Account writes: every account is made here, with its role and its one organisation, in one transaction.

`adduser` (operators), the admin, invitations, the data-set loader's system accounts, the benchmark's
generator and the tests all call `create_user`, so no account ever exists without a membership.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Membership, Organisation

from . import audit
from .models import (
    AccountOrigin,
    CredentialReset,
    CredentialResetKind,
    Invitation,
    InvitationState,
    InvitedRole,
)
from .roles import CURATORS, MONITORS, ROLE_GROUPS, ensure_groups, is_curator

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
    AccountOrigin.objects.create(user=user, created_by=created_by)
    audit.record("user.create", actor=created_by, target=user, organisation=organisation, role=role or "-")
    return user


# --- Invitations -----------------------------------------------------------------------------------------


def invitation_lifetime() -> timedelta:
    """How long an invitation link works: INVITATION_MAX_AGE seconds (default seven days)."""
    return timedelta(seconds=getattr(settings, "INVITATION_MAX_AGE", 7 * 24 * 3600))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_invite(inviter, organisation: Organisation, role: str) -> bool:
    """Superusers invite anyone anywhere; a curator invites monitors into her own organisation only
    (a curator she invited could otherwise review her work: only operators make curators)."""
    if inviter is None or not inviter.is_active:
        return False
    if inviter.is_superuser:
        return True
    if not is_curator(inviter) or role != InvitedRole.MONITOR:
        return False
    return Membership.objects.filter(user_id=inviter.pk, organisation_id=organisation.pk).exists()


@transaction.atomic
def invite(*, email: str, role: str, organisation: Organisation, invited_by, request) -> Invitation:
    """Invite `email` to make an account with `role` in `organisation`, and e-mail the one-time link.

    An earlier open invitation of the same address to the same organisation is revoked first (its link
    stops working). The token is in the e-mail only; the row keeps its SHA-256. The mail is sent inside the
    transaction: if it cannot be sent, no invitation exists.
    """
    email = (email or "").strip()
    if role not in InvitedRole.values:
        raise ValidationError({"role": [_("Choose monitor or curator.")]})
    if not may_invite(invited_by, organisation, role):
        raise PermissionDenied(_("You may not invite this role into this organisation."))
    if get_user_model().objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [_("An account with this e-mail address exists already.")]})
    now = timezone.now()
    for earlier in Invitation.objects.open().filter(organisation=organisation, email__iexact=email):
        _revoke(earlier, actor=invited_by, now=now, reason="reinvited")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organisation=organisation,
        role=role,
        email=email,
        invited_by=invited_by,
        token_hash=token_hash(token),
        expires_at=now + invitation_lifetime(),
    )
    audit.record("user.invite", actor=invited_by, target=invitation, organisation=organisation, role=role)
    link = request.build_absolute_uri(reverse("accounts:invitation", args=[token]))
    context = {"invitation": invitation, "link": link, "organisation": organisation}
    send_mail(
        render_to_string("accounts/email/invitation_subject.txt", context).strip(),
        render_to_string("accounts/email/invitation_message.txt", context),
        None,
        [email],
    )
    return invitation


class InvitationRefused(Exception):
    """An invitation link that does not (or no longer) work; `reason` is one of the InvitationState codes
    or "unknown"."""

    def __init__(self, reason: str, invitation: Invitation | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def open_invitation(token: str, *, lock: bool = False) -> Invitation:
    """The pending invitation behind `token`, or InvitationRefused (audited as `invitation.refused`)."""
    queryset = Invitation.objects.select_related("organisation", "invited_by")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    invitation = queryset.filter(token_hash=token_hash(token or "")).first()
    if invitation is None:
        audit.record("invitation.refused", reason="unknown")
        raise InvitationRefused("unknown")
    state = invitation.state()
    if state != InvitationState.PENDING:
        audit.record("invitation.refused", target=invitation, reason=str(state))
        raise InvitationRefused(str(state), invitation)
    return invitation


@transaction.atomic
def accept_invitation(token: str, *, username: str, password: str):
    """Make the invitee's account (through `create_user`, the inviter recorded as its maker) and close the
    invitation. The row is locked, so one link makes one account even when submitted twice at once."""
    from allauth.account.models import EmailAddress

    invitation = open_invitation(token, lock=True)
    user = create_user(
        username,
        role=invitation.role,
        organisation=invitation.organisation,
        email=invitation.email,
        password=password,
        created_by=invitation.invited_by,
    )
    # Opening the link proved the mailbox: allauth's password reset and e-mail sign-in may use it.
    EmailAddress.objects.create(user=user, email=invitation.email, verified=True, primary=True)
    invitation.accepted_at = timezone.now()
    invitation.user = user
    invitation.save(update_fields=["accepted_at", "user", "updated_at"])
    audit.record(
        "invitation.accept",
        actor=user,
        target=invitation,
        organisation=invitation.organisation_id,
        invited_by=invitation.invited_by_id,
        role=invitation.role,
    )
    return user


def _revoke(invitation: Invitation, *, actor, now, reason: str) -> None:
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at", "updated_at"])
    audit.record("invitation.revoke", actor=actor, target=invitation, reason=reason)


@transaction.atomic
def revoke_invitations(invitations, *, actor) -> int:
    """Revoke the pending ones among `invitations`; accepted ones stay as they are. Returns how many."""
    now = timezone.now()
    count = 0
    # Lock the rows themselves: the admin's queryset joins nullable relations, which cannot be locked.
    pks = list(invitations.values_list("pk", flat=True))
    for invitation in Invitation.objects.open().filter(pk__in=pks).select_for_update():
        _revoke(invitation, actor=actor, now=now, reason="revoked")
        count += 1
    return count


# --- Credentials: nobody sets another user's password ----------------------------------------------------


@transaction.atomic
def send_password_reset(user, *, actor, request) -> bool:
    """E-mail `user` allauth's password reset link (the link goes to the account's own address: the actor
    never learns or sets the password) and record who asked. False when the account has no address."""
    from allauth.account.forms import ResetPasswordForm

    if not user.email:
        return False
    form = ResetPasswordForm(data={"email": user.email})
    if not form.is_valid():
        return False
    form.save(request)
    CredentialReset.objects.create(user=user, reset_by=actor, kind=CredentialResetKind.PASSWORD)
    audit.record("user.password_reset_sent", actor=actor, target=user)
    return True


@transaction.atomic
def reset_second_factor(user, *, actor) -> int:
    """Remove every authenticator of `user` (superusers only: a lost phone); the next sign-in of a curator
    sets one up again. Returns how many were removed."""
    from allauth.mfa.models import Authenticator

    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only superusers reset a second factor."))
    removed, _details = Authenticator.objects.filter(user=user).delete()
    CredentialReset.objects.create(user=user, reset_by=actor, kind=CredentialResetKind.MFA)
    audit.record("user.mfa_reset", actor=actor, target=user, removed=removed)
    return removed


def record_user_change(user, *, actor, changed: list[str]) -> None:
    """Audit an admin change of an account (field names only). Someone else changing the address that
    password resets go to has, in effect, reset the credentials: the four-eyes rule must know."""
    if "email" in changed and actor is not None and actor.pk != user.pk:
        CredentialReset.objects.create(user=user, reset_by=actor, kind=CredentialResetKind.EMAIL)
    audit.record("user.change", actor=actor, target=user, changed=",".join(sorted(changed)) or "-")


def linked_accounts(reviewer, author_id: int | None) -> str | None:
    """Why `reviewer` and the author are not two independent people, or None.

    "self" (the same account), "invited" (either made the other's account) or "reset" (either reset the
    other's credentials). One query.
    """
    if author_id is None or reviewer is None:
        return None
    if author_id == reviewer.pk:
        return "self"
    people = [author_id, reviewer.pk]
    made = AccountOrigin.objects.filter(
        Q(user_id=author_id, created_by_id=reviewer.pk) | Q(user_id=reviewer.pk, created_by_id=author_id)
    )
    reset = CredentialReset.objects.filter(
        Q(user_id=author_id, reset_by_id=reviewer.pk) | Q(user_id=reviewer.pk, reset_by_id=author_id)
    )
    row = (
        get_user_model()
        .objects.filter(pk__in=people)
        .annotate(made=Exists(made.values("pk")), reset=Exists(reset.values("pk")))
        .values_list("made", "reset")
        .first()
    )
    if row is None:
        return None
    if row[0]:
        return "invited"
    if row[1]:
        return "reset"
    return None


# --- Memberships and lockouts ---------------------------------------------------------------------------


@transaction.atomic
def set_membership(user, organisation: Organisation, *, actor) -> Membership:
    """Put an account in `organisation`, or move it there (superusers only: it changes what the account may
    read). The old organisation is read from the database, whatever a form did to the instance."""
    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only superusers change memberships."))
    membership = Membership.objects.select_for_update().filter(user_id=user.pk).first()
    old = membership.organisation_id if membership is not None else None
    if membership is None:
        membership = Membership.objects.create(user_id=user.pk, organisation=organisation)
    elif old != organisation.pk:
        membership.organisation = organisation
        membership.save(update_fields=["organisation", "updated_at"])
    else:
        return membership
    audit.record(
        "membership.change",
        actor=actor,
        target=membership,
        organisation=organisation,
        user_id=user.pk,
        old=old,
        new=organisation.pk,
    )
    return membership


@transaction.atomic
def delete_membership(membership: Membership, *, actor) -> None:
    """Remove an account's membership (superusers only): the account then sees what a visitor sees."""
    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied(_("Only superusers change memberships."))
    audit.record(
        "membership.change",
        actor=actor,
        target=membership,
        organisation=membership.organisation_id,
        user_id=membership.user_id,
        old=membership.organisation_id,
        new=None,
        action="delete",
    )
    membership.delete()


@transaction.atomic
def clear_lockouts(attempts, *, actor) -> int:
    """Delete failed sign-ins (django-axes AccessAttempt rows), which unlocks their accounts; one audit
    event per account. `attempts` is already scoped to what the actor may see."""
    User = get_user_model()
    rows = list(attempts.values_list("pk", "username"))
    users = {
        username: (pk, org_id)
        for username, pk, org_id in User.objects.filter(username__in={u for _pk, u in rows}).values_list(
            "username", "pk", "membership__organisation_id"
        )
    }
    for _pk, username in rows:
        # A failed sign-in that named no account is keyed by a hash ("~…"): it belongs to no organisation.
        user_id, org_id = users.get(username, (None, None))
        audit.record("lockout.clear", actor=actor, target=audit._user(user_id), organisation=org_id)
    attempts.model.objects.filter(pk__in=[pk for pk, _u in rows]).delete()
    return len(rows)
