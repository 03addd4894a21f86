"""Backups: a round trip yields identical data; a damaged or truncated file is refused and changes nothing."""

import gzip
import io

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import CommandError, call_command

from cases import services
from cases.backup import backed_up_models
from cases.models import ApiKey, Assessment, Evidence, Recommendation
from tests.factories import submit

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> list:
    rows = []
    for model in backed_up_models():
        rows.extend(
            serializers.serialize(
                "python", model._default_manager.order_by("pk"), use_natural_foreign_keys=True
            )
        )
    return rows


@pytest.fixture
def populated(personas):
    p = personas
    published = submit(p.rec, p.alice, [p.public_ev, p.internal_ev])
    services.publish_assessment(published, reviewer=p.carol)
    returned = submit(p.rec2, p.alice, [p.partners_ev], rationale="Uyghur: ئۇيغۇر — 中文 — needs work")
    services.return_assessment(returned, reviewer=p.dave, comment="Add a source.")
    return p


def test_round_trip_restores_identical_data(populated, tmp_path):
    before = snapshot()
    path = tmp_path / "tracker.backup"
    out = io.StringIO()
    call_command("backup", str(path), stdout=out)
    assert "Wrote" in out.getvalue()
    # Damage the live data in every way a restore must undo.
    Evidence.objects.filter(url__contains="partners").update(title="tampered")
    Recommendation.objects.filter(code="XJ22-152-i").update(text="tampered")
    ApiKey.objects.all().delete()
    get_user_model().objects.create_user("intruder", password="x" * 20)
    call_command("restore", str(path), stdout=io.StringIO())
    after = snapshot()
    assert after == before
    assert get_user_model().objects.get(username="alice").check_password("correct horse battery staple")
    assert Assessment.objects.get(rationale__startswith="Uyghur").rationale.startswith("Uyghur: ئۇيغۇر")
    # Sequences continue after the restored ids, so new rows do not collide.
    services.add_evidence(added_by=populated.alice, url="https://example.org/after-restore", title="New")


def _damaged_variants(good: bytes) -> dict[str, bytes]:
    raw = gzip.decompress(good)
    lines = raw.splitlines(keepends=True)
    flipped = bytearray(raw)
    middle = len(raw) // 2
    flipped[middle] = ord("X") if flipped[middle] != ord("X") else ord("Y")
    return {
        "truncated gzip": good[: len(good) // 2],
        "no trailer": gzip.compress(b"".join(lines[:-1])),
        "missing object": gzip.compress(b"".join(lines[:2] + lines[3:])),
        "changed byte": gzip.compress(bytes(flipped)),
        "not gzip": b"hello",
        "other format": gzip.compress(b'{"format": "something else"}\n'),
        "empty": gzip.compress(b""),
    }


@pytest.mark.parametrize(
    "variant",
    ["truncated gzip", "no trailer", "missing object", "changed byte", "not gzip", "other format", "empty"],
)
def test_restore_refuses_damaged_file_and_changes_nothing(populated, tmp_path, variant):
    good_path = tmp_path / "good.backup"
    call_command("backup", str(good_path), stdout=io.StringIO())
    bad_path = tmp_path / "bad.backup"
    bad_path.write_bytes(_damaged_variants(good_path.read_bytes())[variant])
    Recommendation.objects.filter(code="XJ22-152-i").update(text="current text")
    before = snapshot()
    with pytest.raises(CommandError, match="Refused"):
        call_command("restore", str(bad_path), stdout=io.StringIO())
    assert snapshot() == before


def test_verify_only_and_missing_file(populated, tmp_path):
    path = tmp_path / "b.backup"
    call_command("backup", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore", str(path), "--verify-only", stdout=out)
    assert "intact" in out.getvalue()
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "missing"), stdout=io.StringIO())
