#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    # A developer's bare `manage.py check` or `makemigrations` needs no secrets: with no SECRET_KEY configured,
    # commands run in development mode. The served app (gunicorn tracker.wsgi) still refuses to start
    # without SECRET_KEY and ALLOWED_HOSTS, and a configured environment is never overridden.
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
