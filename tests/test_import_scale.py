"""Import at scale (issue 10): memory that does not grow with the file, and an unchanged document skipped
whole on re-import — with every way its stored digest goes stale compared row by row again."""

from __future__ import annotations

import csv
import gc
import importlib
import io
import os
import tracemalloc

import pytest
from django.core.management import call_command

from cases import services
from cases.imports import Options, apply, encoding, prepare
from cases.imports import preview as preview_module
from cases.models import (
    Assessment,
    Basis,
    ImportDigest,
    Recommendation,
    ReviewState,
    Theme,
)
from tests.fixtures_import.build import uhri_json_record, write_json

THEME = "Torture and other cruel, inhuman or degrading treatment or punishment"


def _records(n: int, *, per_document: int = 10, prefix: str = "r", edit: dict | None = None) -> list[dict]:
    """n UHRI records, `per_document` to a document; one UPR document in three (with a "supported" response)."""
    out = []
    for i in range(n):
        d = i // per_document
        upr = d % 3 == 2
        record = uhri_json_record(
            f"{prefix}-{i}",
            f"Recommendation number {i} of document {d}: end arbitrary detention and torture.",
            Symbol=f"A/HRC/{d}/1" if upr else f"CAT/C/CHN/CO/{d}",
            Body="UPR" if upr else "CAT",
            UprPositions="- Supported" if upr else None,
            UprRecommendingCountry="- France" if upr else None,
        )
        record.update((edit or {}).get(i, {}))
        out.append(record)
    return out


# --- Memory ------------------------------------------------------------------------------------------------


def _peak_while_preparing(path) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        preview = prepare(path, Options())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, preview


@pytest.mark.slow  # tracemalloc slows the preview down tenfold
@pytest.mark.django_db
def test_preview_memory_does_not_grow_with_the_number_of_rows(tmp_path, monkeypatch):
    # A small fold buffer, so both files spill to disk as a big one does; a small sample for the encoding
    # detection (it reads a bounded sample of the file, 2 MB), so both files are bigger than it.
    monkeypatch.setattr(preview_module, "FOLD_BUFFER", 100)
    monkeypatch.setattr(encoding, "SAMPLE", 64 * 1024)
    small = write_json(tmp_path / "small.json", _records(800, per_document=40))
    big = write_json(tmp_path / "big.json", _records(6400, per_document=40))
    assert small.stat().st_size > encoding.SAMPLE
    small_peak, small_preview = _peak_while_preparing(small)
    big_peak, big_preview = _peak_while_preparing(big)
    assert small_preview.counts()["recommendations"]["create"] == 800
    assert big_preview.counts()["recommendations"]["create"] == 6400
    # Eight times the rows: the peak stays about the same (it grew eightfold when every row was kept: a
    # folded recommendation is a few kilobytes, 6,400 of them 15 MB and more). What still grows is the
    # documents' list (one plan per document: 1.7 MB → 2.2 MB here, with 40 records to a document).
    assert big_peak < small_peak * 1.6, (small_peak, big_peak)
    # What a preview keeps in memory is bounded: a sample, not the recommendations.
    assert len(big_preview.sample()) == 5
    assert not hasattr(big_preview, "by_key")
    # Its temporary file goes with it.
    store_path = big_preview.store.path
    assert os.path.exists(store_path)
    big_preview.close()
    assert not os.path.exists(store_path)
    small_path = small_preview.store.path
    del small_preview
    gc.collect()
    assert not os.path.exists(small_path)


@pytest.mark.django_db
def test_rejections_are_capped_in_memory_and_all_written_to_the_errors_file(tmp_path, monkeypatch):
    monkeypatch.setattr(preview_module, "KEPT_IN_MEMORY", 10)
    records = _records(40)
    for record in records[5:35]:
        record["Text"] = ""  # rejected: no text
    path = write_json(tmp_path / "uhri.json", records)
    preview = prepare(path, Options())
    assert len(preview.rejections) == 10
    assert preview.rejections_total == 30
    assert preview.counts()["rows"]["rejected"] == 30
    assert [r.row for r in preview.rejections] == list(range(6, 16))
    assert len(list(preview.all_rejections())) == 30
    assert preview.as_dict()["rejections_total"] == 30
    errors = tmp_path / "errors.csv"
    out = io.StringIO()
    call_command("import_recommendations", str(path), "--dry-run", "--errors", str(errors), stdout=out)
    with open(errors, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 31  # header and every rejected row
    assert rows[1] == ["6", "Text", "no text"]
    assert "Rows: 40 read, 0 filtered out, 30 rejected" in out.getvalue()


@pytest.mark.django_db
def test_apply_reads_the_plan_a_batch_at_a_time(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(25))
    preview = prepare(path, Options(batch_size=4))
    sizes = []
    original = preview.pending

    def pending(size):
        for batch in original(size):
            sizes.append(len(batch))
            yield batch

    preview.pending = pending
    run = apply(preview, user=personas.carol, path=path)
    assert sizes == [4, 4, 4, 4, 4, 4, 1]
    assert run.batches_total == 8 and run.batches_done == 8
    assert Recommendation.objects.filter(external_id__startswith="r-").count() == 25


# --- Unchanged documents skipped on re-import -----------------------------------------------------------


def _import(path, user, **options):
    preview = prepare(path, Options(**options))
    run = apply(preview, user=user, path=path)
    preview.close()
    return preview, run


def _writes() -> dict[str, int]:
    return {
        "recommendations": Recommendation.objects.count(),
        "history": Recommendation.history.count(),
        "assessments": Assessment.objects.count(),
        "links": Recommendation.themes.through.objects.count(),
    }


@pytest.mark.django_db
def test_reimporting_an_unchanged_file_skips_its_documents_and_writes_nothing(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(40))
    _first, run = _import(path, personas.carol)
    assert run.counts["written"] == {"created": 40, "responses": 10}
    assert ImportDigest.objects.count() == 4
    before = _writes()

    again, run2 = _import(path, personas.carol)
    counts = again.counts()
    assert counts["recommendations"] == {"create": 0, "update": 0, "unchanged": 40, "reject": 0}
    assert counts["responses"]["submit"] == 0
    # The first document is compared (it gives the preview its sample); the three others are skipped whole.
    assert again.documents_skipped == 3
    assert len(again.sample()) == 5 and all(s["action"] == "unchanged" for s in again.sample())
    assert run2.counts["written"] == {}
    assert _writes() == before
    out = io.StringIO()
    call_command("import_recommendations", str(path), "--dry-run", stdout=out)
    assert "(3 documents are as the last import left them" in out.getvalue()
    assert "Recommendations: 0 to create, 0 to update, 40 unchanged, 0 rejected" in out.getvalue()


@pytest.mark.django_db
def test_dry_run_stores_no_digest(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(20))
    call_command("import_recommendations", str(path), "--dry-run", stdout=io.StringIO())
    assert ImportDigest.objects.count() == 0
    assert Recommendation.objects.filter(external_id__startswith="r-").count() == 0


@pytest.mark.django_db
def test_a_changed_row_makes_its_document_compared_and_updated_with_history(tmp_path, personas):
    _import(write_json(tmp_path / "v1.json", _records(40)), personas.carol)
    before = _writes()
    edited = _records(40, edit={25: {"Text": "Recommendation 25, corrected: end arbitrary detention."}})
    again, _run = _import(write_json(tmp_path / "v2.json", edited), personas.dave)
    assert again.counts()["recommendations"] == {"create": 0, "update": 1, "unchanged": 39, "reject": 0}
    assert again.documents_skipped == 2  # documents 1 and 3; document 2 has the changed row
    rec = Recommendation.objects.get(external_id="r-25")
    assert rec.text == "Recommendation 25, corrected: end arbitrary detention."
    assert rec.history.count() == 2 and rec.history.first().history_user == personas.dave
    assert _writes() == {**before, "history": before["history"] + 1}
    # Its digest is the new file's now: importing that file again skips it too.
    third, _run = _import(write_json(tmp_path / "v3.json", edited), personas.dave)
    assert third.documents_skipped == 3
    assert third.counts()["recommendations"]["unchanged"] == 40


@pytest.mark.django_db
def test_an_edit_in_the_admin_makes_the_digest_stale(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(40))
    _import(path, personas.carol)
    rec = Recommendation.objects.get(external_id="r-15")
    rec.affected_persons = ["Edited by hand"]
    rec.save()  # as the admin saves it
    again, _run = _import(path, personas.carol)
    assert again.documents_skipped == 2
    assert again.counts()["recommendations"]["update"] == 1
    rec.refresh_from_db()
    assert rec.affected_persons == ["Persons deprived of their liberty"]  # the file's value, as before
    assert rec.history.count() == 3


@pytest.mark.django_db
def test_a_deleted_recommendation_is_created_again(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(40))
    _import(path, personas.carol)
    rec = Recommendation.objects.get(external_id="r-35")
    rec.assessments.all().delete()
    rec.delete()
    again, _run = _import(path, personas.carol)
    assert again.counts()["recommendations"]["create"] == 1
    assert Recommendation.objects.filter(external_id="r-35").exists()


@pytest.mark.django_db
def test_a_removed_theme_link_and_a_new_theme_mapping_are_seen(tmp_path, personas):
    theme, _ = Theme.objects.get_or_create(name=THEME, defaults={"slug": "torture-import-test"})
    path = write_json(tmp_path / "uhri.json", _records(40))
    _import(path, personas.carol)
    rec = Recommendation.objects.get(external_id="r-12")
    rec.themes.remove(theme)  # the curator unlinks it in the admin: no updated_at moves
    again, _run = _import(path, personas.carol)
    assert again.documents_skipped == 2
    assert again.counts()["recommendations"]["update"] == 1  # links are only added: the import adds it back

    # A new mapping of a theme the file names changes what the file says (themes as resolved to ours).
    other = Theme.objects.create(name="Detention import test", slug="detention-import-test")
    mapped, _run = _import(path, personas.carol, value_map={("theme", "Asia"): ""})
    assert mapped.documents_skipped == 3  # a mapping the file does not use changes nothing
    records = _records(40)
    for r in records:
        r["Themes"] += "\n- Arbitrary detention"
    path2 = write_json(tmp_path / "v2.json", records)
    _import(path2, personas.carol)  # the unknown theme is listed; nothing to link yet
    later, _run = _import(path2, personas.carol, value_map={("theme", "Arbitrary detention"): other.slug})
    assert later.documents_skipped == 0
    assert later.counts()["recommendations"]["update"] == 40
    assert other.recommendations.count() == 40


@pytest.mark.django_db
def test_a_returned_state_claim_makes_the_digest_stale(tmp_path, personas):
    path = write_json(tmp_path / "uhri.json", _records(40))
    _import(path, personas.carol)
    claim = Assessment.objects.filter(
        recommendation__external_id="r-25", basis=Basis.STATE_CLAIM, review_state=ReviewState.SUBMITTED
    ).get()
    services.return_assessment(claim, reviewer=personas.dave, comment="Cite the addendum")
    again, run = _import(path, personas.carol)
    assert again.documents_skipped == 2
    assert again.counts()["responses"]["submit"] == 1
    assert run.counts["written"] == {"responses": 1}


@pytest.mark.django_db
def test_a_resumed_import_compares_row_by_row(tmp_path, personas, monkeypatch):
    """A failed apply stores no digest: the resumed import compares every row."""
    from cases.imports import ImportFailed

    apply_module = importlib.import_module("cases.imports.apply")

    path = write_json(tmp_path / "uhri.json", _records(40))
    original = apply_module._Writer.save_batch
    calls = []

    def failing(self, batch, documents):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(self, batch, documents)

    monkeypatch.setattr(apply_module._Writer, "save_batch", failing)
    with pytest.raises(ImportFailed):
        apply(prepare(path, Options(batch_size=10)), user=personas.carol, path=path)
    assert ImportDigest.objects.count() == 0
    monkeypatch.setattr(apply_module._Writer, "save_batch", original)
    resumed = prepare(path, Options(batch_size=10))
    assert resumed.documents_skipped == 0
    assert resumed.counts()["recommendations"] == {"create": 30, "update": 0, "unchanged": 10, "reject": 0}
    apply(resumed, user=personas.carol, path=path)
    assert Recommendation.objects.filter(external_id__startswith="r-").count() == 40
    assert ImportDigest.objects.count() == 4
