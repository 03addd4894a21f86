"""The recommendation lists' totals ("1-50 of N recommendations") and page links without counting every
matching row on every load (issue 14).

- Filters on the document and the two statuses only (the unfiltered list included): the exact total, from
  the maintained status counts (cases.status_counts; their whole-index totals without a document filter),
  whatever the number of recommendations.
- Any other filter (addressee, theme, text search): the matching rows are counted up to a bound, never
  further. Below it the total is exact; past it the page says "more than N" and links the pages up to the
  bound. The bound is COUNT_THRESHOLD rows, or two pages past the one asked for, whichever is larger, so the
  count never reads more rows than the page's own OFFSET does (plus two pages), and every page stays one
  "Next" away.

Why not an estimate from the planner: SQLite has none for a filtered query (its statistics are per index
prefix), PostgreSQL's can be wrong by orders of magnitude for a text search combined with other filters,
and a monitor reading "about 12,000" that is really 900 is misled; "more than 1,000" is true. Why not
keyset "next" links only: the list sorts on computed keys (the status rank), its page numbers are shared in
URLs (?page=7), and most filtered lists are short enough for an exact total at no cost.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.utils.functional import cached_property

from . import access

COUNT_THRESHOLD = 1000
# The filters whose exact total the maintained counts give (cases.models.StatusCount's key).
COUNTED_FILTERS = {"document", "implementation_status", "state_response"}


class BoundedPaginator(Paginator):
    """A Paginator given its count: `exact` False means "at least `count`" (more rows may follow)."""

    def __init__(self, object_list, per_page: int, *, count: int, exact: bool) -> None:
        super().__init__(object_list, per_page)
        self._given_count = count
        self.exact = exact

    @cached_property
    def count(self) -> int:
        return self._given_count


class DeferredRows:
    """A page's rows by a deferred join: the page's keys are read from the bare filtered rows, in the list's
    order (on its indexes, without the list's joins), and only those keys get the list's joins (document,
    State claim, translations). With a plain OFFSET the database joins every skipped row first: the last
    page of 300,000 took 640-904 ms on SQLite for that alone. Still one query (the keys are its IN
    subquery), plus the themes' prefetch. `rows` may be wider than `keys` (the unfiltered rows): the keys
    pick the page out of it."""

    ordered = True  # Paginator's warning about unordered lists: both querysets carry the list's ordering

    def __init__(self, keys: QuerySet, rows: QuerySet) -> None:
        self.keys = keys
        self.rows = rows

    def __getitem__(self, index: slice) -> list:
        if not isinstance(index, slice):
            raise TypeError("DeferredRows is only sliced")
        return list(self.rows.filter(pk__in=self.keys.values("pk")[index]))


def _maintained_total(cleaned: dict) -> int:
    # Without a document, the whole index's totals (at most 20 rows); with one, that document's counts.
    if cleaned.get("document"):
        counts = access.visible_status_counts().filter(document=cleaned["document"])
    else:
        counts = access.visible_status_totals()
    for name in ("implementation_status", "state_response"):
        if cleaned.get(name):
            counts = counts.filter(**{name: cleaned[name]})
    return counts.aggregate(n=Sum("count"))["n"] or 0


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page") or 1))
    except ValueError:
        return 1


def total(request: HttpRequest, filterset, valid: bool, counted: QuerySet, per_page: int) -> tuple[int, bool]:
    """(count, exact) for the list's filters. `counted`: the filtered rows without the list's joins and
    annotations (a plain Recommendation queryset), so the count reads only what the filters need. One query."""
    if not valid:
        return 0, True
    cleaned = filterset.form.cleaned_data
    active = {name for name, value in cleaned.items() if value not in (None, "", [])}
    if active <= COUNTED_FILTERS:
        return _maintained_total(cleaned), True
    bound = max(COUNT_THRESHOLD, (_page_number(request) + 2) * per_page)
    found = counted.order_by().values("pk")[: bound + 1].count()
    return (found, True) if found <= bound else (bound, False)


def paginate(
    request: HttpRequest,
    filterset,
    valid: bool,
    counted: QuerySet,
    rows: QuerySet,
    per_page: int,
    *,
    many: Callable[[], QuerySet] | None = None,
) -> Page:
    """The page of `rows` the request asks for, counted as above; `page.paginator.exact` tells the template
    whether to say "of N" or "of more than N". The page's keys are read from `counted` (DeferredRows);
    `rows` is a set of rows with the list's joins, in the same order, that holds them: `counted` itself, or
    (cheaper) the unfiltered rows, so that the filters are not applied a second time around the keys.
    `many`, if given, makes `counted` again for when the count has reached its bound (many rows match): a
    text search then reads its rows in the list's order (cases.search.search_recommendations, `many`)."""
    count, exact = total(request, filterset, valid, counted, per_page)
    keys = counted if exact or many is None else many()
    paginator = BoundedPaginator(DeferredRows(keys, rows), per_page, count=count, exact=exact)
    # get_page() turns a missing, malformed or out-of-range page number into the nearest real page.
    page = paginator.get_page(request.GET.get("page"))
    page.elided_range = list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return page
