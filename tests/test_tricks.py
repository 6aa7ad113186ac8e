"""The speed tricks' switchboard (flowr.db.tricks): each switch changes the
path taken (the statements sent, or a spy sees it), never the result."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from django.db import connection
from django.db.models.query import ValuesListIterable
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules as rules
from flowr.db import pgfunctions, tricks
from flowr.models import DCCGraph, Flow, FlowNodeData, Node, RuleSet, State, StateHistory
from flowr.readmodel import FlowGraph
from tests.graph_document import graph_nodes
from tests.helpers import check_invariants

pytestmark = pytest.mark.django_db


def sqls(func: Any) -> tuple[list[str], Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = func()
    return [q["sql"] or "" for q in ctx.captured_queries], result


def statements(queries: list[str]) -> list[str]:
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    return [q for q in queries if not q.upper().startswith(control)]


def loop_flow(name: str = "f") -> Flow:
    """A -> C -> (D, E), E -> A."""
    rule_set = RuleSet.factory(f"rs {name}", rules.A)
    flow = Flow.factory(name, rule_set)
    root = flow.root_data
    c = root.add_child_rule(rules.C)
    c.add_child_rule(rules.D)
    e = c.add_child_rule(rules.E)
    e.connect_child(root)
    return flow


def shape(flow: Flow) -> tuple[list[str], list[tuple[int, int, bool]]]:
    """The flow's labels in tree order and its edges by tree position."""
    graph = FlowGraph.load(Flow.objects.get(pk=flow.pk))
    position = {pk: i for i, pk in enumerate(graph.labels)}
    edges = sorted((position[s], position[t], bool(b)) for s, t, b in graph.edges)
    return list(graph.labels.values()), edges


def test_switchboard():
    assert all(getattr(tricks.on, name) for name in tricks.NAMES)
    with tricks.disabled("raw_rows", "pg_functions"):
        assert not tricks.on.raw_rows and not tricks.on.pg_functions and tricks.on.hand_statements
    assert tricks.on.raw_rows and tricks.on.pg_functions
    with pytest.raises(ValueError):
        with tricks.disabled("no_such_trick"):
            pass


def _walk(state: State) -> list[tuple[Any, ...]]:
    state.next_state()
    state.next_state(rules.E)
    state.next_state()
    state.refresh_from_db()
    rows = StateHistory.objects.filter(state=state).order_by("seq")
    return [
        (state.current_node.rule_label, state.version),
        *[(r.seq, r.kind, r.from_rule_label, r.to_rule_label, r.from_node_id, r.to_node_id, r.actor_id) for r in rows],
    ]


def test_hand_statements_transition():
    flow = loop_flow()
    on_state, off_state = State.start(flow), State.start(flow)
    with CaptureQueriesContext(connection) as ctx:
        on = _walk(on_state)
    on_sql = statements([q["sql"] for q in ctx.captured_queries])
    with tricks.disabled("hand_statements"), CaptureQueriesContext(connection) as ctx:
        off = _walk(off_state)
    off_sql = statements([q["sql"] for q in ctx.captured_queries])
    assert on == off
    # the ORM's statements (its column aliases), four of them (MariaDB's hand-built ones are four too)
    marker = 'AS "current_node_id"'
    assert any(marker in q.replace("`", '"') for q in off_sql)
    assert not any(marker in q.replace("`", '"') for q in on_sql)
    assert len(off_sql) >= len(on_sql)
    if connection.vendor != "mysql":
        assert len(off_sql) > len(on_sql)


def test_pg_functions_switch():
    flow = loop_flow()
    state = State.start(flow)
    queries, _ = sqls(state.next_state)
    with tricks.disabled("pg_functions"):
        off, _ = sqls(lambda: state.next_state(rules.E))
    assert not any("flowr_load_v3(" in q or "flowr_move_v3(" in q for q in off)
    if connection.vendor == "postgresql" and pgfunctions.available(connection):
        assert any("flowr_load_v3(" in q for q in queries) and any("flowr_move_v3(" in q for q in queries)
    state.refresh_from_db()
    assert state.current_node.rule_label == rules.E.class_label and state.version == 2


def test_no_model_init(monkeypatch):
    flow = loop_flow()
    root = Node.objects.get(pk=flow.state_graph.root_id)
    made: list[Any] = []
    original = Node.from_db.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, db: Any, names: Any, values: Any, **kwargs: Any) -> Any:  # Django 6.1 passes fetch_mode
        made.append(values)
        return original(cls, db, names, values, **kwargs)

    monkeypatch.setattr(Node, "from_db", classmethod(spy))
    fresh = Node.objects.get(pk=root.pk)
    made.clear()
    on = fresh.descendents()
    assert made == []
    with tricks.disabled("no_model_init"):
        off = fresh.descendents()
    assert len(made) == len(off) == 3
    assert [(n.pk, n.graph_id, n._state.db, n._state.adding) for n in on] == [
        (n.pk, n.graph_id, n._state.db, n._state.adding) for n in off
    ]


def test_no_model_init_history(monkeypatch):
    flow = loop_flow()
    inits: list[Any] = []
    original = StateHistory.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        inits.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(StateHistory, "__init__", spy)
    on = State.start(flow).next_state()
    assert inits == []
    with tricks.disabled("no_model_init"):
        off = State.start(flow).next_state()
    assert len(inits) == 2  # the start's row and the transition's
    keys = ("seq", "kind", "from_node_id", "to_node_id", "to_rule_label", "from_rule_name")
    rows = [StateHistory.objects.filter(state=s).order_by("seq") for s in (on, off)]
    assert [[getattr(r, k) for k in keys] for r in rows[0]] == [[getattr(r, k) for k in keys] for r in rows[1]]


def test_pause_collector(monkeypatch):
    flow = loop_flow()
    calls: list[str] = []
    monkeypatch.setattr(gc, "disable", lambda: calls.append("disable"))
    graph = DCCGraph.objects.get(pk=flow.state_graph_id)
    on = [n.pk for n in graph.load_nodes()]
    assert calls == ["disable"]
    with tricks.disabled("pause_collector"):
        off = [n.pk for n in graph.load_nodes()]
    assert calls == ["disable"] and on == off


def test_raw_rows(monkeypatch):
    flow = loop_flow()
    state = State.start(flow)
    iterated: list[int] = []
    original = ValuesListIterable.__iter__

    def spy(self: Any) -> Any:
        iterated.append(1)
        return original(self)

    monkeypatch.setattr(ValuesListIterable, "__iter__", spy)
    on = FlowGraph.load(flow)
    assert iterated == []
    with tricks.disabled("raw_rows"):
        off = FlowGraph.load(flow)
    assert len(iterated) == 2  # the nodes and the edges, through Django's converters
    assert on.labels == off.labels and on.state_counts == off.state_counts == {state.current_node.node_id: 1}
    assert on.edges == off.edges  # 1 == True: a driver may give booleans as integers


def test_columnar_document():
    flow = loop_flow()
    State.start(flow)
    graph = FlowGraph.load(flow)
    columnar = graph.as_json()
    with tricks.disabled("columnar_document"):
        plain = graph.as_json()
    assert "node_columns" in columnar and "node_columns" not in plain
    assert plain["flow"] == columnar["flow"]
    assert plain["nodes"] == list(graph_nodes(columnar).values())


def test_hand_statements_add_child():
    flow = loop_flow()
    root = flow.root_data
    on, _ = sqls(lambda: root.node.add_child(rule_label=rules.B.class_label))
    with tricks.disabled("hand_statements"):
        off, _ = sqls(lambda: root.node.add_child(rule_label=rules.B.class_label))
    assert not any("WITH child AS" in q for q in off)
    if connection.vendor == "postgresql":
        assert any("WITH child AS" in q for q in on)
        assert len(statements(off)) == len(statements(on)) + 1
    check_invariants(flow.state_graph)


def test_hand_statements_bulk_writes():
    flow = loop_flow()
    on_sql, on = sqls(lambda: Flow.objects.get(pk=flow.pk).clone())
    with tricks.disabled("hand_statements"):
        off_sql, off = sqls(lambda: Flow.objects.get(pk=flow.pk).clone())
    assert any(" times: INSERT" in q for q in on_sql)  # executemany, logged once
    assert not any(" times: INSERT" in q for q in off_sql)
    assert shape(on) == shape(off) == shape(flow)


@pytest.mark.parametrize("edit", ["remove", "prune"])
def test_hand_statements_remove_prune(edit):
    results = []
    for trick in (True, False):
        flow = loop_flow(f"f {trick}")
        d = FlowNodeData.objects.get(node__graph_id=flow.state_graph_id, rule_label=rules.D.class_label)
        c = FlowNodeData.objects.get(node__graph_id=flow.state_graph_id, rule_label=rules.C.class_label)
        node = Node.objects.get(pk=(d if edit == "remove" else c).node_id)
        with CaptureQueriesContext(connection) as ctx:
            if trick:
                got = getattr(node, edit)()
            else:
                with tricks.disabled("hand_statements"):
                    got = getattr(node, edit)()
        found = got if isinstance(got, list) else [got]
        results.append(
            (
                len(statements([q["sql"] for q in ctx.captured_queries])),
                [(x.rule_label, x.pk is not None) for x in found],
                shape(flow),
            )
        )
        assert not FlowNodeData.objects.filter(pk__in=[x.pk for x in found]).exists()
        check_invariants(flow.state_graph)
    (on_count, *on), (off_count, *off) = results
    assert on == off
    assert on_count < off_count
    # + the edit log of a flow's edit: the flow's revision read, moved, and the log row
    assert on_count <= (6 if connection.features.has_select_for_update else 5) + FLOW_EDIT_LOG


#: What logging an edit of a flow adds to remove and prune (see tests/test_queries.py).
FLOW_EDIT_LOG = 3


def test_remove_prune_history_of_migrated_states():
    """History rows of States migrated to another version of the flow point
    at the old version's nodes: deleting them sets those to null, in one
    statement, and keeps the rows and their copied labels."""
    from flowr.versions import migrate_states

    flow = loop_flow()
    state = State.start(flow)
    state.next_state()  # at C
    new = Flow.objects.get(pk=flow.pk).clone()
    migrate_states(flow, new)
    c = Node.objects.get(
        pk=FlowNodeData.objects.get(node__graph_id=flow.state_graph_id, rule_label=rules.C.class_label).node_id
    )
    queries, pruned = sqls(c.prune)
    assert sorted(d.rule_label for d in pruned) == sorted(r.class_label for r in (rules.C, rules.D, rules.E))
    assert len(statements(queries)) <= (6 if connection.features.has_select_for_update else 5) + 1 + FLOW_EDIT_LOG
    rows = list(StateHistory.objects.filter(state=state).order_by("seq"))
    assert [r.kind for r in rows] == ["start", "transition", "migration"]
    assert rows[1].to_node_id is None and rows[1].from_node_id == flow.root_data.pk  # C is gone, A is not
    assert rows[1].to_rule_label == rules.C.class_label
    assert rows[2].from_node_id is None and rows[2].to_node_id is not None  # the new version's C
    check_invariants(flow.state_graph)


def test_remove_spares_a_protected_row():
    """A State pointing at a node of a flow it does not run on (made by hand:
    flowr never does) protects the node's data as before: ProtectedError,
    nothing deleted."""
    from django.db.models import ProtectedError

    flow, other = loop_flow("one"), loop_flow("two")
    d = FlowNodeData.objects.get(node__graph_id=flow.state_graph_id, rule_label=rules.D.class_label)
    State.objects.bulk_create([State(flow=other, current_node=d)])
    with pytest.raises(ProtectedError):
        Node.objects.get(pk=d.node_id).remove()
    assert FlowNodeData.objects.filter(pk=d.pk).exists() and Node.objects.filter(pk=d.node_id).exists()
    check_invariants(flow.state_graph)
