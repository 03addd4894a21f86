"""/people/: included from cases/urls.py (namespace `cases`)."""

from django.urls import path

from . import import_views, views

urlpatterns = [
    path("", views.people_list, name="people-list"),
    path("new/", views.person_new, name="person-new"),
    path("review/", views.people_review, name="people-review"),
    path("import/", import_views.people_import, name="people-import"),
    path("import/<str:token>/", import_views.people_import_upload, name="people-import-upload"),
    path("import/<str:token>/confirm/", import_views.people_import_confirm, name="people-import-confirm"),
    path("counts/<slug:code>/cite/", views.cite_people_counts, name="people-counts-cite"),
    path("review/<int:pk>/publish/", views.people_review_publish, name="people-review-publish"),
    path("review/<int:pk>/return/", views.people_review_return, name="people-review-return"),
    path("<str:reference>/", views.person_detail, name="person"),
    path("<str:reference>/status/", views.person_status_new, name="person-status-new"),
    path("<str:reference>/merge/", views.person_merge, name="person-merge"),
]
