#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import secrets
import sys

# Commands that neither serve requests nor sign anything that outlives the process (no sessions, links or
# tokens) may run without SECRET_KEY and ALLOWED_HOSTS: a developer's bare `manage.py check` or
# `makemigrations --check`, or a build step's `collectstatic`. They get a random key of their own, and
# DEBUG stays exactly as configured (off unless set): nothing here guesses development mode. Every other
# command, `runserver` included, and the served app (`gunicorn tracker.wsgi`) refuse to start without them;
# `make run` sets the development variables itself.
SECRETLESS_COMMANDS = frozenset(
    {
        "check",
        "collectstatic",
        "compilemessages",
        "help",
        "makemessages",
        "makemigrations",
        "migrate",
        "showmigrations",
        "sqlmigrate",
        "version",
    }
)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in SECRETLESS_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)
        # No request is served by these commands; the name only satisfies the settings' fail-closed check.
        os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
