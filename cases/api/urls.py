"""/api/: the versioned export under v1/, its OpenAPI schema and docs page.

Lookups take any path segment (`str`), not a slug or int converter: a malformed code or id is then a JSON
404 from the view rather than the site's HTML 404.
"""

from django.urls import path

from cases.feeds import PartnerFeedView

from . import export, people, schema, views

app_name = "api"

LIST = {"get": "list"}
DETAIL = {"get": "retrieve"}

urlpatterns = [
    path("v1/recommendations/", views.RecommendationViewSet.as_view(LIST), name="recommendation-list"),
    path(
        "v1/recommendations/<str:code>/",
        views.RecommendationViewSet.as_view(DETAIL),
        name="recommendation-detail",
    ),
    path("v1/assessments/", views.AssessmentViewSet.as_view(LIST), name="assessment-list"),
    path("v1/assessments/<str:pk>/", views.AssessmentViewSet.as_view(DETAIL), name="assessment-detail"),
    path("v1/evidence/", views.EvidenceViewSet.as_view(LIST), name="evidence-list"),
    path("v1/evidence/<str:pk>/", views.EvidenceViewSet.as_view(DETAIL), name="evidence-detail"),
    path("v1/documents/", views.DocumentViewSet.as_view(LIST), name="document-list"),
    path("v1/documents/<str:slug>/", views.DocumentViewSet.as_view(DETAIL), name="document-detail"),
    path("v1/themes/", views.ThemeViewSet.as_view(LIST), name="theme-list"),
    path("v1/themes/<str:slug>/", views.ThemeViewSet.as_view(DETAIL), name="theme-detail"),
    path("v1/people/", people.PersonViewSet.as_view(LIST), name="person-list"),
    path("v1/people/<str:reference>/", people.PersonViewSet.as_view(DETAIL), name="person-detail"),
    # The partner feed (Atom): published changes and the sources the key's clearance allows (cases/feeds.py).
    path("v1/feed.atom", PartnerFeedView.as_view(), name="feed"),
    *(
        path(f"v1/export/{name}.csv", view.as_view(), name=f"export-{name}")
        for name, view in export.EXPORTS.items()
    ),
    path("schema/", schema.SchemaView.as_view(), name="schema"),
    path("docs/", schema.DocsView.as_view(), name="docs"),
    path("<path:rest>", views.NotFoundView.as_view(), name="not-found"),
]
