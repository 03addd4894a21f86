"""`/api/v1/export/<resource>.csv`: the whole filtered set as one streamed CSV file.

Same authentication, throttles, visibility (the resource's `get_queryset`), filters and ordering as the
list. Recommendations, the one export of a large table, are written straight from `values_list()` rows
(csv_rows.py; the same bytes as the serializer); the others through the serializer. Memory stays flat however many rows there are: the queryset is read with `.iterator(chunk_size=…)`,
which also runs each prefetch per chunk, so a chunk of rows and their themes or evidence is all that is held
at once and the number of queries grows with rows / chunk, not with rows.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import ImproperlyConfigured
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer

from tracker.accounts import audit

from . import people, views
from .csv_rows import RecommendationRows
from .pagination import stable_ordering
from .renderers import csv_columns, csv_lines
from .views import ErrorsAsJSON


class CSVExportMixin:
    """Placed before GenericAPIView and after a resource (views.*Resource), which brings the queryset,
    serializer, filter set, ordering, authentication and throttles."""

    content_negotiation_class = ErrorsAsJSON
    streams_whole_set = True
    # Rows held at once; also the batch size of each prefetch query.
    chunk_size = 500
    resource = ""
    # Writes the rows straight from the database (csv_rows.py), the same bytes as the serializer; None: the
    # serializer writes each row.
    row_reader: type | None = None

    def stream(self, request):
        # Filters and ordering are validated here, before the first byte: a bad parameter is a JSON 400.
        queryset = self.filter_queryset(self.get_queryset())
        queryset = queryset.order_by(*stable_ordering(request, queryset, self))
        columns = csv_columns(self.get_serializer())
        response = StreamingHttpResponse(
            self._stream(columns, queryset), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="{self.resource}-{stamp}.csv"'
        return response

    def _stream(self, columns: list[str], queryset) -> Iterator[bytes]:
        if self.row_reader is not None:
            reader = self.row_reader(self.request, self.chunk_size)
            if reader.columns != columns:
                raise ImproperlyConfigured(
                    f"{self.row_reader.__name__} does not write the serializer's columns"
                )
            return reader.stream(queryset)
        return self._serialized(columns, queryset)

    def _serialized(self, columns: list[str], queryset) -> Iterator[bytes]:
        serializer_class = self.get_serializer_class()
        context = self.get_serializer_context()
        lines = csv_lines(columns, self._rows(queryset, serializer_class, context))
        yield next(lines).encode()  # the header, even for an empty set
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= self.chunk_size:
                yield "".join(batch).encode()
                batch = []
        if batch:
            yield "".join(batch).encode()

    def _rows(self, queryset, serializer_class, context) -> Iterator[dict]:
        # One serializer for the whole stream: a serializer made per chunk would hold its rows in reference
        # cycles (parent <-> fields, serializer <-> data) that only the garbage collector frees.
        serializer = serializer_class(context=context)
        for obj in queryset.iterator(chunk_size=self.chunk_size):
            yield serializer.to_representation(obj)
            # A prefetched queryset points back at its instance (its `_hints`), another cycle; dropping the
            # cache lets each row go as soon as it is written.
            obj.__dict__.pop("_prefetched_objects_cache", None)


def _export(resource_class, name: str, summary, row_reader: type | None = None) -> type:
    class Export(resource_class, CSVExportMixin, GenericAPIView):
        __doc__ = f"Stream every {name} row you may see as CSV."
        resource = name
        renderer_classes = [JSONRenderer]
        pagination_class = None

        @extend_schema(
            summary=summary,
            description=_(
                "The whole filtered set as one CSV file (no pagination), streamed. Same filters and "
                "`ordering` as the list; same fields as its `?format=csv`."
            ),
            responses={(200, "text/csv"): {"type": "string", "format": "binary"}},
        )
        def get(self, request, *args, **kwargs):
            return self.stream(request)

    Export.row_reader = row_reader
    Export.__name__ = Export.__qualname__ = f"{resource_class.__name__.removesuffix('Resource')}Export"
    return Export


RecommendationExport = _export(
    views.RecommendationResource,
    "recommendations",
    _("Export recommendations as CSV"),
    row_reader=RecommendationRows,
)
AssessmentExport = _export(views.AssessmentResource, "assessments", _("Export published assessments as CSV"))
EvidenceExport = _export(views.EvidenceResource, "evidence", _("Export evidence as CSV"))
DocumentExport = _export(views.DocumentResource, "documents", _("Export documents as CSV"))
ThemeExport = _export(views.ThemeResource, "themes", _("Export themes as CSV"))


_PeopleExportBase = _export(
    people.PersonResource, "people", _("Export people as CSV (redacted by consent and clearance)")
)


class PeopleExport(_PeopleExportBase):
    """Every person the viewer may know of, redacted exactly as `/api/v1/people/` (`access.exported_people`:
    names and identifying details only with consent or to the holder's members, "never export" fields never).
    The read is audited once the stream ends (or is cut): `person.list` with the rows sent and how many were
    identified."""

    def _rows(self, queryset, serializer_class, context) -> Iterator[dict]:
        count = identified = 0
        try:
            for row in super()._rows(queryset, serializer_class, context):
                count += 1
                identified += bool(row.get("identified"))
                yield row
        finally:
            audit.record(
                "person.list",
                actor=self._actor(),
                organisation=self.viewer.organisation_id,
                count=count,
                identified=identified,
                export=True,
            )


PeopleExport.__name__ = PeopleExport.__qualname__ = "PeopleExport"

EXPORTS = {
    cls.resource: cls
    for cls in (
        RecommendationExport,
        AssessmentExport,
        EvidenceExport,
        DocumentExport,
        ThemeExport,
        PeopleExport,
    )
}
