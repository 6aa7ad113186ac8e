"""MariaDB has no ``FOR UPDATE OF``: a transition's lock and the current
node's children are one UNION ALL whose last SELECT, of the State's row
alone, locks.  The children's rows must stay unlocked (a locking read of the
join would hold up every other State at that node)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from flowr import sample_rules as rules
from flowr.db import transitions
from flowr.models import Flow, FlowNodeData, RuleSet, State
from flowr.models.states import _statements

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's UNION ALL lock"),
]


def _other_connection():
    import pymysql

    s = connection.settings_dict
    other = pymysql.connect(
        host=s["HOST"] or "127.0.0.1",
        port=int(s["PORT"] or 3306),
        user=s["USER"],
        password=s["PASSWORD"] or "",
        database=connection.settings_dict["NAME"],
        autocommit=False,
    )
    with other.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return other


def _lockable(other, sql: str) -> bool:
    with other.cursor() as cursor:
        try:
            cursor.execute(sql)
            return True
        except Exception as exc:  # a lock wait refused at once: NOWAIT
            assert exc.args[0] == 1205 or "lock" in str(exc).lower(), exc
            return False
        finally:
            other.rollback()


def test_only_the_state_row_is_locked():
    flow = Flow.factory("f", RuleSet.factory("rs", rules.A))
    root = flow.root_data
    child = root.add_child_rule(rules.C)
    state = State.start(flow)
    sql = _statements(connection.alias)
    assert sql.union_load is not None and sql.union_load.endswith("FOR UPDATE NOWAIT")
    other = _other_connection()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            found, rows = transitions.load(cursor, sql, root.node_id, state.pk)
            assert found == (root.pk, 0)
            assert [row[0] for row in rows] == [child.pk]
            data, node, edge = (
                m._meta.db_table for m in (FlowNodeData, type(child.node), type(child.node).in_edges.rel.related_model)
            )
            assert _lockable(other, f"SELECT id FROM {data} WHERE id = {child.pk} FOR UPDATE NOWAIT")
            assert _lockable(other, f"SELECT id FROM {node} WHERE id = {child.node_id} FOR UPDATE NOWAIT")
            assert _lockable(other, f"SELECT id FROM {edge} WHERE target_id = {child.node_id} FOR UPDATE NOWAIT")
            assert not _lockable(other, f"SELECT id FROM flowr_state WHERE id = {state.pk} FOR UPDATE NOWAIT")
    finally:
        other.close()


def test_children_in_node_order():
    flow = Flow.factory("f", RuleSet.factory("rs", rules.A))
    c = flow.root_data.add_child_rule(rules.C)
    d, e = c.add_child_rule(rules.D), c.add_child_rule(rules.E)
    state = State.start(flow)
    state.next_state()
    with transaction.atomic(), connection.cursor() as cursor:
        found, rows = transitions.load(cursor, _statements(connection.alias), c.node_id, state.pk)
    assert found == (c.pk, 1)
    assert [row[0] for row in rows] == [d.pk, e.pk]
