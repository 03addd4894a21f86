"""The one audit trail. `record(event, *, actor, target, **fields)` writes an append-only `AuditEvent` row (who,
what, when, which organisation; identifiers, never content) and the matching `security` log line. It is the
only writer of either: services and access call it, and the receivers below turn Django's, allauth's and
django-axes's account signals into events.

The event names are a closed list (`EVENTS`), as Zulip's `RealmAuditLog` event types: a name not on it is a
programming error and raises. Who is a user id; an attempted login that names no account is a keyed hash (it
might be a password typed into the wrong field), never the text. Addresses are cut to their network.
"""

from __future__ import annotations

import logging
from typing import Any

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tracker.accounts.security import ip_for_log, login_digest, resolve_login

_log = logging.getLogger("security")

# The closed list of event names: (name, log level). Add a name here before recording it.
EVENTS: dict[str, int] = {
    # Sign-in and sessions
    "auth.login": logging.INFO,
    "auth.login_failed": logging.INFO,
    "auth.lockout": logging.WARNING,
    "auth.logout": logging.INFO,
    "session.expire": logging.INFO,
    "session.end_others": logging.INFO,
    "mfa.add": logging.INFO,
    "mfa.remove": logging.INFO,
    "mfa.reset": logging.INFO,
    "mfa.failed": logging.INFO,
    "mfa.required": logging.INFO,
    # Accounts
    "account.password_change": logging.INFO,
    "account.password_set": logging.INFO,
    "account.password_reset": logging.INFO,
    "user.create": logging.INFO,
    "user.change": logging.INFO,
    "user.deactivate": logging.WARNING,
    "user.invite": logging.INFO,
    "user.mfa_reset": logging.WARNING,
    "user.password_reset_sent": logging.WARNING,
    "invitation.accept": logging.INFO,
    "invitation.revoke": logging.INFO,
    "invitation.refused": logging.WARNING,
    "membership.change": logging.WARNING,
    "lockout.clear": logging.WARNING,
    # Access decisions
    "access.refused": logging.INFO,
    "evidence.read_internal": logging.INFO,
    "evidence.refused": logging.INFO,
    # A list downloaded from the web pages (cases.exports): it may hold unpublished work and internal sources.
    "export.download": logging.INFO,
    # Editorial work
    "evidence.add": logging.INFO,
    "evidence.change": logging.INFO,
    "evidence.link": logging.INFO,
    "evidence.unlink": logging.INFO,
    "evidence.duplicate_refused": logging.INFO,
    "assessment.submit": logging.INFO,
    "assessment.publish": logging.INFO,
    "assessment.return": logging.INFO,
    "assessment.resubmit": logging.INFO,
    "assessment.edit": logging.INFO,
    "assessment.withdraw": logging.INFO,
    "assessment.bulk_review": logging.INFO,
    "assessment.delete": logging.WARNING,
    # People (individual cases)
    "person.add": logging.INFO,
    "person.change": logging.INFO,
    "person.link": logging.INFO,
    "person.list": logging.INFO,
    "person.counts_cite": logging.INFO,
    "person.merge": logging.WARNING,
    # A curator changed which fields of a person never leave through the API or a download (names only).
    "person.never_export": logging.WARNING,
    "person.read": logging.INFO,
    "person.status_publish": logging.INFO,
    "person.status_return": logging.INFO,
    "person.status_submit": logging.INFO,
    # Partner keys
    "apikey.create": logging.INFO,
    "apikey.revoke": logging.INFO,
    "apikey.refused": logging.INFO,
    "apikey.throttled": logging.WARNING,
    # Webhook endpoints (tracker/webhooks): registered, deleted, paused after failures in a row, resumed.
    "webhook.create": logging.INFO,
    "webhook.delete": logging.INFO,
    "webhook.pause": logging.WARNING,
    "webhook.resume": logging.INFO,
    # Imports
    "import.apply": logging.INFO,
    "import.discard": logging.INFO,
    "import.fail": logging.WARNING,
    "import.finish": logging.INFO,
    "import.map_theme": logging.INFO,
    "import.upload": logging.INFO,
    # Operations
    "backup.create": logging.INFO,
    "backup.restore": logging.WARNING,
    "backup.refused": logging.WARNING,
}


class UnknownAuditEvent(ValueError):
    pass


def _organisation_id(actor: Any, target: Any, organisation: Any) -> int | None:
    if organisation is not None:
        return getattr(organisation, "pk", organisation)
    for candidate in (target, actor):
        org_id = getattr(candidate, "organisation_id", None)
        if org_id is not None:
            return org_id
    state = getattr(actor, "_state", None)
    membership = state.fields_cache.get("membership") if state is not None else None
    if membership is not None:
        return membership.organisation_id
    if getattr(actor, "pk", None) is not None and hasattr(actor, "is_authenticated"):
        from cases.models import Membership

        return Membership.objects.filter(user_id=actor.pk).values_list("organisation_id", flat=True).first()
    return None


def record(event: str, *, actor: Any = None, target: Any = None, organisation: Any = None, **fields: Any):
    """Write one audit event and its `security` log line.

    `actor` is a user, an API key (its prefix is kept) or None (the system, an anonymous visitor);
    `target` a model instance (type and id are kept, nothing else); `organisation` defaults to the
    target's, then the actor's. `fields` are identifiers and outcomes only (ids, states, counts, a network)
    and must be JSON-serialisable: never text a user typed. Call it inside the transaction of the action it
    records, so an action and its audit row commit or roll back together.
    """
    if event not in EVENTS:
        raise UnknownAuditEvent(event)
    from cases.models import ApiKey

    from .models import AuditEvent

    key_prefix = ""
    user = actor
    if isinstance(actor, ApiKey):
        key_prefix, user = actor.prefix, None
    user_id = getattr(user, "pk", None)
    target_type = target._meta.label_lower if target is not None and hasattr(target, "_meta") else ""
    target_id = str(target.pk) if target is not None and getattr(target, "pk", None) is not None else ""
    org_id = _organisation_id(user if user is not None else actor, target, organisation)
    clean = {k: v for k, v in fields.items() if v is not None}
    row = AuditEvent.objects.create(
        event=event,
        actor_id=user_id,
        key_prefix=key_prefix,
        organisation_id=org_id,
        target_type=target_type,
        target_id=target_id,
        fields=clean,
    )
    parts = [event, f"user={user_id}"]
    if target_id:
        parts.append(f"target={target_type}:{target_id}")
    if key_prefix:
        parts.append(f"key={key_prefix}")
    parts.extend(f"{k}={v}" for k, v in clean.items())
    _log.log(EVENTS[event], " ".join(parts))
    return row


@receiver(user_logged_in, dispatch_uid="tracker.accounts.audit.login")
def _logged_in(sender, request=None, user=None, **kwargs) -> None:
    methods = []
    if request is not None and hasattr(request, "session"):
        for entry in get_authentication_records(request, user):
            method = entry.get("method")
            if method == "mfa":
                method = f"mfa:{entry.get('type', '?')}"
            if method and method not in methods:
                methods.append(method)
    record("auth.login", actor=user, methods="+".join(methods) or "-", ip=ip_for_log(request))


@receiver(user_login_failed, dispatch_uid="tracker.accounts.audit.login_failed")
def _login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    login_key, user_id = resolve_login(credentials, request)
    record(
        "auth.login_failed",
        actor=_user(user_id),
        login=login_digest(login_key),
        ip=ip_for_log(request),
    )


@receiver(user_locked_out, dispatch_uid="tracker.accounts.audit.lockout")
def _locked_out(sender, request=None, username=None, **kwargs) -> None:
    _key, user_id = resolve_login({"username": username}, request)
    record("auth.lockout", actor=_user(user_id), login=login_digest(username), ip=ip_for_log(request))


@receiver(user_logged_out, dispatch_uid="tracker.accounts.audit.logout")
def _logged_out(sender, request=None, user=None, **kwargs) -> None:
    record("auth.logout", actor=user)


@receiver(account_signals.password_changed, dispatch_uid="tracker.accounts.audit.password_changed")
def _password_changed(sender, request=None, user=None, **kwargs) -> None:
    record("account.password_change", actor=user, ip=ip_for_log(request))


@receiver(account_signals.password_set, dispatch_uid="tracker.accounts.audit.password_set")
def _password_set(sender, request=None, user=None, **kwargs) -> None:
    record("account.password_set", actor=user, ip=ip_for_log(request))


@receiver(account_signals.password_reset, dispatch_uid="tracker.accounts.audit.password_reset")
def _password_reset(sender, request=None, user=None, **kwargs) -> None:
    """A reset proves control of the account's mailbox, so it also lifts a lockout of the account."""
    from axes.utils import reset

    cleared = reset(username=user.get_username()) if user is not None else 0
    record("account.password_reset", actor=user, unlocked=bool(cleared), ip=ip_for_log(request))


@receiver(mfa_signals.authenticator_added, dispatch_uid="tracker.accounts.audit.mfa_added")
def _mfa_added(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    record("mfa.add", actor=user, type=authenticator.type, authenticator=authenticator.pk)


@receiver(mfa_signals.authenticator_removed, dispatch_uid="tracker.accounts.audit.mfa_removed")
def _mfa_removed(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    # The instance is already deleted (no pk): its type says enough.
    record("mfa.remove", actor=user, type=authenticator.type)


@receiver(mfa_signals.authenticator_reset, dispatch_uid="tracker.accounts.audit.mfa_reset")
def _mfa_reset(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    record("mfa.reset", actor=user, type=authenticator.type, authenticator=authenticator.pk)


@receiver(mfa_signals.authentication_failed, dispatch_uid="tracker.accounts.audit.mfa_failed")
def _mfa_failed(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    record("mfa.failed", actor=user, type=getattr(authenticator, "type", "-"), ip=ip_for_log(request))


def _user(user_id: int | None):
    """A user reference by id, without a query (the row keeps the id; the log line prints it)."""
    if user_id is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model()(pk=user_id)
