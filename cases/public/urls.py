"""/public/… (inside i18n_patterns: /zh-hans/public/… and /ug/public/… too). Every view answers 404 while
PUBLIC_SITE is off (cases.public.caching.public_page)."""

from django.urls import path

from . import share_image, views

app_name = "public"

urlpatterns = [
    path("", views.home, name="home"),
    path("recommendations/<slug:code>/", views.recommendation, name="recommendation"),
    path("recommendations/<slug:code>/status.png", share_image.status_png, name="status-png"),
    path("documents/<slug:slug>/", views.document, name="document"),
    path("themes/<slug:slug>/", views.theme, name="theme"),
    path("search/", views.search, name="search"),
    path("language/<str:code>/", views.language, name="language"),
]
