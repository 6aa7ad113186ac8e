"""The PL/pgSQL functions' contract: names, argument and column layout, SQL.

PostgreSQL parses and plans every statement it is sent unless the client
prepares it; Django's default connection does not.  A PL/pgSQL function's
statements are planned once per server process, so a transition calls these
(created by migration 0002) where they exist and sends the statements itself
where they do not (e.g. a test database made without migrations).

Each version's text is frozen: migration 0002 creates the ``_v1`` functions
from here, migration 0003 replaces ``flowr_load_v1`` with ``flowr_load_v2``
(the node's path columns went), migration 0007 replaces ``flowr_move_v1``
with ``flowr_move_v2`` (the history row's ``data`` column), migration 0009
replaces ``flowr_load_v2`` with ``flowr_load_v3`` (the node data's
``settings`` column), migration 0010 replaces ``flowr_move_v2`` with
``flowr_move_v3`` (the State's timer: ``due_at`` and ``due_rule`` set in the
compare-and-set), and a test holds their digests.  A change of
the tables they touch adds new versions (new names, new constants here) in a
new migration; the old texts stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import CursorWrapper

from flowr.db import tricks

V1_LOAD_NAME, LOAD_NAME, MOVE_NAME = "flowr_load_v1", "flowr_load_v2", "flowr_move_v1"
MOVE_V2_NAME = "flowr_move_v2"
LOAD_V3_NAME = "flowr_load_v3"
LOAD_ARGS = ("bigint", "bigint")  # the current node, the State
# the compare-and-set's five (target, updated, State, seen node, seen
# version), then the history row's columns in HISTORY_COLUMNS order
MOVE_ARGS = (
    *("bigint", "timestamptz", "bigint", "bigint", "integer"),
    *("bigint", "integer", "varchar", "bigint", "bigint", "varchar", "varchar", "varchar", "varchar"),
    *("anyelement", "varchar", "text", "timestamptz"),
)
MOVE_CAS_ARGS = 5
# h_actor is polymorphic (the user model's key type decides it): its
# argument is cast to the column's type in the call
POLYMORPHIC_COLUMN = "actor_id"
# migration 0007: the history row's data (jsonb) after its note
MOVE_V2_ARGS = (*MOVE_ARGS[:-1], "jsonb", MOVE_ARGS[-1])
# the functions of migration 0003 (frozen), then those a transition calls
V2_SIGNATURES = (f"{LOAD_NAME}({','.join(LOAD_ARGS)})", f"{MOVE_NAME}({','.join(MOVE_ARGS)})")
V1_SIGNATURES = (f"{V1_LOAD_NAME}({','.join(LOAD_ARGS)})", V2_SIGNATURES[1])
MOVE_V2_SIGNATURE = f"{MOVE_V2_NAME}({','.join(MOVE_V2_ARGS)})"
# the functions a transition called in migration 0009
V3_SIGNATURES = (f"{LOAD_V3_NAME}({','.join(LOAD_ARGS)})", MOVE_V2_SIGNATURE)
# migration 0010: the compare-and-set also sets the State's timer (due_at,
# due_rule) after ``updated``: seven arguments before the history row's
MOVE_V3_NAME = "flowr_move_v3"
MOVE_V3_ARGS = (*MOVE_V2_ARGS[:2], "timestamptz", "varchar", *MOVE_V2_ARGS[2:])
MOVE_V3_CAS_ARGS = 7
MOVE_V3_SIGNATURE = f"{MOVE_V3_NAME}({','.join(MOVE_V3_ARGS)})"
# the functions a transition calls (migration 0010 on)
SIGNATURES = (V3_SIGNATURES[0], MOVE_V3_SIGNATURE)

# The tables (State, Edge, Node, FlowNodeData, StateHistory) and columns the
# functions were written for; LOAD returns the State's node and version, then
# DATA_COLUMNS, then NODE_COLUMNS.
TABLES = ("flowr_state", "flowr_edge", "flowr_node", "flowr_flownodedata", "flowr_statehistory")
V2_DATA_COLUMNS = ("id", "node_id", "rule_label")
DATA_COLUMNS = (*V2_DATA_COLUMNS, "settings")  # migration 0009: the node's settings (jsonb)
NODE_COLUMNS = ("id", "graph_id")
V1_HISTORY_COLUMNS = (
    *("state_id", "seq", "kind", "from_node_id", "to_node_id", "from_rule_label", "from_rule_name"),
    *("to_rule_label", "to_rule_name", "actor_id", "actor_repr", "note", "created"),
)
HISTORY_COLUMNS = (*V1_HISTORY_COLUMNS[:-1], "data", V1_HISTORY_COLUMNS[-1])

V1_LOAD_SQL = """
CREATE OR REPLACE FUNCTION flowr_load_v1(p_node bigint, p_state bigint)
RETURNS TABLE (
    state_node bigint, state_version integer,
    data_id bigint, data_node bigint, data_rule_label varchar,
    node_id bigint, node_depth integer, node_numchild integer, node_graph bigint, node_path text
)
LANGUAGE plpgsql AS $body$
BEGIN
    -- the State's row locked and re-read, with the current node's children
    RETURN QUERY
    SELECT S.current_node_id, S.version, D.id, D.node_id, D.rule_label,
           N.id, N.depth, N.numchild, N.graph_id, N.path
    FROM flowr_state S
    LEFT JOIN flowr_edge E ON E.source_id = p_node
    LEFT JOIN flowr_node N ON N.id = E.target_id
    LEFT JOIN flowr_flownodedata D ON D.node_id = N.id
    WHERE S.id = p_state
    ORDER BY N.path
    FOR UPDATE OF S NOWAIT;
END
$body$
"""

# v2 (migration 0003): the node's path, depth and numchild columns are gone;
# children in creation order (node pk).
LOAD_SQL = """
CREATE OR REPLACE FUNCTION flowr_load_v2(p_node bigint, p_state bigint)
RETURNS TABLE (
    state_node bigint, state_version integer,
    data_id bigint, data_node bigint, data_rule_label varchar,
    node_id bigint, node_graph bigint
)
LANGUAGE plpgsql AS $body$
BEGIN
    -- the State's row locked and re-read, with the current node's children
    RETURN QUERY
    SELECT S.current_node_id, S.version, D.id, D.node_id, D.rule_label,
           N.id, N.graph_id
    FROM flowr_state S
    LEFT JOIN flowr_edge E ON E.source_id = p_node
    LEFT JOIN flowr_node N ON N.id = E.target_id
    LEFT JOIN flowr_flownodedata D ON D.node_id = N.id
    WHERE S.id = p_state
    ORDER BY N.id
    FOR UPDATE OF S NOWAIT;
END
$body$
"""

# v3 (migration 0009): the node data's settings column, read with the
# children so that guards and callbacks read ``state.settings`` for free.
LOAD_V3_SQL = """
CREATE OR REPLACE FUNCTION flowr_load_v3(p_node bigint, p_state bigint)
RETURNS TABLE (
    state_node bigint, state_version integer,
    data_id bigint, data_node bigint, data_rule_label varchar, data_settings jsonb,
    node_id bigint, node_graph bigint
)
LANGUAGE plpgsql AS $body$
BEGIN
    -- the State's row locked and re-read, with the current node's children
    RETURN QUERY
    SELECT S.current_node_id, S.version, D.id, D.node_id, D.rule_label, D.settings,
           N.id, N.graph_id
    FROM flowr_state S
    LEFT JOIN flowr_edge E ON E.source_id = p_node
    LEFT JOIN flowr_node N ON N.id = E.target_id
    LEFT JOIN flowr_flownodedata D ON D.node_id = N.id
    WHERE S.id = p_state
    ORDER BY N.id
    FOR UPDATE OF S NOWAIT;
END
$body$
"""

MOVE_SQL = """
CREATE OR REPLACE FUNCTION flowr_move_v1(
    p_target bigint, p_updated timestamptz, p_state bigint, p_seen_node bigint, p_seen_version integer,
    h_state bigint, h_seq integer, h_kind varchar, h_from_node bigint, h_to_node bigint,
    h_from_rule_label varchar, h_from_rule_name varchar, h_to_rule_label varchar, h_to_rule_name varchar,
    h_actor anyelement, h_actor_repr varchar, h_note text, h_created timestamptz
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $body$
BEGIN
    -- the compare-and-set; the history row only if it matched
    RETURN QUERY
    WITH moved AS (
        UPDATE flowr_state
        SET current_node_id = p_target, version = version + 1, updated = p_updated
        WHERE id = p_state AND current_node_id = p_seen_node AND version = p_seen_version
        RETURNING id
    )
    INSERT INTO flowr_statehistory (
        state_id, seq, kind, from_node_id, to_node_id, from_rule_label, from_rule_name,
        to_rule_label, to_rule_name, actor_id, actor_repr, note, created
    )
    SELECT h_state, h_seq, h_kind, h_from_node, h_to_node, h_from_rule_label, h_from_rule_name,
           h_to_rule_label, h_to_rule_name, h_actor, h_actor_repr, h_note, h_created
    FROM moved
    RETURNING flowr_statehistory.id;
END
$body$
"""

# v2 (migration 0007): the history row's data column.
MOVE_V2_SQL = """
CREATE OR REPLACE FUNCTION flowr_move_v2(
    p_target bigint, p_updated timestamptz, p_state bigint, p_seen_node bigint, p_seen_version integer,
    h_state bigint, h_seq integer, h_kind varchar, h_from_node bigint, h_to_node bigint,
    h_from_rule_label varchar, h_from_rule_name varchar, h_to_rule_label varchar, h_to_rule_name varchar,
    h_actor anyelement, h_actor_repr varchar, h_note text, h_data jsonb, h_created timestamptz
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $body$
BEGIN
    -- the compare-and-set; the history row only if it matched
    RETURN QUERY
    WITH moved AS (
        UPDATE flowr_state
        SET current_node_id = p_target, version = version + 1, updated = p_updated
        WHERE id = p_state AND current_node_id = p_seen_node AND version = p_seen_version
        RETURNING id
    )
    INSERT INTO flowr_statehistory (
        state_id, seq, kind, from_node_id, to_node_id, from_rule_label, from_rule_name,
        to_rule_label, to_rule_name, actor_id, actor_repr, note, data, created
    )
    SELECT h_state, h_seq, h_kind, h_from_node, h_to_node, h_from_rule_label, h_from_rule_name,
           h_to_rule_label, h_to_rule_name, h_actor, h_actor_repr, h_note, h_data, h_created
    FROM moved
    RETURNING flowr_statehistory.id;
END
$body$
"""

# v3 (migration 0010): the compare-and-set sets the State's timer.
MOVE_V3_SQL = """
CREATE OR REPLACE FUNCTION flowr_move_v3(
    p_target bigint, p_updated timestamptz, p_due_at timestamptz, p_due_rule varchar,
    p_state bigint, p_seen_node bigint, p_seen_version integer,
    h_state bigint, h_seq integer, h_kind varchar, h_from_node bigint, h_to_node bigint,
    h_from_rule_label varchar, h_from_rule_name varchar, h_to_rule_label varchar, h_to_rule_name varchar,
    h_actor anyelement, h_actor_repr varchar, h_note text, h_data jsonb, h_created timestamptz
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $body$
BEGIN
    -- the compare-and-set (with the entered node's timer); the history row only if it matched
    RETURN QUERY
    WITH moved AS (
        UPDATE flowr_state
        SET current_node_id = p_target, version = version + 1, updated = p_updated,
            due_at = p_due_at, due_rule = p_due_rule
        WHERE id = p_state AND current_node_id = p_seen_node AND version = p_seen_version
        RETURNING id
    )
    INSERT INTO flowr_statehistory (
        state_id, seq, kind, from_node_id, to_node_id, from_rule_label, from_rule_name,
        to_rule_label, to_rule_name, actor_id, actor_repr, note, data, created
    )
    SELECT h_state, h_seq, h_kind, h_from_node, h_to_node, h_from_rule_label, h_from_rule_name,
           h_to_rule_label, h_to_rule_name, h_actor, h_actor_repr, h_note, h_data, h_created
    FROM moved
    RETURNING flowr_statehistory.id;
END
$body$
"""

V1_DROP_SQL = [
    f"DROP FUNCTION IF EXISTS {V1_LOAD_NAME}({', '.join(LOAD_ARGS)})",
    f"DROP FUNCTION IF EXISTS {MOVE_NAME}({', '.join(MOVE_ARGS)})",
]
DROP_LOAD_V1 = V1_DROP_SQL[0]
DROP_LOAD_V2 = f"DROP FUNCTION IF EXISTS {LOAD_NAME}({', '.join(LOAD_ARGS)})"
DROP_MOVE_V1 = V1_DROP_SQL[1]
DROP_MOVE_V2 = f"DROP FUNCTION IF EXISTS {MOVE_V2_NAME}({', '.join(MOVE_V2_ARGS)})"
DROP_LOAD_V3 = f"DROP FUNCTION IF EXISTS {LOAD_V3_NAME}({', '.join(LOAD_ARGS)})"
DROP_MOVE_V3 = f"DROP FUNCTION IF EXISTS {MOVE_V3_NAME}({', '.join(MOVE_V3_ARGS)})"
DROP_SQL = [DROP_LOAD_V3, DROP_MOVE_V3]

_FOUND = "_flowr_functions"  # where a connection keeps whether they exist


def fits(tables: Sequence[str], data: Sequence[str], node: Sequence[str], history: Sequence[str]) -> bool:
    """Whether the models' tables and columns are the ones the functions were
    written for (were they not, the functions would write the wrong rows)."""
    layout = (tuple(data), tuple(node), tuple(history))
    return tuple(tables) == TABLES and layout == (DATA_COLUMNS, NODE_COLUMNS, HISTORY_COLUMNS)


def calls(connection: BaseDatabaseWrapper, history_casts: Sequence[str]) -> tuple[str, str]:
    """The SELECTs calling LOAD and MOVE, with the parameters of the
    statements they stand for; ``history_casts`` are the history columns'
    database types (for the polymorphic actor)."""
    actor = HISTORY_COLUMNS.index(POLYMORPHIC_COLUMN)
    history = ["%s"] * len(HISTORY_COLUMNS)
    history[actor] = f"CAST(%s AS {history_casts[actor]})"
    load = f"SELECT * FROM {LOAD_V3_NAME}({', '.join(['%s'] * len(LOAD_ARGS))})"
    move = f"SELECT * FROM {MOVE_V3_NAME}({', '.join(['%s'] * MOVE_V3_CAS_ARGS + history)})"
    return load, move


def _run(schema_editor: BaseDatabaseSchemaEditor, statements: Sequence[str]) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)
    forget(connection)  # the next transition looks again


def create(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Create the current functions (PostgreSQL; elsewhere nothing)."""
    _run(schema_editor, [LOAD_V3_SQL, MOVE_V3_SQL])


def drop(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Drop the current functions (PostgreSQL; elsewhere nothing)."""
    _run(schema_editor, DROP_SQL)


def create_v1(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0002: the v1 functions, as they always were."""
    _run(schema_editor, [V1_LOAD_SQL, MOVE_SQL])


def drop_v1(schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, V1_DROP_SQL)


def load_v1_to_v2(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0003: ``flowr_load_v1`` read the dropped node columns."""
    _run(schema_editor, [DROP_LOAD_V1, LOAD_SQL])


def load_v2_to_v1(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0003 backwards: v1 reads columns put back after this step
    (operations reverse in order): re-applying 0002 creates it again."""
    _run(schema_editor, [DROP_LOAD_V2])


def move_v1_to_v2(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0007: ``flowr_move_v1`` does not write the history row's data."""
    _run(schema_editor, [DROP_MOVE_V1, MOVE_V2_SQL])


def move_v2_to_v1(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0007 backwards (before the data column goes): v1 again."""
    _run(schema_editor, [DROP_MOVE_V2, MOVE_SQL])


def load_v2_to_v3(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0009: ``flowr_load_v2`` does not read the node data's settings."""
    _run(schema_editor, [DROP_LOAD_V2, LOAD_V3_SQL])


def load_v3_to_v2(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0009 backwards (before the settings column goes): v2 again."""
    _run(schema_editor, [DROP_LOAD_V3, LOAD_SQL])


def move_v2_to_v3(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0010: ``flowr_move_v2`` does not set the State's timer."""
    _run(schema_editor, [DROP_MOVE_V2, MOVE_V3_SQL])


def move_v3_to_v2(schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Migration 0010 backwards (before the timer columns go): v2 again."""
    _run(schema_editor, [DROP_MOVE_V3, MOVE_V2_SQL])


def available(connection: BaseDatabaseWrapper) -> bool:
    """Whether the functions exist: looked up once per connection
    (``forget_functions`` runs when one opens), on the driver's own cursor --
    a probe like the database backend's own set-up statements, kept out of
    the query log and the query counts."""
    found: bool | None = connection.__dict__.get(_FOUND)
    if found is None:
        with connection.connection.cursor() as cursor:
            cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL AND to_regprocedure(%s) IS NOT NULL", SIGNATURES)
            found = connection.__dict__[_FOUND] = bool(cursor.fetchone()[0])
    return found


def call_or(cursor: CursorWrapper, call: str | None, statement: str) -> str:
    """The function call where there is one and the functions exist (and the
    ``pg_functions`` trick is on), else the statement."""
    return call if call is not None and tricks.on.pg_functions and available(cursor.db) else statement


def forget(connection: BaseDatabaseWrapper) -> None:
    """Look the functions up again at the next transition on ``connection``."""
    connection.__dict__.pop(_FOUND, None)


def forget_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: a new connection looks again."""
    forget(connection)
