"""PostgreSQL: transitions call migration 0002's PL/pgSQL functions (planned
once per server process), and fall back to sending the statements where the
functions are missing (a database made without migrations)."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from flowr.db import pgfunctions
from flowr.models import Edge, FlowNodeData, Node, State, StateHistory
from flowr.models import states as state_module
from tests.testapp.rules import Cycle2, cycle_flow

pytestmark = pytest.mark.django_db
functions = importlib.import_module("flowr.migrations.0002_postgresql_transition_functions")
FROZEN_V1 = "f02dc2f14b49f2556a1cdf605f66a01f7b01356cf30d9cf5beed2c3cc366210a"  # migration 0002 as released
FROZEN_V2 = "54bd5f76e2f016754176a783924373f39c7b5b4a1fce8ede91a57a9d5afbedb6"  # migration 0003's flowr_load_v2
FROZEN_MOVE_V2 = "bf1cc48f6c146e7843e1bc8fb9eaf2f9e9676f8dbb330bece96f7d78dcef8874"  # migration 0006's flowr_move_v2
FROZEN_MOVE_V3 = "6303327027b2dba457a7d95b13b8b9e08bbe2cf0d3a1722c9188f064aa5eb9a2"  # migration 0010's flowr_move_v3
FROZEN_LOAD_V3 = "d9905fb7cc677b5a90437feba0d131a0aa85c868b021184484ea4cab885dbaf5"  # migration 0009's flowr_load_v3


def test_the_functions_fit_the_models():
    """The tables and columns are the ones the functions were written for;
    were they not, PostgreSQL would silently take the slower path."""
    sql = state_module._statements("default")
    tables = [m._meta.db_table for m in (State, Edge, Node, FlowNodeData, StateHistory)]
    data, node = ([f.column for f in m._meta.concrete_fields] for m in (FlowNodeData, Node))
    history = [f.column for f in StateHistory._meta.concrete_fields if not f.primary_key]
    assert pgfunctions.fits(tables, data, node, history)
    assert (sql.load_call is not None) == (connection.vendor == "postgresql")


def test_the_v2_load_function_is_frozen():
    """Migration 0003 replaces ``flowr_load_v1`` with this text, read from the contract."""
    text = "\n".join(
        [pgfunctions.LOAD_SQL, pgfunctions.DROP_LOAD_V1, pgfunctions.DROP_LOAD_V2, *pgfunctions.V2_SIGNATURES]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN_V2
    assert "flowr_load_v2" in pgfunctions.LOAD_SQL and pgfunctions.NODE_COLUMNS == ("id", "graph_id")


def test_the_v3_load_function_is_frozen():
    """Migration 0009 replaces ``flowr_load_v2`` with this text (the node
    data's ``settings`` read with the children)."""
    text = "\n".join(
        [pgfunctions.LOAD_V3_SQL, pgfunctions.DROP_LOAD_V2, pgfunctions.DROP_LOAD_V3, pgfunctions.SIGNATURES[0]]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN_LOAD_V3
    name, sql = pgfunctions.LOAD_V3_NAME, pgfunctions.LOAD_V3_SQL
    declared = sql.split(f"{name}(", 1)[1].split(")\nRETURNS", 1)[0]
    assert [arg.split()[-1] for arg in declared.split(",")] == list(pgfunctions.LOAD_ARGS)
    assert pgfunctions.DATA_COLUMNS == (*pgfunctions.V2_DATA_COLUMNS, "settings")
    for column in ("D.settings", "D.rule_label", "N.graph_id"):
        assert column in sql


def test_the_v1_functions_are_frozen():
    """Migration 0002 creates them from :mod:`flowr.db.pgfunctions`: their
    text must never change (a change is a ``_v2`` and a new migration)."""
    text = "\n".join(
        [pgfunctions.V1_LOAD_SQL, pgfunctions.MOVE_SQL, *pgfunctions.V1_DROP_SQL, *pgfunctions.V1_SIGNATURES]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN_V1
    assert functions.pgfunctions is pgfunctions  # the migration reads the contract, keeps no copy
    for name, args, sql in (
        (pgfunctions.V1_LOAD_NAME, pgfunctions.LOAD_ARGS, pgfunctions.V1_LOAD_SQL),
        (pgfunctions.LOAD_NAME, pgfunctions.LOAD_ARGS, pgfunctions.LOAD_SQL),
        (pgfunctions.MOVE_NAME, pgfunctions.MOVE_ARGS, pgfunctions.MOVE_SQL),
    ):
        assert f"CREATE OR REPLACE FUNCTION {name}(" in sql
        declared = sql.split(f"{name}(", 1)[1].split(")\nRETURNS", 1)[0]
        assert [arg.split()[-1] for arg in declared.split(",")] == list(args)
    for column in pgfunctions.V1_HISTORY_COLUMNS:
        assert column in pgfunctions.MOVE_SQL


def test_the_v2_move_function_is_frozen():
    """Migration 0006 replaces ``flowr_move_v1`` with this text (the history
    row's ``data``); the v1 texts above are untouched."""
    text = "\n".join(
        [pgfunctions.MOVE_V2_SQL, pgfunctions.DROP_MOVE_V1, pgfunctions.DROP_MOVE_V2, pgfunctions.MOVE_V2_SIGNATURE]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN_MOVE_V2
    name, sql = pgfunctions.MOVE_V2_NAME, pgfunctions.MOVE_V2_SQL
    declared = sql.split(f"{name}(", 1)[1].split(")\nRETURNS", 1)[0]
    assert [arg.split()[-1] for arg in declared.split(",")] == list(pgfunctions.MOVE_V2_ARGS)
    for column in pgfunctions.HISTORY_COLUMNS:
        assert column in sql
    assert pgfunctions.HISTORY_COLUMNS == (*pgfunctions.V1_HISTORY_COLUMNS[:-1], "data", "created")


def test_the_v3_move_function_is_frozen():
    """Migration 0010 replaces ``flowr_move_v2`` with this text (the State's
    timer set in the compare-and-set); the v2 text above is untouched."""
    text = "\n".join(
        [pgfunctions.MOVE_V3_SQL, pgfunctions.DROP_MOVE_V2, pgfunctions.DROP_MOVE_V3, pgfunctions.MOVE_V3_SIGNATURE]
    )
    assert hashlib.sha256(text.encode()).hexdigest() == FROZEN_MOVE_V3
    name, sql = pgfunctions.MOVE_V3_NAME, pgfunctions.MOVE_V3_SQL
    declared = sql.split(f"{name}(", 1)[1].split(")\nRETURNS", 1)[0]
    assert [arg.split()[-1] for arg in declared.split(",")] == list(pgfunctions.MOVE_V3_ARGS)
    assert "due_at = p_due_at, due_rule = p_due_rule" in sql
    assert pgfunctions.SIGNATURES[1] == pgfunctions.MOVE_V3_SIGNATURE


postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's functions")


@pytest.fixture
def fresh_lookup() -> Iterator[None]:
    """Each test looks the functions up again, and so does whatever runs after it."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # the object itself, not the ``connection`` proxy
    pgfunctions.forget(wrapper)
    yield
    pgfunctions.forget(wrapper)


def moves(state: State, choice: Any = None) -> tuple[list[str], StateHistory]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        state.next_state(choice)
    return [q["sql"] for q in ctx.captured_queries], state.history.order_by("-seq").first()


@postgresql
def test_transitions_call_the_functions(fresh_lookup):
    flow, (first, second, _) = cycle_flow()
    state = State.start(flow)
    sql, row = moves(state)
    assert any(s.startswith("SELECT * FROM flowr_load_v3(") for s in sql)
    assert any(s.startswith("SELECT * FROM flowr_move_v3(") for s in sql)
    assert not any("WITH moved" in s for s in sql)
    assert (state.current_node_id, state.version) == (second.pk, 1)
    assert (row.seq, row.from_node_id, row.to_node_id) == (2, first.pk, second.pk)
    fresh = State.objects.get(pk=state.pk)
    assert (fresh.current_node_id, fresh.version, fresh.updated) == (second.pk, 1, state.updated)


@postgresql
def test_without_the_functions_the_statements_are_sent(fresh_lookup):
    flow, (first, second, third) = cycle_flow()
    state = State.start(flow)
    with connection.schema_editor(atomic=False) as editor:  # inside the test's transaction: rolled back
        pgfunctions.drop(editor)
    sql, row = moves(state, Cycle2)
    assert not any("flowr_load_v3" in s or "flowr_move_v3" in s for s in sql)
    assert any(s.startswith('WITH moved AS (UPDATE "flowr_state"') for s in sql)
    assert (state.current_node_id, row.seq, row.to_node_id) == (second.pk, 2, second.pk)
    with connection.schema_editor(atomic=False) as editor:  # the functions again: found again
        pgfunctions.create(editor)
    sql, row = moves(state)
    assert any(s.startswith("SELECT * FROM flowr_move_v3(") for s in sql)
    assert (state.current_node_id, row.seq, row.to_node_id) == (third.pk, 3, third.pk)


@postgresql
def test_the_function_path_and_the_statements_write_the_same_rows(fresh_lookup, django_user_model):
    """Both paths, same moves, same actor: the rows differ only in pk,
    State and time."""
    user = django_user_model.objects.create_user("mover")
    rows = []
    for drop in (False, True):
        flow, _ = cycle_flow()
        state = State.start(flow)
        if drop:
            with connection.schema_editor(atomic=False) as editor:
                pgfunctions.drop(editor)
        state.next_state(actor=user, note="both ways", data={"path": ["same"], "n": None})
        row = state.history.order_by("-seq").first()
        rows.append({f.attname: getattr(row, f.attname) for f in StateHistory._meta.concrete_fields})
    ignored = {"id", "state_id", "from_node_id", "to_node_id", "created"}
    assert {k: v for k, v in rows[0].items() if k not in ignored} == {
        k: v for k, v in rows[1].items() if k not in ignored
    }
    assert rows[0]["actor_id"] == user.pk
    assert (rows[0]["note"], rows[0]["data"]) == ("both ways", {"path": ["same"], "n": None})
