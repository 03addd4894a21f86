from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Sign-in, second factor, session lifetimes, lockout, invitations, roles and the audit trail."""

    name = "tracker.accounts"
    label = "accounts"
    verbose_name = _("Accounts and audit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers post_migrate (roles: the groups and their permissions), the security log's receivers
        # (audit), the deploy check (security) and the sign-in receiver that applies a remembered language.
        from tracker import i18n_thirdparty

        from . import audit, language, roles, security  # noqa: F401

        i18n_thirdparty.apply()  # the libraries' untranslatable names in the admin, translatable
