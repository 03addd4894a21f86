"""`/people/import/`: the curators' people import page. Upload → read in the background → the preview,
with the rejected rows and, for each likely duplicate, the curator's choice (create a new person, skip it
as already on record, or merge it into the match) → confirm → applied in the background → the result.

The importer's upload storage and rules (`cases.imports.tasks.Upload`; curators only, a monitor gets 403;
another organisation's upload is a 404) and its discard view; the report of an applied import is the
importer's report page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import access
from cases.imports import tasks
from cases.imports.forms import UploadForm, parse_column_mapping
from cases.imports.tasks import Conflict, Upload
from cases.imports.views import accept_upload, get_upload_for
from cases.models import ImportRun, ImportStatus

from . import import_tasks
from .imports import DECISIONS, FIELDS

REFRESH_SECONDS = 3
REJECTIONS_SHOWN = 100


class PeopleUploadForm(forms.Form):
    file = UploadForm.base_fields["file"]
    encoding = UploadForm.base_fields["encoding"]
    columns = forms.CharField(
        label=_("Column mapping"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}),
        help_text=_("One FIELD=COLUMN per line, for columns the importer does not recognise."),
    )

    clean_file = UploadForm.clean_file
    clean_encoding = UploadForm.clean_encoding

    def clean_columns(self):
        return parse_column_mapping(self.cleaned_data["columns"], FIELDS)

    def options(self) -> dict:
        d = self.cleaned_data
        return {
            "kind": import_tasks.KIND,
            "format": "people",
            "encoding": d["encoding"],
            "map": d["columns"],
            "decisions": {},
            "duplicates": "skip",
        }


def _get_upload_for(viewer: access.Viewer, token: str) -> Upload:
    upload = get_upload_for(viewer, token)
    if not import_tasks.is_people(upload):
        raise Http404
    return upload


@require_http_methods(["GET", "POST"])
@access.require_role(access.CURATOR)
def people_import(request: HttpRequest, viewer: access.Viewer) -> HttpResponse:
    if request.method == "POST":
        form = PeopleUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = accept_upload(request, viewer, form, import_tasks.start_parse)
            return redirect("cases:people-import-upload", token=upload.token)
    else:
        form = PeopleUploadForm()
    runs = ImportRun.objects.filter(organisation_id=viewer.organisation_id, format="people").select_related(
        "created_by"
    )
    return render(request, "cases/people/import.html", {"form": form, "runs": runs[:20], "fields": FIELDS})


@require_GET
@access.require_role(access.CURATOR)
def people_import_upload(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    upload = _get_upload_for(viewer, token)
    run = None
    if upload.state.get("run_id"):
        # The report of the finished import (a failed try's report is not the result: the error says why).
        run = ImportRun.objects.filter(
            pk=upload.state["run_id"], organisation_id=viewer.organisation_id, status=ImportStatus.DONE
        ).first()
    preview = upload.state.get("preview")
    decisions = (upload.state["options"].get("decisions")) or {}
    duplicates = []
    for row in (preview or {}).get("duplicates", []):
        duplicates.append({**row, "decision": decisions.get(str(row["row"]), row["action"])})
    response = render(
        request,
        "cases/people/import_upload.html",
        {
            "upload": upload,
            "state": upload.state,
            "preview": preview,
            "rejections": (preview or {}).get("rejections", [])[:REJECTIONS_SHOWN],
            "duplicates": duplicates,
            "decisions": DECISIONS,
            "run": run,
            "written": (run.counts or {}).get("written", {}) if run else {},
        },
    )
    if upload.busy:
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@require_POST
@access.require_role(access.CURATOR)
def people_import_confirm(request: HttpRequest, viewer: access.Viewer, token: str) -> HttpResponse:
    """Keep the curator's choice for each likely duplicate and apply the import in the background, as her."""
    upload = _get_upload_for(viewer, token)
    preview = upload.state.get("preview") or {}
    decisions = {}
    for row in preview.get("duplicates", []):
        choice = request.POST.get(f"decision-{row['row']}", "skip")
        if choice not in DECISIONS:
            messages.error(request, _("Choose create, skip or merge for each likely duplicate."))
            return redirect("cases:people-import-upload", token=token)
        decisions[str(row["row"])] = choice
    try:
        with upload.change(expect={tasks.PREVIEW, tasks.APPLY_FAILED}, to=tasks.APPLY_QUEUED) as state:
            state["options"]["decisions"] = decisions
            state["created_by_id"] = request.user.pk
            state["progress"] = {}
            state["error"] = ""
    except Conflict:
        messages.error(request, _("This import has moved on; the page shows where it is now."))
        return redirect("cases:people-import-upload", token=token)
    with transaction.atomic():
        import_tasks.start_apply(upload)
    return redirect("cases:people-import-upload", token=token)
