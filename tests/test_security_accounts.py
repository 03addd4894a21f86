"""Accounts: password hashing and rules, enforced two-factor, session lifetimes, "sign out everywhere",
brute-force lockout and the security log of account events. Every test signs in through allauth's real
pages unless it is about something else."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

import tracker.accounts.security  # noqa: F401  (connects the receivers, as CasesConfig.ready does)
from tests.factories import PASSWORD, make_user
from tests.mfa_helpers import activate_totp, login_with_mfa, totp_code, totp_secret
from tracker.accounts import roles

LOGIN = reverse("account_login")
DASHBOARD = reverse("cases:dashboard")
ADMIN = reverse("admin:index")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth keeps rate-limit counters and used TOTP codes in the cache; user ids repeat between tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mfa_enforced(settings):
    # The suite runs with MFA_ENFORCE off (tests/pytest_env.py); production has it on.
    settings.MFA_ENFORCE = True


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="security")
    # The "security" logger does not propagate (it has its own handler); let caplog's root handler see it.
    logger = logging.getLogger("security")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "security"]


def audit_rows(event: str, *, actor) -> list[dict]:
    """The details of `actor`'s AuditEvent rows of `event`, oldest first: the row the log line stands for."""
    from tracker.accounts.models import AuditEvent

    rows = AuditEvent.objects.filter(event=event, actor=actor).order_by("pk")
    return [row.fields for row in rows]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def sign_in(client: Client, login: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"login": login, "password": password}, **extra)


def confirm_password(client: Client, next_url: str = "") -> str:
    """allauth asks for the password again (5 minutes' grace) before two-factor changes."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD, "next": next_url})
    assert response.status_code == 302, response
    return response["Location"]


# --- Passwords ----------------------------------------------------------------------------------------------


class TestPasswords:
    def test_production_hasher_is_argon2id(self, settings):
        from tracker import settings as project_settings

        assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
        settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
        encoded = make_password("a long enough passphrase")
        assert encoded.startswith("argon2$argon2id$")
        assert check_password("a long enough passphrase", encoded)
        assert not check_password("a long enough passphrasE", encoded)

    @pytest.mark.parametrize(
        ("password", "message"),
        [
            ("elevenchars", "at least 12 characters"),
            ("password1234", "too common"),
            ("alice.example", "too similar"),
        ],
    )
    def test_weak_passwords_are_refused(self, db, password, message):
        user = get_user_model()(username="alice.example", email="alice.example@example.org")
        with pytest.raises(ValidationError) as excinfo:
            validate_password(password, user)
        assert message in " ".join(excinfo.value.messages)

    @pytest.mark.parametrize(
        "password", ["bluegreenriver", "839201746512", "ئۇيغۇر تىلى ياخشى", "十二个汉字的密码短语很长的"]
    )
    def test_length_is_enough_without_composition_rules(self, db, password):
        user = get_user_model()(username="alice", email="alice@example.org")
        validate_password(password, user)  # raises on failure

    def test_password_change_page_applies_the_rules(self, personas):
        client = Client()
        client.force_login(personas.alice)
        url = reverse("account_change_password")
        short = client.post(url, {"oldpassword": PASSWORD, "password1": "short pw", "password2": "short pw"})
        assert short.status_code == 200
        assert "at least 12 characters" in short.content.decode()
        personas.alice.refresh_from_db()
        assert personas.alice.check_password(PASSWORD)

        ok = client.post(
            url, {"oldpassword": PASSWORD, "password1": "bluegreenriver", "password2": "bluegreenriver"}
        )
        assert ok.status_code == 302
        personas.alice.refresh_from_db()
        assert personas.alice.check_password("bluegreenriver")


# --- Two-factor ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("mfa_enforced")
class TestTwoFactorEnforcement:
    def test_curator_without_a_second_factor_is_sent_to_set_one_up(self, personas):
        client = Client()
        response = sign_in(client, "carol")
        assert response.status_code == 302
        for path in (DASHBOARD, ADMIN, reverse("cases:review-queue")):
            response = client.get(path)
            assert response.status_code == 302, path
            assert response["Location"].startswith(reverse("mfa_activate_totp") + "?next=")
            assert any("two-factor authentication" in m for m in messages_of(response))
        # Set-up asks for the password again (allauth's rule for two-factor changes), then shows the code.
        setup = client.get(reverse("mfa_activate_totp"))
        assert setup["Location"].startswith(reverse("account_reauthenticate"))
        assert client.get(setup["Location"]).status_code == 200
        assert client.get(confirm_password(client, reverse("mfa_activate_totp"))).status_code == 200
        assert client.get(reverse("mfa_index")).status_code == 200
        assert client.post(reverse("account_logout")).status_code == 302
        assert client.get(DASHBOARD)["Location"].startswith(LOGIN)

    def test_superuser_is_held_back_too(self, db):
        admin = make_user("root", role=None, is_superuser=True, is_staff=True)
        client = Client()
        client.force_login(admin)
        assert client.get(ADMIN)["Location"].startswith(reverse("mfa_activate_totp"))

    def test_monitor_is_not_forced(self, personas):
        client = Client()
        assert sign_in(client, "alice").status_code == 302
        assert client.get(DASHBOARD).status_code == 200
        assert client.get(reverse("mfa_index")).status_code == 200

    def test_mfa_required_for_all_forces_the_monitor(self, personas, settings):
        settings.MFA_REQUIRED_FOR_ALL = True
        client = Client()
        sign_in(client, "alice")
        response = client.get(DASHBOARD)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("mfa_activate_totp"))

    def test_enforcement_off_lets_curators_through(self, personas):
        client = Client()
        client.force_login(personas.carol)
        with override_settings(MFA_ENFORCE=False):
            assert client.get(DASHBOARD).status_code == 200

    def test_curator_signing_in_with_password_and_totp_reaches_the_admin(self, personas, security_log):
        _authenticator, secret = activate_totp(personas.carol)
        client = Client()
        response = sign_in(client, "carol")
        assert response["Location"] == reverse("mfa_authenticate")
        # Half-way (password only) is not signed in: the admin sends back to the pending code step.
        halfway = client.get(ADMIN, follow=True)
        assert [url for url, _status in halfway.redirect_chain][-1] == reverse("mfa_authenticate")
        assert "_auth_user_id" not in client.session

        wrong = client.post(
            reverse("mfa_authenticate"), {"code": "000000" if totp_code(secret) != "000000" else "1"}
        )
        assert wrong.status_code == 200
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        assert response.status_code == 302
        admin = client.get(ADMIN)
        assert admin.status_code == 200
        assert "Accountability Tracker administration" in admin.content.decode()
        assert client.get(DASHBOARD).status_code == 200
        lines = security_lines(security_log)
        assert f"mfa.failed user={personas.carol.pk} type=totp ip=127.0.0.0/24" in lines
        assert f"auth.login user={personas.carol.pk} methods=password+mfa:totp ip=127.0.0.0/24" in lines

    def test_password_only_session_of_an_enrolled_curator_must_confirm_the_second_factor(self, personas):
        _authenticator, secret = activate_totp(personas.carol)
        client = Client()
        client.force_login(personas.carol)  # a session that never passed the second factor
        response = client.get(ADMIN)
        assert response["Location"] == reverse("mfa_reauthenticate") + "?next=%2Fadmin%2F"
        # Nor may it reach what would let it add or read second factors of its own.
        for name in ("mfa_view_recovery_codes", "mfa_add_webauthn", "mfa_index"):
            assert client.get(reverse(name))["Location"].startswith(reverse("mfa_reauthenticate")), name
        page = client.get(response["Location"])
        assert page.status_code == 200
        confirmed = client.post(response["Location"], {"code": totp_code(secret)})
        assert confirmed["Location"] == ADMIN
        assert client.get(ADMIN).status_code == 200

    def test_api_answers_json_instead_of_redirecting(self, personas):
        client = Client()
        client.force_login(personas.carol)
        response = client.get(reverse("api:recommendation-list"))
        assert response.status_code == 403
        assert "Two-factor authentication is required" in response.json()["detail"]
        # Partner keys are not users: nothing changes for them.
        keyed = Client(HTTP_AUTHORIZATION=f"Bearer {personas.public_secret}")
        assert keyed.get(reverse("api:recommendation-list")).status_code == 200

    def test_deploy_check_warns_when_enforcement_is_off(self, settings):
        from tracker.accounts.security import _mfa_enforcement_is_on

        assert _mfa_enforcement_is_on(None) == []
        settings.MFA_ENFORCE = False
        assert [m.id for m in _mfa_enforcement_is_on(None)] == ["cases.W001"]

    def test_login_with_mfa_helper_passes(self, personas):
        client = Client()
        login_with_mfa(client, personas.carol)
        assert client.get(ADMIN).status_code == 200
        assert client.get(reverse("cases:review-queue")).status_code == 200

    def test_enforcement_costs_no_query_once_the_session_passed(self, personas):
        client = Client()
        login_with_mfa(client, personas.carol)
        client.get(DASHBOARD)  # warm up (content types, first-request work)
        with CaptureQueriesContext(connection) as enforced:
            assert client.get(DASHBOARD).status_code == 200
        with override_settings(MFA_ENFORCE=False), CaptureQueriesContext(connection) as free:
            assert client.get(DASHBOARD).status_code == 200
        assert len(enforced) == len(free)
        assert not [q for q in enforced.captured_queries if "mfa_authenticator" in q["sql"]]

    def test_curator_cannot_remove_the_last_second_factor_but_a_monitor_can(self, personas):
        client = Client()
        authenticator = login_with_mfa(client, personas.carol)
        confirm_password(client)
        response = client.post(reverse("mfa_deactivate_totp"))
        assert response.status_code == 200
        assert "You cannot deactivate two-factor authentication." in response.content.decode()
        assert Authenticator.objects.filter(pk=authenticator.pk).exists()

        monitor = Client()
        login_with_mfa(monitor, personas.alice)
        confirm_password(monitor)
        assert monitor.post(reverse("mfa_deactivate_totp")).status_code == 302
        assert not Authenticator.objects.filter(user=personas.alice, type="totp").exists()


@pytest.mark.usefixtures("mfa_enforced")
@pytest.mark.django_db(transaction=True)
def test_setting_up_totp_counts_as_the_second_factor_for_the_session(security_log):
    """The whole first-time path: password, forced set-up, code from the app, then the admin works."""
    carol = make_user("carol", role="curator")
    client = Client()
    sign_in(client, "carol")
    setup_url = client.get(ADMIN)["Location"]
    setup = client.get(confirm_password(client, setup_url))
    assert setup.status_code == 200
    secret = client.session["mfa.totp.secret"]
    assert secret in setup.content.decode()  # the key is shown for manual entry
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    authenticator = Authenticator.objects.get(user=carol, type="totp")
    assert totp_secret(authenticator) == secret
    assert client.get(ADMIN).status_code == 200
    assert f"mfa.add user={carol.pk} type=totp authenticator={authenticator.pk}" in security_lines(
        security_log
    )
    assert {"type": "totp", "authenticator": authenticator.pk} in audit_rows("mfa.add", actor=carol)


# --- Sessions -----------------------------------------------------------------------------------------------

T0 = 1_700_000_000.0
MINUTE = 60


@contextmanager
def clock(seconds_after_t0: float):
    with mock.patch("tracker.accounts.security._now", return_value=T0 + seconds_after_t0):
        yield


class TestSessionLifetime:
    def test_idle_session_ends_after_the_idle_timeout(self, personas, settings, security_log):
        settings.SESSION_IDLE_TIMEOUT = 30 * MINUTE
        client = Client()
        with clock(0):
            client.force_login(personas.alice)
        with clock(29 * MINUTE):
            assert client.get(DASHBOARD).status_code == 200
        with clock(58 * MINUTE):  # 29 minutes after the last request: activity kept it alive
            assert client.get(DASHBOARD).status_code == 200
        with clock(88 * MINUTE):
            response = client.get(DASHBOARD)
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert any("inactivity" in m for m in messages_of(response))
        assert f"session.expire user={personas.alice.pk} reason=idle" in security_lines(security_log)
        assert audit_rows("session.expire", actor=personas.alice) == [{"reason": "idle"}]
        with clock(89 * MINUTE):
            assert client.get(DASHBOARD).status_code == 302  # the session is gone, not just refused once

    def test_active_session_ends_after_the_absolute_lifetime(self, personas, settings, security_log):
        settings.SESSION_IDLE_TIMEOUT = 30 * MINUTE
        settings.SESSION_ABSOLUTE_LIFETIME = 12 * 60 * MINUTE
        client = Client()
        with clock(0):
            client.force_login(personas.alice)
        for minute in range(20, 12 * 60, 20):
            with clock(minute * MINUTE):
                assert client.get(DASHBOARD).status_code == 200, minute
        with clock(12 * 60 * MINUTE):
            response = client.get(DASHBOARD)
        assert response["Location"].startswith(LOGIN)
        assert any("maximum length" in m for m in messages_of(response))
        assert f"session.expire user={personas.alice.pk} reason=absolute" in security_lines(security_log)
        assert audit_rows("session.expire", actor=personas.alice) == [{"reason": "absolute"}]

    def test_activity_is_written_at_most_once_a_minute(self, personas):
        client = Client()
        with clock(0):
            client.force_login(personas.alice)
            client.get(DASHBOARD)
        with clock(30), CaptureQueriesContext(connection) as quiet:
            client.get(DASHBOARD)
        with clock(61), CaptureQueriesContext(connection) as writes:
            client.get(DASHBOARD)
        assert not [q for q in quiet.captured_queries if q["sql"].startswith("UPDATE")]
        assert [q for q in writes.captured_queries if q["sql"].startswith('UPDATE "django_session"')]


class TestSignOutEverywhere:
    def test_sessions_page_lists_sessions_and_signs_out_the_others(self, personas, security_log):
        laptop, phone = Client(REMOTE_ADDR="203.0.113.77"), Client(REMOTE_ADDR="198.51.100.23")
        assert sign_in(laptop, "alice").status_code == 302
        assert sign_in(phone, "alice@example.org").status_code == 302
        page = laptop.get(reverse("usersessions_list"))
        assert page.status_code == 200
        assert page.context["session_count"] == 2
        # The list shows where a session came from, to the network: the full address is never stored.
        assert set(UserSession.objects.values_list("ip", flat=True)) == {"203.0.113.0", "198.51.100.0"}
        assert "203.0.113.77" not in page.content.decode()

        response = laptop.post(reverse("usersessions_list"))
        assert response.status_code == 302
        assert phone.get(DASHBOARD)["Location"].startswith(LOGIN)
        assert laptop.get(DASHBOARD).status_code == 200
        assert UserSession.objects.filter(user=personas.alice).count() == 1
        assert f"session.end_others user={personas.alice.pk} count=1" in security_lines(security_log)
        assert audit_rows("session.end_others", actor=personas.alice) == [{"count": 1}]


# --- Brute force --------------------------------------------------------------------------------------------


def fail(client: Client, login: str, times: int):
    return [sign_in(client, login, "not the password at all").status_code for _ in range(times)]


class TestLockout:
    def test_five_failures_lock_the_account_even_for_the_right_password(self, personas, settings):
        settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
        client = Client()
        assert fail(client, "carol", 5) == [200, 200, 200, 200, 429]
        response = sign_in(client, "carol")
        assert response.status_code == 429
        content = response.content.decode()
        assert "Account temporarily locked" in content
        assert "Try again in 30 minutes" in content
        assert "carol" not in content
        assert response["Retry-After"] == "1800"
        assert "_auth_user_id" not in client.session
        # Another account is unaffected, from the same address.
        other = Client()
        assert sign_in(other, "dave").status_code == 302

    def test_email_and_username_in_any_case_count_for_the_same_account(self, personas):
        client = Client()
        fail(client, "carol", 2)
        fail(Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="other"), "CAROL@example.org", 2)
        assert fail(client, "Carol", 1) == [429]
        assert sign_in(Client(), "carol@example.org").status_code == 429

    def test_unknown_accounts_lock_the_same_way(self, db):
        client = Client()
        assert fail(client, "nobody", 5)[-1] == 429

    def test_reset_username_command_unlocks(self, personas):
        client = Client()
        fail(client, "carol", 5)
        call_command("axes_reset_username", "carol")
        assert sign_in(client, "carol").status_code == 302

    def test_lock_ends_after_the_cool_off(self, personas, settings):
        client = Client()
        fail(client, "carol", 5)
        AccessAttempt.objects.update(
            attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=31)
        )
        assert sign_in(client, "carol").status_code == 302

    def test_curator_unlocks_in_the_admin(self, personas):
        fail(Client(), "alice", 5)
        # What roles.py grants curators (see test_curators_hold_the_unlock_permissions).
        curators = Group.objects.get(name=roles.CURATORS)
        from django.contrib.auth.models import Permission

        curators.permissions.add(
            *Permission.objects.filter(content_type__app_label="axes", codename__in=UNLOCK_PERMISSIONS)
        )
        carol = Client()
        login_with_mfa(carol, personas.carol)
        listing = carol.get(reverse("admin:axes_accessattempt_changelist"))
        assert listing.status_code == 200
        assert "alice" in listing.content.decode()
        attempt = AccessAttempt.objects.get(username="alice")
        response = carol.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert not AccessAttempt.objects.exists()
        assert sign_in(Client(), "alice").status_code == 302

    def test_monitor_cannot_unlock(self, personas):
        fail(Client(), "carol", 5)
        alice = Client()
        alice.force_login(personas.alice)
        response = alice.get(reverse("admin:axes_accessattempt_changelist"), follow=True)
        assert response.status_code == 403
        assert AccessAttempt.objects.exists()

    def test_no_full_addresses_are_stored(self, personas):
        client = Client(REMOTE_ADDR="203.0.113.77")
        fail(client, "alice", 2)
        assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.0"]
        assert sign_in(client, "alice").status_code == 302
        assert not AccessLog.objects.exists()
        # A success clears the account's failures: two typos do not count towards the next lock.
        assert not AccessAttempt.objects.exists()

    def test_password_reset_by_mail_lifts_the_lock(self, personas, mailoutbox, security_log):
        client = Client()
        fail(client, "alice", 5)
        client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
        link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mailoutbox[-1].body).group(1)
        form_url = client.get(link)["Location"]
        new = "a fresh passphrase for alice"
        assert client.post(form_url, {"password1": new, "password2": new}).status_code == 302
        assert not AccessAttempt.objects.exists()
        assert sign_in(Client(), "alice", new).status_code == 302
        assert f"account.password_reset user={personas.alice.pk} unlocked=True ip=127.0.0.0/24" in (
            security_lines(security_log)
        )
        assert audit_rows("account.password_reset", actor=personas.alice) == [
            {"unlocked": True, "ip": "127.0.0.0/24"}
        ]

    def test_what_was_typed_is_never_stored(self, personas):
        fail(Client(), PASSWORD, 1)  # a password typed into the login field
        fail(Client(), "alice@example.org", 1)
        rows = list(AccessAttempt.objects.order_by("id").values("username", "post_data"))
        assert rows[0]["username"].startswith("~") and PASSWORD.lower() not in rows[0]["username"]
        assert rows[1]["username"] == "alice"
        for row in rows:
            assert PASSWORD not in row["post_data"] and "not the password" not in row["post_data"]
            assert "alice@example.org" not in row["post_data"]

    def test_ipv6_is_cut_to_its_48(self, personas):
        fail(Client(REMOTE_ADDR="2001:db8:1234:5678::1"), "alice", 1)
        assert AccessAttempt.objects.get().ip_address == "2001:db8:1234::"


UNLOCK_PERMISSIONS = ["view_accessattempt", "delete_accessattempt"]


def test_curators_hold_the_unlock_permissions(db):
    curators = Group.objects.get(name=roles.CURATORS)
    held = set(curators.permissions.filter(content_type__app_label="axes").values_list("codename", flat=True))
    assert set(UNLOCK_PERMISSIONS) <= held


# --- Audit --------------------------------------------------------------------------------------------------


class TestAuditLog:
    def test_account_events_are_logged_without_secrets(self, personas, security_log):
        alice, carol = personas.alice, personas.carol
        client = Client(REMOTE_ADDR="203.0.113.77")
        sign_in(client, "alice", "wrong password, twice wrong")
        sign_in(client, PASSWORD)  # the password typed into the login field
        sign_in(client, "alice")
        client.post(
            reverse("account_change_password"),
            {
                "oldpassword": PASSWORD,
                "password1": "a brand new passphrase",
                "password2": "a brand new passphrase",
            },
        )
        assert client.get(reverse("admin:login")).status_code == 403  # a monitor in the admin: refused
        client.post(reverse("account_logout"))
        fail(Client(), "carol", 5)

        lines = security_lines(security_log)
        assert f"auth.login_failed user={alice.pk} login=" in "\n".join(lines)
        assert re.search(
            r"auth\.login_failed user=None login=[0-9a-f]{16} ip=203\.0\.113\.0/24", "\n".join(lines)
        )
        assert f"auth.login user={alice.pk} methods=password ip=203.0.113.0/24" in lines
        assert f"account.password_change user={alice.pk} ip=203.0.113.0/24" in lines
        assert (
            f"access.refused user={alice.pk} status=403 method=GET path=/admin/login/ ip=203.0.113.0/24"
            in lines
        )
        assert f"auth.logout user={alice.pk}" in lines
        assert any(line.startswith(f"auth.lockout user={carol.pk} login=") for line in lines)

        # The same events as append-only rows, attributed to the account's organisation.
        assert audit_rows("auth.login", actor=alice) == [{"methods": "password", "ip": "203.0.113.0/24"}]
        assert audit_rows("account.password_change", actor=alice) == [{"ip": "203.0.113.0/24"}]
        assert audit_rows("auth.logout", actor=alice) == [{}]
        assert audit_rows("access.refused", actor=alice) == [
            {"status": 403, "method": "GET", "path": "/admin/login/", "ip": "203.0.113.0/24"}
        ]
        assert len(audit_rows("auth.lockout", actor=carol)) == 1
        from tracker.accounts.models import AuditEvent

        assert set(AuditEvent.objects.filter(actor=alice).values_list("organisation", flat=True)) == {
            personas.org.pk
        }
        everything = security_log.text + "\n".join(lines)
        everything += "\n".join(str(row) for row in AuditEvent.objects.values_list("fields", flat=True))
        for secret in (PASSWORD, "wrong password, twice wrong", "a brand new passphrase", "203.0.113.77"):
            assert secret not in everything

    def test_second_factor_changes_are_logged(self, personas, security_log):
        client = Client()
        authenticator = login_with_mfa(client, personas.alice)
        confirm_password(client)
        client.post(reverse("mfa_deactivate_totp"))
        lines = security_lines(security_log)
        assert f"mfa.remove user={personas.alice.pk} type=totp" in lines
        assert audit_rows("mfa.remove", actor=personas.alice) == [{"type": "totp"}]
        assert not Authenticator.objects.filter(pk=authenticator.pk).exists()

    def test_records_carry_a_utc_timestamp(self, personas):
        from cases.logging import UTCFormatter

        record = logging.LogRecord("security", logging.INFO, __file__, 1, "auth.logout user=%s", (1,), None)
        record.created = 0.0
        line = UTCFormatter("%(asctime)s %(message)s").format(record)
        assert line == "1970-01-01T00:00:00Z auth.logout user=1"


# --- The account pages under the strict CSP -----------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.I)


def assert_csp_clean(response):
    assert response.status_code == 200, response
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = response.content.decode()
    assert not INLINE_SCRIPT.findall(html)
    assert not INLINE_STYLE.findall(html)


class TestAccountPagesUnderCSP:
    @pytest.mark.parametrize("name", ["account_login", "account_reset_password"])
    def test_signed_out_pages(self, db, name):
        assert_csp_clean(Client().get(reverse(name)))

    @pytest.mark.parametrize(
        "name",
        [
            "account_logout",
            "account_change_password",
            "mfa_index",
            "mfa_view_recovery_codes",
            "mfa_add_webauthn",
            "usersessions_list",
        ],
    )
    @pytest.mark.usefixtures("mfa_enforced")
    def test_signed_in_pages(self, personas, name):
        client = Client()
        login_with_mfa(client, personas.carol)
        from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

        RecoveryCodes.activate(personas.carol)
        confirm_password(client)
        assert_csp_clean(client.get(reverse(name)))

    @pytest.mark.usefixtures("mfa_enforced")
    def test_totp_activation_page(self, personas):
        client = Client()
        sign_in(client, "carol")
        confirm_password(client)
        response = client.get(reverse("mfa_activate_totp"))
        assert_csp_clean(response)
        # The QR code is an inline SVG or a data: image, both allowed by img-src 'self' data:.
        assert "<svg" in response.content.decode() or "data:image" in response.content.decode()

    def test_lockout_page(self, personas):
        client = Client()
        response = fail(client, "alice", 5) and sign_in(client, "alice")
        assert response.status_code == 429
        policy = response["Content-Security-Policy"]
        assert "unsafe-inline" not in policy
        assert not INLINE_SCRIPT.findall(response.content.decode())
