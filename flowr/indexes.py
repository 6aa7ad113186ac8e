"""Index types of flowr's models."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q


class SetOnlyIndex(models.Index):
    """An index of the rows whose indexed columns are all set.

    Where the database has partial indexes (PostgreSQL, SQLite) it is one,
    ``WHERE column IS NOT NULL``: a row that leaves the columns empty costs
    no index write.  Elsewhere (MySQL, MariaDB) it is a plain index.  Unlike
    an ``Index`` with a ``condition``, it asks nothing of the database, so no
    system check warns where partial indexes are missing.
    """

    def create_sql(self, model: type[models.Model], schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if not schema_editor.connection.features.supports_partial_indexes:
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        partial = models.Index(
            fields=self.fields,
            name=self.name,
            db_tablespace=self.db_tablespace,
            opclasses=self.opclasses,
            include=self.include,
            condition=Q(**{f"{name}__isnull": False for name in self.fields}),
        )
        return partial.create_sql(model, schema_editor, using=using, **kwargs)
