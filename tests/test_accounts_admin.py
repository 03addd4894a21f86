"""Issue 9, accounts in the admin: finding 1 (a curator joins another organisation), the accounts part of
finding 6 (users, memberships, failed sign-ins, organisations) and "nobody sets another user's password".

Written from the side of Carol, a curator of the default organisation; Other NGO has Mallory (monitor) and
Oscar (curator); Root is an instance operator.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from cases import access
from cases.models import Membership
from tests.factories import make_user
from tests.mfa_helpers import activate_totp
from tests.test_admin import client_for, form_data, message_texts, url
from tracker.accounts.models import AuditEvent, CredentialReset
from tracker.accounts.roles import CURATORS

LOGIN = reverse("account_login")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # allauth's rate-limit counters; user ids repeat between tests
    yield
    cache.clear()


@pytest.fixture
def w(personas):
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    root = make_user("root", role="operator", organisation=p.org)
    return SimpleNamespace(**vars(p), oscar=oscar, root=root)


@pytest.fixture
def carol(w) -> Client:
    return client_for(w.carol)


@pytest.fixture
def root(w) -> Client:
    return client_for(w.root)


def user_url(view: str, *args) -> str:
    return url("user", view, *args, app="auth")


def listed(response) -> set[str]:
    return {str(obj) for obj in response.context["cl"].result_list}


# --- Finding 1: nobody is moved into an organisation -----------------------------------------------------


class TestNobodyJoinsAnotherOrganisation:
    def test_curator_cannot_delete_her_own_membership(self, w, carol):
        membership = w.carol.membership
        assert carol.get(url("membership", "delete", membership.pk)).status_code == 403
        assert carol.post(url("membership", "delete", membership.pk), {"post": "yes"}).status_code == 403
        assert Membership.objects.get(user=w.carol).organisation == w.org
        # Her next request still sees her own organisation, not the default one or any other.
        assert access.viewer_for_user(w.carol).organisation_id == w.org.pk

    def test_bulk_delete_of_memberships_is_not_offered(self, w, carol):
        response = carol.post(
            url("membership", "changelist"),
            {"action": "delete_selected", "_selected_action": [w.carol.membership.pk], "post": "yes"},
        )
        assert response.status_code in {200, 302}
        assert Membership.objects.filter(user=w.carol).exists()

    def test_curator_cannot_rename_another_organisation_to_the_default_slug(self, w, carol):
        target = url("organisation", "change", w.other_org.pk)
        # Outside her own organisation there is nothing (the admin's redirect for a missing object).
        assert carol.get(target).status_code == 302
        response = carol.post(target, {"name": w.other_org.name, "slug": "default-organisation"})
        assert response.status_code == 302
        w.other_org.refresh_from_db()
        assert w.other_org.slug != "default-organisation"

    def test_organisations_are_for_superusers_only(self, w, carol, root):
        """Except one choice a curator makes for her own organisation: whether the public site names it
        (tests/test_public_organisation_name.py); she sees her own only, adds and deletes none."""
        for view, args in (("add", ()), ("delete", (w.org.pk,))):
            assert carol.get(url("organisation", view, *args)).status_code == 403, view
        assert listed(carol.get(url("organisation", "changelist"))) == {w.org.name}
        own = carol.get(url("organisation", "change", w.org.pk))
        assert list(own.context["adminform"].form.fields) == ["public_name_allowed"]
        response = root.get(url("organisation", "changelist"))
        assert response.status_code == 200
        assert {"Other NGO", "Partner NGO", w.org.name} <= listed(response)

    def test_a_user_without_membership_is_refused_not_moved(self, w, root):
        """Even after an operator removes a membership, building the viewer writes nothing."""
        response = root.post(url("membership", "delete", w.alice.membership.pk), {"post": "yes"})
        assert response.status_code == 302
        assert not Membership.objects.filter(user=w.alice).exists()
        alice = client_for(w.alice)
        alice.get(reverse("cases:dashboard"))
        assert not Membership.objects.filter(user=w.alice).exists()
        alice_again = type(w.alice).objects.get(pk=w.alice.pk)
        assert access.viewer_for_user(alice_again) == access.ANONYMOUS
        event = AuditEvent.objects.get(event="membership.change")
        assert (event.actor, event.fields) == (
            w.root,
            {"user_id": w.alice.pk, "old": w.org.pk, "action": "delete"},
        )


class TestMemberships:
    def test_curator_sees_her_organisations_memberships_read_only(self, w, carol):
        response = carol.get(url("membership", "changelist"))
        assert response.status_code == 200
        assert {m.user.username for m in response.context["cl"].result_list} == {
            "alice",
            "carol",
            "dave",
            "root",
        }
        assert "Other NGO" not in response.content.decode()
        assert carol.get(url("membership", "add")).status_code == 403
        page = carol.get(url("membership", "change", w.alice.membership.pk))
        assert page.status_code == 200
        assert 'name="organisation"' not in page.content.decode()
        response = carol.post(
            url("membership", "change", w.carol.membership.pk),
            {"organisation": w.other_org.pk, "user": w.carol.pk},
        )
        assert response.status_code == 403
        assert Membership.objects.get(user=w.carol).organisation == w.org
        # Another organisation's membership does not exist for her.
        assert carol.get(url("membership", "change", w.mallory.membership.pk)).status_code == 302

    def test_organisation_filter_and_lookup_name_no_other_organisation(self, w, carol):
        response = carol.get(url("membership", "changelist"), {"organisation__id__exact": w.other_org.pk})
        assert "mallory" not in response.content.decode()

    def test_superuser_moves_a_user_through_the_service_and_it_is_audited(self, w, root):
        page = root.get(url("membership", "change", w.alice.membership.pk))
        response = root.post(
            url("membership", "change", w.alice.membership.pk),
            form_data(page, organisation=str(w.other_org.pk)),
        )
        assert response.status_code == 302
        assert Membership.objects.get(user=w.alice).organisation == w.other_org
        event = AuditEvent.objects.get(event="membership.change")
        assert (event.actor, event.organisation, event.target_type, event.fields) == (
            w.root,
            w.other_org,
            "cases.membership",
            {"user_id": w.alice.pk, "old": w.org.pk, "new": w.other_org.pk},
        )

    def test_curator_cannot_move_a_user_through_the_user_page(self, w, carol):
        page = carol.get(user_url("change", w.alice.pk))
        assert "membership-0-organisation" not in {name for _t, _k, name in _fields(page)}
        data = form_data(page, **{"membership-0-organisation": str(w.other_org.pk)})
        carol.post(user_url("change", w.alice.pk), data)
        assert Membership.objects.get(user=w.alice).organisation == w.org
        assert not AuditEvent.objects.filter(event="membership.change").exists()


def _fields(response):
    from tests.test_admin import editable_fields

    return editable_fields(response)


# --- Users: scoped like everything an organisation owns --------------------------------------------------


class TestUserAdminScope:
    def test_changelist_count_and_search_are_own_organisation(self, w, carol):
        response = carol.get(user_url("changelist"))
        assert listed(response) == {"alice", "carol", "dave", "root"}
        assert response.context["cl"].result_count == 4
        assert response.context["cl"].full_result_count == 4
        content = response.content.decode()
        assert "mallory" not in content and "oscar" not in content and "Other NGO" not in content
        assert listed(carol.get(user_url("changelist"), {"q": "mallory"})) == set()
        assert listed(carol.get(user_url("changelist"), {"q": "example.org"})) == {
            "alice",
            "carol",
            "dave",
            "root",
        }

    def test_lookups_name_no_other_organisations_users(self, w, carol):
        for params in (
            {"membership__organisation": w.other_org.pk},
            {"membership__organisation__id__exact": w.other_org.pk},
            {"groups__id__exact": Group.objects.get(name=CURATORS).pk},
        ):
            response = carol.get(user_url("changelist"), params, follow=True)
            content = response.content.decode()
            assert "mallory" not in content and "oscar" not in content, params

    def test_other_organisations_user_pages_are_closed(self, w, carol):
        for view in ("change", "history", "delete"):
            response = carol.get(user_url(view, w.mallory.pk))
            assert response.status_code in {302, 403, 404}, view
            assert "mallory" not in response.content.decode()
        response = carol.post(
            user_url("change", w.mallory.pk), {"username": "hijacked", "email": "x@example.org"}
        )
        assert response.status_code in {302, 403, 404}
        w.mallory.refresh_from_db()
        assert (w.mallory.username, w.mallory.email) == ("mallory", "mallory@example.org")

    def test_autocomplete_offers_own_organisations_users_only(self, w, carol):
        response = carol.get(
            "/admin/autocomplete/",
            {"app_label": "cases", "model_name": "membership", "field_name": "user", "term": ""},
        )
        assert response.status_code == 200
        names = {item["text"] for item in response.json()["results"]}
        assert names == {"alice", "carol", "dave", "root"}

    def test_superuser_sees_everyone(self, w, root):
        response = root.get(user_url("changelist"))
        assert listed(response) == {"alice", "carol", "dave", "mallory", "oscar", "root"}
        assert listed(
            root.get(user_url("changelist"), {"membership__organisation__id__exact": w.other_org.pk})
        ) == {
            "mallory",
            "oscar",
        }

    def test_curator_cannot_grant_the_curators_group_or_staff(self, w, carol):
        page = carol.get(user_url("change", w.alice.pk))
        curators = Group.objects.get(name=CURATORS)
        data = form_data(page, groups=[str(curators.pk)], is_staff="on")
        response = carol.post(user_url("change", w.alice.pk), data)
        assert response.status_code == 200  # "Select a valid choice"
        w.alice.refresh_from_db()
        assert not w.alice.groups.filter(name=CURATORS).exists()
        assert not w.alice.is_staff

    def test_monitor_and_anonymous_are_sent_away(self, w):
        for client in (client_for(w.alice), Client()):
            for target in (
                user_url("changelist"),
                user_url("change", w.alice.pk),
                url("membership", "changelist"),
            ):
                response = client.get(target)
                assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Nobody sets or learns another user's password --------------------------------------------------------


class TestPasswords:
    def test_password_form_is_gone_for_everyone(self, w, carol, root):
        for client in (carol, root):
            for target in (w.alice, w.carol):
                password_url = reverse("admin:auth_user_password_change", args=[target.pk])
                assert client.get(password_url).status_code == 403
                response = client.post(
                    password_url,
                    {"password1": "a new long passphrase 1", "password2": "a new long passphrase 1"},
                )
                assert response.status_code == 403
        w.alice.refresh_from_db()
        assert w.alice.check_password("correct horse battery staple")

    def test_change_form_shows_no_password_field_or_link(self, w, carol, root):
        for client in (carol, root):
            content = client.get(user_url("change", w.alice.pk)).content.decode()
            assert "/password/" not in content
            assert 'name="password' not in content

    def test_accounts_are_invited_not_added(self, w, carol, root):
        for client in (carol, root):
            page = client.get(user_url("changelist")).content.decode()
            assert "Invite a user" in page and reverse("admin:accounts_invitation_add") in page
            assert "Add user" not in page
            response = client.get(user_url("add"))
            assert response.status_code == 302
            assert response["Location"] == reverse("admin:accounts_invitation_add")
            response = client.post(
                user_url("add"),
                {
                    "username": "erin",
                    "password1": "a long and unusual passphrase",
                    "password2": "a long and unusual passphrase",
                },
            )
            assert response.status_code == 302
        assert not Membership.objects.filter(user__username="erin").exists()

    def test_password_reset_email_is_sent_to_the_account_and_recorded(self, w, carol, mailoutbox):
        response = carol.post(
            user_url("changelist"),
            {"action": "send_password_reset", "_selected_action": [w.alice.pk, w.mallory.pk]},
        )
        assert response.status_code == 302
        assert "A password reset e-mail was sent to 1 account." in message_texts(response)
        assert [m.to for m in mailoutbox] == [["alice@example.org"]]
        assert "/accounts/password/reset/key/" in mailoutbox[0].body
        reset = CredentialReset.objects.get()
        assert (reset.user, reset.reset_by, reset.kind) == (w.alice, w.carol, "password")
        event = AuditEvent.objects.get(event="user.password_reset_sent")
        assert (event.actor, event.target_id, event.organisation) == (w.carol, str(w.alice.pk), w.org)

    def test_curator_cannot_reset_a_second_factor_superuser_can(self, w, carol, root):
        activate_totp(w.alice)
        data = {"action": "reset_second_factor", "_selected_action": [w.alice.pk]}
        carol.post(user_url("changelist"), data)
        assert Authenticator.objects.filter(user=w.alice).exists()
        assert not CredentialReset.objects.exists()
        response = root.post(user_url("changelist"), data)
        assert response.status_code == 302
        assert not Authenticator.objects.filter(user=w.alice).exists()
        reset = CredentialReset.objects.get()
        assert (reset.user, reset.reset_by, reset.kind) == (w.alice, w.root, "mfa")
        event = AuditEvent.objects.get(event="user.mfa_reset")
        assert (event.actor, event.target_id, event.fields) == (w.root, str(w.alice.pk), {"removed": 1})

    def test_changing_someones_address_counts_as_a_credential_reset(self, w, carol):
        page = carol.get(user_url("change", w.alice.pk))
        response = carol.post(
            user_url("change", w.alice.pk), form_data(page, email="carol.second@example.org")
        )
        assert response.status_code == 302
        reset = CredentialReset.objects.get()
        assert (reset.user, reset.reset_by, reset.kind) == (w.alice, w.carol, "email")
        event = AuditEvent.objects.get(event="user.change")
        assert (event.actor, event.target_id, event.fields) == (
            w.carol,
            str(w.alice.pk),
            {"changed": "email"},
        )

    def test_a_name_change_is_audited_but_no_reset(self, w, carol):
        page = carol.get(user_url("change", w.alice.pk))
        carol.post(user_url("change", w.alice.pk), form_data(page, first_name="Alice"))
        assert not CredentialReset.objects.exists()
        assert AuditEvent.objects.get(event="user.change").fields == {"changed": "first_name"}


# --- Failed sign-ins (django-axes): unlocking is scoped too ----------------------------------------------


def fail(login: str, times: int = 5, address: str = "127.0.0.1") -> None:
    client = Client(REMOTE_ADDR=address)  # allauth also limits failures per address (10 a minute)
    for _ in range(times):
        client.post(LOGIN, {"login": login, "password": "not the password at all"})


class TestFailedSignIns:
    @pytest.fixture
    def locked(self, w):
        fail("alice")
        fail("mallory")
        fail("nobody-at-all", 1, address="198.51.100.9")
        return {row.username: row for row in AccessAttempt.objects.all()}

    def test_curator_sees_her_organisations_failed_sign_ins_only(self, w, carol, locked):
        response = carol.get(reverse("admin:axes_accessattempt_changelist"))
        assert response.status_code == 200
        assert {a.username for a in response.context["cl"].result_list} == {"alice"}
        assert response.context["cl"].result_count == 1
        assert (
            listed_usernames(carol.get(reverse("admin:axes_accessattempt_changelist"), {"q": "mallory"}))
            == set()
        )
        page = carol.get(reverse("admin:axes_accessattempt_change", args=[locked["mallory"].pk]))
        assert page.status_code == 302

    def test_curator_cannot_unlock_another_organisations_account(self, w, carol, locked):
        mallory = locked["mallory"]
        response = carol.post(reverse("admin:axes_accessattempt_delete", args=[mallory.pk]), {"post": "yes"})
        assert response.status_code in {302, 403, 404}
        carol.post(
            reverse("admin:axes_accessattempt_changelist"),
            {"action": "delete_selected", "_selected_action": [mallory.pk], "post": "yes"},
        )
        assert AccessAttempt.objects.filter(username="mallory").exists()
        assert not AuditEvent.objects.filter(event="lockout.clear").exists()
        # axes's own clean-up action works across organisations: not offered to curators.
        listing = carol.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
        assert "cleanup_expired_attempts" not in listing

    def test_curator_unlocks_her_own_and_it_is_audited(self, w, carol, locked):
        response = carol.post(
            reverse("admin:axes_accessattempt_delete", args=[locked["alice"].pk]), {"post": "yes"}
        )
        assert response.status_code == 302
        assert set(AccessAttempt.objects.values_list("username", flat=True)) == {
            "mallory",
            locked_unknown(locked),
        }
        event = AuditEvent.objects.get(event="lockout.clear")
        assert (event.actor, event.target_type, event.target_id, event.organisation) == (
            w.carol,
            "auth.user",
            str(w.alice.pk),
            w.org,
        )
        fresh = Client(REMOTE_ADDR="192.0.2.10")  # the first address met allauth's per-address limit
        assert (
            fresh.post(LOGIN, {"login": "alice", "password": "correct horse battery staple"}).status_code
            == 302
        )

    def test_superuser_sees_and_clears_all(self, w, root, locked):
        response = root.get(reverse("admin:axes_accessattempt_changelist"))
        assert len(response.context["cl"].result_list) == 3
        root.post(
            reverse("admin:axes_accessattempt_changelist"),
            {"action": "delete_selected", "_selected_action": [a.pk for a in locked.values()], "post": "yes"},
        )
        assert not AccessAttempt.objects.exists()
        events = AuditEvent.objects.filter(event="lockout.clear")
        assert sorted(e.organisation_id or 0 for e in events) == sorted([w.org.pk, w.other_org.pk, w.org.pk])

    def test_access_log_is_for_superusers(self, w, carol, root):
        # AXES_DISABLE_ACCESS_LOG keeps it empty; curators hold no permission on it (and it is scoped anyway).
        assert carol.get(reverse("admin:axes_accesslog_changelist")).status_code == 403
        assert root.get(reverse("admin:axes_accesslog_changelist")).status_code == 200


def listed_usernames(response) -> set[str]:
    return {a.username for a in response.context["cl"].result_list}


def locked_unknown(locked) -> str:
    return next(name for name in locked if name.startswith("~"))


def test_curators_no_longer_hold_organisation_or_membership_write_permissions(db):
    curators = Group.objects.get(name=CURATORS)
    held = set(curators.permissions.values_list("codename", flat=True))
    assert {"view_membership", "view_invitation", "add_invitation", "view_auditevent"} <= held
    assert not held & {
        "add_organisation",
        "change_organisation",
        "delete_organisation",
        "add_membership",
        "change_membership",
        "delete_membership",
        "add_user",
    }
