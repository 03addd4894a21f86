"""Create a local superuser with a random password, printed once, only when no superuser exists.

`make run` calls it; it is meant for a development machine (production operators come from
`adduser --role operator`; `createsuperuser` would make an account without an organisation, which is refused).
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from cases import services
from tracker.accounts.services import create_user


class Command(BaseCommand):
    help = "Create a local superuser 'admin' with a random password if there is no superuser yet."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True, is_active=True).exists():
            self.stdout.write("A superuser exists already; no new account was created.")
            return
        password = secrets.token_urlsafe(18)
        username = "admin"
        n = 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"admin{n}"
        create_user(
            username, role="operator", organisation=services.default_organisation(), password=password
        )
        self.stdout.write(
            self.style.WARNING(
                f"Created superuser {username!r} with password: {password}\n"
                "It is shown only this once; change it after signing in."
            )
        )
