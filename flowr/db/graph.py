"""Graph writes in each vendor's SQL.

Imports no flowr model: callers pass table and column names, so the SQL
lives here and the models stay plain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def insert_child_statement(connection: BaseDatabaseWrapper, node_table: str, edge_table: str) -> str | None:
    """The node and its backbone edge in one statement where the database
    can (PostgreSQL: a data-modifying ``WITH``), else None.

    Parameters: graph pk, graph pk, parent pk; returns the new node's pk.
    """
    if connection.vendor != "postgresql":
        return None
    q = connection.ops.quote_name
    node, edge = q(node_table), q(edge_table)
    return (
        f"WITH child AS (INSERT INTO {node} ({q('graph_id')}) VALUES (%s) RETURNING {q('id')}), "
        f"edge AS (INSERT INTO {edge} ({q('graph_id')}, {q('source_id')}, {q('target_id')}, {q('backbone')}) "
        f"SELECT %s, %s, child.{q('id')}, TRUE FROM child) "
        f"SELECT {q('id')} FROM child"
    )


def insert_many(
    connection: BaseDatabaseWrapper, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """One ``INSERT`` statement executed for every row (one logged query).

    Rows go in in the order given; the caller may rely on that for
    auto-increment keys (see ``flowr.models.ops.bulk_create_graph``).
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(table), ", ".join(quote(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
