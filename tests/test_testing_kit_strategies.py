"""flowr.testing.strategies: generated flows obey the policy; walks are
accepted by next_state."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowr import policy
from flowr import sample_rules as sr
from flowr.integrity import check_integrity
from flowr.models import Edge, Flow, RuleSet
from flowr.testing import assert_history, run_path
from flowr.testing.strategies import flows, walks
from tests import kit_rules as kr
from tests.testapp import rules as tr

pytestmark = pytest.mark.django_db

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def children_labels(flow: Flow) -> dict[int, tuple[str, list[str]]]:
    """node id -> (its rule label, its children's rule labels)."""
    data = {d.node_id: d.rule_label for d in flow.nodes_data()}
    found: dict[int, tuple[str, list[str]]] = {node: (label, []) for node, label in data.items()}
    for source, target in Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id"):
        found[source][1].append(data[target])
    return found


@SETTINGS
@given(flow=flows(tr.Wide, max_nodes=7))
def test_every_generated_flow_obeys_the_policy(flow):
    nodes = children_labels(flow)
    assert 1 <= len(nodes) <= 7
    for label, children in nodes.values():
        assert policy.stored_children_problems(label, children) == []


@SETTINGS
@given(data=st.data())
def test_walks_are_accepted_by_next_state(data):
    flow = data.draw(flows(RuleSet.objects.get_or_create(name="probe", root_rule_label=tr.Probe1.class_label)[0]))
    walk = data.draw(walks(flow, max_steps=6))
    assert len(walk) <= 6
    run = run_path(flow, walk)  # raises if next_state refuses a step
    assert_history(run, [flow.root_data.rule_name, *(label.rsplit(".", 1)[1] for label in walk)])
    assert check_integrity([run.state]) == []


def test_flows_reach_loops_joins_and_full_branches():
    """The strategy explores: over many examples it builds a link back to an
    earlier node, and a branching node with all its children."""
    seen = {"loop": False, "full": False}

    @settings(max_examples=60, deadline=None)
    @given(flow=flows(sr.A, max_nodes=6))
    def explore(flow):
        nodes = children_labels(flow)
        edges = Edge.objects.filter(graph_id=flow.state_graph_id)
        seen["loop"] |= edges.filter(backbone=False).exists()
        seen["full"] |= any(label == sr.C.class_label and len(kids) == 2 for label, kids in nodes.values())

    explore()
    assert seen == {"loop": True, "full": True}


def test_without_connects_flows_are_trees_and_walks_never_repeat_a_node():
    @settings(max_examples=15, deadline=None)
    @given(data=st.data())
    def check(data):
        flow = data.draw(flows(kr.Submitted, max_nodes=4, connects=False))
        assert not Edge.objects.filter(graph_id=flow.state_graph_id, backbone=False).exists()
        walk = data.draw(walks(flow, max_steps=10))
        assert len(walk) < len(children_labels(flow))  # a tree: no step repeats a node

    check()
