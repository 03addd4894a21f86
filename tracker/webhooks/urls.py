"""/api/v1/webhooks/ (included from tracker/urls.py ahead of the export's catch-all)."""

from django.urls import path

from . import api

app_name = "webhooks"

urlpatterns = [
    path("", api.EndpointList.as_view(), name="endpoint-list"),
    path("<str:pk>/", api.EndpointDetail.as_view(), name="endpoint-detail"),
    path("<str:pk>/deliveries/", api.DeliveryList.as_view(), name="delivery-list"),
]
