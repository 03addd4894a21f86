from django.urls import include, path

from . import browse_views, exports, views, workflow_views

app_name = "cases"

urlpatterns = [
    # Reading (views.py)
    path("", views.dashboard, name="dashboard"),
    path("recommendations/", views.recommendation_list, name="recommendation-list"),
    path("recommendations/<slug:code>/", views.recommendation_detail, name="recommendation"),
    path(
        "recommendations/<slug:code>/dossier/",
        browse_views.recommendation_dossier,
        name="recommendation-dossier",
    ),
    path("evidence/", views.evidence_list, name="evidence-list"),
    path("evidence/<int:pk>/", views.evidence_detail, name="evidence"),
    # Browsing and downloads (browse_views.py, exports.py); `<fmt>` is csv or xlsx.
    path("assessments/", browse_views.assessment_list, name="assessment-list"),
    path(
        "recommendations/export.<str:fmt>",
        exports.download,
        {"resource": "recommendations"},
        name="recommendation-export",
    ),
    path(
        "assessments/export.<str:fmt>",
        exports.download,
        {"resource": "assessments"},
        name="assessment-export",
    ),
    path("evidence/export.<str:fmt>", exports.download, {"resource": "evidence"}, name="evidence-export"),
    # Writing and review (workflow_views.py)
    path("recommendations/<slug:code>/assess/", workflow_views.assess, name="assess"),
    path("evidence/new/", workflow_views.evidence_new, name="evidence-new"),
    path("review/", workflow_views.review_queue, name="review-queue"),
    path("review/<int:pk>/publish/", workflow_views.review_publish, name="review-publish"),
    path("review/<int:pk>/return/", workflow_views.review_return, name="review-return"),
    path("review/bulk/", workflow_views.review_bulk, name="review-bulk"),
    path("assessments/<int:pk>/resubmit/", workflow_views.assessment_resubmit, name="assessment-resubmit"),
    path("assessments/<int:pk>/edit/", workflow_views.assessment_edit, name="assessment-edit"),
    path("assessments/<int:pk>/withdraw/", workflow_views.assessment_withdraw, name="assessment-withdraw"),
    path("import/", include("cases.imports.urls")),
    path("people/", include("cases.people.urls")),
]
