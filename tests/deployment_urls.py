"""The application's URLs, with the recommendation export paced (tests/test_export_deployment.py): the real
view, rows, CSV and streaming, only a pause between chunks, so that a small export takes several worker
timeouts. `/_silent/recommendations.csv` writes its header and then nothing for three timeouts: a stream
that makes no progress, which the worker timeout must still end."""

import os
import time

from django.urls import path

from cases.api import csv_rows, export
from tracker.urls import urlpatterns as application_urlpatterns

PACE = float(os.environ.get("DEPLOYMENT_TEST_PACE", "0.25"))
SILENCE = float(os.environ.get("DEPLOYMENT_TEST_SILENCE", "6"))


class PacedRows(csv_rows.RecommendationRows):
    pause = PACE

    def stream(self, queryset):
        for number, chunk in enumerate(super().stream(queryset)):
            if number:
                time.sleep(self.pause)
            yield chunk


class SilentRows(PacedRows):
    def stream(self, queryset):
        chunks = super().stream(queryset)
        yield next(chunks)
        time.sleep(SILENCE)
        yield from chunks


class PacedExport(export.RecommendationExport):
    chunk_size = 10
    row_reader = PacedRows


class SilentExport(PacedExport):
    row_reader = SilentRows


urlpatterns = [
    path("api/v1/export/recommendations.csv", PacedExport.as_view()),
    path("_silent/recommendations.csv", SilentExport.as_view()),
    *application_urlpatterns,
]
