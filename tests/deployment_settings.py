"""Settings of the gunicorn that tests/test_export_deployment.py starts: the benchmark's server settings
(production settings, DEBUG off, no collectstatic needed) with tests/deployment_urls.py, which paces the
recommendation export so that it outlasts a short worker timeout."""

from tests.perf.bench_settings import *  # noqa: F403

ROOT_URLCONF = "tests.deployment_urls"
