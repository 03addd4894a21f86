"""Import, writing side: the real China UPR tables, dry run, idempotent re-import, updates with history,
State responses as submitted State claims (four eyes), audit, rights, failures mid-file."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from cases import services
from cases.imports import ImportFailed, Options, apply, prepare
from cases.models import (
    Assessment,
    Document,
    Evidence,
    ImportRun,
    Recommendation,
    Theme,
    ThemeMapping,
)
from tests.fixtures_import.build import uhri_json_record, upr_rows, write_csv, write_json
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db
apply_module = importlib.import_module("cases.imports.apply")

DATA = Path("/work/shared/data/upr-china")
UPR_2018 = DATA / "china-upr-2018-cycle3.csv"
UPR_2013 = DATA / "china-upr-2013-cycle2.csv"
# The real files' misleading headers: `code` is the paragraph, `country` the recommending State.
MAP_2018 = [
    "--map", "paragraph=code",
    "--map", "recommending_states=country",
    "--map", "themes=description",
    "--set", "document=A/HRC/40/6",
    "--set", "document_date=2018-12-26",
    "--set", "state_under_review=China",
    "--set", "response_document=A/HRC/40/6/Add.1",
]  # fmt: skip
UPR_SET = {"document": "A/HRC/40/6", "document_date": "2018-12-26"}


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_recommendations", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _counts() -> dict[str, int]:
    return {
        "documents": Document.objects.count(),
        "recommendations": Recommendation.objects.count(),
        "history": Recommendation.history.count(),
        "assessments": Assessment.objects.count(),
        "evidence": Evidence.objects.count(),
        "audit": AuditEvent.objects.count(),
        "runs": ImportRun.objects.count(),
        "mappings": ThemeMapping.objects.count(),
    }


needs_data = pytest.mark.skipif(not UPR_2018.exists(), reason="the shared China UPR files are not here")


@needs_data
@pytest.mark.slow
class TestChinaUpr2018:
    def test_dry_run_previews_and_writes_nothing(self, personas):
        before = _counts()
        out, err = _run(UPR_2018, *MAP_2018, "--dry-run")
        assert _counts() == before
        assert "format upr, encoding utf-8 (detected" in out
        assert "Rows: 971 read, 0 filtered out, 0 rejected" in out
        assert "Recommendations: 375 to create, 0 to update, 0 unchanged, 0 rejected" in out
        # The 2018 defect: 28.10 and 28.100 both read 28.1. Kept apart, and said so.
        assert "A/HRC/40/6 ¶28.1: 3 texts" in out
        assert "“Acceptance of international norms” (44)" in out  # unknown theme, listed, not created
        assert "Dry run: nothing was written." in out
        assert "rows read: 971" in err and "rows/s" in err

    def test_import_then_reimport_changes_nothing(self, personas):
        original = {r.code: (r.text, r.updated_at) for r in Recommendation.objects.all()}
        themes = Theme.objects.count()
        out, _err = _run(UPR_2018, *MAP_2018, "--as", "carol")
        assert "375 created, 0 updated, 375 State responses submitted for review" in out

        doc = Document.objects.get(symbol="A/HRC/40/6")
        assert doc.issuing_body == "upr"
        recs = Recommendation.objects.filter(document=doc)
        assert recs.count() == 375
        shared = recs.filter(paragraph="28.1").order_by("paragraph_variant")
        assert [r.code for r in shared] == ["a-hrc-40-6-28-1", "a-hrc-40-6-28-1-v2", "a-hrc-40-6-28-1-v3"]
        assert len({r.text for r in shared}) == 3
        tunisia = recs.get(paragraph="28.212")
        assert tunisia.recommending_states == ["Tunisia"]
        assert tunisia.states_concerned == ["China"]
        # "Affected persons:- general" glued onto a theme became an affected person, not a theme.
        assert recs.filter(affected_persons=["general"]).exists()
        # Nothing is created silently: no theme came from the file.
        assert Theme.objects.count() == themes
        # The 17 recommendations already here are untouched.
        assert {
            r.code: (r.text, r.updated_at) for r in Recommendation.objects.filter(code__in=original)
        } == original

        # Responses: submitted State claims by the importing curator, citing the response document.
        claims = Assessment.objects.filter(recommendation__document=doc)
        assert claims.count() == 375
        assert set(claims.values_list("basis", "review_state", "author__username").distinct()) == {
            ("state_claim", "submitted", "carol")
        }
        assert claims.filter(state_response="noted").exists()
        assert claims.filter(state_response="accepted").exists()
        evidence = Evidence.objects.get(url="https://undocs.org/A/HRC/40/6/Add.1")
        assert (evidence.kind, evidence.confidentiality) == ("un_document", "public")
        assert set(claims.values_list("evidence", flat=True).distinct()) == {evidence.pk}
        # Unpublished: nothing public has changed yet.
        assert not recs.exclude(state_response="no_response").exists()

        # History rows name the curator; the run is reported and audited.
        assert tunisia.history.get().history_user == personas.carol
        run = ImportRun.objects.get()
        assert (run.status, run.created_by, run.rows_read, run.format) == ("done", personas.carol, 971, "upr")
        assert len(run.sha256) == 64
        events = list(
            AuditEvent.objects.filter(event__startswith="import.")
            .order_by("pk")
            .values_list("event", "actor_id")
        )
        assert events == [("import.apply", personas.carol.pk), ("import.finish", personas.carol.pk)]

        before = _counts()
        updated = dict(recs.values_list("code", "updated_at"))
        out, _err = _run(UPR_2018, *MAP_2018, "--as", "carol")
        assert "Recommendations: 0 to create, 0 to update, 375 unchanged, 0 rejected" in out
        assert "0 created, 0 updated, 0 State responses" in out
        after = _counts()
        # Only the new run's report and its two audit rows.
        assert after == {**before, "runs": before["runs"] + 1, "audit": before["audit"] + 2}
        assert dict(recs.values_list("code", "updated_at")) == updated

    def test_four_eyes_another_curator_publishes_the_response(self, personas):
        _run(UPR_2018, *MAP_2018, "--as", "carol")
        claim = Assessment.objects.filter(recommendation__code="a-hrc-40-6-28-212").get()
        with pytest.raises(services.TransitionError):
            services.publish_assessment(claim, reviewer=personas.carol)
        services.publish_assessment(claim, reviewer=personas.dave)
        rec = Recommendation.objects.get(code="a-hrc-40-6-28-212")
        assert rec.state_response == "accepted"
        assert rec.state_claim_id == claim.pk


@needs_data
@pytest.mark.slow
def test_2013_paragraphs_lose_their_trailing_dot(personas):
    options = Options(
        mapping={"paragraph": "code", "recommending_states": "country", "themes": "description"},
        fixed={"document": "A/HRC/25/5", "document_date": "2013-12-04"},
    )
    preview = prepare(UPR_2013, options)
    paragraphs = {c.paragraph for c in preview.candidates}
    assert "186.20" in paragraphs
    assert not any(p.endswith(".") for p in paragraphs)
    assert preview.counts()["rows"] == {"read": 743, "filtered_out": 0, "rejected": 0}
    # Glued "Affected persons:" split off the theme name.
    assert "Right to an effective remedyAffected persons:- general" not in preview.unknown["theme"]
    assert "Right to an effective remedy" in preview.unknown["theme"]


def test_monitor_cannot_import_and_nothing_is_written(tmp_path, personas):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    before = _counts()
    preview = prepare(path, Options(fixed=UPR_SET))
    with pytest.raises(PermissionDenied):
        apply(preview, user=personas.alice, path=path)
    with pytest.raises(CommandError, match="Only curators"):
        _run(path, "--set", "document=A/HRC/40/6", "--set", "document_date=2018-12-26", "--as", "alice")
    with pytest.raises(CommandError, match="--as USERNAME"):
        _run(path, "--set", "document=A/HRC/40/6", "--set", "document_date=2018-12-26")
    assert _counts() == before


def test_newer_file_updates_what_changed_with_history_and_creates_what_is_new(tmp_path, personas):
    path = write_csv(tmp_path / "v1.csv", upr_rows())
    apply(prepare(path, Options(fixed=UPR_SET)), user=personas.carol, path=path)
    rec = Recommendation.objects.get(code="a-hrc-40-6-28-3")
    assert rec.history.count() == 1

    rows = upr_rows()
    rows[5][0] = "Abolish the death penalty for all crimes"  # a corrected text, same paragraph
    rows.append(["Protect human rights defenders", "Chile", "China", "Supported", "Defenders", "28.4"])
    rows.append(["Ratify the ICCPR", "Spain", "China", "Supported", "Civil & political rights", "28.1"])
    path2 = write_csv(tmp_path / "v2.csv", rows)
    preview = prepare(path2, Options(fixed=UPR_SET))
    assert preview.counts()["recommendations"] == {"create": 1, "update": 2, "unchanged": 1, "reject": 0}
    apply(preview, user=personas.dave, path=path2)

    rec.refresh_from_db()
    assert rec.text == "Abolish the death penalty for all crimes"
    assert rec.code == "a-hrc-40-6-28-3"  # a code, once given, never changes
    latest = rec.history.first()
    assert (latest.history_type, latest.history_user) == ("~", personas.dave)
    assert rec.history.last().text == "Abolish the death penalty"
    iccpr = Recommendation.objects.get(code="a-hrc-40-6-28-1")
    assert iccpr.recommending_states == ["France", "Japan", "Spain"]
    assert Recommendation.objects.filter(code="a-hrc-40-6-28-4").exists()
    # The responses were submitted once; the re-import adds none.
    assert Assessment.objects.filter(recommendation__document__symbol="A/HRC/40/6").count() == 4


def test_curator_maps_an_unknown_theme_and_the_mapping_is_kept(tmp_path, personas):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    options = Options(
        fixed=UPR_SET,
        value_map={
            ("theme", "Death penalty"): "arbitrary-detention",
            ("theme", "Civil & political rights"): "",
        },
    )
    preview = prepare(path, options)
    assert "Death penalty" not in preview.unknown["theme"]
    assert "Civil & political rights" not in preview.unknown["theme"]  # dropped on purpose
    apply(preview, user=personas.carol, path=path)
    rec = Recommendation.objects.get(code="a-hrc-40-6-28-3")
    assert list(rec.themes.values_list("slug", flat=True)) == ["arbitrary-detention"]
    mapping = ThemeMapping.objects.get(source_name="Death penalty")
    assert (mapping.theme.slug, mapping.created_by) == ("arbitrary-detention", personas.carol)
    assert ThemeMapping.objects.get(source_name="Civil & political rights").theme is None
    assert AuditEvent.objects.filter(event="import.map_theme", actor_id=personas.carol.pk).count() == 2
    # The next import knows the mapping without being told.
    again = prepare(path, Options(fixed=UPR_SET))
    assert "Death penalty" not in again.unknown["theme"]


def test_failure_mid_file_keeps_finished_batches_and_a_rerun_resumes(tmp_path, personas, monkeypatch):
    path = write_csv(tmp_path / "upr.csv", upr_rows())
    original = apply_module._Writer.save_batch
    calls = {"n": 0}

    def failing(self, batch, documents):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self, batch, documents)

    monkeypatch.setattr(apply_module._Writer, "save_batch", failing)
    preview = prepare(path, Options(fixed=UPR_SET, batch_size=1))
    with pytest.raises(
        ImportFailed, match=r"Batch 3 of 4 failed .*disk full.* Batches 1 to 2 are applied"
    ) as exc:
        apply(preview, user=personas.carol, path=path)
    run = exc.value.run
    assert (run.status, run.batches_done) == ("failed", 2)
    assert AuditEvent.objects.filter(event="import.fail", target_id=str(run.pk)).exists()
    # The first batch is whole (recommendation and its response), the failed one left nothing behind.
    assert Recommendation.objects.filter(document__symbol="A/HRC/40/6").count() == 1
    assert Assessment.objects.filter(recommendation__document__symbol="A/HRC/40/6").count() == 1

    monkeypatch.setattr(apply_module._Writer, "save_batch", original)
    resumed = prepare(path, Options(fixed=UPR_SET, batch_size=1))
    assert resumed.counts()["recommendations"] == {"create": 2, "update": 0, "unchanged": 1, "reject": 0}
    apply(resumed, user=personas.carol, path=path)
    assert Recommendation.objects.filter(document__symbol="A/HRC/40/6").count() == 3
    assert Assessment.objects.filter(recommendation__document__symbol="A/HRC/40/6").count() == 3


def test_uhri_json_newer_export_updates_by_annotation_id(tmp_path, personas):
    path = write_json(
        tmp_path / "v1.json", [uhri_json_record("ann-1", "Investigate all allegations of torture")]
    )
    apply(prepare(path, Options()), user=personas.carol, path=path)
    rec = Recommendation.objects.get(external_id="ann-1")
    assert rec.document.symbol == "CAT/C/CHN/CO/5" and rec.document.issuing_body == "cat"
    assert rec.affected_persons == ["Persons deprived of their liberty"]

    path2 = write_json(
        tmp_path / "v2.json",
        [
            uhri_json_record("ann-1", "Investigate promptly all allegations of torture"),
            uhri_json_record("ann-2", "Abolish residential surveillance at a designated location"),
        ],
    )
    preview = prepare(path2, Options())
    assert preview.counts()["recommendations"] == {"create": 1, "update": 1, "unchanged": 0, "reject": 0}
    apply(preview, user=personas.carol, path=path2)
    rec.refresh_from_db()
    assert rec.text == "Investigate promptly all allegations of torture"
    assert rec.history.count() == 2
    assert Recommendation.objects.filter(document__symbol="CAT/C/CHN/CO/5").count() == 2


def test_command_filter_and_errors_file(tmp_path, personas):
    rows = [
        *upr_rows(),
        ["Protect defenders", "Chile", "Viet Nam", "Supported", "Defenders", "9.1"],
        ["", "X", "China", "", "", "1"],
    ]
    path = write_csv(tmp_path / "upr.csv", rows)
    errors = tmp_path / "errors.csv"
    out, _err = _run(
        path, "--set", "document=A/HRC/40/6", "--set", "document_date=2018-12-26",
        "--filter", "state_under_review=China", "--dry-run", "--errors", errors,
    )  # fmt: skip
    assert "Rows: 7 read, 1 filtered out, 1 rejected" in out
    assert "row 8, “Recommendation”: no text" in out
    assert errors.read_text().splitlines() == ["row,column,reason", "8,Recommendation,no text"]


def test_bad_file_is_refused_by_the_command(tmp_path, personas):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(CommandError, match="not a CSV, XLSX or JSON file"):
        _run(path, "--dry-run")
    assert ImportRun.objects.count() == 0
