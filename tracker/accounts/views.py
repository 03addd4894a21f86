"""Accepting an invitation: the invitee opens the one-time link, chooses a username and a password, and is
signed in (curators then set up their second factor: MFAEnforcementMiddleware sends them there)."""

from __future__ import annotations

from allauth.account.internal.flows.login import record_authentication
from django.conf import settings
from django.contrib.auth import login
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import services
from .forms import AcceptInvitationForm

# The token lives in the session between the link and the form, so it is in no page's address (and no
# Referer header, browser history or access log) after the first request, as allauth does for resets.
SESSION_KEY = "accounts.invitation_token"


def _refused(request: HttpRequest, exc: services.InvitationRefused) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return render(
        request,
        "accounts/invitation_refused.html",
        {"reason": exc.reason},
        status=404 if exc.reason == "unknown" else 410,
    )


@never_cache
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the e-mail: check it, keep its token in the session, go on to the form."""
    try:
        services.open_invitation(token)
    except services.InvitationRefused as exc:
        return _refused(request, exc)
    request.session[SESSION_KEY] = token
    return redirect("accounts:invitation-accept")


@never_cache
@sensitive_post_parameters("password1", "password2")
def accept(request: HttpRequest) -> HttpResponse:
    token = request.session.get(SESSION_KEY, "")
    try:
        invitation = services.open_invitation(token)
    except services.InvitationRefused as exc:
        return _refused(request, exc)
    if request.user.is_authenticated:
        return render(request, "accounts/invitation_signed_in.html", status=409)
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except services.InvitationRefused as exc:
            return _refused(request, exc)
        except IntegrityError:
            # Someone took the username between the form's check and the insert.
            form.add_error("username", _("This username is taken. Choose another."))
        else:
            request.session.pop(SESSION_KEY, None)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # As allauth records a password sign-in. The password was typed this very moment, so it also
            # counts as allauth's recent re-authentication: a curator's second-factor set-up, which comes
            # next, does not ask for it again.
            record_authentication(
                request, user, "password", username=user.get_username(), reauthenticated=True
            )
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation})
