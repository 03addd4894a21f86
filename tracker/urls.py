from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from cases import health
from tracker.accounts import language

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link rel="icon"> says; resolved per request (lazy),
    # so the hashed name of the manifest storage is used in production.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("img/favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    # Partners' webhook endpoints (tracker/webhooks), ahead of the export's catch-all 404 under /api/.
    path("api/v1/webhooks/", include("tracker.webhooks.urls")),
    path("api/", include("cases.api.urls")),
    # The language switcher's POST (Django's set_language, plus the account's remembered language).
    path("i18n/setlang/", language.set_language, name="set_language"),
]
# The pages, in English at their unprefixed addresses and under /zh-hans/ and /ug/ in the other languages
# (tracker/accounts/language.py). Not the API, the admin or healthz: machines and bookmarks of the admin
# keep one address each, and their language follows the cookie or Accept-Language.
urlpatterns += i18n_patterns(
    path("accounts/", include("tracker.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("notifications/", include("tracker.notifications.urls")),
    # The correction log, assessment permalinks, the status image and the public Atom feeds (PUBLIC_SITE).
    path("", include("cases.public_feeds_urls")),
    # The public site (PUBLIC_SITE=1; 404 otherwise): no sign-in, published and public only.
    path("public/", include("cases.public.urls")),
    path("", include("cases.urls")),
    prefix_default_language=False,
)

# JSON for the API, the site's own page elsewhere (cases/api/errors.py).
handler500 = "cases.api.errors.server_error"
