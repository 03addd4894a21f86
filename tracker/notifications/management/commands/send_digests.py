"""`manage.py send_digests`: the curators' daily digest of the review queue. Run it once a day (cron, a
systemd timer); running it more often sends nothing twice (one digest per curator and UTC day)."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from tracker.notifications.tasks import send_digests


class Command(BaseCommand):
    help = _(
        "Write one digest notification per curator whose organisation's review queue has an assessment "
        "waiting more than a day, and queue their e-mails for the task worker."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help=_("Leave the work to the task worker instead of doing it here."),
        )

    def handle(self, *args, enqueue: bool = False, **options) -> None:
        if enqueue:
            result = send_digests.enqueue()
            self.stdout.write(_("Queued the digest task (%(id)s).") % {"id": result.id})
            return
        count = send_digests.call()
        self.stdout.write(_("%(count)s digest e-mail(s) queued for the task worker.") % {"count": count})
