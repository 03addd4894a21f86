"""The project's task queue: Django's tasks API, imported here and nowhere else.

On Django 5.2 the API comes from the `django-tasks` backport; Django 6 ships it as `django.tasks`, and the
move is the one import line below. Which backend runs the tasks is settings (`TASKS`): the database backend
by default (`manage.py db_worker`), RQ on Redis when `TASKS_URL` is set (`manage.py rqworker
--with-scheduler default`). Nobody writes a queue of their own.

Rules for a task (the house style): it takes ids and plain values, never objects (arguments are stored as
JSON and the row may have changed by the time a worker runs it); it is idempotent (a second run, or a
retry after a crash halfway, finds the work done and does nothing twice); it is enqueued after the
transaction that made its work commits (`enqueue_on_commit`), so a worker never looks for a row that is not
there yet.

Retries: neither backend retries on its own, so `@retrying(...)` in place of `@task` does it with backoff.
The function receives `attempt` (1, 2, …); when it raises one of `retry_on`, the task is enqueued again to
run after `backoff · 2^(attempt-1)` seconds, until `attempts` are used up. Each failed attempt stays a
failed result in the backend (with its traceback); the function records what a person must see (attempts,
the last error) on its own row, where curators look.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

import django_tasks as _api  # Django 6: `from django import tasks as _api`
from django.db import DatabaseError, transaction
from django.utils import timezone

task = _api.task
task_backends = _api.task_backends
TaskResultStatus = _api.TaskResultStatus
TaskResultDoesNotExist = _api.exceptions.TaskResultDoesNotExist

__all__ = [
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "enqueue_on_commit",
    "is_transient",
    "retry_delay",
    "retrying",
    "task",
    "task_backends",
    "will_retry",
]

# Failures worth trying again: the database or the disk was briefly unavailable (a locked SQLite file, a
# restarted PostgreSQL, a full or unmounted volume). Anything else is a bug or bad input and fails at once.
TRANSIENT: tuple[type[BaseException], ...] = (DatabaseError, OSError)


def is_transient(exc: BaseException) -> bool:
    """A failure worth trying again: a TRANSIENT error, or one raised because of one (`raise … from`)."""
    while exc is not None:
        if isinstance(exc, TRANSIENT):
            return True
        exc = exc.__cause__
    return False


def retry_delay(attempt: int, backoff: float) -> float:
    """Seconds to wait before attempt `attempt + 1`: backoff, 2·backoff, 4·backoff, … (capped at an hour)."""
    return min(backoff * 2 ** (attempt - 1), 3600.0)


def retrying(
    *,
    attempts: int = 4,
    backoff: float = 30.0,
    retry_on: Callable[[BaseException], bool] = is_transient,
    **task_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """`@retrying(attempts=4, backoff=30)` in place of `@task`: the decorated function takes a keyword
    `attempt` and is tried again, later, when it raises an exception `retry_on` accepts (by default
    `is_transient`). `task_options` go to `@task`."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def run(*args: Any, attempt: int = 1, **kwargs: Any) -> Any:
            try:
                return func(*args, attempt=attempt, **kwargs)
            except Exception as exc:
                if attempt < attempts and retry_on(exc):
                    _enqueue_retry(the_task, args, kwargs, attempt + 1, retry_delay(attempt, backoff))
                raise

        the_task = task(**task_options)(run)
        # What the function needs to know whether a failure is its last.
        run.max_attempts = attempts  # type: ignore[attr-defined]
        run.retry_on = retry_on  # type: ignore[attr-defined]
        return the_task

    return decorate


def _enqueue_retry(the_task: Any, args: tuple, kwargs: dict, attempt: int, delay: float) -> None:
    backend = the_task.get_backend()
    if delay > 0 and backend.supports_defer:
        the_task = the_task.using(run_after=timezone.now() + datetime.timedelta(seconds=delay))
    # Outside any transaction the failed attempt may have left open: the retry must be stored even though
    # the attempt's own work rolls back.
    the_task.enqueue(*args, attempt=attempt, **kwargs)


def enqueue_on_commit(the_task: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue once the current transaction commits (at once outside one): the worker then finds the rows
    the task is about. With the database backend the task row would commit with them anyway; with Redis
    the job could otherwise run before they exist."""
    transaction.on_commit(lambda: the_task.enqueue(*args, **kwargs))


def will_retry(the_task: Any, exc: BaseException, attempt: int) -> bool:
    """Whether a `@retrying` task that failed with `exc` on `attempt` is tried again (so a task can tell
    a person "trying again" or "failed" on its own row)."""
    retry_on = getattr(the_task.func, "retry_on", None)
    return retry_on is not None and attempt < the_task.func.max_attempts and retry_on(exc)
