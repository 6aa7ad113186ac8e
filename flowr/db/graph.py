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


def graph_with_edges_statement(
    connection: BaseDatabaseWrapper,
    graph_table: str,
    graph_columns: Sequence[str],
    edge_table: str,
    in_use_sql: str,
) -> str:
    """The graph row, whether States run on it and all its edges, in one
    statement (remove and prune read them under the graph lock; on SQLite it
    is the lock statement itself).

    Rows ``(0, *graph_columns[:3], in_use)`` -- the graph, first -- then
    ``(1, pk, source, target, backbone)`` per edge.  ``graph_columns`` are
    three (padded with NULL when fewer).  Parameters: ``in_use_sql``'s, the
    graph pk, the graph pk.
    """
    q = connection.ops.quote_name
    columns = [f"G.{q(c)}" for c in graph_columns[:3]]
    columns += ["NULL"] * (3 - len(columns))
    edge_columns = ", ".join(f"E.{q(c)}" for c in ("id", "source_id", "target_id", "backbone"))
    return (
        f"SELECT 0, {', '.join(columns)}, EXISTS ({in_use_sql}) FROM {q(graph_table)} G WHERE G.{q('id')} = %s "
        f"UNION ALL SELECT 1, {edge_columns} FROM {q(edge_table)} E WHERE E.{q('graph_id')} = %s"
    )


def delete_returning_statement(
    connection: BaseDatabaseWrapper,
    table: str,
    key_column: str,
    count: int,
    returning: Sequence[str],
    protected_by: Sequence[tuple[str, str, str]] = (),
) -> str:
    """``DELETE FROM table WHERE key_column IN (count parameters)``, sparing
    the rows some row points at through a ``PROTECT`` foreign key
    (``protected_by``: (table, its column, the column it points at)), and
    returning ``returning`` of the rows deleted.  Only where the database
    can return rows (``DELETE ... RETURNING``: SQLite 3.35, PostgreSQL,
    MariaDB 10.0.5)."""
    q = connection.ops.quote_name
    target = q(table)
    spare = "".join(
        f" AND NOT EXISTS (SELECT 1 FROM {q(other)} WHERE {q(other)}.{q(column)} = {target}.{q(to)})"
        for other, column, to in protected_by
    )
    return (
        f"DELETE FROM {target} WHERE {q(key_column)} IN ({', '.join(['%s'] * count)}){spare} "
        f"RETURNING {', '.join(q(c) for c in returning)}"
    )
