"""Flow versions: freezing, clone, factory_from_rules and migrate_states."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules as sr
from flowr.exceptions import (
    ConcurrentTransition,
    DuplicateChildRule,
    FlowFrozen,
    FlowInUse,
    MappingIncomplete,
    RuleNotAllowed,
    TooManyChildren,
)
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, RuleSet, State, StateHistory
from flowr.versions import IncompatibleFlows, InvalidMapping, migrate_states
from tests.helpers import check_invariants
from tests.testapp.rules import Chain

pytestmark = pytest.mark.django_db

SAMPLE = [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])]


@pytest.fixture
def rule_set() -> RuleSet:
    return RuleSet.factory("Sample", sr.A)


def sample_flow(rule_set: RuleSet, name: str = "Sample flow") -> Flow:
    """0.2's A-E flow: A -> C; C -> D, E (a choice); E -> A (loop)."""
    flow = Flow.factory_from_rules(name, rule_set, SAMPLE)
    by_rule = {d.rule_name: d for d in flow.nodes_data()}
    by_rule["E"].connect_child(by_rule["A"])
    return flow


def rule_shape(flow: Flow) -> set[tuple[str, str, bool]]:
    """Edges as (source rule, target rule, backbone): unique in these flows."""
    names = dict(FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).values_list("node_id", "rule_label"))
    return {
        (names[s].rsplit(".", 1)[1], names[t].rsplit(".", 1)[1], b)
        for s, t, b in Edge.objects.filter(graph_id=flow.state_graph_id).values_list(
            "source_id", "target_id", "backbone"
        )
    }


def chain_flow(length: int) -> Flow:
    """A Chain rule flow of ``length`` nodes, with a link back to the root."""
    rs = RuleSet.factory("Chains", Chain)
    children: list = []
    for _ in range(length - 1):
        children = [({"rule": Chain}, children)]
    flow = Flow.factory_from_rules(f"chain {length}", rs, children)
    last = FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).order_by("-node_id").first()  # made top down
    last.connect_child(flow.root_data)
    return flow


def by_rule(flow: Flow) -> dict[str, FlowNodeData]:
    return {d.rule_name: d for d in flow.nodes_data()}


# -- factory_from_rules ---------------------------------------------------------


def test_factory_from_rules_builds_the_nested_structure(rule_set):
    flow = sample_flow(rule_set)
    assert rule_shape(flow) == {
        ("A", "C", True),
        ("C", "D", True),
        ("C", "E", True),
        ("E", "A", False),
    }
    check_invariants(flow.state_graph)


def test_factory_from_rules_enforces_rules_and_writes_nothing(rule_set):
    before = (Flow.objects.count(), Node.objects.count(), DCCGraph.objects.count())
    with pytest.raises(RuleNotAllowed):
        Flow.factory_from_rules("bad", rule_set, [({"rule": sr.D}, [])])
    with pytest.raises(TooManyChildren):
        Flow.factory_from_rules("bad", rule_set, [({"rule": sr.B}, []), ({"rule": sr.C}, [])])
    with pytest.raises(DuplicateChildRule):
        Flow.factory_from_rules("bad", rule_set, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.D}, [])])])
    with pytest.raises(TypeError):
        Flow.factory_from_rules("bad", rule_set, [({"name": "B"}, [])])
    assert (Flow.objects.count(), Node.objects.count(), DCCGraph.objects.count()) == before


def test_factory_from_rules_accepts_labels(rule_set):
    flow = Flow.factory_from_rules("labels", rule_set, [({"rule": "flowr.sample_rules.B"}, [])])
    assert rule_shape(flow) == {("A", "B", True)}
    check_invariants(flow.state_graph)


# -- freezing ---------------------------------------------------------------------


@pytest.fixture
def frozen(rule_set):
    flow = sample_flow(rule_set)
    State.start(flow)
    return flow


def _graph_rows(flow: Flow) -> tuple:
    return (
        sorted(Node.objects.filter(graph_id=flow.state_graph_id).values_list("pk", "graph_id")),
        sorted(Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id", "backbone")),
        sorted(FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).values_list("pk", "rule_label")),
    )


@pytest.mark.parametrize(
    "edit",
    [
        "add_child_rule",
        "connect_child",
        "remove",
        "prune",
        "node_add_child",
        "node_connect_child",
        "node_remove",
        "node_prune",
    ],
)
def test_frozen_flow_refuses_every_edit(frozen, edit):
    nodes = by_rule(frozen)
    before = _graph_rows(frozen)
    actions = {
        "add_child_rule": lambda: nodes["E"].add_child_rule(sr.A),
        "connect_child": lambda: nodes["D"].connect_child(nodes["A"]),
        "remove": lambda: nodes["D"].node.remove(),
        "prune": lambda: nodes["C"].node.prune(),
        "node_add_child": lambda: nodes["D"].node.add_child(rule_label=sr.A.class_label),
        "node_connect_child": lambda: nodes["D"].node.connect_child(nodes["A"].node),
        "node_remove": lambda: Node.objects.get(pk=nodes["D"].node_id).remove(),
        "node_prune": lambda: Node.objects.get(pk=nodes["E"].node_id).prune(),
    }
    with pytest.raises(FlowFrozen) as info:
        actions[edit]()
    assert isinstance(info.value, AttributeError)
    assert info.value.count == 1 and info.value.flow == frozen
    assert "frozen" in str(info.value)
    assert _graph_rows(frozen) == before


def test_frozen_flow_delete_refused_with_state_count(frozen):
    State.start(frozen)
    with pytest.raises(FlowInUse) as info:
        frozen.delete()
    assert info.value.count == 2
    assert "2 states" in str(info.value)
    assert Flow.objects.filter(pk=frozen.pk).exists()


def test_flow_without_states_is_editable_again_after_migration(frozen, rule_set):
    copy = frozen.clone()
    migrate_states(frozen, copy)
    by_rule(frozen)["D"].node.remove()  # no longer frozen
    check_invariants(frozen.state_graph)


# -- clone ------------------------------------------------------------------------


def test_clone_copies_shape_and_data_as_next_version(frozen):
    copy = frozen.clone()
    assert copy.pk != frozen.pk and copy.state_graph_id != frozen.state_graph_id
    assert (copy.name, copy.rule_set_id, copy.family, copy.version) == (
        frozen.name,
        frozen.rule_set_id,
        frozen.family,
        2,
    )
    assert rule_shape(copy) == rule_shape(frozen)
    assert not copy.in_use()
    check_invariants(copy.state_graph)
    check_invariants(frozen.state_graph)
    copy_nodes = {n.pk for n in Node.objects.filter(graph_id=copy.state_graph_id)}
    assert copy_nodes.isdisjoint({n.pk for n in Node.objects.filter(graph_id=frozen.state_graph_id)})
    # editable
    by_rule(copy)["D"].node.remove()
    check_invariants(copy.state_graph)
    assert copy.root_data.rule is sr.A


def test_clone_versions_and_name(frozen):
    second = frozen.clone(name="Renamed")
    third = frozen.clone()
    fourth = second.clone()
    assert (second.name, second.version, third.version, fourth.version) == ("Renamed", 2, 3, 4)
    assert list(frozen.versions()) == [frozen, second, third, fourth]
    assert list(fourth.versions().values_list("version", flat=True)) == [1, 2, 3, 4]
    assert str(second) == "Renamed (v2)"
    other = Flow.factory("other", frozen.rule_set)
    assert list(other.versions()) == [other]


def test_cloned_graph_can_be_edited_like_any_other(rule_set):
    copy = sample_flow(rule_set).clone()
    nodes = by_rule(copy)
    nodes["D"].node.remove()
    nodes["C"].node.prune()
    fresh = FlowNodeData.objects.get(node_id=copy.state_graph.root_id)
    fresh.add_child_rule(sr.B)
    check_invariants(copy.state_graph)
    assert rule_shape(copy) == {("A", "B", True)}


def _clone_queries(flow: Flow) -> int:
    with CaptureQueriesContext(connection) as ctx:
        flow.clone()
    return len(ctx.captured_queries)


def test_clone_query_count_does_not_depend_on_size():
    small, large = chain_flow(10), chain_flow(300)
    _clone_queries(small)  # warm the content type cache
    small_count = _clone_queries(small)
    large_count = _clone_queries(large)
    assert small_count == large_count
    assert large_count <= 16
    clone = Flow.objects.get(family=large.family, version=2)
    assert Node.objects.filter(graph_id=clone.state_graph_id).count() == 300
    check_invariants(clone.state_graph)


def test_clone_keeps_tree_children_order(rule_set):
    flow = sample_flow(rule_set)
    copy = flow.clone()
    assert [d.rule_name for d in copy.nodes_data()] == [d.rule_name for d in flow.nodes_data()]


# -- migrate_states -------------------------------------------------------------------


@pytest.fixture
def running(rule_set):
    """A frozen sample flow with states at A, C, D and E; and its clone."""
    flow = sample_flow(rule_set)
    states = {name: State.start(flow) for name in "ACDE"}
    states["C"].next_state(sr.C)
    states["D"].next_state(sr.C).next_state(sr.D)
    states["E"].next_state(sr.C).next_state(sr.E)
    return flow, flow.clone(), states


def test_migrate_without_mapping_follows_rule_paths(running):
    flow, copy, states = running
    report = migrate_states(flow, copy)
    assert report.ok and report.moved == 4 and not report.dry_run
    target = by_rule(copy)
    for name, state in states.items():
        state.refresh_from_db()
        assert state.flow_id == copy.pk
        assert state.current_node_id == target[name].pk
    assert not flow.in_use() and copy.in_use()
    assert {m.state for m in report.moves} == {s.pk for s in states.values()}
    assert report.as_dict()["moved"] == 4
    assert "moved 4 state(s)" in report.summary()


def test_migration_history_rows_and_versions(running):
    flow, copy, states = running
    d = states["D"]
    d.refresh_from_db()
    old_version = d.version
    migrate_states(flow, copy, actor="ops-bot")
    d.refresh_from_db()
    assert d.version == old_version + 1
    rows = list(d.history)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    last = rows[-1]
    assert last.kind == StateHistory.MIGRATION
    assert last.from_node.flow == flow and last.to_node.flow == copy
    assert (last.from_rule_name, last.to_rule_name, last.actor_repr) == ("D", "D", "ops-bot")
    assert f"flow {flow.pk}" in last.note
    # the state keeps running on the new version and history stays contiguous
    d.refresh_from_db()
    with pytest.raises(Exception):  # noqa: B017 -- D has no children: NoNextState
        d.next_state()
    e = states["E"]
    e.refresh_from_db()
    e.next_state()
    assert [r.seq for r in e.history] == list(range(1, e.history.count() + 1))
    assert e.current_node.flow == copy


@pytest.mark.parametrize("listening", [False, True])
def test_migration_rows_are_written_like_transition_rows(running, django_user_model, listening):
    """One history writer: a user actor is stored as the user, the rows are
    written in one INSERT, or through ``save()`` when a receiver expects it."""
    from django.db.models.signals import pre_save

    flow, copy, states = running
    user = django_user_model.objects.create_user("migrator")
    saved: list[int] = []

    def receiver(instance: StateHistory, **kwargs: object) -> None:
        saved.append(instance.state_id)

    if listening:
        pre_save.connect(receiver, sender=StateHistory)
    try:
        with CaptureQueriesContext(connection) as ctx:
            migrate_states(flow, copy, actor=user)
    finally:
        pre_save.disconnect(receiver, sender=StateHistory)
    table = connection.ops.quote_name(StateHistory._meta.db_table)
    inserts = [q for q in ctx.captured_queries if q["sql"].startswith(f"INSERT INTO {table}")]
    assert len(inserts) == (4 if listening else 1)
    assert sorted(saved) == (sorted(s.pk for s in states.values()) if listening else [])
    rows = StateHistory.objects.filter(kind=StateHistory.MIGRATION)
    assert {(r.actor_id, r.actor_repr) for r in rows} == {(user.pk, "migrator")}
    assert len({r.created for r in rows}) == 1  # one migration, one instant
    for state in states.values():
        state.refresh_from_db()
        last = state.history.last()
        assert (last.kind, last.seq, last.to_node.flow) == (StateHistory.MIGRATION, state.version + 1, copy)


def test_stale_state_object_conflicts_after_migration(running):
    flow, copy, states = running
    stale = State.objects.get(pk=states["C"].pk)
    migrate_states(flow, copy)
    with pytest.raises(ConcurrentTransition):
        stale.next_state(sr.D)


def test_migrate_dry_run_changes_nothing(running):
    flow, copy, states = running
    history = StateHistory.objects.count()
    report = migrate_states(flow, copy, dry_run=True)
    assert report.dry_run and len(report.moves) == 4 and report.moved == 0
    assert "would move 4" in report.summary()
    assert State.objects.filter(flow=flow).count() == 4
    assert StateHistory.objects.count() == history


def test_unmapped_nodes_refused_and_listed(running):
    flow, copy, states = running
    nodes = by_rule(copy)
    nodes["C"].node.prune()  # C, D, E gone from the new version
    nodes["A"].add_child_rule(sr.C)  # a fresh C: C maps again, D and E don't
    history = StateHistory.objects.count()
    with pytest.raises(MappingIncomplete) as info:
        migrate_states(flow, copy)
    report = info.value.report
    assert {u.rule_name for u in report.unmapped} == {"D", "E"}
    unmapped_d = next(u for u in report.unmapped if u.rule_name == "D")
    assert unmapped_d.states == [states["D"].pk]
    assert unmapped_d.path == ["A", "C", "D"]
    assert "UNMAPPED" in report.summary()
    assert State.objects.filter(flow=flow).count() == 4
    assert StateHistory.objects.count() == history
    # a dry run lists the same nodes without raising
    dry = migrate_states(flow, copy, dry_run=True)
    assert not dry.ok and dry.moved == 0
    assert [(u.node, u.states) for u in dry.unmapped] == [(u.node, u.states) for u in report.unmapped]
    assert State.objects.filter(flow=flow).count() == 4


def test_explicit_mapping_completes_the_migration(running):
    flow, copy, states = running
    nodes = by_rule(copy)
    nodes["C"].node.prune()
    new_c = nodes["A"].add_child_rule(sr.C)
    new_d = new_c.add_child_rule(sr.D)
    source = by_rule(flow)
    # D maps automatically again (A > C > D); E is mapped by hand, by data and by pk
    report = migrate_states(flow, copy, mapping={source["E"]: new_d})
    assert report.moved == 4
    states["E"].refresh_from_db()
    assert states["E"].current_node_id == new_d.pk
    assert report.mapping[source["E"].node_id] == new_d.node_id


def test_explicit_mapping_by_node_pk_overrides_automatic(running):
    flow, copy, states = running
    source, target = by_rule(flow), by_rule(copy)
    migrate_states(flow, copy, mapping={source["A"].node_id: target["D"].node_id})
    states["A"].refresh_from_db()
    assert states["A"].current_node_id == target["D"].pk


def test_invalid_mappings_and_flows_refused(running, rule_set):
    flow, copy, _ = running
    source, target = by_rule(flow), by_rule(copy)
    with pytest.raises(InvalidMapping):
        migrate_states(flow, copy, mapping={target["A"]: target["D"]})
    with pytest.raises(InvalidMapping):
        migrate_states(flow, copy, mapping={source["A"]: source["D"]})
    with pytest.raises(InvalidMapping):
        migrate_states(flow, copy, mapping={"x": target["D"]})
    with pytest.raises(IncompatibleFlows):
        migrate_states(flow, flow)
    other = Flow.factory("other", RuleSet.factory("Other", sr.A))
    with pytest.raises(IncompatibleFlows) as info:
        migrate_states(flow, other)
    assert isinstance(info.value, AttributeError)
    assert State.objects.filter(flow=flow).count() == 4


def test_migrate_between_unrelated_flows_of_one_rule_set(running, rule_set):
    flow, _, states = running
    plain = Flow.factory_from_rules("plain", rule_set, SAMPLE)  # no loop, other family
    assert migrate_states(flow, plain).moved == 4


def test_migrate_with_root_rule_mismatch_needs_full_mapping(rule_set):
    flow = sample_flow(rule_set)
    state = State.start(flow)
    target = Flow.factory("t", rule_set)
    FlowNodeData.objects.filter(node_id=target.state_graph.root_id).update(rule_label=sr.B.class_label)
    with pytest.raises(MappingIncomplete):
        migrate_states(flow, target)
    migrate_states(flow, target, mapping={flow.root_data: target.root_data})
    state.refresh_from_db()
    assert state.flow_id == target.pk


def test_migrate_nothing_to_move(rule_set):
    flow = sample_flow(rule_set)
    report = migrate_states(flow, flow.clone())
    assert report.ok and report.moves == [] and report.moved == 0


def test_mapping_query_count_is_constant(running):
    flow, copy, _ = running
    with CaptureQueriesContext(connection) as small:
        migrate_states(flow, copy, dry_run=True)
    big = chain_flow(200)
    for _ in range(3):
        State.start(big)
    big_copy = big.clone()
    with CaptureQueriesContext(connection) as large:
        migrate_states(big, big_copy, dry_run=True)
    assert len(small.captured_queries) == len(large.captured_queries)


def test_bulk_copy_of_a_generic_graph_keeps_shape_and_data():
    from flowr import edits as ops
    from tests.helpers import build_graph_c, shape

    graph = build_graph_c()
    graph.find_nodes(name="C.B").get().remove()  # leaves a gap in the tree paths
    copy, mapping = ops.bulk_copy_graph(graph)
    assert shape(copy) == shape(graph)
    assert set(mapping) == set(Node.objects.filter(graph=graph).values_list("pk", flat=True))
    assert copy.root_id == mapping[graph.root_id]
    check_invariants(copy)
    check_invariants(graph)
