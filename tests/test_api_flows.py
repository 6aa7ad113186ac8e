"""``/flowr/api/flows/``: CRUD, graph, clone, export/import, diagram."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules
from flowr.models import DCCGraph, Flow, FlowNodeData, Node, RuleSet, State
from flowr.readmodel import FlowGraph
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    big_chain_flow,
    big_wide_flow,
    build_flow,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    flow_shape,
    node_of,
    rule_set_fixture,
    users_fixture,
    wide_set_fixture,
)
from tests.graph_document import graph_edges, graph_nodes


def test_list(api, flow):
    State.start(build_flow(flow.rule_set, "used"))
    rows = {r["name"]: r for r in api.get(f"{API}/flows/").json()["results"]}
    assert rows["flow"]["frozen"] is False and rows["flow"]["state_count"] == 0
    assert rows["used"]["frozen"] is True and rows["used"]["state_count"] == 1
    assert rows["flow"]["root_node"] == flow.state_graph.root_id
    assert rows["flow"]["rule_set_name"] == "sample" and rows["flow"]["version"] == 1


def test_create(api, rule_set):
    response = api.post(f"{API}/flows/", {"name": "new", "rule_set": rule_set.pk}, format="json")
    assert response.status_code == 201, response.json()
    flow = Flow.objects.get(pk=response.json()["id"])
    assert flow.name == "new" and flow.root_data.rule is sample_rules.A
    assert response.json()["root_node"] == flow.state_graph.root_id


def test_retrieve(api, flow):
    body = api.get(f"{API}/flows/{flow.pk}/").json()
    assert body["id"] == flow.pk and body["family"] == str(flow.family)


def test_rename(api, flow):
    response = api.patch(f"{API}/flows/{flow.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "renamed"
    flow.refresh_from_db()
    assert flow.name == "renamed"


def test_delete_deletes_graph(api, flow):
    graph_id = flow.state_graph_id
    assert api.delete(f"{API}/flows/{flow.pk}/").status_code == 204
    assert not Flow.objects.filter(pk=flow.pk).exists()
    assert not DCCGraph.objects.filter(pk=graph_id).exists()
    assert not Node.objects.filter(graph_id=graph_id).exists()


def test_graph(api, flow):
    body = api.get(f"{API}/flows/{flow.pk}/graph/").json()
    assert body["flow"] == {
        "id": flow.pk,
        "name": "flow",
        "version": 1,
        "family": str(flow.family),
        "frozen": False,
        "state_count": 0,
        "rule_set": flow.rule_set_id,
        "rule_set_name": "sample",
        "root_node": flow.state_graph.root_id,
        "revision": 5,  # create, add C, add D, add E, connect
        "undo": {"seq": 5, "operation": "connect", "description": "connect E to A"},
        "redo": None,
    }
    a, c, d, e = (node_of(flow, r) for r in (sample_rules.A, sample_rules.C, sample_rules.D, sample_rules.E))
    nodes = graph_nodes(body)
    assert list(nodes)[0] == a and nodes[a]["is_root"] and not nodes[a]["can_remove"]
    assert nodes[c]["children"] == [d, e] and nodes[c]["max_children"] == 2
    assert nodes[c]["has_edit_screen"] and nodes[c]["multiple_paths"]
    assert nodes[c]["cannot_remove_reason"] and not nodes[c]["can_remove"]
    assert nodes[d]["can_remove"] and nodes[d]["cannot_remove_reason"] is None
    assert nodes[d]["full_reason"] and nodes[d]["allowed_child_rules"] == []
    assert sorted(graph_edges(body)) == sorted(
        [(a, c, "backbone"), (c, d, "backbone"), (c, e, "backbone"), (e, a, "link")]
    )
    # what nodes share is listed once
    assert [r["name"] for r in body["rules"]] == ["A", "C", "D", "E"]
    assert len(body["child_options"]) == len(
        {(n["full_reason"], str(n["allowed_child_rules"])) for n in nodes.values()}
    )
    assert body["removals"][body["nodes"][0][5]] == {"can_remove": False, "reason": "The root node cannot be removed."}


def test_graph_document_says_what_node_detail_says(api, rule_set):
    """Every node of the document, read through its tables, is what
    ``nodes/<id>/`` says of it."""
    flow = Flow.factory("partial", rule_set)
    c = flow.root_data.add_child_rule(sample_rules.C)
    e = c.add_child_rule(sample_rules.E)
    e.connect_child(flow.root_data)
    State.start(flow)
    body = api.get(f"{API}/flows/{flow.pk}/graph/").json()
    assert body["node_columns"] == [
        "node",
        "backbone_parent",
        "children",
        "rule",
        "child_options",
        "removal",
        "state_count",
        "timer",
    ]
    nodes = graph_nodes(body)
    assert len(nodes) == 3
    for pk, data in nodes.items():
        detail = api.get(f"{API}/nodes/{pk}/").json()
        for key in ("id", "flow", "parents", "prune_list", "prune_above", "links", "insert_options"):
            del detail[key]
        for key in ("rule_options", "rule_reason", "settings", "settings_schema"):  # the detail's alone
            del detail[key]
        assert data == detail


def test_graph_agrees_with_the_models(api, rule_set):
    flow = Flow.factory("partial", rule_set)
    c = flow.root_data.add_child_rule(sample_rules.C)
    c.add_child_rule(sample_rules.E)
    nodes = graph_nodes(api.get(f"{API}/flows/{flow.pk}/graph/").json())
    for data in FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).select_related("node"):
        row = nodes[data.node_id]
        assert row["can_remove"] == data.node.can_remove()
        assert [r["label"] for r in row["allowed_child_rules"]] == [r.class_label for r in data.allowed_child_rules()]
    assert [r["name"] for r in nodes[c.node_id]["allowed_child_rules"]] == ["D"]
    assert nodes[c.node_id]["full_reason"] is None


def test_graph_of_frozen_flow_and_state_counts(api, flow):
    State.start(flow)
    State.start(flow)
    body = api.get(f"{API}/flows/{flow.pk}/graph/").json()
    assert body["flow"]["frozen"] is True and body["flow"]["state_count"] == 2
    root = flow.state_graph.root_id
    counts = {pk: n["state_count"] for pk, n in graph_nodes(body).items()}
    assert counts[root] == 2 and sum(counts.values()) == 2


def test_graph_with_missing_rule_is_not_500(api, flow):
    d = node_of(flow, sample_rules.D)
    FlowNodeData.objects.filter(node_id=d).update(rule_label="gone.module.Vanished")
    response = api.get(f"{API}/flows/{flow.pk}/graph/")
    assert response.status_code == 200
    row = graph_nodes(response.json())[d]
    assert row["missing_rule"] is True and row["rule_name"] == "Vanished"
    assert row["max_children"] is None and row["allowed_child_rules"] == [] and "missing" in row["full_reason"]
    assert api.get(f"{API}/nodes/{d}/").status_code == 200


def test_clone(api, flow):
    State.start(flow)
    response = api.post(f"{API}/flows/{flow.pk}/clone/", {"name": "copy"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    copy = Flow.objects.get(pk=body["id"])
    assert body["version"] == 2 and body["frozen"] is False and body["name"] == "copy"
    assert copy.family == flow.family and flow_shape(copy) == flow_shape(flow)


def test_clone_without_body_keeps_name(api, flow):
    response = api.post(f"{API}/flows/{flow.pk}/clone/")
    assert response.status_code == 201 and response.json()["name"] == "flow"


def test_export_import_round_trip(api, flow):
    document = api.get(f"{API}/flows/{flow.pk}/export/").json()
    assert document["format"] == 1 and len(document["nodes"]) == 4
    response = api.post(f"{API}/flows/import/", {"document": document, "name": "again"}, format="json")
    assert response.status_code == 201, response.json()
    imported = Flow.objects.get(pk=response.json()["id"])
    assert imported.name == "again" and flow_shape(imported) == flow_shape(flow)
    response = api.post(f"{API}/flows/import/", {"document": document, "rule_set": flow.rule_set_id}, format="json")
    assert response.status_code == 201 and response.json()["rule_set"] == flow.rule_set_id


@pytest.mark.parametrize("language, start", [("dot", "digraph"), ("mermaid", "---")])
def test_diagram(api, flow, language, start):
    response = api.get(f"{API}/flows/{flow.pk}/diagram/?format={language}")
    assert response.status_code == 200
    assert response.content.decode().startswith(start)


def test_list_constant_queries(api, rule_set, django_assert_max_num_queries):
    for i in range(5):
        State.start(Flow.factory(f"f{i}", rule_set))
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/flows/").json()["count"] == 5
    for i in range(45):
        Flow.factory(f"g{i}", rule_set)
    with django_assert_max_num_queries(len(small)):
        assert len(api.get(f"{API}/flows/").json()["results"]) == 50


@pytest.mark.parametrize("size", [400])
def test_graph_constant_queries_at_hundreds_of_nodes(
    api, flow, chain_set, wide_set, size, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/flows/{flow.pk}/graph/").status_code == 200
    # the flow, its nodes with their States' counts, its edges; what undo and redo would apply
    assert len(small) == 5
    for big in (big_chain_flow(chain_set, size), big_wide_flow(wide_set, 6)):
        assert Node.objects.filter(graph_id=big.state_graph_id).count() >= 300
        State.start(big)
        with django_assert_max_num_queries(len(small)):
            body = api.get(f"{API}/flows/{big.pk}/graph/").json()
        assert len(body["nodes"]) >= 300
        with django_assert_max_num_queries(len(small) + 1):
            node = body["nodes"][-1][0]
            assert api.get(f"{API}/nodes/{node}/").status_code == 200


def test_graph_builder_queries(flow, chain_set, django_assert_num_queries):
    big = big_chain_flow(chain_set, 50)
    for target in (flow, big):
        State.start(target)
        State.start(target).next_state()
        prepared = Flow.objects.select_related("rule_set", "state_graph").get(pk=target.pk)
        with django_assert_num_queries(2):
            loaded = FlowGraph.load(prepared)
        plain = Flow.objects.get(pk=target.pk)
        with django_assert_num_queries(3):  # + the graph and rule set, for a bare flow
            bare = FlowGraph.load(plain)
        assert bare.as_json() == loaded.as_json()
        assert loaded.frozen and sum(loaded.state_counts.values()) == 2 and len(loaded.state_counts) == 2


def test_graph_counts_states_through_the_current_node_index(flow):
    """Each node's count of States is an index lookup on the State's current
    node: a search through the flow's States per node made the graph of a
    10k-node flow with 10k States take seconds."""
    for _ in range(3):
        State.start(flow)
    prepared = Flow.objects.select_related("rule_set", "state_graph").get(pk=flow.pk)
    with CaptureQueriesContext(connection) as ctx:
        graph = FlowGraph.load(prepared)
    assert graph.state_counts == {flow.state_graph.root_id: 3}
    nodes_sql = ctx.captured_queries[0]["sql"]
    assert State._meta.db_table in nodes_sql
    if connection.vendor != "sqlite":
        return  # other planners choose by statistics; SQLite's choice is fixed by the query
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {nodes_sql}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "current_node_id=?" in plan and "flow_id=?" not in plan, plan


def test_removability_matches_the_model_on_big_graphs(chain_set, wide_set):
    for big in (big_chain_flow(chain_set, 60), big_wide_flow(wide_set, 3)):
        graph = FlowGraph.load(Flow.objects.select_related("rule_set", "state_graph").get(pk=big.pk))
        for node in Node.objects.filter(graph_id=big.state_graph_id):
            assert graph.removal(node.pk)[0] == node.can_remove(), node


def test_a_flow_without_the_annotation_is_not_reported_frozen(db) -> None:
    from flowr.api.serializers import FlowSerializer

    flow = Flow.factory("plain", RuleSet.factory("plain", sample_rules.A))
    data = FlowSerializer(flow).data
    assert data["state_count"] == 0 and data["frozen"] is False
    State.start(flow)
    data = FlowSerializer(Flow.objects.get(pk=flow.pk)).data
    assert data["state_count"] == 1 and data["frozen"] is True
