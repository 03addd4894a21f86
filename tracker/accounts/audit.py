"""The security log's account events: sign-ins, failures, lockouts, sign-outs, second-factor and password
changes. Review events are written by the services, refusals by `security.RefusalAuditMiddleware`, reads of
internal evidence by `access.get_evidence_for`.

One line per event: an event name, then key=value pairs. Who is a user id; an attempted login that names no
account is a keyed hash (it might be a password typed into the wrong field), never the text. Addresses are
cut to their network. Time is the formatter's (UTC).
"""

from __future__ import annotations

import logging

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tracker.accounts.security import ip_for_log, login_digest, resolve_login

security_log = logging.getLogger("security")


def _user_id(user) -> int | None:
    return getattr(user, "pk", None)


@receiver(user_logged_in, dispatch_uid="tracker.accounts.audit.login")
def _logged_in(sender, request=None, user=None, **kwargs) -> None:
    methods = []
    if request is not None and hasattr(request, "session"):
        for record in get_authentication_records(request, user):
            method = record.get("method")
            if method == "mfa":
                method = f"mfa:{record.get('type', '?')}"
            if method and method not in methods:
                methods.append(method)
    security_log.info(
        "auth.login user=%s methods=%s ip=%s", _user_id(user), "+".join(methods) or "-", ip_for_log(request)
    )


@receiver(user_login_failed, dispatch_uid="tracker.accounts.audit.login_failed")
def _login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    login_key, user_id = resolve_login(credentials, request)
    security_log.info(
        "auth.login_failed user=%s login=%s ip=%s", user_id, login_digest(login_key), ip_for_log(request)
    )


@receiver(user_locked_out, dispatch_uid="tracker.accounts.audit.lockout")
def _locked_out(sender, request=None, username=None, **kwargs) -> None:
    _key, user_id = resolve_login({"username": username}, request)
    security_log.warning(
        "auth.lockout user=%s login=%s ip=%s", user_id, login_digest(username), ip_for_log(request)
    )


@receiver(user_logged_out, dispatch_uid="tracker.accounts.audit.logout")
def _logged_out(sender, request=None, user=None, **kwargs) -> None:
    security_log.info("auth.logout user=%s", _user_id(user))


@receiver(account_signals.password_changed, dispatch_uid="tracker.accounts.audit.password_changed")
def _password_changed(sender, request=None, user=None, **kwargs) -> None:
    security_log.info("account.password_change user=%s ip=%s", _user_id(user), ip_for_log(request))


@receiver(account_signals.password_set, dispatch_uid="tracker.accounts.audit.password_set")
def _password_set(sender, request=None, user=None, **kwargs) -> None:
    security_log.info("account.password_set user=%s ip=%s", _user_id(user), ip_for_log(request))


@receiver(account_signals.password_reset, dispatch_uid="tracker.accounts.audit.password_reset")
def _password_reset(sender, request=None, user=None, **kwargs) -> None:
    """A reset proves control of the account's mailbox, so it also lifts a lockout of the account."""
    from axes.utils import reset

    cleared = reset(username=user.get_username()) if user is not None else 0
    security_log.info(
        "account.password_reset user=%s unlocked=%s ip=%s", _user_id(user), bool(cleared), ip_for_log(request)
    )


@receiver(mfa_signals.authenticator_added, dispatch_uid="tracker.accounts.audit.mfa_added")
def _mfa_added(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    security_log.info(
        "mfa.add type=%s authenticator=%s user=%s", authenticator.type, authenticator.pk, _user_id(user)
    )


@receiver(mfa_signals.authenticator_removed, dispatch_uid="tracker.accounts.audit.mfa_removed")
def _mfa_removed(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    # The instance is already deleted (no pk): its type says enough.
    security_log.info("mfa.remove type=%s user=%s", authenticator.type, _user_id(user))


@receiver(mfa_signals.authenticator_reset, dispatch_uid="tracker.accounts.audit.mfa_reset")
def _mfa_reset(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    security_log.info(
        "mfa.reset type=%s authenticator=%s user=%s", authenticator.type, authenticator.pk, _user_id(user)
    )


@receiver(mfa_signals.authentication_failed, dispatch_uid="tracker.accounts.audit.mfa_failed")
def _mfa_failed(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    security_log.info(
        "mfa.failed type=%s user=%s ip=%s",
        getattr(authenticator, "type", "-"),
        _user_id(user),
        ip_for_log(request),
    )
