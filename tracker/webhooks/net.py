"""The network side of webhooks: where an endpoint may point (SSRF), how a delivery is signed and sent.

An endpoint URL must be http or https, carry no credentials, and its host must resolve only to public
addresses: never loopback, private (RFC 1918, unique local), link-local (169.254/16 holds cloud metadata),
multicast, reserved, unspecified or otherwise non-global ones. The check runs when the endpoint is
registered and again on every attempt, after DNS resolution, and the connection then goes to the very
address that was checked (`_Pinned*Connection`): a name that resolves to a public address at the check and
to 127.0.0.1 a moment later (DNS rebinding) cannot reach the inside. HTTPS still verifies the certificate
against the host name. Redirects are not followed (a 3xx is a failed attempt: it could point anywhere), and
no proxy from the environment is used.

`settings.WEBHOOKS_ALLOW_LOOPBACK` lets loopback addresses (127.0.0.0/8, ::1) through, and nothing else:
for tests and a receiver on the same machine.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SIGNATURE_HEADER = "Tracker-Signature"
EVENT_HEADER = "Tracker-Event"
DELIVERY_HEADER = "Tracker-Delivery"
USER_AGENT = "AccountabilityTracker-Webhooks/1"
# What is kept of a response body for the delivery log (and read at most: a receiver may answer anything).
EXCERPT_BYTES = 1000


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Tracker-Signature` header's value: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (and the tests): the signature matches and its time is within `tolerance`
    seconds (replays of an old delivery are refused)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- Where an endpoint may point -------------------------------------------------------------------------


class Refused(ValidationError):
    """The URL is not one we send to (scheme, credentials, or an address inside)."""


def _loopback_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_LOOPBACK", False))


def address_refused(address: str) -> bool:
    """Is this an address no webhook may reach? Loopback passes only with WEBHOOKS_ALLOW_LOOPBACK."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is no part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_loopback:
        return not _loopback_allowed()
    return (
        ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (a module function, so tests can stand in a resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str
    port: int
    address: str  # the checked address the connection goes to


def check_url_shape(url: str) -> tuple[str, str, int]:
    """Scheme http(s), a host, no credentials; returns (scheme, host, port). Raises Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(_("Enter a valid http or https URL."), code="invalid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(_("The URL must start with http:// or https:// and name a host."), code="scheme")
    if parts.username is not None or parts.password is not None:
        raise Refused(_("The URL may not contain a user name or password."), code="credentials")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_destination(url: str) -> Destination:
    """Resolve the URL's host and refuse it unless every address is one we may send to. Raises Refused."""
    scheme, host, port = check_url_shape(url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise Refused(_("The host name could not be resolved."), code="unresolved") from None
    if not addresses:
        raise Refused(_("The host name could not be resolved."), code="unresolved")
    for address in addresses:
        if address_refused(address):
            raise Refused(
                _(
                    "The URL points at a loopback, private, link-local, multicast or reserved address; "
                    "webhooks are only sent to public addresses."
                ),
                code="address",
            )
    return Destination(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


# --- Sending ---------------------------------------------------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to now."""

    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        # The certificate is checked against the host name in the URL, as for any HTTPS request.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self._address = address

    def http_open(self, req):
        return self.do_open(functools.partial(_PinnedHTTPConnection, address=self._address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__()
        self._address = address

    def https_open(self, req):
        return self.do_open(
            functools.partial(_PinnedHTTPSConnection, address=self._address), req, context=self._context
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx is then raised as an HTTPError: a failed attempt


@dataclass
class Outcome:
    ok: bool
    code: int | None = None
    excerpt: str = ""
    error: str = ""


def _excerpt(stream) -> str:
    try:
        return stream.read(EXCERPT_BYTES).decode("utf-8", "replace") if stream is not None else ""
    except (OSError, http.client.HTTPException):
        return ""


def send(url: str, secret: str, body: bytes, *, event: str, delivery_id: str) -> Outcome:
    """POST one delivery: checked (again, after resolution) and sent to the checked address, signed, with a
    short timeout. A 2xx is success; anything else, a refusal of the address, or a network error, a failure."""
    try:
        destination = check_destination(url)
    except Refused as exc:
        return Outcome(ok=False, error=" ".join(exc.messages))
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked: http or https only)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id,
        },
    )
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        _PinnedHTTPHandler(destination.address),
        _PinnedHTTPSHandler(destination.address),
    )
    timeout = getattr(settings, "WEBHOOKS_TIMEOUT", 5)
    try:
        with opener.open(request, timeout=timeout) as response:
            code = response.status
            return Outcome(ok=200 <= code < 300, code=code, excerpt=_excerpt(response))
    except urllib.error.HTTPError as exc:
        return Outcome(ok=False, code=exc.code, excerpt=_excerpt(exc), error=f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(ok=False, error=f"{type(exc).__name__}: {reason}"[:500])
