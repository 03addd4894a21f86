import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class WebhooksConfig(AppConfig):
    """Signed webhooks for partner organisations (issue 13, item 5): endpoints, deliveries, the tasks that
    send them on the project's task queue (cases/tasks.py)."""

    name = "tracker.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # Registers the receivers that enqueue a fan-out task after a publication, a link or an import.
        from . import signals  # noqa: F401

        if getattr(settings, "WEBHOOKS_ALLOW_LOOPBACK", False) and not settings.DEBUG:
            # Allowed (a receiver on the same machine is a real set-up), but never silently: with it on,
            # an endpoint can reach services listening on this machine's loopback interface.
            logger.warning(
                "WEBHOOKS_ALLOW_LOOPBACK is on with DEBUG off: webhook endpoints may point at this machine"
            )
