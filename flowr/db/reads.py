"""Reads of big result sets, as the driver returns them."""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import QuerySet

from flowr.db import tricks


def driver_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list()`` queryset as the database driver gives
    them, without Django's per-value converters (for a big graph they cost
    as much as the query): only for columns that need none -- integers and
    text; a boolean may come as 0/1.  With the ``raw_rows`` trick off, the
    queryset's rows as Django converts them."""
    if not tricks.on.raw_rows:
        return list(queryset)
    sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
