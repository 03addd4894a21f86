from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the integrity guards (signals).
        from . import signals  # noqa: F401

        # Registers the SQLite export's functions on each new connection (csv_rows.sqlite_functions).
        from .api import csv_rows  # noqa: F401
