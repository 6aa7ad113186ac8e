"""``/flowr/api/nodes/{id}/``: read a node, add a child, connect, remove, prune."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules
from flowr.models import Flow, Node
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    big_chain_flow,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    flow_shape,
    node_of,
    rule_set_fixture,
    users_fixture,
)
from tests.helpers import check_invariants


def test_retrieve(api, flow):
    c, d, e = (node_of(flow, r) for r in (sample_rules.C, sample_rules.D, sample_rules.E))
    root = flow.state_graph.root_id
    body = api.get(f"{API}/nodes/{c}/").json()
    assert body["id"] == c and body["node"] == c and body["flow"] == flow.pk
    assert body["rule_label"] == "flowr.sample_rules.C" and body["rule_name"] == "C"
    assert body["children"] == [d, e] and body["parents"] == [root]
    assert body["prune_list"] == [c, d, e]
    assert body["can_remove"] is False and body["allowed_child_rules"] == []
    root_body = api.get(f"{API}/nodes/{root}/").json()
    assert root_body["is_root"] is True and root_body["prune_list"] == [] and root_body["parents"] == [e]


def test_add_child(api, rule_set):
    flow = Flow.factory("f", rule_set)
    root = flow.state_graph.root_id
    response = api.post(f"{API}/nodes/{root}/children/", {"rule": "flowr.sample_rules.C"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rule_name"] == "C" and body["parents"] == [root] and body["flow"] == flow.pk
    assert {r["name"] for r in body["allowed_child_rules"]} == {"D", "E"}
    assert flow_shape(flow) == {("A", "C")}
    check_invariants(flow.state_graph)


def test_connect(api, rule_set):
    flow = Flow.factory("f", rule_set)
    c = flow.root_data.add_child_rule(sample_rules.C)
    e = c.add_child_rule(sample_rules.E)
    root = flow.state_graph.root_id
    response = api.post(f"{API}/nodes/{e.node_id}/connect/", {"target": root}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["children"] == [root]
    assert flow_shape(flow) == {("A", "C"), ("C", "E"), ("E", "A")}
    check_invariants(flow.state_graph)


def test_remove(api, flow):
    d = node_of(flow, sample_rules.D)
    assert api.delete(f"{API}/nodes/{d}/").status_code == 204
    assert not Node.objects.filter(pk=d).exists()
    assert flow_shape(flow) == {("A", "C"), ("C", "E"), ("E", "A")}
    check_invariants(flow.state_graph)


def test_prune(api, flow):
    c, d, e = (node_of(flow, r) for r in (sample_rules.C, sample_rules.D, sample_rules.E))
    response = api.post(f"{API}/nodes/{c}/prune/")
    assert response.status_code == 200
    assert response.json() == {"removed": [c, d, e]}
    assert flow_shape(flow) == set()
    assert Node.objects.filter(graph_id=flow.state_graph_id).count() == 1
    check_invariants(flow.state_graph)


def test_prune_with_empty_json_body(api, flow):
    d = node_of(flow, sample_rules.D)
    response = api.post(f"{API}/nodes/{d}/prune/", {}, format="json")
    assert response.status_code == 200 and response.json() == {"removed": [d]}


def test_detail_queries_do_not_grow(api, flow, chain_set, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as small:
        api.get(f"{API}/nodes/{node_of(flow, sample_rules.C)}/")
    big = big_chain_flow(chain_set, 300)
    middle = Node.objects.filter(graph_id=big.state_graph_id).order_by("pk")[150].pk  # a chain: made top down
    with django_assert_max_num_queries(len(small)):
        body = api.get(f"{API}/nodes/{middle}/").json()
    assert len(body["prune_list"]) == 150
