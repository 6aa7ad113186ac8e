"""flowr.diff.diff_flows (issue 18.2): the rule-path diff of two flows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowr import sample_rules as S
from flowr.diff import KEYS, diff_flows, diff_text, is_empty
from flowr.models import Flow, RuleSet
from flowr.testing.strategies import flows
from flowr.versions import graph_rows

pytestmark = pytest.mark.django_db

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

Graph = tuple[Any, dict[Any, str], set[tuple[Any, Any]]]  # root, labels, links


@pytest.fixture
def rule_set() -> RuleSet:
    return RuleSet.factory("Sample", S.A)


def sample(rule_set: RuleSet) -> Flow:
    """A -> C -> D, E; E -> A."""
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, []), ({"rule": S.E}, [])])])
    by_rule = {d.rule_name: d for d in flow.nodes_data()}
    by_rule["E"].connect_child(by_rule["A"])
    return flow


def graph_of(flow: Flow) -> Graph:
    root, labels, children = graph_rows(flow.state_graph_id, "default")
    return root, labels, {(s, t) for s, kids in children.items() for t in kids}


def shape(graph: Graph) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """The graph without its ids: each node named by its smallest shortest
    rule path from the root (unique: no node has two children of one rule)."""
    root, labels, links = graph
    key = {root: (labels[root],)}
    level = [root]
    while level:
        found: dict[Any, tuple[str, ...]] = {}
        for source, target in links:
            if source in level and target not in key:
                candidate = (*key[source], labels[target])
                found[target] = min(found.get(target, candidate), candidate)
        key.update(found)
        level = list(found)
    assert len(key) == len(labels), "every node is reachable"
    return frozenset(key.values()), frozenset((key[s], key[t]) for s, t in links)


def apply(diff: dict[str, list[dict[str, Any]]], graph: Graph) -> Graph:
    """Apply the diff's operations to ``graph`` (flow a): the result has b's shape."""
    root, labels, links = graph
    labels = dict(labels)
    links = set(links)
    for item in diff["removed_nodes"]:
        del labels[item["node"]]
    for item in diff["removed_links"]:
        links.remove((item["source"], item["target"]))
    for item in diff["changed_nodes"]:
        if "rule" in item["changes"]:
            labels[item["node"]] = item["changes"]["rule"]["new"]
    for item in diff["added_nodes"]:
        labels[("b", item["node"])] = item["rule"]
    for item in diff["added_links"]:
        source = item["other_source"] if item["other_source"] is not None else ("b", item["source"])
        target = item["other_target"] if item["other_target"] is not None else ("b", item["target"])
        links.add((source, target))
    assert {n for link in links for n in link} <= labels.keys()
    return root, labels, links


def test_a_flow_and_its_clone_do_not_differ(rule_set: RuleSet) -> None:
    flow = sample(rule_set)
    diff = diff_flows(flow, flow.clone())
    assert list(diff) == list(KEYS)
    assert all(diff[key] == [] for key in KEYS) and is_empty(diff)
    assert diff_text(diff) == "no differences"
    assert is_empty(diff_flows(flow, flow))


def test_a_rule_change_an_added_node_and_a_removed_link(rule_set: RuleSet) -> None:
    flow = sample(rule_set)
    v2 = flow.clone()
    by_rule = {d.rule_name: d for d in v2.nodes_data()}
    by_rule["E"].disconnect_child(by_rule["A"])
    old = {d.rule_name: d for d in flow.nodes_data()}
    diff = diff_flows(flow, v2)
    assert diff["removed_links"] == [
        {
            "source": old["E"].node_id,
            "target": old["A"].node_id,
            "other_source": by_rule["E"].node_id,
            "other_target": by_rule["A"].node_id,
        }
    ]
    assert diff["added_nodes"] == diff["removed_nodes"] == diff["added_links"] == diff["changed_nodes"] == []
    assert diff_text(diff) == f"- link {old['E'].node_id} -> {old['A'].node_id}"


def test_a_changed_rule_is_a_changed_node_and_its_children_still_pair(rule_set: RuleSet) -> None:
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.E}, [])])])
    v2 = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.B}, [])])
    diff = diff_flows(flow, v2)
    b_node = {d.rule_name: d.node_id for d in v2.nodes_data()}["B"]
    c_node = {d.rule_name: d.node_id for d in flow.nodes_data()}["C"]
    assert diff["changed_nodes"] == [
        {
            "node": c_node,
            "rule": S.C.class_label,
            "rule_name": "C",
            "other": b_node,
            "other_rule": S.B.class_label,
            "changes": {"rule": {"old": S.C.class_label, "new": S.B.class_label}},
        }
    ]
    assert [n["rule_name"] for n in diff["removed_nodes"]] == ["E"]
    assert f"~ node {c_node} -> {b_node}: rule {S.C.class_label} -> {S.B.class_label}" in diff_text(diff)
    assert shape(apply(diff, graph_of(flow))) == shape(graph_of(v2))


def test_changed_settings_are_a_changed_node() -> None:
    from tests.testapp.settings_rules import Closed, ticket_flow

    flow, _root, _escalated, closed = ticket_flow()
    closed.set_settings({"reason": "fixed"})
    v2 = flow.clone()
    v2_closed = next(d for d in v2.nodes_data() if d.rule is Closed)
    v2_closed.set_settings({"reason": "duplicate"})
    diff = diff_flows(flow, v2)
    assert diff["changed_nodes"] == [
        {
            "node": closed.node_id,
            "rule": Closed.class_label,
            "rule_name": "Closed",
            "other": v2_closed.node_id,
            "other_rule": Closed.class_label,
            "changes": {"settings": {"old": {"reason": "fixed"}, "new": {"reason": "duplicate"}}},
        }
    ]
    assert diff["added_nodes"] == diff["removed_nodes"] == diff["added_links"] == diff["removed_links"] == []
    assert diff_text(diff) == (
        f'~ node {closed.node_id} -> {v2_closed.node_id}: settings {{"reason": "fixed"}} -> {{"reason": "duplicate"}}'
    )
    assert is_empty(diff_flows(flow, flow.clone()))


def test_diff_costs_a_constant_number_of_queries(rule_set: RuleSet, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    small, big = sample(rule_set), Flow.factory_from_rules("big", rule_set, [({"rule": S.C}, [({"rule": S.E}, [])])])
    with django_assert_num_queries(6):
        diff_flows(small, big)
    clone = small.clone()
    with django_assert_num_queries(6):
        diff_flows(small, clone)


@SETTINGS
@given(data=st.data())
def test_applying_the_diff_to_a_gives_b(rule_set: RuleSet, data: st.DataObject) -> None:
    a = data.draw(flows(rule_set, max_nodes=6))
    b = data.draw(flows(rule_set, max_nodes=6))
    diff = diff_flows(a, b)
    assert shape(apply(diff, graph_of(a))) == shape(graph_of(b))
    back = diff_flows(b, a)
    assert len(back["added_nodes"]) == len(diff["removed_nodes"])
    assert len(back["added_links"]) == len(diff["removed_links"])
    assert is_empty(diff_flows(a, a.clone()))


@SETTINGS
@given(data=st.data())
def test_an_edited_clone_differs_by_its_edits(rule_set: RuleSet, data: st.DataObject) -> None:
    a = data.draw(flows(rule_set, max_nodes=6))
    b = a.clone()
    options = [d for d in b.nodes_data() if d.allowed_child_rules()]
    if options:
        parent = data.draw(st.sampled_from(options))
        added = parent.add_child_rule(data.draw(st.sampled_from(parent.allowed_child_rules())))
        diff = diff_flows(a, b)
        assert [n["node"] for n in diff["added_nodes"]] == [added.node_id]
        assert [(x["source"], x["target"]) for x in diff["added_links"]] == [(parent.node_id, added.node_id)]
        assert diff["removed_nodes"] == diff["removed_links"] == diff["changed_nodes"] == []
    assert shape(apply(diff_flows(a, b), graph_of(a))) == shape(graph_of(b))
