"""HTTP caching of the public pages: validators from the newest public change, and who may keep a copy.

Every public page shows the same public record, so one pair of validators serves them all:

- `Last-Modified`: the newest change the public could see (a publication, an edit of a recommendation,
  document or theme, of evidence that is or once was public, of a person who is public or consented).
- `ETag` (weak): a digest of those dates *and the row counts*, so a removal or a source made confidential,
  which dates nothing that is still public, changes it too; and of the language and whether the reader is
  signed in (the page's header differs).

Both come from one query (`public_state`, a UNION ALL of one aggregate row per table), computed once per
request and before the view, so a conditional GET that matches costs that one query and a 304.

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
from django.db.models import Count, Max, QuerySet, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import condition, require_safe

from cases import access
from cases.models import Document, Evidence, Organisation, Recommendation, Theme
from cases.people.models import Person

# Five minutes: long enough to absorb a burst of readers of a shared link, short enough that a correction
# reaches a cached reader soon (and revalidation is one cheap query).
PUBLIC_MAX_AGE = 300


@dataclass(frozen=True)
class PublicState:
    last_modified: datetime.datetime | None
    fingerprint: str


def _part(queryset: QuerySet, field: str) -> QuerySet:
    """One row for the whole of `queryset`: its newest `field` and its size. Grouping by a constant is no
    grouping, so the row is there even for an empty table."""
    return (
        queryset.order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(latest=Max(field), n=Count("pk"))
        .values_list("latest", "n")
    )


def _parts() -> list[QuerySet]:
    evidence_links = Evidence.recommendations.through.objects.filter(evidence__in=access.public_evidence())
    people_links = Person.recommendations.through.objects.filter(person__in=access.public_people())
    return [
        _part(access.public_assessments(), "published_at"),
        _part(Recommendation.objects.all(), "updated_at"),
        _part(Document.objects.all(), "updated_at"),
        _part(Theme.objects.all(), "updated_at"),
        _part(access.ever_public_evidence(), "updated_at"),
        _part(access.public_evidence(), "updated_at"),
        _part(evidence_links, "evidence__updated_at"),
        _part(access.ever_public_people(), "updated_at"),
        _part(access.public_people(), "updated_at"),
        _part(people_links, "person__updated_at"),
        # "a monitor of <organisation>": an organisation named, renamed or no longer named.
        _part(Organisation.objects.filter(public_name_allowed=True), "updated_at"),
    ]


def _as_datetime(value) -> datetime.datetime | None:
    # SQLite hands back the text of a MAX() over a UNION without the column's converter.
    if value is None or isinstance(value, datetime.datetime):
        return value
    parsed = datetime.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def public_state(request: HttpRequest) -> PublicState:
    """The validators of the public record (one query, once per request)."""
    cached = getattr(request, "_public_state", None)
    if cached is not None:
        return cached
    first, *rest = _parts()
    rows = list(first.union(*rest, all=True))
    dates = [_as_datetime(latest) for latest, _n in rows]
    last_modified = max((d for d in dates if d is not None), default=None)
    signed_in = bool(getattr(request.user, "is_authenticated", False))
    digest = hashlib.sha256(
        repr(
            (
                [(d.isoformat() if d else None, n) for d, (_l, n) in zip(dates, rows, strict=True)],
                translation.get_language(),
                signed_in,
            )
        ).encode()
    ).hexdigest()[:32]
    state = PublicState(last_modified=last_modified, fingerprint=f'W/"{digest}"')
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
