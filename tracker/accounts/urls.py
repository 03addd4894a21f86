from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("invitation/accept/", views.accept, name="invitation-accept"),
    path("invitation/<str:token>/", views.invitation, name="invitation"),
]
