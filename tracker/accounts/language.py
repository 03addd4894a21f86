"""Choosing the interface language: English, Simplified Chinese (`zh-hans`) or Uyghur (`ug`).

The pages live under a language prefix (`/ug/…`, `/zh-hans/…`; English unprefixed, so the English
addresses stay what they were): a shared link opens in the sender's language whatever the reader chose.
An unprefixed page address states no language; a GET for one is sent on to the visitor's language:
the language cookie (set by the switcher, and at sign-in from the account's remembered language), else
the browser's Accept-Language. A visitor who chose English stays on the unprefixed addresses.

/api/, /healthz, /admin/ and static files are not prefixed: machines and the admin need one stable address,
and there the language comes from the cookie or Accept-Language alone (LocaleMiddleware).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import translate_url
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import (
    check_for_language,
    get_language_from_path,
    get_supported_language_variant,
)
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from .models import LanguagePreference

# Set on the request by the sign-in receiver, read by the middleware on the way out.
_AT_SIGN_IN = "_language_at_sign_in"


def supported(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES (`zh-Hans-CN` → `zh-hans`), or None."""
    if not code or not check_for_language(code):
        return None
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return None


def visitor_language(request: HttpRequest) -> str:
    """What an unprefixed address should show this visitor: the cookie, else Accept-Language, else English.

    Not Django's get_language_from_request, which on the unprefixed (English) addresses answers English."""
    chosen = supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    if chosen:
        return chosen
    for accept, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if accept == "*":
            break
        chosen = supported(accept)
        if chosen:
            return chosen
    return settings.LANGUAGE_CODE


def translate(url: str, language: str) -> str:
    """`url` (a page of ours, prefixed or not) in `language`; anything else unchanged.

    translate_url resolves the address in the active language, so a `/ug/…` address is not found while
    English is active: resolve it in its own language first."""
    own = get_language_from_path(urlsplit(url).path) or settings.LANGUAGE_CODE
    with translation.override(own):
        return translate_url(url, language)


def set_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class PreferredLanguageMiddleware:
    """Sends a GET for an unprefixed page to the visitor's language, and applies the language an account
    remembered when it signs in (cookie, and the redirect after sign-in). Costs no query."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        redirect = self._redirect_to_language(request)
        if redirect is not None:
            return redirect
        response = self.get_response(request)
        remembered = getattr(request, _AT_SIGN_IN, None)
        if remembered:
            set_cookie(response, remembered)
            location = response.get("Location") if response.status_code in (301, 302, 303) else None
            if location and url_has_allowed_host_and_scheme(
                location, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                response["Location"] = translate(location, remembered)
        # Unprefixed pages answer differently by cookie and Accept-Language (redirect or not).
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response

    def _redirect_to_language(self, request: HttpRequest) -> HttpResponse | None:
        if get_language_from_path(request.path_info):
            return None
        language = visitor_language(request)
        if language == settings.LANGUAGE_CODE:
            return None
        # translate_url leaves an address alone when it is not a page under i18n_patterns.
        path = request.get_full_path()
        target = translate(path, language)
        if target == path:
            # The API, the admin, healthz, an unknown address: answered where they are, in the visitor's
            # language (LocaleMiddleware gives every unprefixed address English).
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
            return None
        if request.method not in ("GET", "HEAD"):
            return None  # a form posted to an English page is answered in English
        response = HttpResponseRedirect(target)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        return response


@receiver(user_logged_in, dispatch_uid="tracker.accounts.language.apply_at_sign_in")
def apply_at_sign_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """One query at sign-in: the account's remembered language, if it has one, wins over the cookie."""
    if request is None:
        return
    language = LanguagePreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    if supported(language):
        setattr(request, _AT_SIGN_IN, language)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (checks the language and `next`, sets the cookie, redirects to `next` in the
    new language), and for a signed-in user the choice remembered on the account as well."""
    # Django's view translates `next` with translate_url, which finds a prefixed address only while its own
    # language is active (the switcher on a /ug/ page posts next=/ug/…).
    next_url = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    language = supported(request.POST.get("language"))
    if language is None:
        # Django's view accepts any language Django itself has a catalogue for (fr, de, …), not only ours.
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = "/"
        return HttpResponseRedirect(next_url)
    with translation.override(get_language_from_path(urlsplit(next_url).path) or settings.LANGUAGE_CODE):
        response = django_set_language(request)
    if request.user.is_authenticated:
        LanguagePreference.objects.update_or_create(user_id=request.user.pk, defaults={"language": language})
    return response
