"""django-allauth adapter: accounts are created by curators or `manage.py adduser`, never by sign-up."""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False

    def validation_error(self, code, *args) -> ValidationError:
        """A failed sign-in's error, with a warning when one or two attempts remain before the lockout
        (security.lockout_warning: the same for names no account has)."""
        error = super().validation_error(code, *args)
        if code.endswith("_password_mismatch"):
            from .security import lockout_warning

            warning = lockout_warning(getattr(self, "request", None))
            if warning:
                error = ValidationError([error, ValidationError(warning, code="lockout_warning")])
        return error
