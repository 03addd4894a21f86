from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("recommendations/", views.recommendation_list, name="recommendation-list"),
    path("recommendations/<slug:code>/", views.recommendation_detail, name="recommendation"),
]
