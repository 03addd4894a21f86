"""Backups (issue 15): a backup restores into an empty database exactly; it is encrypted and authenticated
(tampered, truncated, damaged files and the wrong key are refused with the target unchanged); written 0600;
without sessions, one-time keys or lockout rows unless asked; a consistent snapshot that does not hold up
writers; one query per table. Runs on the suite's database (SQLite file or PostgreSQL), both formats."""

import base64
import io
import os
import stat
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import CommandError, call_command
from django.core.management.color import no_style
from django.db import connection, transaction

from cases import services
from cases.backup import envelope, portable, write_backup
from cases.backup.checks import invariants, table_digests
from cases.backup.tables import TRANSIENT_TABLES, backed_up_models
from cases.models import ApiKey, Assessment, AssessmentTransition, Evidence, Recommendation, ReviewState
from tests.factories import submit
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)

FORMATS = ["native", "portable"]


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def backup_key(settings):
    settings.BACKUP_KEY = new_key()
    settings.BACKUP_PASSPHRASE = ""
    return settings


def digests() -> dict:
    """Every table's rows and content hash, except the audit trail (backups and refusals add to it)."""
    result = table_digests()
    result.pop("accounts_auditevent")
    return result


def wipe() -> None:
    """Empty every table, as a freshly created database is, bypassing model guards (raw SQL)."""
    tables = [m._meta.db_table for m in backed_up_models(include_sessions=True)]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in connection.ops.sql_flush(no_style(), tables, allow_cascade=True):
            cursor.execute(sql)


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=name).order_by("pk"))


@pytest.fixture
def populated(personas):
    p = personas
    published = submit(p.rec, p.alice, [p.public_ev, p.internal_ev])
    services.publish_assessment(published, reviewer=p.carol)
    returned = submit(p.rec2, p.alice, [p.partners_ev], rationale="Uyghur: ئۇيغۇر — 中文 — needs work")
    services.return_assessment(returned, reviewer=p.dave, comment="Add a source.")
    return p


def backup(path, *args) -> str:
    out = io.StringIO()
    call_command("backup", str(path), *args, stdout=out)
    return out.getvalue()


def restore(path, *args) -> str:
    out = io.StringIO()
    call_command("restore", str(path), *args, stdout=out)
    return out.getvalue()


# --- Finding 1: a backup restores into an empty database ----------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_restore_into_an_empty_database_gives_back_every_row(populated, tmp_path, fmt):
    """The repro of finding 1: restore used `.set()` for links, whose signals refused evidence on a published
    assessment (SQLite) or wrote a colliding history row (PostgreSQL)."""
    before = digests()
    assert before["cases_assessment_evidence"][0] == 3
    assert before["cases_historicalevidence"][0] > 0
    path = tmp_path / "tracker.backup"
    assert f"Wrote a {connection.vendor if fmt == 'native' else 'portable'} backup" in backup(
        path, "--format", fmt
    )
    assert len(events("backup.create")) == 1
    wipe()
    assert Recommendation.objects.count() == 0
    assert "Restored" in restore(path)
    assert digests() == before
    assert invariants() == {"status_mismatches": [], "four_eyes_violations": 0, "dangling_references": {}}
    assert get_user_model().objects.get(username="alice").check_password("correct horse battery staple")
    assert Assessment.objects.get(rationale__startswith="Uyghur").rationale.startswith("Uyghur: ئۇيغۇر")
    # The restored audit trail is the backup's (its own `backup.create` row came after its snapshot) plus
    # the restore.
    assert [e.fields["format"] for e in events("backup.restore")] == [
        connection.vendor if fmt == "native" else "portable"
    ]
    # Sequences continue after the restored ids, so new rows do not collide.
    services.add_evidence(added_by=populated.alice, url="https://example.org/after-restore", title="New")
    again = submit(populated.rec2, populated.alice, [populated.public_ev])
    services.publish_assessment(again, reviewer=populated.carol)


@pytest.mark.parametrize("fmt", FORMATS)
def test_restore_refuses_a_database_with_data_and_replaces_it_whole_when_asked(populated, tmp_path, fmt):
    """Restore into a changed database: refused unless --replace; with it, the target becomes exactly the
    backup (rows added since are gone, rows changed or deleted since are back), links included."""
    before = digests()
    path = tmp_path / "tracker.backup"
    backup(path, "--format", fmt)
    Evidence.objects.filter(url__contains="partners").update(title="changed since")
    Recommendation.objects.filter(code="XJ22-152-i").update(text="changed since")
    ApiKey.objects.all().delete()
    extra = submit(populated.rec2, populated.alice, [populated.public_ev])
    services.publish_assessment(extra, reviewer=populated.dave)
    changed = digests()
    with pytest.raises(CommandError, match="already holds data"):
        restore(path)
    assert digests() == changed
    assert events("backup.refused")[-1].fields == {"action": "restore", "reason": "not_empty"}
    restore(path, "--replace")
    assert digests() == before
    assert events("backup.restore")[-1].fields["replaced"] is True
    assert invariants()["status_mismatches"] == []


# --- Finding 5: safe to keep ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_backup_file_is_private_and_encrypted(populated, tmp_path, fmt):
    path = tmp_path / "tracker.backup"
    old_umask = os.umask(0o022)
    try:
        backup(path, "--format", fmt)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.startswith(envelope.MAGIC)
    # Nothing readable without the key: no user name, no text of the data set, no password hash.
    for secret in (b"alice", "ئۇيغۇر".encode(), b"md5$", b"Witness statement"):
        assert secret not in raw
    assert not list(tmp_path.glob("*.partial"))
    event = events("backup.create")[-1]
    assert event.fields["format"] == (connection.vendor if fmt == "native" else "portable")
    assert event.fields["bytes"] == len(raw)


def test_backup_without_a_key_is_refused(populated, tmp_path, settings):
    settings.BACKUP_KEY = ""
    with pytest.raises(CommandError, match="No backup key"):
        backup(tmp_path / "b")
    assert not (tmp_path / "b").exists()
    settings.BACKUP_KEY = "too-short"
    with pytest.raises(CommandError, match="32 bytes"):
        backup(tmp_path / "b")
    assert events("backup.refused")[-1].fields == {"action": "backup", "reason": "no_key"}


def _content(path) -> bytes:
    _header, chunks = envelope.open_backup(path)
    return b"".join(chunks)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sessions_one_time_keys_and_lockout_rows_are_left_out_unless_asked(populated, tmp_path, fmt):
    from allauth.account.models import EmailAddress, EmailConfirmation
    from axes.models import AccessAttempt

    session = SessionStore()
    session["_auth_user_id"] = str(populated.alice.pk)
    session.create()
    address = EmailAddress.objects.create(user=populated.alice, email="alice@example.org")
    EmailConfirmation.objects.create(email_address=address, key="one-time-confirmation-key")
    AccessAttempt.objects.create(username="alice", failures_since_start=3, ip_address="192.0.2.0")

    plain, full = tmp_path / "plain.backup", tmp_path / "full.backup"
    backup(plain, "--format", fmt)
    backup(full, "--format", fmt, "--include-sessions")
    if fmt == "portable" or connection.vendor == "sqlite":
        # The decrypted content does not hold the session key, not even in SQLite's free pages.
        assert session.session_key.encode() not in _content(plain)
        assert b"one-time-confirmation-key" not in _content(plain)
        assert session.session_key.encode() in _content(full)

    wipe()
    restore(plain)
    assert not SessionStore().exists(session.session_key)
    assert not EmailConfirmation.objects.exists()
    assert not AccessAttempt.objects.exists()
    assert EmailAddress.objects.filter(email="alice@example.org").exists()  # an address is not a secret

    restore(full, "--replace")
    assert SessionStore().exists(session.session_key)
    assert EmailConfirmation.objects.filter(key="one-time-confirmation-key").exists()
    assert AccessAttempt.objects.filter(username="alice").exists()


def test_restore_empties_the_targets_own_sessions(populated, tmp_path):
    """A session of the replaced database must not sign anyone in as the restored user of the same id."""
    path = tmp_path / "b"
    backup(path, "--format", "portable")
    stale = SessionStore()
    stale["_auth_user_id"] = str(populated.carol.pk)
    stale.create()
    restore(path, "--replace")
    assert not SessionStore().exists(stale.session_key)


def _damaged(good: bytes) -> dict[str, bytes]:
    header_end = len(envelope.MAGIC) + 4 + int.from_bytes(good[8:12], "big")

    def flip(at: int) -> bytes:
        data = bytearray(good)
        data[at] ^= 0x01
        return bytes(data)

    return {
        "byte in header": flip(header_end - 5),
        "byte in first chunk": flip(header_end + 10),
        "byte in the middle": flip(len(good) // 2),
        "last byte": flip(len(good) - 1),
        "chunk length": flip(header_end + 3),
        "truncated in half": good[: len(good) // 2],
        "truncated by one byte": good[:-1],
        "only the header": good[:header_end],
        "data appended": good + b"\x00",
        "not a backup": b"hello",
        "empty": b"",
        "old gzip backup": b"\x1f\x8b\x08\x00" + good[4:],
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_truncated_and_tampered_files_are_refused_and_change_nothing(populated, tmp_path, fmt):
    good = tmp_path / "good.backup"
    backup(good, "--format", fmt)
    Recommendation.objects.filter(code="XJ22-152-i").update(text="current text")
    before = digests()
    variants = _damaged(good.read_bytes())
    for name, data in variants.items():
        bad = tmp_path / "bad.backup"
        bad.write_bytes(data)
        with pytest.raises(CommandError, match="Refused") as refused:
            restore(bad, "--replace")
        assert "was not changed" in str(refused.value), name
        with pytest.raises(CommandError, match="Refused"):
            restore(bad, "--verify-only")
        assert digests() == before, name
    reasons = [e.fields["reason"] for e in events("backup.refused")]
    assert len(reasons) == 2 * len(variants)
    assert {"tampered", "truncated", "format"} <= set(reasons)


def test_a_recomputed_checksum_does_not_help_a_tamperer(populated, tmp_path):
    """Finding 5: the old trailer was a SHA-256 anyone could recompute. Re-encrypting changed content needs
    the key; with a different key the file is refused as written with the wrong key."""
    path = tmp_path / "b"
    backup(path, "--format", "portable")
    header, chunks = envelope.open_backup(path)
    content = b"".join(chunks).replace(b"XJ22-151-i", b"XJ22-666-i")
    from django.test import override_settings

    forged = tmp_path / "forged"
    with (
        override_settings(BACKUP_KEY=new_key()),
        envelope.Writer(forged, {k: header[k] for k in ("kind", "vendor", "created_at", "migrations")}) as w,
    ):
        w.write(content)
    with pytest.raises(CommandError, match="Wrong key"):
        restore(forged, "--replace")
    assert not Recommendation.objects.filter(code="XJ22-666-i").exists()


def test_wrong_key_and_passphrases(populated, tmp_path, settings):
    path = tmp_path / "b"
    backup(path)
    settings.BACKUP_KEY = new_key()
    with pytest.raises(CommandError, match="Wrong key"):
        restore(path, "--verify-only")
    settings.BACKUP_KEY = ""
    with pytest.raises(CommandError, match="set BACKUP_KEY"):
        restore(path, "--verify-only")
    assert events("backup.refused")[-1].fields["reason"] == "no_key"

    settings.BACKUP_PASSPHRASE = "a long passphrase nobody guesses"
    phrase = tmp_path / "p"
    backup(phrase, "--format", "portable")
    assert envelope.open_backup(phrase)[0]["kdf"]["name"] == "scrypt"
    assert "intact and authentic" in restore(phrase, "--verify-only")
    settings.BACKUP_PASSPHRASE = "another passphrase entirely"
    with pytest.raises(CommandError, match="Wrong key"):
        restore(phrase, "--verify-only")


def test_key_rotation_restore_with_the_old_key_back_up_with_the_new(populated, tmp_path, settings):
    old, new = tmp_path / "old", tmp_path / "new"
    backup(old)
    before = digests()
    settings.BACKUP_KEY, old_key = new_key(), settings.BACKUP_KEY
    backup(new)
    settings.BACKUP_KEY = old_key
    wipe()
    restore(old)
    assert digests() == before
    with pytest.raises(CommandError, match="Wrong key"):
        restore(new, "--verify-only")


def test_verify_only_and_missing_file(populated, tmp_path):
    path = tmp_path / "b.backup"
    backup(path, "--format", "portable")
    out = restore(path, "--verify-only")
    assert "intact and authentic: a portable backup" in out
    with pytest.raises(CommandError, match="No backup file"):
        restore(tmp_path / "missing")


# --- Findings 2 and 3: one snapshot, writers not held up -------------------------------------------------


def test_portable_backup_is_one_snapshot_and_lets_writers_through(populated, tmp_path, monkeypatch):
    """A publication made while the backup is between the assessments and their transitions must be
    either wholly in the file or wholly out of it (finding 2), and must not wait for the backup (finding 3:
    the old backup held SQLite's write lock for its whole run)."""
    p = populated
    pending = submit(p.rec2, p.alice, [p.public_ev], rationale="Published during the backup.")
    published_during: list[float] = []
    original = portable._batches

    def rows_with_a_concurrent_publication(model, alias, fields):
        if model is AssessmentTransition and not published_during:
            result: list = []

            def publish():
                started = time.monotonic()
                try:
                    services.publish_assessment(Assessment.objects.get(pk=pending.pk), reviewer=p.carol)
                    result.append(time.monotonic() - started)
                except Exception as exc:  # reported below
                    result.append(exc)
                finally:
                    connection.close()

            worker = threading.Thread(target=publish)
            worker.start()
            worker.join(10)
            published_during.extend(result)
        yield from original(model, alias, fields)

    monkeypatch.setattr(portable, "_batches", rows_with_a_concurrent_publication)
    path = tmp_path / "b"
    write_backup(path, format="portable")
    assert len(published_during) == 1 and isinstance(published_during[0], float), published_during
    assert published_during[0] < 2.0
    assert Assessment.objects.get(pk=pending.pk).review_state == ReviewState.PUBLISHED

    wipe()
    restore(path)
    # The file holds the database as it was when the backup began: the publication is not in it at all.
    restored = Assessment.objects.get(pk=pending.pk)
    assert restored.review_state == ReviewState.SUBMITTED
    assert not AssessmentTransition.objects.filter(
        assessment=restored, to_state=ReviewState.PUBLISHED
    ).exists()
    assert invariants() == {"status_mismatches": [], "four_eyes_violations": 0, "dangling_references": {}}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_backup_under_concurrent_publications_restores_consistent(populated, tmp_path, fmt):
    """Writers keep submitting and publishing while backups run; every backup restores with the app's
    invariants intact and no writer ever waits long or fails with "database is locked"."""
    p = populated
    stop = threading.Event()
    waits: list[float] = []
    errors: list[Exception] = []

    def write():
        try:
            i = 0
            while not stop.is_set():
                started = time.monotonic()
                a = submit(p.rec if i % 2 else p.rec2, p.alice, [p.public_ev], rationale=f"Under load {i}.")
                services.publish_assessment(a, reviewer=p.carol if i % 3 else p.dave)
                waits.append(time.monotonic() - started)
                i += 1
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=write)
    worker.start()
    try:
        paths = []
        for n in range(3):
            time.sleep(0.2)
            paths.append(tmp_path / f"b{n}")
            write_backup(paths[-1], format=fmt)
    finally:
        stop.set()
        worker.join(30)
    assert not errors, errors
    assert len(waits) >= 3 and max(waits) < 2.0, waits
    for path in paths:
        restore(path, "--replace")
        assert invariants() == {"status_mismatches": [], "four_eyes_violations": 0, "dangling_references": {}}


# --- Finding 4: one query per table ---------------------------------------------------------------------


def test_portable_backup_reads_each_table_once(populated, tmp_path, django_assert_max_num_queries):
    for i in range(30):
        services.add_evidence(added_by=populated.alice, url=f"https://example.org/{i}", title=f"Source {i}")
    tables = len(backed_up_models())
    # One SELECT per table, the snapshot's BEGIN/SET/COMMIT, the migration state, the audit row.
    with django_assert_max_num_queries(tables + 10):
        write_backup(tmp_path / "b", format="portable")


def test_transient_tables_exist():
    """The exclusion list names real tables (a renamed table would silently be backed up again)."""
    existing = set(connection.introspection.table_names())
    assert set(TRANSIENT_TABLES) <= existing
