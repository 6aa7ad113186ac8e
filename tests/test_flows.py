"""RuleSet / Flow / FlowNodeData: 0.2's flow behaviour and the rules."""

import json

import pytest

from flowr import sample_rules as rules
from flowr.exceptions import (
    ChoiceNotInFlow,
    ChoiceRequired,
    DifferentGraphs,
    DuplicateChildRule,
    FlowFrozen,
    FlowInUse,
    InvalidRule,
    MissingRule,
    NoNextState,
    RuleNotAllowed,
    TooManyChildren,
)
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, Rule, RuleSet, State
from flowr.testing import build_flow, flow_nodes
from tests.helpers import check_invariants

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_set():
    return RuleSet.factory("My Rules", rules.A)


def flow_shape(flow):
    labels = dict(FlowNodeData.objects.filter(node__graph=flow.state_graph).values_list("node_id", "rule_label"))
    names = {k: v.rsplit(".", 1)[-1] for k, v in labels.items()}
    pairs = Edge.objects.filter(graph=flow.state_graph).values_list("source_id", "target_id")
    return sorted((names[s], names[t]) for s, t in pairs)


def test_rule_base_class():
    Rule.on_enter(None)
    Rule.on_leave(None)
    assert Rule.can_enter(None) is True
    with pytest.raises(NotImplementedError):
        Rule.edit_screen(None, None)
    assert rules.A.display_name() == "A"
    assert rules.A.name == "A"
    assert rules.A.class_label == "flowr.sample_rules.A"


def test_rule_set_factory(rule_set):
    assert str(rule_set) == "My Rules"
    assert rule_set.root_rule is rules.A
    assert rule_set.root_rule_name == "A"
    assert rule_set.root_rule_label == "flowr.sample_rules.A"
    assert [r.name for r in rule_set.rules()] == ["A", "B", "C", "D", "E"]


def test_rule_set_factory_accepts_label():
    assert RuleSet.factory("by label", "flowr.sample_rules.C").root_rule is rules.C


@pytest.mark.parametrize("bad", ["flowr.sample_rules.Nope", "os.path", object, Rule, 42])
def test_rule_set_factory_refuses_non_rules(bad):
    with pytest.raises((MissingRule, InvalidRule)):
        RuleSet.factory("bad", bad)
    assert RuleSet.objects.count() == 0


def test_rule_cytoscape(rule_set):
    result = json.loads(rule_set.cytoscape_json())
    assert len(result["nodes"]) == 5
    assert len(result["edges"]) == 5
    for rule in [rules.A, rules.B, rules.C, rules.D, rules.E]:
        assert {"data": {"id": rule.name, "label": rule.name}} in result["nodes"]
    for src, dst in [
        (rules.A, rules.B),
        (rules.A, rules.C),
        (rules.C, rules.D),
        (rules.C, rules.E),
        (rules.E, rules.A),
    ]:
        assert {"data": {"id": f"{src.name}_{dst.name}", "source": src.name, "target": dst.name}} in result["edges"]


def test_flow1_simple(rule_set):
    flow = Flow.factory("Flow", rule_set)
    assert not flow.in_use()
    root = flow.root_data
    assert root.rule is rules.A
    assert root.flow == flow
    with pytest.raises(RuleNotAllowed):
        root.add_child_rule(rules.D)
    child = root.add_child_rule(rules.B)
    assert isinstance(child, FlowNodeData)
    assert child.rule is rules.B
    with pytest.raises(TooManyChildren):
        root.add_child_rule(rules.B)
    with pytest.raises(AttributeError):
        root.add_child_rule(rules.C)
    state = State.start(flow)
    assert rules.done_enter == ["A"]
    assert rules.done_leave == []
    state.next_state()
    assert rules.done_leave == ["A"]
    assert rules.done_enter == ["A", "B"]
    with pytest.raises(NoNextState):
        state.next_state()
    assert flow.in_use()
    str(flow), str(root), str(state)


def test_flow2_multipath_loop(rule_set):
    flow = Flow.factory(name="Flow", rule_set=rule_set)
    root = flow.root_data
    node = root.add_child_rule(rules.C)
    node.add_child_rule(rules.D)
    with pytest.raises(DuplicateChildRule):
        node.add_child_rule(rules.D)
    node = node.add_child_rule(rules.E)
    node.connect_child(root)
    assert flow_shape(flow) == [("A", "C"), ("C", "D"), ("C", "E"), ("E", "A")]
    state = State.start(flow=flow)
    assert rules.done_enter == ["A"]
    state.next_state()
    assert rules.done_enter == ["A", "C"]
    assert rules.done_leave == ["A"]
    with pytest.raises(ChoiceRequired):
        state.next_state()
    with pytest.raises(ChoiceNotInFlow):
        state.next_state(rules.A)
    state.next_state(rules.E)
    state.next_state(rules.A)
    assert rules.done_enter == ["A", "C", "E", "A"]
    assert rules.done_leave == ["A", "C", "E"]
    check_invariants(flow.state_graph)


def test_multipath_with_one_child_takes_it(rule_set):
    flow = build_flow(rule_set, "A > C > D")
    state = State.start(flow)
    state.next_state()
    state.next_state()
    assert state.current_node.rule is rules.D
    assert state.is_finished


def test_choice_by_label(rule_set):
    flow = Flow.factory("labels", rule_set)
    c = flow.root_data.add_child_rule("flowr.sample_rules.C")
    c.add_child_rule(rules.D)
    c.add_child_rule(rules.E)
    state = State.start(flow)
    state.next_state()
    state.next_state("flowr.sample_rules.E")
    assert state.current_node.rule is rules.E


def test_multipath_limit_and_allowed_rules(rule_set):
    flow = Flow.factory("limits", rule_set)
    c = flow.root_data.add_child_rule(rules.C)
    assert [r.name for r in flow.root_data.allowed_child_rules()] == []
    assert [r.name for r in c.allowed_child_rules()] == ["D", "E"]
    c.add_child_rule(rules.D)
    assert [r.name for r in c.allowed_child_rules()] == ["E"]
    c.add_child_rule(rules.E)
    assert c.allowed_child_rules() == []
    with pytest.raises(TooManyChildren):
        c.add_child_rule(rules.D)


def test_connect_child_enforces_rules(rule_set):
    flow = build_flow(rule_set, "A > C > (D | E)")
    nodes = flow_nodes(flow)
    root, c, d, e = nodes["A"], nodes["C"], nodes["D"], nodes["E"]
    before = flow_shape(flow)
    with pytest.raises(RuleNotAllowed):
        d.connect_child(root)  # D has no children rules
    with pytest.raises(RuleNotAllowed):
        c.connect_child(root)  # A may not follow C
    with pytest.raises(TooManyChildren):
        c.connect_child(d)  # C is full (D, E)
    with pytest.raises(RuleNotAllowed):
        e.connect_child(c)  # E -> A only
    assert flow_shape(flow) == before
    e.connect_child(root)
    with pytest.raises((DuplicateChildRule, TooManyChildren)):
        e.connect_child(root)


def test_connect_across_flows_refused(rule_set):
    one = Flow.factory("one", rule_set)
    two = Flow.factory("two", rule_set)
    e = one.root_data.add_child_rule(rules.C).add_child_rule(rules.E)
    with pytest.raises(DifferentGraphs):
        e.connect_child(two.root_data)


def test_frozen_flow_refuses_every_edit(rule_set):
    flow = Flow.factory("frozen", rule_set)
    root = flow.root_data
    c = root.add_child_rule(rules.C)
    d = c.add_child_rule(rules.D)
    State.start(flow)
    before = flow_shape(flow)
    with pytest.raises(FlowFrozen) as info:
        c.add_child_rule(rules.E)
    assert "1 state" in str(info.value)
    for attempt in (lambda: d.node.remove(), lambda: c.node.prune(), lambda: d.node.add_child(rule_label="x")):
        with pytest.raises(FlowFrozen):
            attempt()
    assert flow_shape(flow) == before


def test_delete_flow_deletes_graph(rule_set):
    flow = Flow.factory(name="Flow", rule_set=rule_set)
    flow.root_data.add_child_rule(rules.B)
    flow.delete()
    assert Flow.objects.count() == 0
    assert DCCGraph.objects.count() == 0
    assert Node.objects.count() == 0
    assert FlowNodeData.objects.count() == 0


def test_delete_flow_in_use_refused(rule_set):
    flow = Flow.factory(name="Flow", rule_set=rule_set)
    State.start(flow)
    State.start(flow)
    with pytest.raises(FlowInUse) as info:
        flow.delete()
    assert "2 states" in str(info.value)
    assert Flow.objects.count() == 1


def test_missing_rule_never_raises_on_load(rule_set):
    flow = Flow.factory("missing", rule_set)
    b = flow.root_data.add_child_rule(rules.B)
    FlowNodeData.objects.filter(pk=b.pk).update(rule_label="flowr.sample_rules.Renamed")
    RuleSet.objects.filter(pk=rule_set.pk).update(root_rule_label="gone.module.Root")
    loaded = FlowNodeData.objects.get(pk=b.pk)
    assert loaded.rule_missing
    assert loaded.rule_name == "Renamed"
    assert str(loaded)
    with pytest.raises(MissingRule):
        loaded.rule
    with pytest.raises(MissingRule):
        loaded.add_child_rule(rules.B)
    assert loaded.allowed_child_rules() == []
    rs = RuleSet.objects.get(pk=rule_set.pk)
    assert rs.rule_missing and rs.root_rule_name == "Root" and rs.rules() == []
    assert json.loads(rs.cytoscape_json()) == {"nodes": [], "edges": []}
    with pytest.raises(MissingRule):
        Flow.factory("no root", rs)
    state = State.start(flow)
    with pytest.raises(MissingRule):
        state.next_state()
