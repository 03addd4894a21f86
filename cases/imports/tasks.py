"""The import page's background work: an uploaded file waits in a private folder, a task parses it into a
preview, and after the curator confirms another task applies it (`cases.imports.apply`, in batches).

An upload lives in PRIVATE_ROOT/imports/<token>/ (never served by the web server): the file, under its
own (sanitised) name, and `state.json`, what the page shows and the tasks need: who uploaded it and for
which organisation, the file's SHA-256, the options and the curator's value mappings, the status, the
progress, the preview, the attempts and the last error, and once applied the `ImportRun` (the report
that stays). Both the page and the tasks change the state under a file lock, through `Upload.change`,
and only along the transitions in `TRANSITIONS`, so a confirmation clicked twice, or a task delivered
twice, applies the file once.

The tasks take the upload's token (a string), never objects, and are idempotent: `parse_upload` only
parses an upload waiting to be parsed, `apply_upload` only applies one waiting to be applied. A failed
apply leaves every finished batch whole (see `apply.py`); trying again prepares the file again, which
matches the finished batches' recommendations and leaves them unchanged, so a retry resumes.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from cases.tasks import enqueue_on_commit, retrying, will_retry

from .apply import ImportFailed, apply
from .encoding import BadFile
from .preview import prepare
from .reader import Options

# Status codes (stable: the JSON status endpoint returns them).
QUEUED = "queued"  # waiting for the parse task
PARSING = "parsing"
PREVIEW = "preview"  # parsed; the curator maps unknown values, then confirms
PARSE_FAILED = "parse_failed"
APPLY_QUEUED = "apply_queued"
APPLYING = "applying"
DONE = "done"
APPLY_FAILED = "apply_failed"
DISCARDED = "discarded"

# Who may move an upload from which status to which (the page: upload, map, confirm, discard; the tasks:
# parse, apply). Anything else is refused: `Upload.change` raises `Conflict`.
TRANSITIONS: dict[str, set[str]] = {
    QUEUED: {PARSING, DISCARDED},
    PARSING: {PREVIEW, PARSE_FAILED, QUEUED},  # QUEUED: a retry after a transient failure
    PREVIEW: {QUEUED, APPLY_QUEUED, DISCARDED},  # QUEUED: mapped values, parsed again
    PARSE_FAILED: {QUEUED, DISCARDED},
    APPLY_QUEUED: {APPLYING},
    APPLYING: {DONE, APPLY_FAILED, APPLY_QUEUED},
    APPLY_FAILED: {APPLY_QUEUED, DISCARDED},  # APPLY_QUEUED: resume
    DONE: set(),
    DISCARDED: set(),
}
BUSY = {QUEUED, PARSING, APPLY_QUEUED, APPLYING}
TOKEN = re.compile(r"^[0-9a-f]{32}$")
STATE = "state.json"
STALLED_AFTER = 15 * 60


class Conflict(Exception):
    """The upload is not in a status that allows this step (it moved on meanwhile)."""


def root() -> Path:
    return Path(settings.PRIVATE_ROOT) / "imports"


@dataclass
class Upload:
    token: str
    state: dict[str, Any]

    @property
    def folder(self) -> Path:
        return root() / self.token

    @property
    def path(self) -> Path:
        return self.folder / self.state["stored_name"]

    @property
    def status(self) -> str:
        return self.state["status"]

    @property
    def organisation_id(self) -> int:
        return self.state["organisation_id"]

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    def options(self) -> Options:
        o = self.state["options"]
        return Options(
            format=o.get("format") or "auto",
            mapping=dict(o.get("map", {})),
            fixed=dict(o.get("set", {})),
            filters=dict(o.get("filter", {})),
            encoding=o.get("encoding") or None,
            value_map={(k, s): t for k, s, t in o.get("values", [])},
        )

    # --- Storage ------------------------------------------------------------------------------------

    @classmethod
    def create(cls, uploaded, *, user, organisation_id: int, options: dict) -> Upload:
        """Store an uploaded file (a Django `UploadedFile`) privately and compute its SHA-256 as it is
        written. The folder is readable by the server's user alone."""
        token = uuid.uuid4().hex
        folder = root() / token
        folder.mkdir(parents=True, mode=0o700)
        name = get_valid_filename(Path(uploaded.name or "upload").name)[-120:] or "upload"
        if name == STATE or name.startswith("."):
            name = f"upload-{name.lstrip('.')}"
        digest, size = hashlib.sha256(), 0
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in uploaded.chunks():
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        now = timezone.now().isoformat()
        upload = cls(
            token,
            {
                "token": token,
                "status": QUEUED,
                "file_name": (uploaded.name or name)[:255],
                "stored_name": name,
                "size": size,
                "sha256": digest.hexdigest(),
                "created_by_id": user.pk,
                "organisation_id": organisation_id,
                "created_at": now,
                "updated_at": now,
                "options": options,
                "progress": {},
                "preview": None,
                "attempts": {"parse": 0, "apply": 0},
                "error": "",
                "run_id": None,
            },
        )
        upload._write()
        return upload

    @classmethod
    def get(cls, token: str) -> Upload | None:
        if not isinstance(token, str) or not TOKEN.match(token):
            return None
        try:
            with open(root() / token / STATE, encoding="utf-8") as f:
                return cls(token, json.load(f))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @classmethod
    def all_for(cls, organisation_id: int, *, limit: int = 50) -> list[Upload]:
        """The organisation's uploads not yet applied or discarded, newest first (the import page lists
        them). Applied ones are listed from their `ImportRun`."""
        found = []
        if not root().is_dir():
            return found
        for entry in root().iterdir():
            upload = cls.get(entry.name)
            if (
                upload
                and upload.organisation_id == organisation_id
                and upload.status not in (DONE, DISCARDED)
            ):
                found.append(upload)
        found.sort(key=lambda u: u.state["created_at"], reverse=True)
        return found[:limit]

    def _write(self) -> None:
        # Written whole to a temporary file, then renamed: a reader never sees half a state.
        self.state["updated_at"] = timezone.now().isoformat()
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".state-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.state, f, ensure_ascii=False, default=str)
        os.replace(tmp, self.folder / STATE)

    @contextlib.contextmanager
    def change(self, *, expect: set[str] | None = None, to: str | None = None) -> Iterator[dict]:
        """Read-modify-write of the state under an exclusive lock. `expect`: the statuses this step starts
        from (else `Conflict`); `to`: the status it moves to (checked against TRANSITIONS)."""
        with open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                fresh = Upload.get(self.token)
                if fresh is None:
                    raise Conflict("gone")
                self.state = fresh.state
                current = self.state["status"]
                if expect is not None and current not in expect:
                    raise Conflict(current)
                if to is not None and to != current and to not in TRANSITIONS[current]:
                    raise Conflict(current)
                if to is not None:
                    self.state["status"] = to
                yield self.state
                self._write()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def progress(self, **values: Any) -> None:
        """Progress of a running task (not a transition; several times a second at most)."""
        with self.change() as state:
            state["progress"] = values

    def discard(self) -> None:
        """The upload goes, file, preview and all (the audit trail keeps that it existed)."""
        with self.change(to=DISCARDED):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def stalled(self) -> bool:
        """A task that says nothing for STALLED_AFTER seconds has lost its worker (killed, machine
        restarted): it reports progress every few seconds while it works."""
        if self.status not in (PARSING, APPLYING):
            return False
        updated = datetime.datetime.fromisoformat(self.state["updated_at"])
        return (timezone.now() - updated).total_seconds() > STALLED_AFTER


# --- Tasks -----------------------------------------------------------------------------------------------


class _Throttle:
    """Calls through at most every `seconds`, and always for the last call (`force`)."""

    def __init__(self, seconds: float = 0.5):
        self.seconds, self.last = seconds, 0.0

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last >= self.seconds:
            self.last = now
            return True
        return False


def _failure_text(exc: BaseException) -> str:
    if isinstance(exc, BadFile | ImportFailed):
        return str(exc)
    return _("%(kind)s: %(error)s") % {"kind": type(exc).__name__, "error": str(exc)[:300]}


@retrying(attempts=3, backoff=10)
def parse_upload(token: str, *, attempt: int = 1) -> str:
    """Read the uploaded file into a preview (writes nothing but the upload's state). Returns the status."""
    upload = Upload.get(token)
    if upload is None:
        return "gone"
    try:
        with upload.change(expect={QUEUED}, to=PARSING) as state:
            state["attempts"]["parse"] = attempt
            state["progress"] = {"rows": 0, "seconds": 0}
            state["error"] = ""
    except Conflict:
        return upload.status  # parsed or discarded already: nothing to do
    throttle = _Throttle()

    def progress(rows: int, seconds: float) -> None:
        if throttle.ready():
            upload.progress(rows=rows, seconds=round(seconds, 1))

    try:
        preview = prepare(upload.path, upload.options(), progress=progress)
    except Exception as exc:
        again = will_retry(parse_upload, exc, attempt)
        with upload.change(to=QUEUED if again else PARSE_FAILED) as state:
            state["error"] = _failure_text(exc)
        if isinstance(exc, BadFile):
            return PARSE_FAILED  # the file is what it is: said on the page, no retry, no traceback
        raise
    preview.close()  # the page shows its counts and lists; applying reads the file again
    with upload.change(expect={PARSING}, to=PREVIEW) as state:
        state["preview"] = preview.as_dict()
        state["progress"] = {"rows": preview.rows_read}
    return PREVIEW


@retrying(attempts=3, backoff=30)
def apply_upload(token: str, *, attempt: int = 1) -> int | None:
    """Apply a confirmed upload as the curator who uploaded it. Returns the `ImportRun` id."""
    upload = Upload.get(token)
    if upload is None:
        return None
    try:
        with upload.change(expect={APPLY_QUEUED}, to=APPLYING) as state:
            state["attempts"]["apply"] = attempt
            state["progress"] = {"stage": "reading", "rows": 0}
    except Conflict:
        return upload.state.get("run_id")  # applied, or being applied, already
    user = get_user_model().objects.filter(pk=upload.state["created_by_id"], is_active=True).first()
    throttle = _Throttle()

    def read(rows: int, seconds: float) -> None:
        if throttle.ready():
            upload.progress(stage="reading", rows=rows)

    def batch(done: int, total: int) -> None:
        if throttle.ready(force=done == total):
            upload.progress(stage="applying", done=done, total=total)

    run_id = None
    try:
        if user is None:
            raise ImportFailedEarly(_("The curator who uploaded this file no longer has an account."))
        preview = prepare(upload.path, upload.options(), progress=read)
        try:
            run = apply(preview, user=user, path=upload.path, progress=batch)
        finally:
            preview.close()
        run_id = run.pk
    except Exception as exc:
        run = getattr(exc, "run", None)
        again = will_retry(apply_upload, exc, attempt)
        with upload.change(to=APPLY_QUEUED if again else APPLY_FAILED) as state:
            state["error"] = _failure_text(exc)
            if run is not None:
                # Each try leaves its report (status failed, where it stopped); the next one resumes.
                state["run_id"] = run.pk
                state.setdefault("failed_runs", []).append(run.pk)
        raise
    with upload.change(expect={APPLYING}, to=DONE) as state:
        state["run_id"] = run_id
        state["progress"] = {"stage": "done"}
        state["error"] = ""
    # The report (ImportRun) stays; the file itself is not kept once applied.
    upload.path.unlink(missing_ok=True)
    return run_id


class ImportFailedEarly(Exception):
    """The import could not start (no user): nothing was written."""


def restart_stalled(upload: Upload) -> str:
    """Queue a stalled task again (see `Upload.stalled`). An apply's report left "applying" is marked
    failed, as the worker would have; the new attempt resumes (finished batches are left unchanged)."""
    from cases.models import ImportRun, ImportStatus

    with upload.change(expect={PARSING, APPLYING}) as state:
        if not upload.stalled:
            raise Conflict(state["status"])
        was = state["status"]
        state["status"] = QUEUED if was == PARSING else APPLY_QUEUED
        state["error"] = _("The worker stopped while this was running; it was queued again.")
    # A people upload (cases/people/import_tasks.py) is read and applied by its own tasks.
    from cases.people import import_tasks as people_tasks

    if people_tasks.is_people(upload):
        parse, apply = people_tasks.start_parse, people_tasks.start_apply
    else:
        parse, apply = start_parse, start_apply
    if was == APPLYING:
        ImportRun.objects.filter(
            created_by_id=upload.state["created_by_id"],
            sha256=upload.state["sha256"],
            status=ImportStatus.APPLYING,
        ).update(status=ImportStatus.FAILED, error=upload.state["error"], finished_at=timezone.now())
        apply(upload)
    else:
        parse(upload)
    return upload.status


def start_parse(upload: Upload) -> None:
    enqueue_on_commit(parse_upload, upload.token)


def start_apply(upload: Upload) -> None:
    enqueue_on_commit(apply_upload, upload.token)
