"""The import page's URLs, included under /import/ by cases/urls.py (names in the `cases` namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_index, name="import"),
    path("uploads/<str:token>/", views.upload_detail, name="import-upload"),
    path("uploads/<str:token>/status/", views.upload_status, name="import-status"),
    path("uploads/<str:token>/map/", views.upload_map, name="import-map"),
    path("uploads/<str:token>/confirm/", views.upload_confirm, name="import-confirm"),
    path("uploads/<str:token>/restart/", views.upload_restart, name="import-restart"),
    path("uploads/<str:token>/discard/", views.upload_discard, name="import-discard"),
    path("runs/<int:pk>/", views.run_report, name="import-report"),
    path("runs/<int:pk>/rejected-rows.csv", views.run_errors_csv, name="import-errors"),
]
