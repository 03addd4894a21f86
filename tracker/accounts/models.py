"""The audit trail: one append-only row per security-relevant action (who, what, when, which organisation;
never the content of what was read or written)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailImmutable(_("Audit events are append-only."))

    def delete(self):
        raise AuditTrailImmutable(_("Audit events are append-only."))


class AuditTrailImmutable(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    """Written only by `tracker.accounts.audit.record`. The event name is one of `audit.EVENTS` (checked
    there, not by a database constraint, so a new event name needs no migration)."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    event = models.CharField(_("event"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # An API key acts without a user; its visible prefix says which one.
    key_prefix = models.CharField(_("API key"), max_length=16, blank=True)
    organisation = models.ForeignKey(
        "cases.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    # Identifiers and outcomes only (ids, states, counts, a truncated network): never text a user typed.
    fields = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            # The curators' audit page: their own organisation's events, newest first.
            models.Index(fields=["organisation", "-created_at"], name="accounts_audit_org_time"),
            # "What happened to this object?" from an object's admin page.
            models.Index(fields=["target_type", "target_id"], name="accounts_audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AuditTrailImmutable(_("Audit events are append-only."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailImmutable(_("Audit events are append-only."))


# --- Accounts that are people ----------------------------------------------------------------------------


class InvitedRole(models.TextChoices):
    """The roles an invitation can carry (operators are made on the command line, never invited)."""

    MONITOR = "monitor", _("monitor")
    CURATOR = "curator", _("curator")


class InvitationState(models.TextChoices):
    PENDING = "pending", _("pending")
    EXPIRED = "expired", _("expired")
    ACCEPTED = "accepted", _("accepted")
    REVOKED = "revoked", _("revoked")


class InvitationQuerySet(models.QuerySet):
    def open(self):
        """Neither accepted nor revoked (possibly expired): at most one per address and organisation."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A one-time link that lets a person make their own account in `organisation` with `role`.

    Only the SHA-256 of the link's token is stored: the link itself is in the e-mail alone. Written by
    `tracker.accounts.services` (invite, accept, revoke), never edited in place otherwise.
    """

    organisation = models.ForeignKey(
        "cases.Organisation",
        on_delete=models.PROTECT,
        related_name="invitations",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=16, choices=InvitedRole.choices)
    email = models.EmailField(_("e-mail address"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    token_hash = models.CharField(_("SHA-256 of the token"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # The account the invitation made (set together with accepted_at).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitation",
        verbose_name=_("account"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(fields=["token_hash"], name="accounts_invitation_token_hash_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=InvitedRole.values), name="accounts_invitation_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="accounts_invitation_accepted_or_revoked",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True, user__isnull=True)
                | models.Q(accepted_at__isnull=False),
                name="accounts_invitation_account_only_when_accepted",
            ),
            # Inviting an address again revokes its earlier link first (services.invite).
            models.UniqueConstraint(
                Lower("email"),
                "organisation",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_invitation_one_open_per_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"

    def state(self, now=None) -> str:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return InvitationState.EXPIRED
        return InvitationState.PENDING


class AccountOrigin(models.Model):
    """Who made an account: the inviter, or nobody (an operator's `adduser`, the system). Written once, by
    `create_user`. The four-eyes rule reads it: a curator may not review the work of an account she made."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="origin",
        verbose_name=_("account"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("account origin")
        verbose_name_plural = _("account origins")
        indexes = [
            # The four-eyes check: "did this reviewer make the author's account?"
            models.Index(fields=["created_by"], name="accounts_origin_created_by"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ← {self.created_by_id or '-'}"


class CredentialResetKind(models.TextChoices):
    PASSWORD = "password", _("password reset e-mail sent")
    EMAIL = "email", _("e-mail address changed")
    MFA = "mfa", _("second factor removed")


class CredentialReset(models.Model):
    """Someone else touched how an account signs in: sent it a password reset, changed the address such
    resets go to, or removed its second factor. Append-only; the four-eyes rule reads it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="credential_resets",
        verbose_name=_("account"),
    )
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reset by"),
    )
    kind = models.CharField(_("what"), max_length=16, choices=CredentialResetKind.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("credential reset")
        verbose_name_plural = _("credential resets")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CredentialResetKind.values), name="accounts_credreset_kind_valid"
            ),
        ]
        indexes = [
            # The four-eyes check: "did this reviewer reset the author's credentials?"
            models.Index(fields=["user", "reset_by"], name="accounts_credreset_user_by"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} ← {self.reset_by_id or '-'}"


# --- Preferences -----------------------------------------------------------------------------------------


class LanguagePreference(models.Model):
    """The interface language a person chose with the language switcher, applied when she signs in (on any
    device). No row: nothing chosen yet, the browser's Accept-Language decides. Its own table rather than a
    column of AccountOrigin, which records who made an account and is written once."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="language_preference",
        verbose_name=_("account"),
    )
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("language preference")
        verbose_name_plural = _("language preferences")
        constraints = [
            # A new language in settings.LANGUAGES needs a migration of this constraint (and a catalogue).
            models.CheckConstraint(
                condition=models.Q(language__in=[code for code, _name in settings.LANGUAGES]),
                name="accounts_languagepreference_language_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
