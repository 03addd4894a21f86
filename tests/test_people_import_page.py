"""The curators' people import page (`/people/import/`, issue 12): upload → read in the background → the
preview with rejected rows and likely duplicates, a decision per duplicate → confirm → applied in the
background. Curators only; another organisation's curator gets 404. The tasks run in this process on the
database backend's worker (`tests.factories.run_tasks`)."""

from __future__ import annotations

from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.imports.tasks import Upload
from cases.models import ImportRun
from cases.people import services
from cases.people.models import Person
from tests.factories import make_user, run_tasks
from tests.test_people_import import CP1252_ROWS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_ROOT = tmp_path / "private"
    return settings.PRIVATE_ROOT


@pytest.fixture
def p(personas):
    personas.oscar = make_user("oscar", role="curator", organisation=personas.other_org)
    personas.on_record = services.add_person(
        created_by=personas.alice, name_latin="Abdurehim Heyit", birth_year=1962, prefecture="Kashgar"
    )
    return personas


def _file() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "people.csv", "\r\n".join(CP1252_ROWS).encode("cp1252"), content_type="text/csv"
    )


def _upload(client, user) -> str:
    client.force_login(user)
    response = client.post(reverse("cases:people-import"), {"file": _file()})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rstrip("/").split("/")[-1]


def _page(client, token) -> str:
    response = client.get(reverse("cases:people-import-upload", args=[token]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_monitors_are_refused(client, p):
    assert client.get(reverse("cases:people-import")).status_code == 302  # sign in first
    client.force_login(p.alice)
    assert client.get(reverse("cases:people-import")).status_code == 403
    assert client.post(reverse("cases:people-import"), {"file": _file()}).status_code == 403


def test_preview_decide_and_apply(client, p):
    token = _upload(client, p.carol)
    run_tasks()
    page = _page(client, token)
    assert "10 rows read, 6 rejected, 2 likely duplicates; 2 people to create." in page
    assert "19x7" in page and "XJ99-999" in page  # rejected rows with their reasons
    assert p.on_record.reference in page and "row 2 of this file" in page
    assert 'name="decision-3"' in page and 'name="decision-6"' in page
    assert Person.objects.count() == 1  # nothing written before the curator confirms
    # The importer's own upload page sends a people upload here.
    assert client.get(reverse("cases:import-upload", args=[token]))["Location"].endswith(
        f"/people/import/{token}/"
    )

    response = client.post(
        reverse("cases:people-import-confirm", args=[token]), {"decision-3": "merge", "decision-6": "create"}
    )
    assert response.status_code == 302
    run_tasks()
    page = _page(client, token)
    assert "Written: 3 people created, 1 merged into records you hold." in page
    on_record = Person.objects.get(pk=p.on_record.pk)
    assert "Abdurahim Héyit" in on_record.aliases
    assert Person.objects.filter(organisation=p.org).count() == 4
    run = ImportRun.objects.get(format="people")
    assert run.created_by == p.carol and run.organisation_id == p.org.pk
    report = unescape(client.get(reverse("cases:import-report", args=[run.pk])).content.decode())
    assert "Written: 3 people created, 1 merged" in report and "recommendations created" not in report
    assert Upload.get(token).status == "done"


def test_a_bad_decision_is_refused(client, p):
    token = _upload(client, p.carol)
    run_tasks()
    response = client.post(reverse("cases:people-import-confirm", args=[token]), {"decision-3": "overwrite"})
    assert response.status_code == 302
    assert Upload.get(token).status == "preview"


def test_another_organisation_gets_404(client, p):
    token = _upload(client, p.carol)
    run_tasks()
    client.force_login(p.oscar)
    assert client.get(reverse("cases:people-import-upload", args=[token])).status_code == 404
    assert client.post(reverse("cases:people-import-confirm", args=[token])).status_code == 404
    assert Upload.get(token).status == "preview"


def test_an_unreadable_file_says_why(client, p):
    client.force_login(p.carol)
    nameless = SimpleUploadedFile("x.csv", b"Colour,Size\nred,1\n", content_type="text/csv")
    response = client.post(reverse("cases:people-import"), {"file": nameless})
    token = response["Location"].rstrip("/").split("/")[-1]
    run_tasks()
    page = _page(client, token)
    assert "No column holds a name" in page


def test_a_stalled_people_upload_is_queued_again_on_its_own_task(client, p):
    """The worker died while reading a people file: after a quarter of an hour the people page offers to queue
    it again, and the new attempt is the people reader (not the recommendations importer's, which refused the
    file as an unknown format)."""
    import datetime
    import json

    from cases.imports import tasks as import_tasks

    token = _upload(client, p.carol)
    run_tasks()  # the first reading's task is gone from the queue; then a worker dies reading it again
    upload = Upload.get(token)
    with upload.change() as state:
        pass
    state.update(
        status=import_tasks.PARSING, preview=None, updated_at=datetime.datetime.now(datetime.UTC).isoformat()
    )
    (upload.folder / "state.json").write_text(json.dumps(state))
    assert "Queue it again" not in _page(client, token)  # still fresh: it may be working
    state["updated_at"] = (
        datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=import_tasks.STALLED_AFTER + 5)
    ).isoformat()
    (upload.folder / "state.json").write_text(json.dumps(state))
    assert "Queue it again" in _page(client, token)

    response = client.post(reverse("cases:import-restart", args=[token]))
    assert response.status_code == 302
    assert Upload.get(token).status == import_tasks.QUEUED
    run_tasks()
    assert Upload.get(token).status == import_tasks.PREVIEW, Upload.get(token).state.get("error")
    assert "10 rows read, 6 rejected, 2 likely duplicates; 2 people to create." in _page(client, token)
