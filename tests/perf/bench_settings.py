"""Settings of the benchmark's and the load test's server: the production settings (every knob still from
the environment, DEBUG off) with the floor views under /_floor/ (bench_urls), and static URLs that are not
hashed, so no collectstatic is needed (nothing measured fetches a static file; the empty static root only
keeps whitenoise from warning about a missing one)."""

from tracker.settings import *  # noqa: F403
from tracker.settings import BASE_DIR, STORAGES

ROOT_URLCONF = "tests.perf.bench_urls"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
STATIC_ROOT = BASE_DIR / "test-artifacts" / "bench-static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
