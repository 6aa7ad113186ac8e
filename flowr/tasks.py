"""flowr's task for Django's task framework (``django.tasks`` on Django 6.x,
the ``django-tasks`` backport on 5.2: ``pip install django-flowr[tasks]``).

Enqueue :func:`fire_timers` periodically (or from a worker's scheduler):
it fires the due timers as :func:`flowr.timers.fire_all` does.  This module
is imported only by projects that use it; the core never imports it.
"""

from __future__ import annotations

from typing import Any

from flowr import timers

try:  # Django 6.x
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[import-not-found,no-redef,unused-ignore]


@task()  # type: ignore[untyped-decorator,unused-ignore]
def fire_timers(batch: int = 100, database: str | None = None) -> dict[str, Any]:
    """Fire the due timers (:func:`flowr.timers.fire_all`); the counts."""
    return timers.fire_all(batch=batch, using=database).as_dict()
