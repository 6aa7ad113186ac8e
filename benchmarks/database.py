"""Make and drop the benchmark database."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.db import connection


def _server_statements(sql: list[str]) -> None:
    connection.close()
    with connection._nodb_cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def create() -> None:
    """A fresh database with every table (``migrate --run-syncdb``)."""
    if connection.vendor != "sqlite":
        name = connection.ops.quote_name(settings.DATABASES["default"]["NAME"])
        _server_statements([f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"])
        connection.close()
    call_command("migrate", run_syncdb=True, verbosity=0)


def drop() -> None:
    if connection.vendor != "sqlite":
        name = connection.ops.quote_name(settings.DATABASES["default"]["NAME"])
        _server_statements([f"DROP DATABASE IF EXISTS {name}"])
    connection.close()
