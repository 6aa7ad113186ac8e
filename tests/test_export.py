"""JSON export of flows, and export -> import round trips."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from jsonschema import Draft202012Validator

from flowr import sample_rules as sr
from flowr.export import FORMAT, export_flow, import_flow, schema
from flowr.models import Edge, Flow, FlowNodeData, Node, RuleSet, State
from tests.helpers import backbone_tree, check_invariants
from tests.testapp.rules import Chain, Leaf, Leaf2, Wide

pytestmark = pytest.mark.django_db

SAMPLE = [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])]


def sample_flow(name: str = "Sample flow") -> Flow:
    flow = Flow.factory_from_rules(name, RuleSet.factory("Sample", sr.A), SAMPLE)
    nodes = {d.rule_name: d for d in flow.nodes_data()}
    nodes["E"].connect_child(nodes["A"])
    return flow


def wide_flow() -> Flow:
    """Branching, joins and loops: Wide -> Leaf, Leaf2, Chain; links back."""
    rs = RuleSet.factory("Wide", Wide)
    flow = Flow.factory_from_rules(
        "wide",
        rs,
        [
            ({"rule": Leaf}, [({"rule": Wide}, [({"rule": Chain}, [({"rule": Chain}, [])])])]),
            ({"rule": Leaf2}, []),
            ({"rule": Chain}, []),
        ],
    )
    data = flow.nodes_data()
    depth = backbone_tree(flow.state_graph).depth
    leaf2 = next(d for d in data if d.rule_label == Leaf2.class_label)
    inner_wide = next(d for d in data if d.rule_label == Wide.class_label and depth[d.node_id] == 3)
    last_chain = max((d for d in data if d.rule_label == Chain.class_label), key=lambda d: depth[d.node_id])
    leaf2.connect_child(inner_wide)  # a join
    last_chain.connect_child(last_chain)  # a self loop (Chain may follow itself)
    return flow


def signature(flow: Flow) -> tuple:
    """The graph up to node identity: tree-order rules, edges by position."""
    tree = backbone_tree(flow.state_graph)
    labels = dict(FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).values_list("node_id", "rule_label"))
    data = [(node, labels[node], tree.depth[node]) for node in tree.order]
    pos = {node: i for i, (node, _, _) in enumerate(data)}
    edges = Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id", "backbone")
    return [(label, depth) for _, label, depth in data], sorted((pos[s], pos[t], b) for s, t, b in edges)


def test_export_document(settings):
    flow = sample_flow()
    doc = export_flow(flow)
    assert doc["format"] == FORMAT == 1
    assert doc["flow"] == {"name": "Sample flow", "version": 1, "family": str(flow.family)}
    assert doc["rule_set"] == {"name": "Sample", "root_rule": "flowr.sample_rules.A"}
    assert doc["nodes"] == [
        {"id": "n1", "rule": "flowr.sample_rules.A", "data": {}},
        {"id": "n2", "rule": "flowr.sample_rules.C", "data": {}},
        {"id": "n3", "rule": "flowr.sample_rules.D", "data": {}},
        {"id": "n4", "rule": "flowr.sample_rules.E", "data": {}},
    ]
    assert doc["edges"] == [
        {"source": "n1", "target": "n2", "kind": "backbone"},
        {"source": "n2", "target": "n3", "kind": "backbone"},
        {"source": "n2", "target": "n4", "kind": "backbone"},
        {"source": "n4", "target": "n1", "kind": "link"},
    ]
    json.dumps(doc)  # JSON-ready
    assert list(Draft202012Validator(schema()).iter_errors(doc)) == []


def test_export_is_stable_and_query_count_constant():
    small = sample_flow()
    rs = RuleSet.factory("Chains", Chain)
    children: list = []
    for _ in range(199):
        children = [({"rule": Chain}, children)]
    large = Flow.factory_from_rules("chain", rs, children)
    with CaptureQueriesContext(connection) as a:
        first = export_flow(small)
    with CaptureQueriesContext(connection) as b:
        export_flow(large)
    assert len(a.captured_queries) == len(b.captured_queries) <= 3
    assert export_flow(Flow.objects.get(pk=small.pk)) == first


@pytest.mark.parametrize("build", [sample_flow, wide_flow])
def test_round_trip_same_shape(build):
    flow = build()
    doc = export_flow(flow)
    copy = import_flow(json.loads(json.dumps(doc)))
    assert copy.pk != flow.pk and copy.family != flow.family and copy.version == 1
    assert copy.name == flow.name and copy.rule_set_id == flow.rule_set_id
    assert signature(copy) == signature(flow)
    check_invariants(copy.state_graph)
    second = export_flow(copy)
    assert second["nodes"] == doc["nodes"] and second["edges"] == doc["edges"]


def test_round_trip_of_frozen_flow_gives_editable_flow():
    flow = sample_flow()
    State.start(flow)
    copy = import_flow(export_flow(flow), name="editable")
    assert copy.name == "editable" and not copy.in_use()
    copy.root_data.children_data()[0].children_data()[0].node.remove()  # D
    check_invariants(copy.state_graph)


def test_import_reuses_or_creates_rule_set():
    flow = sample_flow()
    doc = export_flow(flow)
    assert import_flow(doc).rule_set_id == flow.rule_set_id
    doc["rule_set"]["name"] = "Brand new"
    created = import_flow(doc)
    assert created.rule_set.name == "Brand new"
    assert created.rule_set.root_rule is sr.A
    other = RuleSet.factory("Explicit", sr.A)
    assert import_flow(doc, rule_set=other).rule_set_id == other.pk
    assert import_flow(doc, rule_set=other.pk).rule_set_id == other.pk


def _import_queries(size: int) -> int:
    nodes = [{"id": f"x{i}", "rule": Chain.class_label} for i in range(size)]
    edges = [{"source": f"x{i}", "target": f"x{i + 1}", "kind": "backbone"} for i in range(size - 1)]
    edges.append({"source": f"x{size - 1}", "target": "x0", "kind": "link"})
    doc = {
        "format": 1,
        "flow": {"name": f"chain {size}"},
        "rule_set": {"name": "Chains", "root_rule": Chain.class_label},
        "nodes": nodes,
        "edges": edges,
    }
    with CaptureQueriesContext(connection) as ctx:
        flow = import_flow(doc)
    assert Node.objects.filter(graph_id=flow.state_graph_id).count() == size
    check_invariants(flow.state_graph)
    return len(ctx.captured_queries)


def test_import_query_count_does_not_depend_on_size():
    RuleSet.factory("Chains", Chain)
    _import_queries(3)  # warm the content type cache
    assert _import_queries(10) == _import_queries(300) <= 14


def test_import_keeps_document_children_order():
    rs = RuleSet.factory("Wide", Wide)
    doc = {
        "format": 1,
        "flow": {"name": "order"},
        "rule_set": {"name": rs.name, "root_rule": Wide.class_label},
        "nodes": [
            {"id": "root", "rule": Wide.class_label},
            {"id": "c", "rule": Chain.class_label},
            {"id": "l", "rule": Leaf.class_label},
        ],
        "edges": [
            {"source": "root", "target": "c", "kind": "backbone"},
            {"source": "root", "target": "l", "kind": "backbone"},
        ],
    }
    flow = import_flow(doc)
    assert [d.rule_name for d in flow.nodes_data()] == ["Wide", "Chain", "Leaf"]
