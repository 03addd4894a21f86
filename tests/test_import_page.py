"""The curators' import page (issue 10, item 2): upload → parsed by a background task → preview with the
unknown values to map → confirm → applied by a background task → the report, which stays.

The tasks run on the database backend's own worker, in this process (`tests.factories.run_tasks`), so the
tests are transactional (the worker commits). Rights: a monitor gets 403, another organisation's curator
404 on every URL of an upload or a report.
"""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.imports import tasks as import_tasks
from cases.imports.tasks import Upload
from cases.models import ImportRun, ImportStatus, Recommendation, Theme, ThemeMapping
from tests.factories import make_user, run_tasks
from tests.fixtures_import.build import NASTY, upr_rows, write_csv
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_ROOT = tmp_path / "private"
    return settings.PRIVATE_ROOT


@pytest.fixture
def p(personas):
    personas.oscar = make_user("oscar", role="curator", organisation=personas.other_org)
    Theme.objects.create(name="Death penalty", slug="death-penalty")
    return personas


def _csv(tmp_path: Path, rows=None, name="china-upr-2018.csv") -> SimpleUploadedFile:
    path = write_csv(tmp_path / name, rows or upr_rows())
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def _upload(client, user, tmp_path, rows=None, **fields):
    client.force_login(user)
    data = {
        "file": _csv(tmp_path, rows),
        "format": "auto",
        "document": "A/HRC/40/6",
        "document_date": "2018-12-26",
        **fields,
    }
    return client.post(reverse("cases:import"), data)


def _token(response) -> str:
    return response["Location"].rstrip("/").split("/")[-1]


def test_a_monitor_is_refused_and_a_visitor_must_sign_in(client, p, tmp_path):
    assert client.get(reverse("cases:import")).status_code == 302
    client.force_login(p.alice)
    assert client.get(reverse("cases:import")).status_code == 403
    assert _upload(client, p.alice, tmp_path).status_code == 403
    assert not Path(settings.PRIVATE_ROOT).exists()  # nothing stored for her
    assert AuditEvent.objects.filter(event="access.refused", actor=p.alice).exists()


def test_upload_is_stored_privately_and_parsed_in_the_background(client, p, tmp_path, private_root):
    response = _upload(client, p.carol, tmp_path)
    assert response.status_code == 302
    token = _token(response)
    upload = Upload.get(token)
    assert upload.status == import_tasks.QUEUED
    assert upload.path.parent.parent == private_root / "imports"
    assert stat.S_IMODE(upload.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(upload.folder.stat().st_mode) == 0o700
    assert not str(upload.path).startswith(str(settings.STATIC_ROOT))
    event = AuditEvent.objects.get(event="import.upload")
    assert event.actor == p.carol and event.fields["upload"] == token
    assert event.fields["sha256"] == upload.state["sha256"][:16]

    page = client.get(response["Location"])
    assert page["Refresh"] == "3"  # without JavaScript the page reloads itself
    assert "Waiting to be read" in page.text
    assert "js/import-progress.js" in page.text

    assert run_tasks() == 1

    page = client.get(response["Location"])
    assert "Refresh" not in page
    text = page.text
    assert "Preview" in text
    counts = Upload.get(token).state["preview"]["counts"]
    assert counts["recommendations"] == {"create": 3, "update": 0, "unchanged": 0, "reject": 0}
    # Unknown themes listed for mapping, each with a choice of ours or "drop it"; never created.
    assert "Values we do not know" in text
    assert "Civil &amp; political rights" in text
    assert 'value="death-penalty"' in text and "Drop it" in text
    assert not Theme.objects.filter(name="Civil & political rights").exists()
    # The sample as stored: the nasty text decoded right.
    assert NASTY.replace("\u2019", "&#x27;")[:10] in text or NASTY[:10] in text
    assert Recommendation.objects.filter(document__symbol="A/HRC/40/6").count() == 0


def test_status_endpoint_reports_status_and_progress(client, p, tmp_path):
    token = _token(_upload(client, p.carol, tmp_path))
    url = reverse("cases:import-status", args=[token])
    data = client.get(url).json()
    assert data["status"] == "queued" and data["busy"] is True
    run_tasks()
    response = client.get(url)
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["status"] == "preview" and data["busy"] is False
    assert data["progress"]["rows"] == 5
    assert "preview" not in data  # the page has it; the poll stays small


def test_map_confirm_apply_and_the_report_stays(client, p, tmp_path):
    token = _token(_upload(client, p.carol, tmp_path, response_document="A/HRC/40/6/Add.1"))
    run_tasks()
    page = client.get(reverse("cases:import-upload", args=[token]))
    form = page.context["map_form"]
    fields = {value: bf.html_name for _kind, value, _n, bf in form.rows()}
    # "Death penalty" is the name of one of our themes: known, not listed.
    assert set(fields) == {"Acceptance of international norms", "Civil & political rights"}
    mapping = {fields["Civil & political rights"]: "__drop__"}
    mapping[fields["Acceptance of international norms"]] = "arbitrary-detention"

    response = client.post(reverse("cases:import-map", args=[token]), mapping)
    assert response.status_code == 302
    assert Upload.get(token).status == import_tasks.QUEUED
    run_tasks()
    state = Upload.get(token).state
    assert state["status"] == import_tasks.PREVIEW
    assert "theme" not in state["preview"]["unknown"]
    assert sorted(state["options"]["values"]) == [
        ["theme", "Acceptance of international norms", "arbitrary-detention"],
        ["theme", "Civil & political rights", ""],
    ]

    response = client.post(reverse("cases:import-confirm", args=[token]))
    assert response.status_code == 302
    # A second click finds it moved on: it is applied once.
    client.post(reverse("cases:import-confirm", args=[token]))
    assert Upload.get(token).status == import_tasks.APPLY_QUEUED
    assert run_tasks() == 1

    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE
    assert client.get(reverse("cases:import-upload", args=[token]))["Location"] == reverse(
        "cases:import-report", args=[run.pk]
    )
    report = client.get(reverse("cases:import-report", args=[run.pk]))
    text = report.text
    assert "china-upr-2018.csv" in text
    assert len(run.sha256) == 64 and run.sha256[:16] in text and run.sha256[48:] in text
    assert "carol" in text
    assert "3 recommendations created" in text
    assert "3 State responses submitted for review" in text
    rec = Recommendation.objects.get(document__symbol="A/HRC/40/6", paragraph="28.1")
    assert list(rec.themes.values_list("slug", flat=True)) == ["arbitrary-detention"]
    assert ThemeMapping.objects.get(source_name="Civil & political rights").theme is None
    assert ThemeMapping.objects.get(source_name="Acceptance of international norms").theme.slug == (
        "arbitrary-detention"
    )
    for event in ("import.upload", "import.apply", "import.finish", "import.map_theme"):
        assert AuditEvent.objects.filter(event=event, actor=p.carol).exists(), event
    # The index lists the report; the upload is no longer "in progress".
    index = client.get(reverse("cases:import"))
    assert reverse("cases:import-report", args=[run.pk]) in index.text
    assert reverse("cases:import-upload", args=[token]) not in index.text


def test_rejected_rows_are_shown_and_downloadable_as_csv(client, p, tmp_path):
    rows = [
        *upr_rows(),
        ["", "France", "China", "Supported", "", "28.9"],
        ["=HYPERLINK(1)", "", "", "", "", ""],
    ]
    token = _token(_upload(client, p.carol, tmp_path, rows=rows))
    run_tasks()
    page = client.get(reverse("cases:import-upload", args=[token]))
    assert "1 rejected row" in page.text
    assert "no text" in page.text
    client.post(reverse("cases:import-confirm", args=[token]))
    run_tasks()
    run = ImportRun.objects.get()
    response = client.get(reverse("cases:import-errors", args=[run.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows_out = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows_out[0] == ["row", "column", "reason"]
    assert ["7", "Recommendation", "no text"] in rows_out
    report = client.get(reverse("cases:import-report", args=[run.pk]))
    assert reverse("cases:import-errors", args=[run.pk]) in report.text


def test_another_organisation_cannot_see_or_touch_an_import(client, p, tmp_path):
    token = _token(_upload(client, p.carol, tmp_path))
    run_tasks()
    client.post(reverse("cases:import-confirm", args=[token]))
    token2 = _token(_upload(client, p.carol, tmp_path))
    run_tasks()
    run = ImportRun.objects.get()

    client.force_login(p.oscar)
    for name in ("cases:import-upload", "cases:import-status"):
        assert client.get(reverse(name, args=[token2])).status_code == 404, name
    for name in ("cases:import-map", "cases:import-confirm", "cases:import-discard"):
        assert client.post(reverse(name, args=[token2])).status_code == 404, name
    for name in ("cases:import-report", "cases:import-errors"):
        assert client.get(reverse(name, args=[run.pk])).status_code == 404, name
    index = client.get(reverse("cases:import"))
    assert index.status_code == 200
    assert token2 not in index.text and "china-upr-2018.csv" not in index.text
    assert Upload.get(token2).status == import_tasks.PREVIEW  # untouched

    client.force_login(p.alice)  # a monitor of the same organisation
    assert client.get(reverse("cases:import-report", args=[run.pk])).status_code == 403
    assert client.get(reverse("cases:import-upload", args=[token2])).status_code == 403


def test_unknown_and_malformed_tokens_are_404(client, p):
    client.force_login(p.carol)
    for token in ("0" * 32, "ZZ" * 16, "x" * 40, "..%2F..%2Fetc"):
        assert client.get(f"/import/uploads/{token}/").status_code == 404, token


def test_a_file_over_the_size_limit_is_refused(client, p, tmp_path, settings, private_root):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    big = [*upr_rows(), *[["x" * 1000, "France", "China", "Supported", "", str(n)] for n in range(1100)]]
    response = _upload(client, p.carol, tmp_path, rows=big)
    assert response.status_code == 200
    assert "the largest accepted is 1.0" in response.text
    assert not (private_root / "imports").exists() or not any((private_root / "imports").iterdir())
    assert not AuditEvent.objects.filter(event="import.upload").exists()


def test_bad_options_are_refused_with_the_reason(client, p, tmp_path):
    response = _upload(client, p.carol, tmp_path, encoding="klingon", columns="txet=Recommendation")
    assert response.status_code == 200
    assert "Unknown encoding" in response.text
    assert "is not a field" in response.text


def test_a_file_that_is_not_a_table_says_why(client, p):
    client.force_login(p.carol)
    response = client.post(
        reverse("cases:import"),
        {"file": SimpleUploadedFile("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "format": "auto"},
    )
    token = _token(response)
    run_tasks()
    page = client.get(reverse("cases:import-upload", args=[token]))
    assert "The file could not be read" in page.text
    assert "not a CSV, XLSX or JSON file" in page.text
    assert "Confirm and import" not in page.text


def test_discard_deletes_the_file(client, p, tmp_path):
    token = _token(_upload(client, p.carol, tmp_path))
    run_tasks()
    path = Upload.get(token).path
    response = client.post(reverse("cases:import-discard", args=[token]))
    assert response.status_code == 302
    assert not path.exists()
    assert client.get(reverse("cases:import-upload", args=[token])).status_code == 404
    assert AuditEvent.objects.filter(event="import.discard", actor=p.carol).exists()
    assert client.post(reverse("cases:import-confirm", args=[token])).status_code == 404


def test_state_changes_are_post_only(client, p, tmp_path):
    token = _token(_upload(client, p.carol, tmp_path))
    for name in ("cases:import-map", "cases:import-confirm", "cases:import-discard"):
        assert client.get(reverse(name, args=[token])).status_code == 405


def test_import_index_query_budget(client, p, tmp_path, django_assert_max_num_queries):
    for _ in range(3):
        _upload(client, p.carol, tmp_path)
    run_tasks()
    # session, user, membership and groups (one query), the reports with their users, nav role checks
    with django_assert_max_num_queries(8):
        response = client.get(reverse("cases:import"))
    assert response.status_code == 200
    assert response.text.count("Preview ready") == 3


def test_a_stalled_apply_can_be_queued_again_and_resumes(client, p, tmp_path):
    """The worker died halfway (its report stays "applying", nothing moves): after a quarter of an hour the
    page offers to queue it again; the stalled report is marked failed and the new attempt finishes."""
    import datetime

    from cases.imports import prepare
    from cases.imports.apply import apply

    token = _token(_upload(client, p.carol, tmp_path))
    run_tasks()
    upload = Upload.get(token)
    # What the dead worker left: its claim, and the report apply() opened before it died.
    with upload.change(to=import_tasks.APPLY_QUEUED):
        pass
    with upload.change(to=import_tasks.APPLYING):
        pass
    dead = apply(prepare(upload.path, upload.options()), user=p.carol, path=upload.path)
    ImportRun.objects.filter(pk=dead.pk).update(status=ImportStatus.APPLYING, finished_at=None)
    page = client.get(reverse("cases:import-upload", args=[token]))
    assert "Queue it again" not in page.text  # still fresh: it may be working
    assert client.post(reverse("cases:import-restart", args=[token])).status_code == 302
    assert Upload.get(token).status == import_tasks.APPLYING

    with upload.change() as state:
        pass
    state["updated_at"] = (
        datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=import_tasks.STALLED_AFTER + 5)
    ).isoformat()
    import json

    (upload.folder / "state.json").write_text(json.dumps(state))
    page = client.get(reverse("cases:import-upload", args=[token]))
    assert "Queue it again" in page.text
    client.post(reverse("cases:import-restart", args=[token]))
    assert Upload.get(token).status == import_tasks.APPLY_QUEUED
    assert run_tasks() == 1

    assert Upload.get(token).status == import_tasks.DONE
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED
    latest = ImportRun.objects.latest("pk")
    assert latest.status == ImportStatus.DONE
    assert latest.counts["recommendations"]["unchanged"] == 3  # resumed: nothing written twice
