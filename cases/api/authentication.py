"""Organisation keys for the export: `Authorization: Bearer <key>`.

A key authenticates an organisation, not a person, so `request.user` becomes a `KeyPrincipal` (authenticated,
member of no group, no database row) and `request.auth` the `ApiKey`; `access.viewer_for_request` turns that
into a viewer with the key's clearance. Any Authorization header that is present but not a usable key is a
401, never a fall-through to the session and never a 500.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from cases import services
from cases.models import ApiKey
from tracker.accounts import audit
from tracker.accounts.security import ip_for_log

from .throttling import KeyGuessThrottle

KEYWORD = "Bearer"
# Longer than any key services.issue_api_key makes; bounds the work done on hostile input.
MAX_HEADER_LENGTH = 256
# What services.issue_api_key makes a prefix of: only a string of this shape is an identifier worth
# recording; anything else is text the client typed and is never written to the audit trail.
PREFIX_SHAPE = re.compile(rf"[0-9a-f]{{{services.KEY_PREFIX_LENGTH}}}")


class KeyPrincipal:
    """Stands in for `request.user` on key requests: authenticated, but no person and no role.

    `pk` is None and the role cache is empty, so nothing that looks for a user's groups or organisation
    membership ever treats a key as a member (access.viewer_for_request decides by `request.auth`)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey):
        self.key = key
        self.username = f"apikey:{key.prefix}"
        # roles._in_group reads this cache before it would query the (absent) user's groups.
        self._role_names: set[str] = set()

    def __str__(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <prefix>.<secret>` with a key issued by `manage.py apikey create`.

    Every refused attempt is audited (`apikey.refused`: the prefix when it is shaped like one, the reason,
    the client's network; never the text sent) and counted against the client's network; a network that
    keeps failing is throttled (`throttling.KeyGuessThrottle`, audited once per window as `apikey.throttled`).
    """

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None or not header.strip():
            return None  # no credentials offered: let the session try, else 401 from the permission check
        network = ip_for_log(request)
        guesses = KeyGuessThrottle(network)
        if guesses.blocked():
            if guesses.first_block():
                audit.record("apikey.throttled", ip=network)
            raise exceptions.Throttled(wait=guesses.wait)
        key = self._key_from_header(header, guesses, network)
        return KeyPrincipal(key), key

    def _key_from_header(self, header: str, guesses: KeyGuessThrottle, network: str) -> ApiKey:
        # WSGI hands headers over as latin-1 text; anything outside printable ASCII cannot be one of our keys.
        if len(header) > MAX_HEADER_LENGTH or not header.isascii() or not header.isprintable():
            raise self._refuse("malformed", guesses, network)
        parts = header.split()
        if parts[0].lower() != KEYWORD.lower():
            raise exceptions.AuthenticationFailed(_("Use “Authorization: Bearer <key>”."))
        if len(parts) != 2:
            raise self._refuse("malformed", guesses, network)
        key = services.authenticate_api_key(parts[1])
        if key is None:
            # One message for unknown, expired and revoked keys: the answer must not help a guesser.
            prefix = parts[1].partition(".")[0]
            raise self._refuse(
                "invalid",
                guesses,
                network,
                prefix=prefix if PREFIX_SHAPE.fullmatch(prefix) else None,
                message=_("Invalid, expired or revoked key."),
            )
        return key

    @staticmethod
    def _refuse(
        reason: str, guesses: KeyGuessThrottle, network: str, *, prefix: str | None = None, message=None
    ) -> exceptions.AuthenticationFailed:
        guesses.failed()
        audit.record("apikey.refused", prefix=prefix, reason=reason, ip=network)
        return exceptions.AuthenticationFailed(
            message or _("Malformed Authorization header; use “Bearer <key>”.")
        )

    def authenticate_header(self, request) -> str:
        # Present on every 401, which is also what makes DRF answer 401 (not 403) to anonymous requests.
        return f'{KEYWORD} realm="api"'
