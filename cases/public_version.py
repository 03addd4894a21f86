"""The public record's version (cases.models.PublicVersion): what the public pages' validators are made of.

Database triggers (migration 0016_public_version) bump its one row in the statement that changes anything a
public page shows, so reading it is one primary-key lookup, whatever the size of the record
(cases.public.caching). `bump` is for what the triggers do not see: a restore (the row is never backed up, and
a restore replaces the record whole) and a change of the code that decides what is public.
"""

from __future__ import annotations

import datetime

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import PublicVersion


def read(using: str = "default") -> tuple[int, datetime.datetime | None]:
    """(version, changed_at): one query. A missing row (never after migrate) reads as (0, None)."""
    row = PublicVersion.objects.using(using).filter(pk=1).values_list("version", "changed_at").first()
    return row if row is not None else (0, None)


def bump(using: str = "default") -> None:
    """One more version, changed now (never earlier than before): every cached public page is stale."""
    now = timezone.now()
    rows = PublicVersion.objects.using(using).filter(pk=1)
    if not rows.update(version=F("version") + 1, changed_at=Greatest("changed_at", Value(now))):
        PublicVersion.objects.using(using).create(pk=1, version=1, changed_at=now)
