# Fixtures are imported from test_api_support, which ruff reads as redefinitions.
# ruff: noqa: F811
"""The export API answers every error as JSON and never a 500 for anything a client can send.

- Hostile values (integers beyond 64 bits, negative numbers, NUL, Unicode) in every filter, ordering, paging
  and format parameter of every list, detail and export endpoint: a 2xx or a JSON 4xx, never a 500.
- A parameter whose *name* holds `%` and whose value holds NUL (issue 15, finding 8) is a JSON 400.
- An unexpected exception under /api/ is a JSON 500 (DRF views and the rest alike), logged as Django logs
  its 500s.
- Failed key guesses are throttled per client network (issue 9, finding 8): after N bad keys a minute every
  key attempt from that network is a JSON 429 with Retry-After, audited once as `apikey.throttled`; a valid
  key from another network is unaffected.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from django.test import Client, override_settings

from cases.api import export, filters, views
from cases.models import Theme
from tests.factories import make_document
from tests.test_api_support import (  # noqa: F401  (fixtures)
    _fresh_throttles,
    _module_world,
    key_client,
    session_client,
    world,
)
from tracker.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"
HOSTILE = [HUGE, "-" + HUGE, "-1", "0", "\x00", "a\x00b", "ئۇيغۇر 新疆", "1e309", "9" * 400, "%", "%s%(x)s"]

# Every list endpoint with its filter set; detail lookups use the same resources.
ENDPOINTS = {
    "recommendations": (views.RecommendationViewSet, "XJ22-151-i"),
    "assessments": (views.AssessmentViewSet, None),
    "evidence": (views.EvidenceViewSet, None),
    "documents": (views.DocumentViewSet, "xj22"),
    "themes": (views.ThemeViewSet, "arbitrary-detention"),
}
# Not filters, but read from the query string by every list: ordering, paging and format.
COMMON_PARAMS = ["ordering", "cursor", "page_size", "format"]


def _params(resource: str) -> list[str]:
    """Every query parameter the resource's list reads: the filter form's fields (a range filter's two
    halves included) and the common ones."""
    filterset_class = ENDPOINTS[resource][0].filterset_class
    form = filterset_class(data={}).form
    names = []
    for name, field in form.fields.items():
        widget = field.widget
        suffixes = getattr(widget, "suffixes", None)
        names.extend(f"{name}_{suffix}" for suffix in suffixes) if suffixes else names.append(name)
    return names + COMMON_PARAMS


CASES = [(resource, param) for resource in ENDPOINTS for param in _params(resource)]


def assert_json_client_error_or_ok(response):
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        json.loads(response.content)


def test_every_filter_of_every_list_is_covered():
    """The parameter list is derived from the filter sets; this pins a few so the derivation cannot go empty."""
    assert {"assessed_on_after", "assessed_on_before", "updated_since", "recommendation"} <= set(
        _params("assessments")
    )
    assert {"q", "theme", "document", "state_response"} <= set(_params("recommendations"))
    assert filters.ApiFilterSet in ENDPOINTS["themes"][0].filterset_class.__mro__


@pytest.mark.parametrize(("resource", "param"), CASES)
def test_hostile_values_in_every_list_parameter_are_never_a_500(world, resource, param):
    client = key_client(world.partners_secret)
    for value in HOSTILE:
        for url in (f"/api/v1/{resource}/", f"/api/v1/export/{resource}.csv"):
            response = client.get(url, {param: value})
            assert_json_client_error_or_ok(response)


@pytest.mark.parametrize("resource", list(ENDPOINTS))
def test_hostile_detail_lookups_are_json_404(world, resource):
    client = key_client(world.partners_secret)
    for value in [HUGE, "-" + HUGE, "-1", "0", "%00", "ئۇيغۇر", "1e309"]:
        response = client.get(f"/api/v1/{resource}/{value}/")
        assert response.status_code == 404, (value, response.status_code)
        assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("resource", list(ENDPOINTS))
def test_a_cursor_holding_a_huge_integer_is_a_json_400(world, resource):
    Theme.objects.create(name="Second theme", slug="second-theme")
    make_document("second-document")
    client = key_client(world.partners_secret)
    first = client.get(f"/api/v1/{resource}/", {"page_size": 1, "ordering": "-updated_at"}).json()
    assert first["next"]
    token = first["next"].split("cursor=")[1].split("&")[0]
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    # Every value of the cursor (the timestamp and the tiebreaker) becomes a 77-bit integer.
    payload["v"] = [int(HUGE) for _ in payload["v"]]
    bad = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    response = client.get(f"/api/v1/{resource}/", {"cursor": bad, "page_size": 1, "ordering": "-updated_at"})
    assert_json_client_error_or_ok(response)


# --- issue 15, finding 8: a `%` in a parameter's name, NUL in its value ------------------------------------


@pytest.mark.parametrize("resource", list(ENDPOINTS))
@pytest.mark.parametrize("detail", [False, True], ids=["list", "detail"])
def test_percent_in_a_parameter_name_with_nul_value_is_a_json_400(world, resource, detail):
    client = key_client(world.partners_secret)
    if detail:
        lookup = (
            ENDPOINTS[resource][1]
            or getattr(world, "published" if resource == "assessments" else "public_ev").pk
        )
        url = f"/api/v1/{resource}/{lookup}/"
    else:
        url = f"/api/v1/{resource}/"
    response = client.get(url + "?%25x=%00")
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    # The parameter is named exactly as sent; nothing was %-formatted twice.
    assert body == {"__all__": ["Parameter “%x” contains a NUL character."]}


def test_percent_in_a_parameter_name_with_nul_value_on_the_export(world):
    response = key_client(world.partners_secret).get("/api/v1/export/recommendations.csv?%25(x)s=%00")
    assert response.status_code == 400
    assert response.json() == {"__all__": ["Parameter “%(x)s” contains a NUL character."]}


# --- every error as JSON, 500 included -------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise RuntimeError("forced failure")


@pytest.mark.parametrize(
    "url",
    ["/api/v1/recommendations/", "/api/v1/themes/arbitrary-detention/", "/api/v1/export/themes.csv"],
)
def test_an_unexpected_exception_in_an_api_view_is_a_json_500(world, monkeypatch, url, caplog):
    monkeypatch.setattr(views.RecommendationResource, "get_queryset", _boom)
    monkeypatch.setattr(views.ThemeResource, "get_queryset", _boom)
    client = Client(
        raise_request_exception=False, headers={"authorization": f"Bearer {world.partners_secret}"}
    )
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get(url, {"format": "csv"} if url.endswith("/") else {})
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "A server error occurred. It has been logged; try again later."}
    assert "forced failure" not in response.content.decode()
    # Logged as Django logs every 500, traceback included, so error reporting still sees it.
    assert any(r.name == "django.request" and r.exc_info for r in caplog.records)


def test_an_exception_outside_a_drf_view_under_api_is_a_json_500(world, monkeypatch):
    """The catch-all 404 view is DRF too; a failure in URL resolution or middleware is not: handler500."""
    monkeypatch.setattr(views.NotFoundView, "get", _boom)
    client = Client(raise_request_exception=False)
    response = client.get("/api/nowhere/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_server_errors_outside_the_api_stay_html(world, monkeypatch):
    from cases import views as web_views

    monkeypatch.setattr(web_views.status_counts, "totals", _boom)
    client = Client(raise_request_exception=False)
    client.force_login(world.alice)
    response = client.get("/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong on our side" in response.content.decode()


def test_not_found_and_method_errors_are_json(world):
    client = key_client(world.partners_secret)
    for method, url, status in [
        ("get", "/api/v2/anything/", 404),
        ("post", "/api/v1/recommendations/", 405),
        ("get", "/api/v1/recommendations/?format=xml", 404),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == status, (url, response.status_code)
        assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("post", "/api/schema/", 405),
        ("get", "/api/schema/?format=xml", 404),
        ("post", "/api/docs/", 405),
        ("delete", "/api/v1/export/themes.csv", 401),
    ],
)
def test_schema_docs_and_export_errors_are_json(world, method, url, status):
    response = getattr(Client(), method)(url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


# --- failed key guesses throttled per client network -----------------------------------------------------

GUESS_RATES = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "key_guess": "3/min"}
URL = "/api/v1/themes/"


def _with_guess_rate():
    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": GUESS_RATES}
    )


def _guesser(ip: str, secret: str = "0123abcd.not-a-real-secret") -> Client:  # noqa: S107
    return Client(REMOTE_ADDR=ip, headers={"authorization": f"Bearer {secret}"})


def test_failed_key_guesses_are_throttled_per_network(world):
    with _with_guess_rate():
        guesser = _guesser("198.51.100.7")
        for _ in range(3):
            response = guesser.get(URL)
            assert response.status_code == 401
        assert AuditEvent.objects.filter(event="apikey.refused").count() == 3
        response = guesser.get(URL)
        assert response.status_code == 429
        assert response["Content-Type"] == "application/json"
        assert 0 < int(response["Retry-After"]) <= 60
        assert "throttled" in response.json()["detail"].lower()
        # A neighbour in the same /24 shares the bucket, and so does a valid key sent from there: the
        # guesser must not learn which of its guesses would have worked.
        assert _guesser("198.51.100.99").get(URL).status_code == 429
        assert _guesser("198.51.100.8", world.partners_secret).get(URL).status_code == 429
        # Another client's valid key is unaffected.
        other = Client(
            REMOTE_ADDR="203.0.113.5", headers={"authorization": f"Bearer {world.partners_secret}"}
        )
        assert other.get(URL).status_code == 200
        # One audit row for the episode, not one per refused request; no content, the network only.
        throttled = AuditEvent.objects.filter(event="apikey.throttled")
        assert throttled.count() == 1
        assert throttled.get().fields == {"ip": "198.51.100.0/24"}
        assert AuditEvent.objects.filter(event="apikey.refused").count() == 3


def test_valid_keys_do_not_count_as_guesses(world):
    with _with_guess_rate():
        client = Client(
            REMOTE_ADDR="198.51.100.7", headers={"authorization": f"Bearer {world.partners_secret}"}
        )
        for _ in range(6):
            assert client.get(URL).status_code == 200
        assert not AuditEvent.objects.filter(event__in=["apikey.refused", "apikey.throttled"]).exists()


def test_refused_keys_are_audited_with_the_prefix_only(world, caplog):
    with caplog.at_level("INFO", logger="security"):
        response = _guesser("198.51.100.7", "abcdef12.secret-text").get(URL)
    assert response.status_code == 401
    row = AuditEvent.objects.get(event="apikey.refused")
    assert row.fields == {"prefix": "abcdef12", "reason": "invalid", "ip": "198.51.100.0/24"}
    assert "secret-text" not in caplog.text
    assert "apikey.refused user=None prefix=abcdef12 reason=invalid ip=198.51.100.0/24" in caplog.text
    # Text that is not shaped like a key's prefix is not written anywhere: it is whatever the client typed.
    _guesser("198.51.100.7", "a=b c.d").get(URL)
    _guesser("198.51.100.7", "not-hex!.secret").get(URL)
    odd = AuditEvent.objects.filter(event="apikey.refused").exclude(pk=row.pk)
    assert [r.fields for r in odd.order_by("pk")] == [
        {"reason": "malformed", "ip": "198.51.100.0/24"},
        {"reason": "invalid", "ip": "198.51.100.0/24"},
    ]


def test_export_views_share_the_error_handling():
    assert all(issubclass(view, views.ApiMixin) for view in export.EXPORTS.values())
