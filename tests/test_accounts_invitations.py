"""Issue 9, "accounts that are people": invitations (one-time, expiring, revocable links; the invitee sets
the password and, for curators, the second factor) and finding 2, four eyes by sock puppet."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services as case_services
from cases.models import Membership, ReviewState
from cases.services import TransitionError
from tests.factories import make_user, submit
from tests.mfa_helpers import login_with_mfa
from tests.test_admin import action, client_for, message_texts
from tracker.accounts import services
from tracker.accounts.models import AccountOrigin, AuditEvent, Invitation
from tracker.accounts.roles import is_curator, is_monitor

User = get_user_model()
INVITE = reverse("admin:accounts_invitation_add")
GOOD = "a long and unusual passphrase"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def w(personas):
    p = personas
    oscar = make_user("oscar", role="curator", organisation=p.other_org)
    root = make_user("root", role="operator", organisation=p.org)
    return SimpleNamespace(**vars(p), oscar=oscar, root=root)


def invite(client: Client, email: str, role: str = "monitor", **extra):
    return client.post(INVITE, {"email": email, "role": role, **extra})


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/[^/\s]+/)", message.body).group(1)


def accept(link: str, username: str, password: str = GOOD, client: Client | None = None):
    client = client or Client()
    opened = client.get(link)
    assert opened.status_code == 302, opened.status_code
    form_url = opened["Location"]
    response = client.post(form_url, {"username": username, "password1": password, "password2": password})
    return client, response


class TestInviting:
    def test_curator_invites_a_monitor_into_her_organisation(self, w, mailoutbox):
        carol = client_for(w.carol)
        assert carol.get(INVITE).status_code == 200
        response = invite(carol, "erin@example.net")
        assert response.status_code == 302
        assert "The invitation was sent to erin@example.net." in message_texts(response)
        invitation = Invitation.objects.get()
        assert (invitation.organisation, invitation.role, invitation.invited_by) == (
            w.org,
            "monitor",
            w.carol,
        )
        assert invitation.expires_at > timezone.now() + timedelta(days=6)
        [mail] = mailoutbox
        assert mail.to == ["erin@example.net"]
        assert w.org.name in mail.subject
        token = link_in(mail).rstrip("/").rsplit("/", 1)[1]
        # Only the hash is stored; the token itself is in the e-mail alone.
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(Invitation.objects.values().get())
        event = AuditEvent.objects.get(event="user.invite")
        assert (event.actor, event.organisation, event.target_type, event.fields) == (
            w.carol,
            w.org,
            "accounts.invitation",
            {"role": "monitor"},
        )
        assert token not in str(AuditEvent.objects.values_list("fields", flat=True))

    def test_curator_cannot_choose_another_organisation_or_invite_a_curator(self, w, mailoutbox):
        carol = client_for(w.carol)
        page = carol.get(INVITE).content.decode()
        assert 'name="organisation"' not in page
        assert 'value="curator"' not in page
        invite(carol, "erin@example.net", organisation=w.other_org.pk)
        assert Invitation.objects.get().organisation == w.org
        response = invite(carol, "frank@example.net", role="curator")
        assert response.status_code == 200
        assert not Invitation.objects.filter(email="frank@example.net").exists()
        assert len(mailoutbox) == 1

    def test_existing_address_is_refused(self, w, mailoutbox):
        response = invite(client_for(w.carol), "ALICE@example.org")
        assert response.status_code == 200
        assert "exists already" in response.content.decode()
        assert not Invitation.objects.exists() and not mailoutbox

    def test_monitor_cannot_invite(self, w):
        response = invite(client_for(w.alice), "erin@example.net")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        with pytest.raises(Exception, match="may not invite"):
            services.invite(
                email="erin@example.net", role="monitor", organisation=w.org, invited_by=w.alice, request=None
            )
        assert not Invitation.objects.exists()

    def test_superuser_invites_a_curator_anywhere(self, w, mailoutbox):
        root = client_for(w.root)
        response = invite(root, "olga@example.net", role="curator", organisation=w.other_org.pk)
        assert response.status_code == 302
        invitation = Invitation.objects.get()
        assert (invitation.organisation, invitation.role) == (w.other_org, "curator")

    def test_inviting_again_revokes_the_earlier_link(self, w, mailoutbox):
        carol = client_for(w.carol)
        invite(carol, "erin@example.net")
        invite(carol, "Erin@example.net")
        first, second = Invitation.objects.order_by("pk")
        assert first.revoked_at is not None and second.revoked_at is None
        refused = Client().get(link_in(mailoutbox[0]))
        assert refused.status_code == 410
        assert AuditEvent.objects.get(event="invitation.revoke").fields == {"reason": "reinvited"}

    def test_curators_see_their_own_organisations_invitations_only(self, w, mailoutbox):
        invite(client_for(w.oscar), "ursula@example.net")
        invite(client_for(w.carol), "erin@example.net")
        listing = client_for(w.carol).get(reverse("admin:accounts_invitation_changelist"))
        assert [i.email for i in listing.context["cl"].result_list] == ["erin@example.net"]
        other = Invitation.objects.get(email="ursula@example.net")
        response = client_for(w.carol).get(reverse("admin:accounts_invitation_change", args=[other.pk]))
        assert response.status_code == 302
        assert "ursula" not in response.content.decode()


class TestAccepting:
    def test_invitee_sets_username_and_password_and_is_a_member(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        link = link_in(mailoutbox[0])
        client = Client()
        opened = client.get(link)
        # The token leaves the address bar at once (no Referer, history or access log keeps it).
        form_url = opened["Location"]
        assert form_url == reverse("accounts:invitation-accept")
        page = client.get(form_url)
        assert page.status_code == 200
        assert w.org.name in page.content.decode() and "erin@example.net" in page.content.decode()
        response = client.post(form_url, {"username": "erin", "password1": GOOD, "password2": GOOD})
        assert response.status_code == 302
        erin = User.objects.get(username="erin")
        assert erin.email == "erin@example.net" and erin.check_password(GOOD)
        assert is_monitor(erin) and not is_curator(erin) and not erin.is_staff
        assert Membership.objects.get(user=erin).organisation == w.org
        assert AccountOrigin.objects.get(user=erin).created_by == w.carol
        invitation = Invitation.objects.get()
        assert invitation.user == erin and invitation.accepted_at is not None
        assert EmailAddress.objects.filter(user=erin, email="erin@example.net", verified=True).exists()
        created = AuditEvent.objects.get(event="user.create", target_id=str(erin.pk))
        assert (created.actor, created.organisation) == (w.carol, w.org)
        accepted = AuditEvent.objects.get(event="invitation.accept")
        assert (accepted.actor, accepted.organisation, accepted.fields) == (
            erin,
            w.org,
            {"invited_by": w.carol.pk, "role": "monitor"},
        )
        # Signed in as herself.
        assert client.get(reverse("cases:dashboard")).status_code == 200
        assert int(client.session["_auth_user_id"]) == erin.pk

    @pytest.mark.parametrize(
        ("username", "password", "error"),
        [
            ("erin", "short", "too short"),
            ("erin", "password1234", "too common"),
            ("erin", "erin@example.net-x", "too similar"),
            ("Alice", GOOD, "taken"),
            ("no spaces please", GOOD, "Enter a valid username"),
        ],
    )
    def test_bad_choices_are_refused_and_nothing_is_made(self, w, mailoutbox, username, password, error):
        invite(client_for(w.carol), "erin@example.net")
        _client, response = accept(link_in(mailoutbox[0]), username, password)
        assert response.status_code == 200
        assert error in response.content.decode()
        assert not User.objects.filter(email="erin@example.net").exists()
        assert Invitation.objects.get().accepted_at is None

    def test_link_works_once(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        link = link_in(mailoutbox[0])
        accept(link, "erin")
        again = Client().get(link)
        assert again.status_code == 410
        assert "used already" in again.content.decode()
        event = AuditEvent.objects.get(event="invitation.refused")
        assert (event.target_type, event.fields) == ("accounts.invitation", {"reason": "accepted"})
        assert User.objects.filter(email="erin@example.net").count() == 1

    def test_a_kept_form_cannot_make_a_second_account(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        link = link_in(mailoutbox[0])
        first, second = Client(), Client()
        first.get(link), second.get(link)
        form = reverse("accounts:invitation-accept")
        assert first.post(form, {"username": "erin", "password1": GOOD, "password2": GOOD}).status_code == 302
        response = second.post(form, {"username": "erin2", "password1": GOOD, "password2": GOOD})
        assert response.status_code == 410
        assert not User.objects.filter(username="erin2").exists()

    def test_expired_link_is_refused(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = Client().get(link_in(mailoutbox[0]))
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert AuditEvent.objects.get(event="invitation.refused").fields == {"reason": "expired"}

    def test_revoked_link_is_refused(self, w, mailoutbox):
        carol = client_for(w.carol)
        invite(carol, "erin@example.net")
        invitation = Invitation.objects.get()
        response = carol.post(
            reverse("admin:accounts_invitation_changelist"),
            {"action": "revoke", "_selected_action": [invitation.pk]},
        )
        assert "1 invitation revoked." in message_texts(response)
        response = Client().get(link_in(mailoutbox[0]))
        assert response.status_code == 410
        assert "withdrawn" in response.content.decode()
        assert AuditEvent.objects.get(event="invitation.refused").fields == {"reason": "revoked"}
        assert AuditEvent.objects.get(event="invitation.revoke").actor == w.carol

    def test_revoked_between_opening_and_submitting(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        client = Client()
        client.get(link_in(mailoutbox[0]))
        Invitation.objects.update(revoked_at=timezone.now())
        response = client.post(
            reverse("accounts:invitation-accept"), {"username": "erin", "password1": GOOD, "password2": GOOD}
        )
        assert response.status_code == 410
        assert not User.objects.filter(username="erin").exists()

    def test_unknown_link_and_no_link(self, db):
        response = Client().get("/accounts/invitation/not-a-real-token/")
        assert response.status_code == 404
        assert AuditEvent.objects.get(event="invitation.refused").fields == {"reason": "unknown"}
        assert Client().get(reverse("accounts:invitation-accept")).status_code == 404

    def test_signed_in_user_cannot_accept(self, w, mailoutbox):
        invite(client_for(w.carol), "erin@example.net")
        alice = client_for(w.alice)
        alice.get(link_in(mailoutbox[0]))
        response = alice.post(
            reverse("accounts:invitation-accept"), {"username": "erin", "password1": GOOD, "password2": GOOD}
        )
        assert response.status_code == 409
        assert not User.objects.filter(username="erin").exists()

    def test_invited_curator_is_sent_to_set_up_a_second_factor(self, w, mailoutbox, settings):
        settings.MFA_ENFORCE = True
        root = Client()
        login_with_mfa(root, w.root)
        assert invite(root, "olga@example.net", role="curator", organisation=w.org.pk).status_code == 302
        client, response = accept(link_in(mailoutbox[0]), "olga")
        olga = User.objects.get(username="olga")
        assert is_curator(olga) and olga.is_staff
        dashboard = client.get(response["Location"])
        assert dashboard.status_code == 302
        assert dashboard["Location"].startswith(reverse("mfa_activate_totp"))
        # The set-up page opens at once: the password was just chosen, no second password prompt.
        setup = client.get(dashboard["Location"])
        assert setup.status_code == 200
        assert "mfa.totp.secret" in client.session
        assert client.get(reverse("admin:index")).status_code == 302


# --- Finding 2: four eyes compares people ----------------------------------------------------------------


class TestFourEyesComparesPeople:
    def test_sock_puppet_by_invitation(self, w, mailoutbox):
        """Carol invites a monitor at her own second address, signs in as it, submits, then publishes."""
        invite(client_for(w.carol), "carol.second@example.net")
        _puppet, _response = accept(link_in(mailoutbox[0]), "sock")
        sock = User.objects.get(username="sock")
        assessment = submit(w.rec, sock, [w.public_ev])
        with pytest.raises(TransitionError, match="invited") as refused:
            case_services.publish_assessment(assessment, reviewer=w.carol)
        assert refused.value.code == "four_eyes"
        with pytest.raises(TransitionError, match="invited"):
            case_services.return_assessment(assessment, reviewer=w.carol, comment="Looks fine to me.")
        assessment.refresh_from_db()
        assert assessment.review_state == ReviewState.SUBMITTED and assessment.reviewer is None
        # Through the admin as well, with the reason shown to her.
        response = action(client_for(w.carol), "assessment", "publish_selected", [assessment])
        assert any("Four eyes" in text and "invited" in text for text in message_texts(response))
        assessment.refresh_from_db()
        assert assessment.review_state == ReviewState.SUBMITTED
        # A second, independent curator may publish it.
        case_services.publish_assessment(assessment, reviewer=w.dave)
        assessment.refresh_from_db()
        assert (assessment.review_state, assessment.reviewer) == (ReviewState.PUBLISHED, w.dave)

    def test_sock_puppet_by_password_reset(self, w, mailoutbox):
        """Carol sends Alice's account a password reset (after pointing its address at herself)."""
        carol = client_for(w.carol)
        carol.post(
            reverse("admin:auth_user_changelist"),
            {"action": "send_password_reset", "_selected_action": [w.alice.pk]},
        )
        assessment = submit(w.rec, w.alice, [w.public_ev])
        with pytest.raises(TransitionError, match="reset"):
            case_services.publish_assessment(assessment, reviewer=w.carol)
        case_services.publish_assessment(assessment, reviewer=w.dave)

    def test_the_link_holds_both_ways(self, w, mailoutbox):
        """A curator an operator invited cannot publish the operator's own work either."""
        invite(client_for(w.root), "olga@example.net", role="curator", organisation=w.org.pk)
        accept(link_in(mailoutbox[0]), "olga")
        olga = User.objects.get(username="olga")
        assessment = submit(w.rec, w.root, [w.public_ev])
        with pytest.raises(TransitionError, match="invited"):
            case_services.publish_assessment(assessment, reviewer=olga)

    def test_unrelated_curators_still_review_and_own_work_is_still_refused(self, w):
        assessment = submit(w.rec, w.alice, [w.public_ev])
        with pytest.raises(TransitionError, match="own assessment"):
            case_services.publish_assessment(submit(w.rec2, w.carol, [w.public_ev]), reviewer=w.carol)
        case_services.publish_assessment(assessment, reviewer=w.carol)
        assert services.linked_accounts(w.carol, w.alice.pk) is None
