"""Management commands of the contract: adduser and bootstrap_admin; and /healthz."""

import io
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError

from cases.models import Organisation
from tracker.accounts.models import AccountOrigin, AuditEvent
from tracker.accounts.roles import is_curator, is_monitor

pytestmark = pytest.mark.django_db
GOOD = "a long enough passphrase 42"


def _adduser(*args, stdin: str = f"{GOOD}\n{GOOD}\n"):
    out = io.StringIO()
    with mock.patch("sys.stdin", io.StringIO(stdin)):
        call_command("adduser", *args, stdout=out)
    return out.getvalue()


def test_adduser_monitor_reads_password_from_stdin():
    out = _adduser("amina", "--role", "monitor", "--email", "amina@example.org")
    user = get_user_model().objects.get(username="amina")
    assert "Created monitor 'amina'" in out
    assert user.check_password(GOOD)
    assert user.email == "amina@example.org"
    assert is_monitor(user) and not is_curator(user)
    assert not user.is_staff
    assert user.membership.organisation.name == "Default organisation"
    # Made by an operator on the command line: nobody is recorded as its maker, and the audit trail has it.
    assert AccountOrigin.objects.get(user=user).created_by is None
    event = AuditEvent.objects.get(event="user.create", target_id=str(user.pk))
    assert (event.actor, event.organisation, event.fields) == (
        None,
        user.membership.organisation,
        {"role": "monitor"},
    )


def test_adduser_curator_in_named_organisation_gets_admin_access():
    _adduser("carol", "--role", "curator", "--organisation", "Uyghur Human Rights Project", stdin=GOOD + "\n")
    user = get_user_model().objects.get(username="carol")
    assert user.is_staff and not user.is_superuser
    assert is_curator(user)
    assert user.membership.organisation == Organisation.objects.get(name="Uyghur Human Rights Project")
    assert user.has_perm("cases.change_recommendation")
    event = AuditEvent.objects.get(event="user.create", target_id=str(user.pk))
    assert (event.target_type, event.fields) == ("auth.user", {"role": "curator"})


def test_adduser_operator_is_a_superuser_with_an_organisation():
    """`createsuperuser` makes an account without a membership (refused everywhere); operators use this."""
    out = _adduser("olga", "--role", "operator", "--organisation", "Instance operators")
    user = get_user_model().objects.get(username="olga")
    assert "Created operator 'olga'" in out
    assert user.is_superuser and user.is_staff
    assert user.membership.organisation.name == "Instance operators"
    assert AuditEvent.objects.get(event="user.create", target_id=str(user.pk)).fields == {"role": "operator"}


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "No password"),
        ("short\nshort\n", "Password refused"),
        (f"{GOOD}\nsomething else\n", "do not match"),
        ("password123456\n", "Password refused"),
    ],
)
def test_adduser_refuses_bad_passwords_and_creates_nothing(stdin, message):
    with pytest.raises(CommandError, match=message):
        _adduser("amina", "--role", "monitor", stdin=stdin)
    assert not get_user_model().objects.filter(username="amina").exists()
    assert not AuditEvent.objects.filter(event="user.create").exists()


def test_adduser_refuses_duplicates_and_unknown_roles():
    _adduser("amina", "--role", "monitor")
    with pytest.raises(CommandError, match="already exists"):
        _adduser("Amina", "--role", "curator")
    with pytest.raises(CommandError):
        _adduser("bob", "--role", "dictator")


def test_bootstrap_admin_creates_one_superuser_once():
    out = io.StringIO()
    call_command("bootstrap_admin", stdout=out)
    assert "password:" in out.getvalue()
    password = out.getvalue().split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    again = io.StringIO()
    call_command("bootstrap_admin", stdout=again)
    assert "password" not in again.getvalue()
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert AuditEvent.objects.filter(event="user.create", fields={"role": "operator"}).count() == 1


def test_bootstrap_admin_saves_the_sign_in_to_a_private_file(tmp_path):
    path = tmp_path / "var" / "first-admin.txt"
    out = io.StringIO()
    call_command("bootstrap_admin", "--save", str(path), stdout=out)
    password = out.getvalue().split("password: ")[1].split()[0]
    assert path.read_text() == f"username: admin\npassword: {password}\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert get_user_model().objects.get(username="admin").check_password(password)
    # Once a superuser exists nothing is written again (the file keeps the first sign-in).
    path.unlink()
    call_command("bootstrap_admin", "--save", str(path), stdout=io.StringIO())
    assert not path.exists()


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_503_when_database_fails(client):
    with mock.patch("cases.health.load_backend", side_effect=DatabaseError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert b"ok" not in response.content


def test_migrate_creates_role_groups_with_their_permissions():
    """The groups come from `migrate` itself (post_migrate), not from a helper called by tests."""
    from django.contrib.auth.models import Group

    from tracker.accounts.roles import CURATORS, MONITORS, ROLE_PERMISSIONS

    for name in (MONITORS, CURATORS):
        granted = {
            f"{app}.{codename}"
            for app, codename in Group.objects.get(name=name).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert set(ROLE_PERMISSIONS[name]) <= granted, set(ROLE_PERMISSIONS[name]) - granted
