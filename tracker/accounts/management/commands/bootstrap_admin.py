"""Create a local superuser with a random password, printed once, only when no superuser exists.

`make run` calls it; it is meant for a development machine (production operators come from
`adduser --role operator`; `createsuperuser` would make an account without an organisation, which is refused).
With `--save FILE` the sign-in is also written to FILE (mode 0600; `make run` uses var/first-admin.txt and
says so again once the server is up, so the password is not lost among the server's and worker's log lines).
"""

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from cases import services
from tracker.accounts.services import create_user


class Command(BaseCommand):
    help = "Create a local superuser 'admin' with a random password if there is no superuser yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--save", type=Path, metavar="FILE", help="Also write the new sign-in to FILE (mode 0600)."
        )

    def handle(self, *args, save: Path | None = None, **options):
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
        rule = "=" * 72
        self.stdout.write(
            self.style.WARNING(
                f"\n{rule}\nCreated superuser {username!r} with password: {password}\n"
                "It is shown only this once; change it after signing in.\n"
                f"{rule}\n"
            )
        )
        if save is not None:
            save.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 from the start: the password is never readable by others, not even for a moment.
            fd = os.open(save, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"username: {username}\npassword: {password}\n")
            self.stdout.write(
                f"Also written to {save} (readable by you only); delete it once you have signed in."
            )
