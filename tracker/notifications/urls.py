from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read/", views.mark_all_read, name="mark-all-read"),
    path("<int:pk>/read/", views.mark_read, name="mark-read"),
    path("preferences/", views.preferences, name="preferences"),
    path("follow/<slug:code>/", views.follow, name="follow"),
    path("unfollow/<slug:code>/", views.unfollow, name="unfollow"),
    path("deliveries/<int:pk>/retry/", views.retry_delivery, name="retry-delivery"),
]
