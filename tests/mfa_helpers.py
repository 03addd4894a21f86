"""Signing in with a second factor in tests.

`login_with_mfa(client, user)` is `client.force_login(user)` for users who must use two-factor
authentication (curators, staff; everyone with MFA_REQUIRED_FOR_ALL): it gives the user a TOTP authenticator
(if they have none) and records in the session, through allauth's own function, the password and TOTP steps
allauth records on a real sign-in. With MFA_ENFORCE on, such a session passes `MFAEnforcementMiddleware`.

`totp_code(secret)` computes the current code the way an authenticator app does (RFC 6238: HMAC-SHA1,
30-second steps, 6 digits), independently of allauth's implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.http import HttpRequest


def totp_code(secret: str, at: float | None = None, *, digits: int = 6, period: int = 30) -> str:
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(
        base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def activate_totp(user, secret: str | None = None) -> tuple[Authenticator, str]:
    """Gives `user` a TOTP authenticator through allauth's API; returns it and its secret."""
    secret = secret or generate_totp_secret()
    return TOTP.activate(user, secret).instance, secret


def totp_secret(authenticator: Authenticator) -> str:
    from allauth.mfa.utils import decrypt

    return decrypt(authenticator.data["secret"])


def login_with_mfa(client, user) -> Authenticator:
    """force_login, plus a TOTP authenticator and the session's record of a password + TOTP sign-in."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        authenticator, _secret = activate_totp(user)
    client.force_login(user)
    request = HttpRequest()
    request.session = client.session
    record_authentication(request, user, "password", username=user.get_username())
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
    request.session.save()
    return authenticator
