"""The public record's version (cases.models.PublicVersion): what the public pages' validators are made of.

Database triggers (migration 0018_public_version) bump its one row in the statement that changes anything a
public page shows, so reading it is one primary-key lookup, whatever the size of the record
(cases.public.caching). `bump` is for what the triggers do not see: a restore (the row is never backed up, and
a restore replaces the record whole) and a change of the code that decides what is public.
"""

from __future__ import annotations

import datetime

from django.db import DatabaseError, transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import PublicVersion


def read(using: str = "default") -> tuple[int, datetime.datetime | None]:
    """(version, changed_at): one query. A missing row (never after migrate) reads as (0, None)."""
    row = PublicVersion.objects.using(using).filter(pk=1).values_list("version", "changed_at").first()
    return row if row is not None else (0, None)


def read_if_there(using: str = "default") -> tuple[int, datetime.datetime | None]:
    """`read`, or (0, None) on a database that has no such table (a restore's unmigrated target)."""
    try:
        with transaction.atomic(using=using):
            return read(using)
    except DatabaseError:
        return (0, None)


def bump(using: str = "default", *, past: tuple[int, datetime.datetime | None] = (0, None)) -> None:
    """One more version, changed now (never earlier than before), and past `past` (what the database held
    before a restore replaced it): every cached public page is stale."""
    now = max(timezone.now(), past[1]) if past[1] else timezone.now()
    rows = PublicVersion.objects.using(using).filter(pk=1)
    updated = rows.update(
        version=Greatest("version", Value(past[0])) + 1, changed_at=Greatest("changed_at", Value(now))
    )
    if not updated:
        PublicVersion.objects.using(using).create(pk=1, version=past[0] + 1, changed_at=now)
