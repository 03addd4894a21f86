"""HTTP caching of the public pages: validators from the public record's version, and who may keep a copy.

Every public page shows the same public record, so one pair of validators serves them all, both from the
maintained version (cases.public_version: one row that database triggers bump in the statement that changes
anything a public page shows — a publication, a correction, an edit of a recommendation, document, theme or
translation, public evidence and its links, a counted person and their links, a named organisation — and
nothing else):

- `Last-Modified`: the row's `changed_at`, the time of the latest such change.
- `ETag` (weak): a digest of the version, that time, the language and whether the reader is signed in (the
  page's header differs).

One primary-key lookup (`public_state`), once per request and before the view, so a conditional GET that
matches costs that one query and a 304, whatever the size of the record.

Who may keep a copy: anonymous readers' pages are `Cache-Control: public, max-age=300` (they carry no cookie
and nothing personal: the public pages have no CSRF token, see templates/public/_language_links.html); a
signed-in reader's are `private, no-cache`. `Vary: Accept-Language, Cookie`: unprefixed addresses answer
by the language cookie and Accept-Language (tracker.accounts.language), and by whether a session is there.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import condition, require_safe

from cases import public_version

# Five minutes: long enough to absorb a burst of readers of a shared link, short enough that a correction
# reaches a cached reader soon (and revalidation is one cheap query).
PUBLIC_MAX_AGE = 300


@dataclass(frozen=True)
class PublicState:
    last_modified: datetime.datetime | None
    fingerprint: str


def public_state(request: HttpRequest) -> PublicState:
    """The validators of the public record (one query, once per request)."""
    cached = getattr(request, "_public_state", None)
    if cached is not None:
        return cached
    version, changed_at = public_version.read()
    signed_in = bool(getattr(request.user, "is_authenticated", False))
    stamp = changed_at.isoformat() if changed_at else None
    digest = hashlib.sha256(
        repr((version, stamp, translation.get_language(), signed_in)).encode()
    ).hexdigest()
    state = PublicState(last_modified=changed_at, fingerprint=f'W/"{digest[:32]}"')
    request._public_state = state
    return state


def _etag(request: HttpRequest, *args, **kwargs) -> str:
    return public_state(request).fingerprint


def _last_modified(request: HttpRequest, *args, **kwargs) -> datetime.datetime | None:
    return public_state(request).last_modified


def public_page(view: Callable) -> Callable:
    """A public page: 404 unless PUBLIC_SITE is on; GET and HEAD only; no sign-in; answered 304 when the
    reader's copy is current; cacheable by anyone for an anonymous reader, by the browser alone otherwise."""
    conditional = condition(etag_func=_etag, last_modified_func=_last_modified)(view)

    @require_safe
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.PUBLIC_SITE:
            raise Http404
        response = conditional(request, *args, **kwargs)
        set_cache_headers(request, response)
        return response

    return wrapped


def set_cache_headers(request: HttpRequest, response: HttpResponse) -> None:
    """`public, max-age=300` for an anonymous reader's page; `private, no-cache` for a signed-in one's (and
    for any response that sets a cookie: a shared cache must never hand one reader's cookie to another)."""
    if getattr(request.user, "is_authenticated", False) or response.cookies:
        patch_cache_control(response, private=True, no_cache=True)
    else:
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
