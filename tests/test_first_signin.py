"""A curator's first sign-in (issue 16, gap 7): from the invitation to a working second factor with the
password typed once, a secret that can be copied, a way on after the recovery codes, and a second-factor
page that says a recovery code works there too."""

from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import make_user
from tests.mfa_helpers import login_with_mfa, totp_code
from tests.test_accounts_invitations import GOOD, accept, invite, link_in

User = get_user_model()


def text_of(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def tag_with_id(response, element_id: str) -> str:
    match = re.search(rf"<(\w+)[^>]*\bid=\"{element_id}\"[^>]*>", response.content.decode())
    assert match, f"no element #{element_id}"
    return match.group(0)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def w(personas, settings):
    settings.MFA_ENFORCE = True
    root = make_user("root", role="operator", organisation=personas.org)
    return SimpleNamespace(**vars(personas), root=root)


def invited_curator(w, mailoutbox) -> tuple[Client, str]:
    """Olga accepts a curator invitation (typing her password once); returns her client and where the
    site sends her next."""
    root = Client()
    login_with_mfa(root, w.root)
    assert invite(root, "olga@example.net", role="curator", organisation=w.org.pk).status_code == 302
    client, response = accept(link_in(mailoutbox[-1]), "olga")
    assert response.status_code == 302
    dashboard = client.get(response["Location"])
    assert dashboard["Location"].startswith(reverse("mfa_activate_totp"))
    return client, dashboard["Location"]


class TestSetUp:
    def test_secret_is_copyable_and_not_disabled(self, w, mailoutbox):
        client, setup_url = invited_curator(w, mailoutbox)
        page = client.get(setup_url)
        assert page.status_code == 200
        secret = client.session["mfa.totp.secret"]
        field = tag_with_id(page, "authenticator_secret")
        assert "disabled" not in field
        assert "readonly" in field
        assert f'value="{secret}"' in field
        # Also as text a screen reader reads and a hand selects.
        assert f"<code>{secret}</code>" in page.content.decode()

    # allauth sends its "authenticator added" signal on commit, and on it the set-up session counts as having
    # passed a second factor (tracker.accounts.security): real commits, as in production.
    @pytest.mark.slow
    @pytest.mark.django_db(transaction=True)
    def test_password_once_then_set_up_ends_with_a_way_on(self, w, mailoutbox):
        client, setup_url = invited_curator(w, mailoutbox)
        page = client.get(setup_url)
        # No password prompt between the invitation and the set-up: it is the set-up page itself.
        assert "Activate Authenticator App" in text_of(page)
        assert 'type="password"' not in page.content.decode()
        secret = client.session["mfa.totp.secret"]
        done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
        assert done.status_code == 302
        olga = User.objects.get(username="olga")
        assert Authenticator.objects.filter(user=olga, type=Authenticator.Type.TOTP).exists()
        codes = client.get(done["Location"])
        assert codes.status_code == 200
        text = text_of(codes)
        assert "Recovery Codes" in text
        assert re.search(
            r'<a [^>]*href="' + re.escape(reverse("cases:dashboard")) + r'"[^>]*>\s*Continue',
            codes.content.decode(),
        )
        # And the way on is open.
        assert client.get(reverse("cases:dashboard")).status_code == 200

    def test_a_wrong_code_keeps_her_on_the_set_up_page(self, w, mailoutbox):
        client, setup_url = invited_curator(w, mailoutbox)
        client.get(setup_url)
        page = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
        assert page.status_code == 200
        assert not Authenticator.objects.filter(user__username="olga").exists()
        assert "readonly" in tag_with_id(page, "authenticator_secret")


class TestSecondFactorPage:
    # allauth sends its "authenticator added" signal on commit, and on it the set-up session counts as having
    # passed a second factor (tracker.accounts.security): real commits, as in production.
    @pytest.mark.slow
    @pytest.mark.django_db(transaction=True)
    def test_it_says_a_recovery_code_works_and_one_does(self, w, mailoutbox):
        client, setup_url = invited_curator(w, mailoutbox)
        client.get(setup_url)
        secret = client.session["mfa.totp.secret"]
        client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
        olga = User.objects.get(username="olga")
        recovery = Authenticator.objects.get(user=olga, type=Authenticator.Type.RECOVERY_CODES)
        code = recovery.wrap().get_unused_codes()[0]
        client.logout()

        fresh = Client()
        signed = fresh.post(reverse("account_login"), {"login": "olga", "password": GOOD})
        assert signed.status_code == 302 and signed["Location"] == reverse("mfa_authenticate")
        page = fresh.get(signed["Location"])
        assert "recovery code" in text_of(page).lower()
        passed = fresh.post(reverse("mfa_authenticate"), {"code": code})
        assert passed.status_code == 302
        assert fresh.get(reverse("cases:dashboard")).status_code == 200
