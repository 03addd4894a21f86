# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""Organisation keys: the Bearer header in every malformed shape, the key lifecycle (expiry, revocation,
last use), sessions, throttling, and `manage.py apikey create|list|revoke`."""

from __future__ import annotations

import datetime
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from cases import services
from cases.api.authentication import ApiKeyAuthentication, KeyPrincipal
from cases.models import ApiKey, Organisation
from tests.factories import make_user
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    key_client,
    session_client,
    world,
)
from tracker.accounts.roles import is_curator, is_monitor

pytestmark = pytest.mark.django_db

URL = "/api/v1/recommendations/"
REFUSED = "Invalid, expired or revoked key."


def assert_401(response, detail: str | None = None) -> None:
    assert response.status_code == 401, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    if detail:
        assert response.json() == {"detail": detail}


# --- The header ---------------------------------------------------------------------------------------


def test_no_credentials_is_401_json_with_www_authenticate(world):
    response = Client().get(URL)
    assert_401(response, "Authentication credentials were not provided.")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "Token abcdef",
        "Bearer nodot",
        "Bearer abcdefgh.",
        "Bearer .secret",
        "Bearer 12345678.wrong-secret-of-a-plausible-length-000000000",
        "Bearer " + "x" * 400,
        "Bearer k\x00ey",
        "Bearer kéy.ü",
        "Bearer 密钥",
        "bearer\tabc",
    ],
)
def test_malformed_or_unknown_headers_are_401_never_500(world, header):
    response = Client().get(URL, headers={"authorization": header})
    assert_401(response)
    assert "Bearer" in response.json()["detail"] or response.json()["detail"] == REFUSED


def test_right_prefix_wrong_secret_is_refused(world):
    prefix = world.partners_key.prefix
    assert_401(key_client(prefix + ".not-the-secret").get(URL), REFUSED)
    # The secret of one key under the prefix of another.
    _prefix, _dot, rest = world.partners_secret.partition(".")
    assert_401(key_client(f"{world.public_key.prefix}.{rest}").get(URL), REFUSED)


def test_a_bad_header_is_refused_even_with_a_valid_session(world):
    client = session_client(world.alice)
    assert client.get(URL).status_code == 200
    assert_401(client.get(URL, headers={"authorization": "Bearer nope"}))


def test_scheme_is_case_insensitive(world):
    client = Client(headers={"authorization": f"bearer {world.partners_secret}"})
    assert client.get(URL).status_code == 200


def test_request_auth_is_the_key_and_user_a_principal_without_roles(world):
    request = APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {world.partners_secret}")
    user, key = ApiKeyAuthentication().authenticate(request)
    assert key == world.partners_key and isinstance(key, ApiKey)
    assert isinstance(user, KeyPrincipal) and user.is_authenticated and user.pk is None
    assert not is_monitor(user) and not is_curator(user)
    assert ApiKeyAuthentication().authenticate(APIRequestFactory().get(URL)) is None


# --- Lifecycle ----------------------------------------------------------------------------------------


def test_expired_key_is_refused(world):
    key, secret = services.issue_api_key(world.partner_org, clearance="partners", expires_days=1)
    assert key_client(secret).get(URL).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert_401(key_client(secret).get(URL), REFUSED)


def test_revoked_key_is_refused(world):
    client = key_client(world.partners_secret)
    assert client.get(URL).status_code == 200
    services.revoke_api_key(world.partners_key)
    assert_401(client.get(URL), REFUSED)
    assert_401(client.get("/api/v1/export/recommendations.csv"), REFUSED)


def test_last_used_is_recorded_at_most_once_a_minute(world, django_assert_num_queries):
    assert ApiKey.objects.get(pk=world.public_key.pk).last_used_at is None
    client = key_client(world.public_secret)
    before = timezone.now()
    assert client.get("/api/v1/themes/").status_code == 200
    used = ApiKey.objects.get(pk=world.public_key.pk).last_used_at
    assert used is not None and used >= before
    with django_assert_num_queries(2):  # key lookup, page: no second write within the minute
        assert client.get("/api/v1/themes/").status_code == 200
    assert ApiKey.objects.get(pk=world.public_key.pk).last_used_at == used


def test_secret_is_stored_only_as_a_hash(world):
    key = ApiKey.objects.get(pk=world.partners_key.pk)
    assert key.hashed_key == services.hash_key(world.partners_secret)
    assert world.partners_secret not in {key.hashed_key, key.prefix, key.name}


# --- Sessions -----------------------------------------------------------------------------------------


def test_signed_in_monitor_and_curator_use_the_api(world):
    assert session_client(world.alice).get(URL).status_code == 200
    assert session_client(world.carol).get(URL).status_code == 200


def test_signed_in_user_without_a_role_is_forbidden(world):
    nobody = make_user("nobody", role=None)
    response = session_client(nobody).get(URL)
    assert response.status_code == 403
    assert response.json() == {"detail": "Your account has no monitor or curator role."}


def test_inactive_user_session_is_not_accepted(world):
    client = session_client(world.alice)
    world.alice.is_active = False
    world.alice.save(update_fields=["is_active"])
    assert client.get(URL).status_code in (401, 403)


# --- Throttling ---------------------------------------------------------------------------------------

LOW_RATES = {"key": "3/min", "user": "3/min"}


def _with_rates(rates):
    from django.conf import settings

    return override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates})


def test_key_is_throttled_with_retry_after(world):
    with _with_rates(LOW_RATES):
        client = key_client(world.partners_secret)
        for _ in range(3):
            assert client.get(URL).status_code == 200
        response = client.get(URL)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        assert 0 < int(response["Retry-After"]) <= 60
        # The export shares the key's bucket.
        assert client.get("/api/v1/export/themes.csv").status_code == 429
        # Another key of the same organisation has its own bucket.
        assert key_client(world.public_secret).get(URL).status_code == 200


def test_signed_in_user_is_throttled_separately_from_keys(world):
    with _with_rates(LOW_RATES):
        alice = session_client(world.alice)
        for _ in range(3):
            assert alice.get(URL).status_code == 200
        response = alice.get(URL, {"format": "csv"})
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert response["Content-Type"] == "application/json"
        assert session_client(world.mallory).get(URL).status_code == 200
        assert key_client(world.partners_secret).get(URL).status_code == 200


def test_schema_and_docs_are_not_throttled_per_key(world):
    with _with_rates(LOW_RATES):
        client = key_client(world.partners_secret)
        for _ in range(5):
            assert client.get("/api/schema/").status_code == 200


# --- manage.py apikey ---------------------------------------------------------------------------------


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_key_once_as_the_last_token(world):
    out, err = run(
        "create", "--organisation", "New Partner", "--clearance", "partners", "--name", "nightly sync"
    )
    key_text = re.findall(r"\S{24,}", out)[-1]
    assert out.strip() == key_text  # the key alone on standard output
    assert "clearance partners" in err and "not shown again" in err
    key = ApiKey.objects.get(prefix=key_text.split(".")[0])
    assert key.organisation.name == "New Partner" and key.name == "nightly sync" and key.expires_at is None
    assert key.hashed_key == services.hash_key(key_text)
    assert key_client(key_text).get(URL).status_code == 200
    assert Organisation.objects.filter(name="New Partner").count() == 1
    run("create", "--organisation", "New Partner")
    assert Organisation.objects.filter(name="New Partner").count() == 1
    assert ApiKey.objects.filter(organisation__name="New Partner").count() == 2


def test_create_defaults_to_public_clearance_and_sets_expiry(world):
    out, _err = run("create", "--organisation", "Partner NGO", "--expires-days", "30")
    key = ApiKey.objects.get(prefix=out.strip().split(".")[0])
    assert key.clearance == "public"
    assert abs(key.expires_at - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(
        minutes=1
    )
    # A public key does not see partners evidence.
    body = key_client(out.strip()).get("/api/v1/evidence/").content.decode()
    assert "news.example.org/partners" not in body and "news.example.org/public" in body


@pytest.mark.parametrize(
    "args",
    [
        ["create"],
        ["create", "--organisation", ""],
        ["create", "--organisation", "X", "--clearance", "internal"],
        ["create", "--organisation", "X", "--expires-days", "0"],
        ["create", "--organisation", "X", "--expires-days", "-3"],
        ["create", "--organisation", "X", "--expires-days", "soon"],
        ["create", "--organisation", "X" * 201],
        [],
        ["rotate"],
        ["revoke"],
    ],
)
def test_bad_arguments_are_command_errors(world, args):
    before = ApiKey.objects.count()
    with pytest.raises(CommandError):
        run(*args)
    assert ApiKey.objects.count() == before


def test_list_shows_keys_but_never_secrets(world):
    services.revoke_api_key(world.public_key)
    out, _err = run("list")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["PREFIX", "ORGANISATION", "NAME", "CLEARANCE"]
    assert world.partners_key.prefix in out and world.public_key.prefix in out
    assert "Partner NGO" in out and "revoked" in out and "active" in out
    for key in (world.partners_key, world.public_key):
        assert key.hashed_key not in out
    for secret in (world.partners_secret, world.public_secret):
        assert secret.split(".")[1] not in out
    active, _err = run("list", "--active")
    assert world.public_key.prefix not in active and world.partners_key.prefix in active
    other, _err = run("list", "--organisation", "Nobody")
    assert other.strip() == "No keys."


def test_revoke_by_prefix(world):
    out, _err = run("revoke", world.partners_key.prefix)
    assert "Revoked key" in out
    assert ApiKey.objects.get(pk=world.partners_key.pk).revoked_at is not None
    assert_401(key_client(world.partners_secret).get(URL), REFUSED)
    again, _err = run("revoke", world.partners_key.prefix)
    assert "already revoked" in again
    with pytest.raises(CommandError, match="No key with prefix"):
        run("revoke", "deadbeef")
