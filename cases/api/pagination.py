"""Keyset ("cursor") pagination on a unique order, so every page costs the same at any depth.

DRF's CursorPagination remembers only the first ordering column plus an offset among equal values, which
grows without bound on a low-cardinality order (all the `not_implemented` recommendations) and shifts when
rows change between requests. Here the cursor holds the values of *every* ordering column of the row at the
page's edge, the ordering always ends on a unique column, and the next page is the rows strictly after that
tuple: `WHERE (a > x) OR (a = x AND b > y) ... ORDER BY a, b LIMIT n + 1`. No offset, no count query.

Only non-nullable columns may be ordered on (a NULL has no place in a tuple comparison); the API views
whitelist them in `ordering_fields`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections import OrderedDict
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, _positive_int
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

MAX_CURSOR_LENGTH = 2000


def stable_ordering(
    request, queryset: QuerySet, view, default: tuple[str, ...] = ("-updated_at", "-id")
) -> tuple:
    """The request's ordering (the view's OrderingFilter, else the view's or the given default), cut after
    its first unique column or completed with the view's unique tiebreaker (`cursor_tiebreaker`, "id" by
    default). Every term is a plain, non-nullable column of the model."""
    ordering = None
    for backend in getattr(view, "filter_backends", ()):
        if hasattr(backend, "get_ordering"):
            ordering = backend().get_ordering(request, queryset, view)
            break
    if not ordering:
        ordering = getattr(view, "ordering", None) or default
    if isinstance(ordering, str):
        ordering = (ordering,)
    opts = queryset.model._meta
    result: list[str] = []
    for term in ordering:
        name = term.lstrip("-")
        field = _field(opts, name)
        result.append(("-" if term.startswith("-") else "") + field.name)
        if field.unique or field.primary_key:
            return tuple(result)
    tiebreaker = getattr(view, "cursor_tiebreaker", opts.pk.name)
    field = _field(opts, tiebreaker)
    if not (field.unique or field.primary_key):
        raise ImproperlyConfigured(f"cursor_tiebreaker {tiebreaker!r} is not a unique column")
    direction = "-" if result and result[0].startswith("-") else ""
    return (*result, direction + field.name)


def _field(opts, name: str):
    if name == "pk":
        return opts.pk
    try:
        field = opts.get_field(name)
    except FieldDoesNotExist:
        raise ImproperlyConfigured(f"cannot order a cursor page on {name!r}") from None
    if field.null or field.is_relation:
        # A NULL would break the tuple comparison; a relation would order on another table.
        raise ImproperlyConfigured(f"cannot order a cursor page on nullable or related column {name!r}")
    return field


def keyset_condition(ordering: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after `values` in `ordering`: (a > x) | (a = x & b > y) | ... (`<` for descending)."""
    condition = Q()
    equal: dict[str, Any] = {}
    for term, value in zip(ordering, values, strict=True):
        name = term.lstrip("-")
        lookup = "lt" if term.startswith("-") else "gt"
        condition |= Q(**equal, **{f"{name}__{lookup}": value})
        equal[name] = value
    return condition


def _reverse(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(term[1:] if term.startswith("-") else "-" + term for term in ordering)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


class StableCursorPagination(BasePagination):
    """Keyset pages with `next`/`previous` links; a client may ask for fewer rows, never for more than the
    maximum."""

    cursor_query_param = "cursor"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-updated_at", "-id")
    invalid_cursor_message = _(
        "Invalid cursor: use the `next` or `previous` link as given, with the same ordering."
    )

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        self.ordering = stable_ordering(request, queryset, view, self.ordering)
        self.model = queryset.model
        cursor = self.decode_cursor(request)
        reverse = bool(cursor and cursor[1])
        order = _reverse(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*order)
        if cursor is not None:
            queryset = queryset.filter(keyset_condition(order, cursor[0]))

        # One extra row tells whether there is a page beyond this one, without a count.
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
        self.next_values = self.previous_values = None
        if page:
            first, last = self._position(page[0]), self._position(page[-1])
            if reverse:
                self.next_values = last
                self.previous_values = first if more else None
            else:
                self.next_values = last if more else None
                self.previous_values = first if cursor is not None else None
        return page

    def get_page_size(self, request) -> int:
        try:
            return _positive_int(
                request.query_params[self.page_size_query_param], strict=True, cutoff=self.max_page_size
            )
        except (KeyError, ValueError):
            return self.page_size

    def _position(self, instance: Model) -> list[Any]:
        opts = self.model._meta
        return [getattr(instance, _field(opts, term.lstrip("-")).attname) for term in self.ordering]

    # --- cursors --------------------------------------------------------------------------------------

    def encode_cursor(self, values: list[Any], reverse: bool) -> str:
        payload = {"o": list(self.ordering), "v": [_to_json(v) for v in values]}
        if reverse:
            payload["r"] = 1
        token = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, token.rstrip("="))

    def decode_cursor(self, request) -> tuple[list[Any], bool] | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        try:
            if len(token) > MAX_CURSOR_LENGTH:
                raise ValueError("too long")
            payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(payload, dict) or payload.get("o") != list(self.ordering):
                raise ValueError("not a cursor of this ordering")
            raw, reverse = payload.get("v"), payload.get("r", 0)
            if not isinstance(raw, list) or len(raw) != len(self.ordering) or reverse not in (0, 1):
                raise ValueError("malformed")
            opts = self.model._meta
            pairs = zip(self.ordering, raw, strict=True)
            values = [self._parse(_field(opts, term.lstrip("-")), value) for term, value in pairs]
        except (ValueError, TypeError, OverflowError, UnicodeError, binascii.Error, DjangoValidationError):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        return values, bool(reverse)

    @staticmethod
    def _parse(field, value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            raise ValueError("not a column value")
        parsed = field.to_python(value)
        if parsed is None:
            raise ValueError("not a column value")
        if isinstance(parsed, datetime.datetime):
            if timezone.is_naive(parsed):
                parsed = parsed.replace(tzinfo=datetime.UTC)
            # Raises OverflowError here, not later in the query, for instants at the edge of the calendar.
            parsed = parsed.astimezone(datetime.UTC)
        return parsed

    # --- response -------------------------------------------------------------------------------------

    def get_next_link(self) -> str | None:
        return None if self.next_values is None else self.encode_cursor(self.next_values, reverse=False)

    def get_previous_link(self) -> str | None:
        return (
            None if self.previous_values is None else self.encode_cursor(self.previous_values, reverse=True)
        )

    def get_paginated_response(self, data) -> Response:
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        # The same links as an RFC 8288 header, so `?format=csv` pages (no envelope) can follow them.
        links = [
            f'<{url}>; rel="{rel}"' for rel, url in (("next", next_link), ("prev", previous_link)) if url
        ]
        return Response(
            OrderedDict([("next", next_link), ("previous", previous_link), ("results", data)]),
            headers={"Link": ", ".join(links)} if links else None,
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page, or null on the last page."},
                "previous": {**link, "description": "The previous page, or null on the first page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Opaque position of a page. Follow the `next` and `previous` links; do not build it.")
                ),
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Rows per page (default %(default)s, at most %(max)s; larger values are capped).")
                    % {"default": self.page_size, "max": self.max_page_size}
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
