"""django-allauth adapter: accounts are created by curators or `manage.py adduser`, never by sign-up."""

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False
