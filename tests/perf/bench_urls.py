"""The application's URLs plus the benchmark's floor views (tests/perf/floor_urls.py) under /_floor/."""

from django.contrib import admin as django_admin
from django.urls import include, path

from cases.models import Recommendation
from cases.views import PAGE_SIZE
from tracker.urls import urlpatterns as application_urlpatterns

from . import floor_urls, people_bench

# A fair comparison: the admin changelist shows as many rows a page as the web list (it defaults to 100).
django_admin.site._registry[Recommendation].list_per_page = PAGE_SIZE

urlpatterns = [
    path("_floor/", include(floor_urls.urlpatterns)),
    path("_floor/", include(people_bench.urlpatterns)),
    *application_urlpatterns,
]
