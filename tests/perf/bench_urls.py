"""The application's URLs plus the benchmark's floor views (tests/perf/floor_urls.py) under /_floor/."""

from django.urls import include, path

from tracker.urls import urlpatterns as application_urlpatterns

from . import floor_urls, people_bench

urlpatterns = [
    path("_floor/", include(floor_urls.urlpatterns)),
    path("_floor/", include(people_bench.urlpatterns)),
    *application_urlpatterns,
]
