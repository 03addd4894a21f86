"""The OpenAPI 3 description (drf-spectacular) and the docs page.

The schema and the docs describe the API and hold no data, so they are readable without credentials. The
docs page is Swagger UI from drf-spectacular-sidecar, served from our own static files; its HTML has no
inline script or style (the site's Content-Security-Policy forbids both), and its start-up script is a
separate same-origin URL.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.template import engines
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .errors import JSONErrorsMixin

DESCRIPTION = """
Read-only export of the Accountability Tracker: documents, recommendations with their current status,
published assessments, evidence and themes. Field names and choice codes are a stable contract: fields may
be added, never renamed or removed, within `/api/v1/`.

## Authentication
Send an organisation key: `Authorization: Bearer <key>` (create one with
`python manage.py apikey create --organisation NAME --clearance partners`). Signed-in monitors can also
use their browser session. Missing, malformed, unknown, expired or revoked keys get `401` with a JSON
`detail`.

## What you see
Assessments: published ones only. Evidence: a `public` key sees public evidence, a `partners` key public
and partners evidence; internal evidence never leaves through a key. An assessment lists the ids of the
evidence you may see and counts the rest in `withheld_evidence`. Assessments name the organisation that
made them, never a person.

## Pagination
Lists are cursor-paginated: `{"next": url|null, "previous": url|null, "results": [...]}`. Follow `next`
until it is null; `page_size` asks for fewer or more rows per page, up to 500. Pages cost the same at any
depth and stay stable while data changes. Keep `ordering` and the filters the same while you follow links.

## Incremental sync
Every list takes `updated_since` (ISO 8601, inclusive). Store the time your sync *started*, and next time
pass it as `updated_since`; upsert rows by their key (`code`, `slug` or `id`). A newly published assessment
or changed evidence counts as a change of its recommendation. Rows that become invisible to you (for
example evidence reclassified as internal) do not appear in an incremental sync: run a full export now and
then to reconcile.

## CSV
`?format=csv` on any list or detail returns the same fields as CSV (UTF-8, header row, lists joined with
`; `, nested objects as `parent.child` columns, cells starting with `=`, `+`, `-`, `@`, tab or carriage
return prefixed with `'` against formula injection). A CSV list is still one page: the `next`/`previous`
links are in the `Link` header. For everything at once use `/api/v1/export/<resource>.csv`, which streams
the whole filtered set without pagination and takes the same filters.

## Limits
Requests are rate-limited per key and per signed-in user; over the limit you get `429` with `Retry-After`
(seconds).
"""

CSV_NOTE = _("CSV with the same field names as the JSON (see the API description).")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("What went wrong."))


VALIDATION_ERROR = {
    "type": "object",
    "description": str(_("Field name (or `__all__`) → messages.")),
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}

# A body that is not JSON at all (a POST's parse error) is answered as the other errors are: {"detail": …}.
BAD_REQUEST = {
    "anyOf": [
        VALIDATION_ERROR,
        {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    ]
}

ERRORS = {
    "400": (BAD_REQUEST, _("A filter, cursor, parameter or request body is invalid.")),
    "401": (ErrorSerializer, _("No, malformed, unknown, expired or revoked credentials.")),
    "403": (ErrorSerializer, _("Signed in without a monitor or curator role.")),
    "404": (ErrorSerializer, _("No such object, or not visible to you.")),
    "429": (ErrorSerializer, _("Rate limit reached; retry after `Retry-After` seconds.")),
}


class ApiAutoSchema(AutoSchema):
    """Documents the error answers every endpoint can give, and CSV bodies as text rather than JSON."""

    def get_filter_backends(self):
        # The export is not a "list" to spectacular (no pagination) but takes the list's filters.
        if getattr(self.view, "streams_whole_set", False):
            return self.view.filter_backends
        return super().get_filter_backends()

    def get_tags(self) -> list[str]:
        if getattr(self.view, "streams_whole_set", False):
            return ["export"]
        # /api/v1/<resource>/… → the resource, so the docs group operations by what they return.
        parts = [part for part in self.path.split("/") if part]
        return [parts[2]] if len(parts) > 2 else super().get_tags()

    def get_operation_id(self) -> str:
        if getattr(self.view, "streams_whole_set", False):
            return f"export_{self.view.resource}_csv"
        return super().get_operation_id()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for body in responses.values():
            if "text/csv" in body.get("content", {}):
                body["content"]["text/csv"] = {"schema": {"type": "string", "description": str(CSV_NOTE)}}
        for code, (schema, description) in ERRORS.items():
            response = self._get_response_for_code(schema, code, ["application/json"], direction)
            response["description"] = str(description)
            if code == "429":
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": str(_("Seconds to wait."))}
                }
            responses.setdefault(code, response)
        return responses


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "cases.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer")  # noqa: S106 (a scheme name, not a secret)
        definition["description"] = str(
            _("An organisation key from `manage.py apikey create`, sent as `Authorization: Bearer <key>`.")
        )
        return definition


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    """GET the OpenAPI 3 schema (YAML by default; JSON with `Accept: application/json`); errors are JSON."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    custom_settings = {"DESCRIPTION": DESCRIPTION}


DOCS_HTML = engines["django"].from_string(
    """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="icon" href="{{ favicon }}">
<link rel="stylesheet" href="{{ css }}">
<link rel="stylesheet" href="{{ overrides }}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{ bundle }}"></script>
<script src="{{ init }}"></script>
</body>
</html>
"""
)

DOCS_JS = """"use strict";
window.ui = SwaggerUIBundle({
  url: %s,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // Off: deep links put an <a href> inside each operation's toggle button (nested interactive controls).
  deepLinking: false,
  persistAuthorization: false,
  tryItOutEnabled: false,
});
"""


@extend_schema(exclude=True)
class DocsView(JSONErrorsMixin, APIView):
    """Swagger UI. `?script` returns its start-up script, so the HTML needs no inline code."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request, *args, **kwargs):
        if "script" in request.GET:
            code = DOCS_JS % json.dumps(reverse("api:schema") + "?format=json")
            return HttpResponse(code, content_type="text/javascript; charset=utf-8")
        sidecar = "drf_spectacular_sidecar/swagger-ui-dist/"
        html = DOCS_HTML.render(
            {
                "lang": request.LANGUAGE_CODE if hasattr(request, "LANGUAGE_CODE") else "en",
                "title": _("Accountability Tracker export API"),
                "favicon": static(sidecar + "favicon-32x32.png"),
                "css": static(sidecar + "swagger-ui.css"),
                # Ours: colours of Swagger UI's badges and buttons that fail WCAG AA contrast (issue 16).
                "overrides": static("css/api-docs.css"),
                "bundle": static(sidecar + "swagger-ui-bundle.js"),
                "init": reverse("api:docs") + "?script",
            }
        )
        return HttpResponse(html, content_type="text/html; charset=utf-8")
