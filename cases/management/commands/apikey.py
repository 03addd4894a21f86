"""`manage.py apikey create|list|revoke`: organisation keys for the REST export.

    apikey create --organisation NAME [--clearance public|partners] [--expires-days N] [--name TEXT]
    apikey list [--organisation NAME] [--active]
    apikey revoke PREFIX

`create` prints the key once: what it is on standard error, and the key alone as the last line of standard
output (so `KEY=$(manage.py apikey create …)` captures exactly the key). Only its SHA-256 is stored. `list`
never shows a secret or a hash.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases import services
from cases.models import ApiKey, KeyClearance


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _status(key: ApiKey, now) -> str:
    if key.revoked_at:
        return "revoked"
    if key.expires_at and key.expires_at <= now:
        return "expired"
    return "active"


class Command(BaseCommand):
    help = "Create, list and revoke organisation keys for the REST export (/api/v1/)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
        create = sub.add_parser("create", help="Issue a key and print it once.")
        create.add_argument("--organisation", required=True, help="Organisation name (created if new).")
        create.add_argument("--clearance", choices=KeyClearance.values, default=KeyClearance.PUBLIC)
        create.add_argument(
            "--expires-days", type=int, default=None, help="Days until it expires (default: never)."
        )
        create.add_argument("--name", default="", help="What the key is for, e.g. the partner's sync job.")
        listing = sub.add_parser("list", help="List keys (never their secrets).")
        listing.add_argument("--organisation", help="Only this organisation's keys.")
        listing.add_argument("--active", action="store_true", help="Leave out revoked and expired keys.")
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix (see `apikey list`).")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _create(self, *, organisation, clearance, expires_days, name, **options):
        organisation = (organisation or "").strip()
        if not organisation:
            raise CommandError("--organisation must name an organisation.")
        if len(organisation) > 200 or len(name) > 200:
            raise CommandError("Organisation and key names are at most 200 characters.")
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        try:
            org = services.get_or_create_organisation(organisation)
            key, secret = services.issue_api_key(
                org, clearance=clearance, name=name, expires_days=expires_days
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"Created key {key.prefix} for {org.name!r}: clearance {key.clearance}, "
            f"expires {_when(key.expires_at) if key.expires_at else 'never'}."
        )
        self.stderr.write("Store it now; it is not shown again. Send it as: Authorization: Bearer <key>")
        # The key alone, last: scripts and contract checks take the last line of standard output.
        self.stdout.write(secret)

    def _list(self, *, organisation, active, **options):
        now = timezone.now()
        keys = ApiKey.objects.select_related("organisation").order_by("organisation__name", "-created_at")
        if organisation:
            keys = keys.filter(organisation__name=organisation)
        if active:
            keys = keys.usable()
        header = (
            "PREFIX",
            "ORGANISATION",
            "NAME",
            "CLEARANCE",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "REVOKED",
            "STATUS",
        )
        rows = [
            (
                key.prefix,
                key.organisation.name,
                key.name or "-",
                key.clearance,
                _when(key.created_at),
                _when(key.expires_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
                _status(key, now),
            )
            for key in keys
        ]
        if not rows:
            self.stdout.write("No keys.")
            return
        widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())

    def _revoke(self, *, prefix, **options):
        key = ApiKey.objects.select_related("organisation").filter(prefix=prefix.strip()).first()
        if key is None:
            raise CommandError(f"No key with prefix {prefix!r}; `apikey list` shows the prefixes.")
        if key.revoked_at:
            self.stdout.write(
                f"Key {key.prefix} of {key.organisation.name!r} was already revoked "
                f"on {_when(key.revoked_at)}."
            )
            return
        services.revoke_api_key(key)
        self.stdout.write(self.style.SUCCESS(f"Revoked key {key.prefix} of {key.organisation.name!r}."))
