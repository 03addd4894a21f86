"""Organisation keys for the export: `Authorization: Bearer <key>`.

A key authenticates an organisation, not a person, so `request.user` becomes a `KeyPrincipal` (authenticated,
member of no group, no database row) and `request.auth` the `ApiKey`; `access.viewer_for_request` turns that
into a viewer with the key's clearance. Any Authorization header that is present but not a usable key is a
401, never a fall-through to the session and never a 500.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from cases import services
from cases.models import ApiKey

security_log = logging.getLogger("security")

KEYWORD = "Bearer"
# Longer than any key services.issue_api_key makes; bounds the work done on hostile input.
MAX_HEADER_LENGTH = 256


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
    """`Authorization: Bearer <prefix>.<secret>` with a key issued by `manage.py apikey create`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None or not header.strip():
            return None  # no credentials offered: let the session try, else 401 from the permission check
        key = self._key_from_header(header)
        return KeyPrincipal(key), key

    def _key_from_header(self, header: str) -> ApiKey:
        # WSGI hands headers over as latin-1 text; anything outside printable ASCII cannot be one of our keys.
        if len(header) > MAX_HEADER_LENGTH or not header.isascii() or not header.isprintable():
            raise self._refuse("malformed")
        parts = header.split()
        if parts[0].lower() != KEYWORD.lower():
            raise exceptions.AuthenticationFailed(_("Use “Authorization: Bearer <key>”."))
        if len(parts) != 2:
            raise self._refuse("malformed")
        key = services.authenticate_api_key(parts[1])
        if key is None:
            # One message for unknown, expired and revoked keys: the answer must not help a guesser.
            security_log.info(
                "apikey.refused prefix=%s", parts[1].partition(".")[0][: services.KEY_PREFIX_LENGTH]
            )
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked key."))
        return key

    @staticmethod
    def _refuse(reason: str) -> exceptions.AuthenticationFailed:
        security_log.info("apikey.refused reason=%s", reason)
        return exceptions.AuthenticationFailed(_("Malformed Authorization header; use “Bearer <key>”."))

    def authenticate_header(self, request) -> str:
        # Present on every 401, which is also what makes DRF answer 401 (not 403) to anonymous requests.
        return f'{KEYWORD} realm="api"'
