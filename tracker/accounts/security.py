"""Account security: the second factor curators owe, session lifetimes, account lockout and the addresses
we keep (cut to their network, never whole).

- `SessionLifetimeMiddleware` ends a session after `SESSION_IDLE_TIMEOUT` seconds without a request and
  `SESSION_ABSOLUTE_LIFETIME` seconds after sign-in.
- `MFAEnforcementMiddleware` holds back a user who must use two-factor authentication (curators, staff,
  superusers; everyone with `MFA_REQUIRED_FOR_ALL`) until their session has passed a second factor:
  without an authenticator they are sent to set one up, with one to confirm it. "Passed" is what allauth
  itself records in the session (an authentication record of method "mfa").
- `RefusalAuditMiddleware` writes every 403 to the security log.
- django-axes hooks: one lockout key per account (`axes_username`), truncated addresses
  (`axes_client_ip`) and our lockout page (`lockout_response`).
"""

from __future__ import annotations

import ipaddress
import math
import time
from urllib.parse import urlencode

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa import signals as mfa_signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.signals import user_logged_in
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Q
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tracker.accounts.roles import is_curator

# Authenticators that are a second factor (recovery codes are a fallback for them, not one on their own).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


# --- Addresses -------------------------------------------------------------------------------------------

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as allauth sees it (honouring ALLAUTH_TRUSTED_PROXY_COUNT), or None."""
    if request is None or not getattr(request, "META", None):
        return None
    try:
        return get_account_adapter().get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured, ValueError):
        return None


def _network(ip: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def truncate_ip(ip: str | None) -> str | None:
    """The network address of `ip` (/24 for IPv4, /48 for IPv6), a valid address for an IP field."""
    network = _network(ip)
    return str(network.network_address) if network else None


def ip_for_log(request: HttpRequest | None) -> str:
    network = _network(client_ip(request))
    return str(network) if network else "-"


# --- Accounts behind a sign-in ---------------------------------------------------------------------------


def login_digest(text: str | None) -> str:
    """A stable pseudonym for something typed at sign-in: correlates attempts without recording the text."""
    if not text:
        return "-"
    return salted_hmac("tracker.accounts.security.login", text, algorithm="sha256").hexdigest()[:16]


def resolve_login(
    credentials: dict | None, request: HttpRequest | None = None
) -> tuple[str | None, int | None]:
    """The account a sign-in attempt is aimed at: (lockout key, user id or None).

    The key is the account's username when the login (username, any case, or e-mail address) names exactly
    one account, so "Alice", "alice" and alice@example.org count against the same account. Otherwise it is
    a keyed hash of the login, lower-cased: unknown names lock out exactly like real ones (no enumeration
    by lockout), and what was typed (sometimes a password, in the wrong field) is never stored or shown.
    Memoised on the request: axes asks several times per attempt.
    """
    credentials = credentials or {}
    email = (credentials.get("email") or "").strip()
    username = (credentials.get("username") or credentials.get("login") or "").strip()
    memo_key = (email.lower(), username.lower())
    memo = getattr(request, "_security_login_memo", None) if request is not None else None
    if memo is not None and memo_key in memo:
        return memo[memo_key]

    user_model = get_user_model()
    typed = (email or username).lower()
    result: tuple[str | None, int | None] = (f"~{login_digest(typed)}" if typed else None, None)
    lookups = []
    if email:
        lookups.append(Q(email__iexact=email) | Q(emailaddress__email__iexact=email))
    if username:
        lookups.append(Q(username__iexact=username))
    for lookup in lookups:
        matches = list(user_model.objects.filter(lookup).values_list("pk", "username").distinct()[:2])
        if len(matches) == 1:
            result = (matches[0][1], matches[0][0])
            break

    if request is not None:
        if memo is None:
            memo = {}
            request._security_login_memo = memo
        memo[memo_key] = result
    return result


def axes_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: lock accounts, however their owner (or an attacker) names them."""
    if not credentials:
        data = getattr(request, "POST", None) or {}
        credentials = {"login": data.get("login") or data.get("username")}
    return resolve_login(credentials, request)[0]


def axes_client_ip(request: HttpRequest) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: failed attempts keep the network, never the whole address."""
    return truncate_ip(client_ip(request))


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: our page, 429, naming no account (the login may have been an e-mail)."""
    cool_off = settings.AXES_COOLOFF_TIME
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    response = render(
        request,
        "security/lockout.html",
        {"cooloff_minutes": math.ceil(seconds / 60) if seconds else None},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


def lockout_warning(request: HttpRequest | None) -> str | None:
    """After a failed sign-in, a warning when one or two attempts remain before the name typed is locked
    (AXES_FAILURE_LIMIT), else None. Axes counts failures for the name whether or not an account has it, so
    the warning reads the same for an unknown name: it reveals nothing about which accounts exist."""
    if request is None or not settings.AXES_ENABLED or request.method != "POST":
        return None
    from axes.handlers.proxy import AxesProxyHandler

    failures = AxesProxyHandler.get_failures(request, {"login": request.POST.get("login", "")})
    remaining = settings.AXES_FAILURE_LIMIT - failures
    if remaining not in (1, 2):
        return None
    cool_off = settings.AXES_COOLOFF_TIME
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else 0
    return ngettext(
        "%(count)d attempt left before signing in with this name is paused for %(minutes)d minutes.",
        "%(count)d attempts left before signing in with this name is paused for %(minutes)d minutes.",
        remaining,
    ) % {"count": remaining, "minutes": minutes}


# --- Two-factor ------------------------------------------------------------------------------------------


def mfa_required_for(user) -> bool:
    """Whether `user` must use a second factor: every /admin/ user, every curator, or everyone."""
    if not settings.MFA_ENFORCE or not getattr(user, "is_authenticated", False):
        return False
    if settings.MFA_REQUIRED_FOR_ALL:
        return True
    return bool(user.is_staff or user.is_superuser or is_curator(user))


def session_passed_mfa(request: HttpRequest) -> bool:
    """Whether this session's sign-in included a second factor, as allauth records it."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


@receiver(mfa_signals.authenticator_added, dispatch_uid="tracker.accounts.security.enrolment_counts")
def _enrolment_counts_as_second_factor(sender, request=None, user=None, authenticator=None, **kwargs) -> None:
    """Activating TOTP or adding a key proves possession of it (allauth asks for a code or a touch), so the
    session that did it has passed a second factor: no sign-out and sign-in again straight after set-up."""
    if request is None or authenticator is None or authenticator.type not in SECOND_FACTORS:
        return
    if getattr(request, "user", None) is None or request.user.pk != user.pk:
        return
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type, enrolled=True)


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """Someone who must use two-factor cannot remove their last second factor (they may replace it:
        add a key first, then remove the app)."""
        if authenticator.type not in SECOND_FACTORS or not mfa_required_for(authenticator.user):
            return True
        others = Authenticator.objects.filter(user_id=authenticator.user_id, type__in=SECOND_FACTORS)
        return others.exclude(pk=authenticator.pk).exists()


# URL names a user may still reach while setting up a second factor, or while confirming one.
SETUP_URL_NAMES = frozenset(
    {
        "mfa_index",
        "mfa_activate_totp",
        "mfa_list_webauthn",
        "mfa_add_webauthn",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_download_recovery_codes",
        "account_reauthenticate",
        "account_logout",
        "healthz",
    }
)
# A session without a second factor for a user who has one: only the confirmation itself (a password-only
# session must not reach recovery codes or add authenticators of its own).
VERIFY_URL_NAMES = frozenset(
    {
        "mfa_reauthenticate",
        "mfa_reauthenticate_webauthn",
        "account_reauthenticate",
        "account_logout",
        "healthz",
    }
)


class MFAEnforcementMiddleware:
    """Holds back users who owe a second factor (see `mfa_required_for`) on every page but setting it up.

    Costs no query once the session has passed a second factor; before that, one to learn whether the user
    has an authenticator.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if not settings.MFA_ENFORCE or user is None or not user.is_authenticated:
            return None
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        if session_passed_mfa(request) or not mfa_required_for(user):
            return None
        url_name = request.resolver_match.url_name if request.resolver_match else None
        enrolled = Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()
        if url_name in (VERIFY_URL_NAMES if enrolled else SETUP_URL_NAMES):
            return None

        audit.record("mfa.required", actor=user, step="verify" if enrolled else "setup", path=request.path)
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": _("Two-factor authentication is required. Sign in on the web site first.")},
                status=403,
            )
        if enrolled:
            messages.warning(request, _("Confirm it is you with your second factor to continue."))
            target = reverse("mfa_reauthenticate")
        else:
            messages.warning(
                request,
                _(
                    "Your account must use two-factor authentication. Set up an authenticator app to "
                    "continue, or add a security key from the two-factor authentication page."
                ),
            )
            target = reverse("mfa_activate_totp")
        next_url = (
            request.get_full_path() if request.method == "GET" else reverse(settings.LOGIN_REDIRECT_URL)
        )
        return HttpResponseRedirect(f"{target}?{urlencode({'next': next_url})}")


def _mfa_enforcement_is_on(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if settings.MFA_ENFORCE:
        return []
    return [
        checks.Warning(
            "MFA_ENFORCE is off: curators and admin users can work without a second factor.",
            hint="Unset MFA_ENFORCE (it defaults to on) in production.",
            id="cases.W001",
        )
    ]


checks.register(_mfa_enforcement_is_on, checks.Tags.security, deploy=True)


# --- Sessions --------------------------------------------------------------------------------------------

AUTH_AT = "security.auth_at"
SEEN_AT = "security.seen_at"


def _now() -> float:
    """The clock sessions are measured with (tests move it)."""
    return time.time()


def _activity_resolution() -> float:
    """How stale the last-seen time may get before we write it again: a minute, or a tenth of a short idle
    window. Writing on every request would make every page view a database write."""
    return min(60.0, settings.SESSION_IDLE_TIMEOUT / 10)


@receiver(user_logged_in, dispatch_uid="tracker.accounts.security.start_session_clocks")
def _start_session_clocks(sender, request=None, user=None, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        now = _now()
        session[AUTH_AT] = now
        session[SEEN_AT] = now


class SessionLifetimeMiddleware:
    """Signs out a session idle for SESSION_IDLE_TIMEOUT or older than SESSION_ABSOLUTE_LIFETIME.

    The request then goes on as anonymous: pages send the visitor to sign in (with a message saying why),
    the API answers 401/403. Sign-in time and last activity live in the session itself.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session = request.session
        now = _now()
        auth_at, seen_at = session.get(AUTH_AT), session.get(SEEN_AT)
        if auth_at is None or seen_at is None:
            # A session from before these clocks existed: they start now.
            session[AUTH_AT] = session[SEEN_AT] = now
            return
        if now - auth_at >= settings.SESSION_ABSOLUTE_LIFETIME:
            self._expire(
                request,
                "absolute",
                _(
                    "You were signed out because your session reached its maximum length. "
                    "Please sign in again."
                ),
            )
        elif now - seen_at >= settings.SESSION_IDLE_TIMEOUT:
            self._expire(
                request, "idle", _("You were signed out after a period of inactivity. Please sign in again.")
            )
        elif now - seen_at >= _activity_resolution():
            session[SEEN_AT] = now
            if settings.USERSESSIONS_TRACK_ACTIVITY and session.session_key:
                UserSession.objects.filter(session_key=session.session_key).update(
                    last_seen_at=timezone.now()
                )

    @staticmethod
    def _expire(request: HttpRequest, reason: str, message: str) -> None:
        user_id = request.user.pk
        logout(request)
        audit.record("session.expire", actor=_user_ref(user_id), reason=reason)
        messages.info(request, message)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    def end_sessions(self, sessions) -> None:
        """Ends the chosen sessions (/accounts/sessions/, "sign out other sessions") and logs it."""
        sessions = list(sessions)
        super().end_sessions(sessions)
        for user_id in sorted({s.user_id for s in sessions}):
            count = sum(1 for s in sessions if s.user_id == user_id)
            audit.record("session.end_others", actor=_user_ref(user_id), count=count)


@receiver(pre_save, sender=UserSession, dispatch_uid="tracker.accounts.security.truncate_session_ip")
def _session_keeps_network_only(sender, instance: UserSession, **kwargs) -> None:
    """The session list shows roughly where a session came from; the database never holds the full address."""
    instance.ip = truncate_ip(instance.ip) or "0.0.0.0"  # noqa: S104 (a placeholder value, not a bind address)


# --- Refusals --------------------------------------------------------------------------------------------


class RefusalAuditMiddleware:
    """Every 403 (permission refused, CSRF failure) in the security log: who, what path."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A refusal that cases.access already audited, with its reason, is not recorded twice.
        if response.status_code == 403 and not getattr(request, "refusal_audited", False):
            user = getattr(request, "user", None)
            audit.record(
                "access.refused",
                actor=user if user is not None and user.is_authenticated else None,
                status=403,
                method=request.method,
                path=request.path,
                ip=ip_for_log(request),
            )
        return response


# Importing this module (it is loaded with the middleware) also connects the audit receivers.
from . import audit  # noqa: E402


def _user_ref(user_id):
    return audit._user(user_id)
