from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers post_migrate (roles), integrity guards (signals), the security log's receivers (audit) and
        # the deploy check (security).
        from . import audit, roles, security, signals  # noqa: F401
