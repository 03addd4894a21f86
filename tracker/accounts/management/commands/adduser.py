"""`manage.py adduser USERNAME --role monitor|curator|operator [--organisation NAME] [--email E]`.

An operator is a superuser (the instance's administrator, the only role that sees across organisations); like
every account it belongs to one organisation. Use this rather than `createsuperuser`, which makes an account
without one (such an account is refused everywhere).

The password is read from standard input when it is not a terminal (first line; a second identical line
is accepted as a confirmation), and prompted for twice otherwise. It is checked by the password validators.
"""

import getpass
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases import services
from tracker.accounts.roles import ROLE_GROUPS
from tracker.accounts.services import create_user


class Command(BaseCommand):
    help = "Create a user with the monitor, curator or operator (superuser) role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[*sorted(ROLE_GROUPS), "operator"])
        parser.add_argument(
            "--organisation", help="Organisation name (created if new); default organisation otherwise."
        )
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, organisation, email, **options):
        User = get_user_model()
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        password = self._read_password()
        candidate = User(username=username, email=email)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from None
        with transaction.atomic():
            org = (
                services.get_or_create_organisation(organisation)
                if organisation
                else services.default_organisation()
            )
            create_user(username, role=role, organisation=org, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"Created {role} {username!r} in {org.name!r}."))

    def _read_password(self) -> str:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
            return password
        lines = sys.stdin.read().splitlines()
        if not lines or not lines[0]:
            raise CommandError("No password on standard input.")
        if len(lines) > 1 and lines[1] and lines[1] != lines[0]:
            raise CommandError("The passwords do not match.")
        return lines[0]
