"""The curators' import page (`/import/`): upload → parsed by a background task (a progress bar) → the
preview, with the unknown values to map → confirm → applied by a background task → the report, which
stays.

Curators only (`require_role(CURATOR)`: a monitor gets 403). An upload or a report belongs to one
organisation: another organisation's curator gets 404, as if it did not exist (`get_upload_for`,
`_get_run_for`). Every state change is a POST answered with a redirect; the tasks do the work.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import access
from cases.models import ImportRun
from tracker.accounts.audit import record

from . import tasks
from .forms import UploadForm, ValueMapForm
from .tasks import Conflict, Upload

# Rejected rows shown on a page; all of them are in the CSV download.
REJECTIONS_SHOWN = 100
RECENT_RUNS = 20
# Seconds between reloads of a page whose task is running, for browsers without JavaScript (with it, the
# page polls the status endpoint every second and reloads only when the status changes).
REFRESH_SECONDS = 3


def get_upload_for(viewer: access.Viewer, token: str) -> Upload:
    upload = Upload.get(token)
    if upload is None or not access.is_own_organisation(viewer, upload.organisation_id):
        raise Http404
    if upload.status == tasks.DISCARDED:
        raise Http404
    return upload


def accept_upload(request: HttpRequest, viewer: access.Viewer, form, start_parse) -> Upload:
    """Keep a valid upload form's file for the viewer's organisation, audit it and queue its reading
    (`start_parse`: the recommendations' or the people's task), the audit row and the task in one
    transaction."""
    upload = Upload.create(
        form.cleaned_data["file"],
        user=request.user,
        organisation_id=viewer.organisation_id,
        options=form.options(),
    )
    with transaction.atomic():
        record(
            "import.upload",
            actor=request.user,
            organisation=viewer.organisation_id,
            upload=upload.token,
            bytes=upload.state["size"],
            sha256=upload.state["sha256"][:16],
        )
        start_parse(upload)
    return upload


def _get_run_for(viewer: access.Viewer, pk: int) -> ImportRun:
    return access.get_import_run_for(viewer, pk)


@require_http_methods(["GET", "POST"])
@access.require_role(access.CURATOR)
def import_index(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = accept_upload(request, viewer, form, tasks.start_parse)
            return redirect("cases:import-upload", token=upload.token)
    else:
        form = UploadForm()
    runs = ImportRun.objects.filter(organisation_id=viewer.organisation_id).select_related("created_by")
    return render(
        request,
        "cases/imports/index.html",
        {
            "form": form,
            "uploads": Upload.all_for(viewer.organisation_id),
            "runs": runs[:RECENT_RUNS],
        },
    )


@require_GET
@access.require_role(access.CURATOR)
def upload_detail(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    upload = get_upload_for(viewer, token)
    if (upload.state.get("options") or {}).get("kind") == "people":
        return redirect("cases:people-import-upload", token=token)  # cases/people/import_views.py
    if upload.status == tasks.DONE and upload.state.get("run_id"):
        return redirect("cases:import-report", pk=upload.state["run_id"])
    preview = upload.state.get("preview")
    map_form = None
    if upload.status == tasks.PREVIEW and preview:
        map_form = ValueMapForm(unknown=preview.get("unknown", {}), current=upload.state["options"]["values"])
    response = render(
        request,
        "cases/imports/upload.html",
        {
            "upload": upload,
            "state": upload.state,
            "preview": preview,
            "rejections": (preview or {}).get("rejections", [])[:REJECTIONS_SHOWN],
            "map_form": map_form,
            "failed_runs": ImportRun.objects.filter(
                pk__in=upload.state.get("failed_runs", []), organisation_id=viewer.organisation_id
            ),
            "refresh_seconds": REFRESH_SECONDS,
        },
    )
    if upload.busy:
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@require_GET
@access.require_role(access.CURATOR)
def upload_status(request: HttpRequest, viewer: access.Viewer, token: str) -> JsonResponse:
    """What the progress bar polls: the status, the progress, the error (no preview: the page has it)."""
    upload = get_upload_for(viewer, token)
    state = upload.state
    return JsonResponse(
        {
            "status": state["status"],
            "busy": upload.busy,
            "progress": state.get("progress") or {},
            "attempts": state.get("attempts") or {},
            "error": state.get("error", ""),
            "run_id": state.get("run_id"),
        },
        headers={"Cache-Control": "no-store"},
    )


@require_POST
@access.require_role(access.CURATOR)
def upload_map(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    """Keep the curator's choices for the unknown values and parse the file again with them."""
    upload = get_upload_for(viewer, token)
    preview = upload.state.get("preview") or {}
    form = ValueMapForm(
        request.POST, unknown=preview.get("unknown", {}), current=upload.state["options"]["values"]
    )
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed values for each mapping."))
        return redirect("cases:import-upload", token=token)
    try:
        with upload.change(expect={tasks.PREVIEW}, to=tasks.QUEUED) as state:
            state["options"]["values"] = form.value_map()
            state["preview"] = None
            state["progress"] = {}
    except Conflict:
        messages.error(request, _("This import has moved on; the page shows where it is now."))
        return redirect("cases:import-upload", token=token)
    with transaction.atomic():
        tasks.start_parse(upload)
    messages.success(request, _("Your choices are kept; the file is being read again with them."))
    return redirect("cases:import-upload", token=token)


@require_POST
@access.require_role(access.CURATOR)
def upload_confirm(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    """Apply the previewed import (or resume a failed one) as the confirming curator, in the background."""
    upload = get_upload_for(viewer, token)
    try:
        with upload.change(expect={tasks.PREVIEW, tasks.APPLY_FAILED}, to=tasks.APPLY_QUEUED) as state:
            state["created_by_id"] = request.user.pk  # who applies it: the curator who confirmed
            state["progress"] = {}
            state["error"] = ""
    except Conflict:
        messages.error(request, _("This import has moved on; the page shows where it is now."))
        return redirect("cases:import-upload", token=token)
    with transaction.atomic():
        tasks.start_apply(upload)
    return redirect("cases:import-upload", token=token)


@require_POST
@access.require_role(access.CURATOR)
def upload_restart(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    """Queue again a task whose worker stopped halfway (a killed worker, a restarted machine)."""
    upload = get_upload_for(viewer, token)
    try:
        with transaction.atomic():
            tasks.restart_stalled(upload)
    except Conflict:
        messages.error(request, _("This import is still running; it can be restarted only once it stalls."))
    return redirect("cases:import-upload", token=token)


@require_POST
@access.require_role(access.CURATOR)
def upload_discard(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    upload = get_upload_for(viewer, token)
    try:
        upload.discard()
    except Conflict:
        messages.error(request, _("This import is being applied and can no longer be discarded."))
        return redirect("cases:import-upload", token=token)
    with transaction.atomic():
        record("import.discard", actor=request.user, organisation=viewer.organisation_id, upload=token)
    messages.success(request, _("The upload was discarded and its file deleted."))
    return redirect("cases:import")


@require_GET
@access.require_role(access.CURATOR)
def run_report(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    run = _get_run_for(viewer, pk)
    return render(
        request,
        "cases/imports/report.html",
        {
            "run": run,
            "counts": run.counts or {},
            "written": (run.counts or {}).get("written", {}),
            "rejections": run.rejections[:REJECTIONS_SHOWN],
            "review_url": reverse("cases:review-queue"),
        },
    )


@require_GET
@access.require_role(access.CURATOR)
def run_errors_csv(request: HttpRequest, viewer: access.Viewer, pk: int) -> HttpResponse:
    """Every rejected row of an import (row, column, reason), as CSV."""
    run = _get_run_for(viewer, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-rejected-rows.csv"'
    writer = csv.writer(response)
    writer.writerow(["row", "column", "reason"])
    for r in run.rejections:
        # A spreadsheet would run a cell starting with = + - @ as a formula: the reason may quote the file.
        writer.writerow([r.get("row"), _safe_cell(r.get("column")), _safe_cell(r.get("reason"))])
    return response


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
