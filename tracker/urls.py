from django.contrib import admin
from django.urls import include, path

from cases import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("tracker.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/", include("cases.api.urls")),
    path("", include("cases.urls")),
]

# JSON for the API, the site's own page elsewhere (cases/api/errors.py).
handler500 = "cases.api.errors.server_error"
