"""The "Download CSV" and "Download XLSX" on the recommendation list, the assessments browser and the evidence
list: exactly the rows the page lists under the same filters and sort, every page of them, and only what the
viewer may see (the pages' own functions build the rows: views.filtered_recommendations,
views.filtered_evidence, browse_views.filtered_assessments).

The cells are the API's (cases/api): its serializers give the columns and values, `api.renderers` joins
lists, spells nested objects `parent.child` and defuses formulas (a cell starting with = + - @, tab or
carriage return gets a leading '), so a hostile title cannot run in a spreadsheet. An assessment row adds its
review state (the browser also lists the viewer's organisation's work in review) and, as in the API, names
its organisation, never its author or reviewer.

CSV is streamed (StreamingHttpResponse, the rows read `.iterator(chunk_size=…)` with their prefetches per
chunk, as the API's export) and starts with a UTF-8 byte-order mark, so Excel reads Uyghur and Chinese text
correctly. XLSX is written by openpyxl in write-only mode (a row at a time) into a spooled temporary file.
Each download is audited (`export.download`: which list, which format, the names of the filters used).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from rest_framework import serializers as drf_serializers

from tracker.accounts import audit

from . import access
from .api import serializers
from .api.renderers import csv_columns, csv_lines, escape_cell
from .browse_views import filtered_assessments
from .models import Assessment, Evidence, Recommendation, Theme
from .views import filtered_evidence, filtered_recommendations

FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
# Rows held at once, and the batch size of each prefetch query (as the API's export).
CHUNK_SIZE = 500
# A spreadsheet cell holds at most this many characters; longer text is cut rather than refused.
XLSX_CELL_MAX = 32767
# The XLSX is built in memory up to this size, in a temporary file beyond.
XLSX_SPOOL = 16 * 1024 * 1024


class AssessmentRowSerializer(serializers.AssessmentSerializer):
    """The API's assessment row plus its review state. The API lists published assessments only; here a
    member also downloads her organisation's work in review, whose API link would lead nowhere."""

    review_state = drf_serializers.CharField(read_only=True)

    class Meta(serializers.AssessmentSerializer.Meta):
        fields = [*serializers.AssessmentSerializer.Meta.fields, "review_state"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not instance.is_published:
            data["url"] = None
        return data


# --- The rows: each list's own filtered rows, read as its API resource reads them ---------------------------


def _recommendation_rows(request: HttpRequest, viewer: access.Viewer) -> tuple[Any, bool, QuerySet]:
    base = Recommendation.objects.select_related("document", "state_claim").prefetch_related(
        Prefetch("themes", queryset=Theme.objects.only("id", "slug").order_by("slug"))
    )
    filterset, valid, _sort, queryset = filtered_recommendations(request, base)
    return filterset, valid, queryset


def _assessment_rows(request: HttpRequest, viewer: access.Viewer) -> tuple[Any, bool, QuerySet]:
    base = Assessment.objects.select_related("recommendation", "organisation")
    filterset, valid, _sort, queryset = filtered_assessments(request, viewer, base)
    queryset = access.with_cited_evidence(
        viewer, queryset, evidence=Evidence.objects.only("id").order_by("id")
    )
    return filterset, valid, queryset


def _evidence_rows(request: HttpRequest, viewer: access.Viewer) -> tuple[Any, bool, QuerySet]:
    base = Evidence.objects.prefetch_related(
        Prefetch("recommendations", queryset=Recommendation.objects.only("id", "code").order_by("code"))
    )
    return filtered_evidence(request, viewer, base)


@dataclass(frozen=True)
class Download:
    name: str  # the file's name and the audit row's `resource`
    page: str  # the list's URL name: where an invalid filter is shown
    serializer_class: type
    rows: Callable[[HttpRequest, access.Viewer], tuple[Any, bool, QuerySet]]


DOWNLOADS = {
    download.name: download
    for download in (
        Download(
            "recommendations",
            "cases:recommendation-list",
            serializers.RecommendationSerializer,
            _recommendation_rows,
        ),
        Download("assessments", "cases:assessment-list", AssessmentRowSerializer, _assessment_rows),
        Download("evidence", "cases:evidence-list", serializers.EvidenceSerializer, _evidence_rows),
    )
}


# --- Writing ------------------------------------------------------------------------------------------


def _items(queryset: QuerySet, serializer) -> Iterator[Mapping[str, Any]]:
    for obj in queryset.iterator(chunk_size=CHUNK_SIZE):
        yield serializer.to_representation(obj)
        # Let each row go once written (a prefetched queryset points back at its instance).
        obj.__dict__.pop("_prefetched_objects_cache", None)


def csv_stream(columns: list[str], items: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """The byte-order mark and the header (even for no rows), then the rows in batches."""
    lines = csv_lines(columns, items)
    yield (BOM + next(lines)).encode()
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= CHUNK_SIZE:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()


def xlsx_cell(value: Any) -> Any:
    """A cell's value: our numbers stay numbers; everything else is the CSV cell's text (formulas defused),
    less the control characters a workbook cannot hold, cut to a cell's limit."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", escape_cell(value))[:XLSX_CELL_MAX]


def _values(columns: list[str], item: Mapping[str, Any]) -> list[Any]:
    row = []
    for column in columns:
        value: Any = item
        for part in column.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        row.append(value)
    return row


def xlsx_file(title: str, columns: list[str], items: Iterable[Mapping[str, Any]]):
    """A workbook of one sheet (header row frozen), written a row at a time; returned rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    sheet.append(columns)
    for item in items:
        sheet.append([xlsx_cell(value) for value in _values(columns, item)])
    # Handed to FileResponse, which closes it once sent.
    output = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL)  # noqa: SIM115
    workbook.save(output)
    output.seek(0)
    return output


def _used_filters(form) -> list[str]:
    """The names of the filters given a value (never the values: they are text the user typed)."""
    used = []
    for name in form.fields:
        data = form[name].data
        values = data if isinstance(data, list | tuple) else [data]
        if any(value not in (None, "") for value in values):
            used.append(name)
    return used


@login_required
@require_safe
@access.require_role(access.MEMBER)
def download(request: HttpRequest, viewer: access.Viewer, resource: str, fmt: str) -> HttpResponse:
    spec = DOWNLOADS.get(resource)
    if spec is None or fmt not in FORMATS:
        raise Http404
    filterset, valid, queryset = spec.rows(request, viewer)
    if not valid:
        # The list page shows what is wrong with the filters; a file of no rows would hide it.
        query = request.GET.urlencode()
        return redirect(reverse(spec.page) + (f"?{query}" if query else ""))
    serializer = spec.serializer_class(context={"request": request})
    columns = csv_columns(serializer)
    items = _items(queryset, serializer)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    filename = f"{spec.name}-{stamp}.{fmt}"
    audit.record(
        "export.download",
        actor=request.user,
        organisation=viewer.organisation_id,
        resource=spec.name,
        format=fmt,
        filters=_used_filters(filterset.form),
    )
    if fmt == "csv":
        response = StreamingHttpResponse(csv_stream(columns, items), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            xlsx_file(spec.name, columns, items),
            as_attachment=True,
            filename=filename,
            content_type=XLSX_CONTENT_TYPE,
        )
    # What a download holds depends on who asks (unpublished work, internal sources): no cache keeps it.
    patch_cache_control(response, private=True, no_store=True)
    return response
