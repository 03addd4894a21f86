"""The people import page's background work, on the importer's own upload storage and state machine
(`cases.imports.tasks.Upload`: a private folder, `state.json` changed under a lock along `TRANSITIONS`).
A people upload says so in its options (`"kind": "people"`); these two tasks read it with
`cases.people.imports` instead of the recommendations' pipeline. Both are idempotent, like the importer's:
a parse only parses an upload waiting to be parsed, an apply only applies one waiting to be applied.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from cases.imports.encoding import BadFile
from cases.imports.tasks import (
    APPLY_FAILED,
    APPLY_QUEUED,
    APPLYING,
    DONE,
    PARSE_FAILED,
    PARSING,
    PREVIEW,
    QUEUED,
    Conflict,
    ImportFailedEarly,
    Upload,
    _failure_text,
)
from cases.tasks import enqueue_on_commit, retrying, will_retry

from .imports import PeopleOptions, apply_people, prepare_people

KIND = "people"


def is_people(upload: Upload) -> bool:
    return (upload.state.get("options") or {}).get("kind") == KIND


def options_of(upload: Upload) -> PeopleOptions:
    o = upload.state["options"]
    return PeopleOptions(
        mapping=dict(o.get("map", {})),
        encoding=o.get("encoding") or None,
        decisions={int(row): d for row, d in (o.get("decisions") or {}).items()},
        duplicates=o.get("duplicates") or "skip",
    )


@retrying(attempts=3, backoff=10)
def parse_people_upload(token: str, *, attempt: int = 1) -> str:
    upload = Upload.get(token)
    if upload is None or not is_people(upload):
        return "gone"
    try:
        with upload.change(expect={QUEUED}, to=PARSING) as state:
            state["attempts"]["parse"] = attempt
            state["error"] = ""
    except Conflict:
        return upload.status
    try:
        preview = prepare_people(upload.path, options_of(upload), organisation_id=upload.organisation_id)
    except Exception as exc:
        again = will_retry(parse_people_upload, exc, attempt)
        with upload.change(to=QUEUED if again else PARSE_FAILED) as state:
            state["error"] = _failure_text(exc)
        if isinstance(exc, BadFile):
            return PARSE_FAILED
        raise
    with upload.change(expect={PARSING}, to=PREVIEW) as state:
        state["preview"] = preview.as_dict()
        state["progress"] = {"rows": preview.rows_read}
    return PREVIEW


@retrying(attempts=3, backoff=30)
def apply_people_upload(token: str, *, attempt: int = 1) -> int | None:
    """Prepare the file again with the curator's decisions and apply it as the confirming curator."""
    upload = Upload.get(token)
    if upload is None or not is_people(upload):
        return None
    try:
        with upload.change(expect={APPLY_QUEUED}, to=APPLYING) as state:
            state["attempts"]["apply"] = attempt
            state["progress"] = {"stage": "applying"}
    except Conflict:
        return upload.state.get("run_id")
    user = get_user_model().objects.filter(pk=upload.state["created_by_id"], is_active=True).first()
    try:
        if user is None:
            raise ImportFailedEarly(_("The curator who confirmed this file no longer has an account."))
        preview = prepare_people(upload.path, options_of(upload), organisation_id=upload.organisation_id)
        run = apply_people(preview, user=user, path=upload.path)
    except Exception as exc:
        run = getattr(exc, "run", None)
        again = will_retry(apply_people_upload, exc, attempt)
        with upload.change(to=APPLY_QUEUED if again else APPLY_FAILED) as state:
            state["error"] = _failure_text(exc)
            if run is not None:
                state["run_id"] = run.pk
        raise
    with upload.change(expect={APPLYING}, to=DONE) as state:
        state["run_id"] = run.pk
        state["progress"] = {"stage": "done"}
        state["error"] = ""
    upload.path.unlink(missing_ok=True)
    return run.pk


def start_parse(upload: Upload) -> None:
    enqueue_on_commit(parse_people_upload, upload.token)


def start_apply(upload: Upload) -> None:
    enqueue_on_commit(apply_people_upload, upload.token)
