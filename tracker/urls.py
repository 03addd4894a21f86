from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from cases import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says; resolved per request (lazy),
    # so the hashed name of the manifest storage is used in production.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("img/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("tracker.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/", include("cases.api.urls")),
    path("notifications/", include("tracker.notifications.urls")),
    path("", include("cases.urls")),
]

# JSON for the API, the site's own page elsewhere (cases/api/errors.py).
handler500 = "cases.api.errors.server_error"
