"""The correction log, the permalinks of published assessments, the status image and the public Atom
feeds; included once in tracker/urls.py inside i18n_patterns, so each is served in every language under
its prefix. (The partner feed, /api/v1/feed.atom, is in cases/api/urls.py: the API is unprefixed.)"""

from django.urls import path

from . import feeds, public_feeds_views

app_name = "public_feeds"

urlpatterns = [
    path("corrections/", public_feeds_views.corrections, name="corrections"),
    path("corrections/feed.atom", feeds.CorrectionsFeed(), name="corrections-feed"),
    path("public/assessments/<int:pk>/", public_feeds_views.assessment, name="assessment"),
    path("public/recommendations/<slug:code>/status.svg", public_feeds_views.status_svg, name="status-svg"),
    path("feeds/changes.atom", feeds.ChangesFeed(), name="site-feed"),
    path("feeds/documents/<slug:slug>.atom", feeds.DocumentFeed(), name="document-feed"),
    path("feeds/recommendations/<slug:code>.atom", feeds.RecommendationFeed(), name="recommendation-feed"),
    path("feeds/themes/<slug:slug>.atom", feeds.ThemeFeed(), name="theme-feed"),
]
