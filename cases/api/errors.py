"""Errors under /api/ are JSON, whatever went wrong and wherever.

DRF answers its own exceptions (and Django's Http404 and PermissionDenied) as JSON in the view
(`ApiMixin.handle_exception` forces the JSON renderer even for `?format=csv`). Anything else propagates out
of the view to Django, which logs it as every 500 (`django.request`, traceback included, so error reporting
sees it) and calls `handler500`: `server_error` below, which answers JSON for API paths and the site's HTML
page for the rest. A client parsing JSON never receives an HTML page, and nothing about the failure leaks.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import server_error as html_server_error
from rest_framework.renderers import JSONRenderer

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest | None) -> bool:
    return request is not None and getattr(request, "path_info", "").startswith(API_PREFIX)


@requires_csrf_token
def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: a JSON body for the API, the site's own page elsewhere. Uses no database and no
    template context, as a 500 handler must (the database may be why it runs)."""
    if not is_api_request(request):
        return html_server_error(request, template_name=template_name)
    response = JsonResponse(
        {"detail": _("A server error occurred. It has been logged; try again later.")}, status=500
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


class JSONErrorsMixin:
    """For API views: their errors are rendered as JSON whatever format was asked for or negotiated (a
    CSV "error row" would be read as data; a YAML schema error is no error a client can parse)."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response
