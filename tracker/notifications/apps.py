from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Notifications: in-app and e-mail, sent by the task queue (cases/tasks.py), never inside a request."""

    name = "tracker.notifications"
    label = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the receiver that enqueues a notification task after each publication or return.
        from . import signals  # noqa: F401
