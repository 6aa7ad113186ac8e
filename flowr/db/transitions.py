"""A transition's statements, written once per database from the models' metadata.

A transition is on its users' hot path: built through the ORM, its four
statements cost five times what the database spends on them.  They are
written here once per database alias and run on a cursor by
``flowr.models.states``, which passes the model classes in
(:class:`TransitionModels`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.db import connections, models
from django.db.backends.utils import CursorWrapper

from flowr.db import pgfunctions


@dataclass(frozen=True)
class TransitionModels:
    """The models a transition reads and writes (given, never imported)."""

    state: type[models.Model]
    edge: type[models.Model]
    node: type[models.Model]
    data: type[models.Model]
    history: type[models.Model]


@dataclass(frozen=True)
class Statements:
    load: str  # lock + re-check + the current node's children, in one
    lock: str | None  # the lock + re-check alone (MariaDB: no FOR UPDATE OF)
    children: str
    # the compare-and-set: target, updated, due_at, due_rule (the entered
    # node's timer), State, seen node, seen version
    update: str
    insert: str
    data_names: list[str]
    node_names: list[str]
    insert_fields: list[models.Field[Any, Any]]
    insert_adapt: list[bool]  # whether the database needs the field's adaptation (dates)
    returning: bool
    # update + insert in one statement, where the database can (PostgreSQL:
    # a data-modifying WITH); its parameters are update's then insert's
    move: str | None
    # PostgreSQL: ``load`` and ``move`` as calls of migration 0002's functions
    # (same parameters, same rows), used where the functions exist
    load_call: str | None = None
    move_call: str | None = None
    # MariaDB: the lock and the children in one round trip, a UNION ALL whose
    # last SELECT, of the State's row alone, locks (the locking clause is that
    # SELECT's: the children's rows are not locked, a test checks);
    # parameters: current node, State; rows (1, NULL, NULL, children's
    # columns...) and (0, node, version, NULLs...); children sorted here
    union_load: str | None = None
    child_order: int = 0  # where a child row's node pk is (the sort key)


def plain(field: models.Field[Any, Any]) -> bool:
    """Whether the database takes the field's Python value as it is (text,
    integers, foreign keys to integer keys): no adaptation to call."""
    if isinstance(field, models.ForeignKey):
        return plain(field.target_field)
    return isinstance(field, (models.CharField, models.TextField, models.IntegerField))


def _column(field: models.Field[Any, Any]) -> str:
    """A concrete field's column (the stubs allow None: a field without one)."""
    assert field.column is not None
    return field.column


def build(tables: TransitionModels, db: str) -> Statements:
    """The statements of a transition on database ``db``."""
    connection = connections[db]
    q = connection.ops.quote_name
    features = connection.features
    data_fields, node_fields = tables.data._meta.concrete_fields, tables.node._meta.concrete_fields
    columns = ", ".join([f"D.{q(_column(f))}" for f in data_fields] + [f"N.{q(_column(f))}" for f in node_fields])
    state, edge, node, data = (q(m._meta.db_table) for m in (tables.state, tables.edge, tables.node, tables.data))
    nowait = " NOWAIT" if features.has_select_for_update_nowait else ""
    to_data = f"{node} N ON N.{q('id')} = E.{q('target_id')} {{join}} {data} D ON D.{q('node_id')} = N.{q('id')}"
    # The lock must take the State's row only: where FOR UPDATE cannot say
    # "OF S" (MariaDB), the lock and the children are two statements.
    combined = not features.has_select_for_update or features.has_select_for_update_of
    lock_clause = f" FOR UPDATE OF S{nowait}" if features.has_select_for_update else ""
    history = tables.history._meta
    insert_fields = [f for f in history.concrete_fields if not f.primary_key]
    history_table, history_columns = q(history.db_table), ", ".join(q(_column(f)) for f in insert_fields)
    insert = f"INSERT INTO {history_table} ({history_columns}) VALUES ({', '.join(['%s'] * len(insert_fields))})"
    returning = features.can_return_columns_from_insert
    if returning:
        insert += f" RETURNING {q(_column(history.pk))}"
    check = f"SELECT {q('current_node_id')}, {q('version')} FROM {state} WHERE {q('id')} = %s"
    update = (
        f"UPDATE {state} SET {q('current_node_id')} = %s, {q('version')} = {q('version')} + 1, "
        f"{q('updated')} = %s, {q('due_at')} = %s, {q('due_rule')} = %s "
        f"WHERE {q('id')} = %s AND {q('current_node_id')} = %s AND {q('version')} = %s"
    )
    move = load_call = move_call = union_load = None
    child_columns = len(data_fields) + len(node_fields)
    if not combined and connection.vendor == "mysql" and features.has_select_for_update:
        nulls = ", ".join(["NULL"] * child_columns)
        union_load = (
            f"(SELECT 1, NULL, NULL, {columns} FROM {edge} E INNER JOIN {to_data.format(join='INNER JOIN')} "
            f"WHERE E.{q('source_id')} = %s) UNION ALL "
            f"SELECT 0, {q('current_node_id')}, {q('version')}, {nulls} FROM {state} "
            f"WHERE {q('id')} = %s FOR UPDATE{nowait}"
        )
    if connection.vendor == "postgresql":
        # The history row is inserted only if the compare-and-set matched
        # (no row: the caller sees ConcurrentTransition); one round trip
        # fewer on the hot path.
        casts = [str(f.cast_db_type(connection)) for f in insert_fields]
        values = ", ".join(f"CAST(%s AS {cast})" for cast in casts)
        move = (
            f"WITH moved AS ({update} RETURNING {q('id')}) "
            f"INSERT INTO {history_table} ({history_columns}) "
            f"SELECT {values} FROM moved RETURNING {q(_column(history.pk))}"
        )
        tables_used = [m._meta.db_table for m in (tables.state, tables.edge, tables.node, tables.data, tables.history)]
        layout = ([_column(f) for f in fields] for fields in (data_fields, node_fields, insert_fields))
        if pgfunctions.fits(tables_used, *layout):
            load_call, move_call = pgfunctions.calls(connection, casts)
    return Statements(
        load=(
            f"SELECT S.{q('current_node_id')}, S.{q('version')}, {columns} FROM {state} S "
            f"LEFT JOIN {edge} E ON E.{q('source_id')} = %s LEFT JOIN {to_data.format(join='LEFT JOIN')} "
            f"WHERE S.{q('id')} = %s ORDER BY N.{q('id')}{lock_clause}"
        ),
        lock=None if combined else f"{check} FOR UPDATE{nowait}",
        children=(
            f"SELECT {columns} FROM {edge} E INNER JOIN {to_data.format(join='INNER JOIN')} "
            f"WHERE E.{q('source_id')} = %s ORDER BY N.{q('id')}"
        ),
        update=update,
        insert=insert,
        data_names=[f.attname for f in data_fields],
        node_names=[f.attname for f in node_fields],
        insert_fields=insert_fields,
        insert_adapt=[not plain(f) for f in insert_fields],
        returning=returning,
        move=move,
        load_call=load_call,
        move_call=move_call,
        union_load=union_load,
        child_order=len(data_fields) + [f.primary_key for f in node_fields].index(True),
    )


def cached(tables: TransitionModels) -> Callable[[str], Statements]:
    """``build`` for these models, cached per database alias."""
    return cache(partial(build, tables))


def load(cursor: CursorWrapper, sql: Statements, node_id: int, state_pk: int) -> tuple[Any, list[Any]]:
    """Lock the State's row where the database can and re-read it: its
    ``(current_node_id, version)`` (None: gone) and the rows of the current
    node's children (data columns, then node columns).  One statement (on
    MariaDB a UNION ALL of the lock and the children).  Lock errors propagate."""
    if sql.lock is None:
        cursor.execute(pgfunctions.call_or(cursor, sql.load_call, sql.load), [node_id, state_pk])
        rows = cursor.fetchall()
        found = tuple(rows[0][:2]) if rows else None
        return found, [row[2:] for row in rows if row[2] is not None]  # no child: the flow ends here
    if sql.union_load is not None:
        cursor.execute(sql.union_load, [node_id, state_pk])
        found, children = None, []
        for row in cursor.fetchall():
            if row[0] == 0:
                found = tuple(row[1:3])
            else:
                children.append(row[3:])
        order = sql.child_order
        children.sort(key=lambda row: row[order])  # a UNION's parts cannot be ordered alone
        return found, children
    cursor.execute(sql.lock, [state_pk])
    found = cursor.fetchone()
    cursor.execute(sql.children, [node_id])
    return None if found is None else tuple(found), cursor.fetchall()


def orm_load(tables: TransitionModels, db: str, sql: Statements, node_id: int, state_pk: int) -> tuple[Any, list[Any]]:
    """:func:`load` through the ORM (the ``hand_statements`` trick off): the
    State's row locked and re-read (``select_for_update``, of the State
    alone where the database can say so), then the children; the same
    values, in two queries."""
    features = connections[db].features
    query = tables.state._default_manager.using(db).filter(pk=state_pk)
    if features.has_select_for_update:
        query = query.select_for_update(
            nowait=features.has_select_for_update_nowait,
            of=("self",) if features.has_select_for_update_of else (),
        )
    found = next(iter(query.values_list("current_node_id", "version")), None)
    children = (
        tables.data._default_manager.using(db)
        .filter(node__in_edges__source_id=node_id)
        .order_by("node_id")
        .values_list(*sql.data_names, *(f"node__{name}" for name in sql.node_names))
    )
    return found, list(children)


def insert(cursor: CursorWrapper, sql: Statements, values: list[Any]) -> Any:
    """Run the precompiled history INSERT; the new row's pk."""
    cursor.execute(sql.insert, values)
    return cursor.fetchone()[0] if sql.returning else cursor.lastrowid
