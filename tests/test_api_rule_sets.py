"""``/flowr/api/rule-sets/``."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules
from flowr.models import RuleSet
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    rule_set_fixture,
    users_fixture,
)


def test_list(api, rule_set):
    body = api.get(f"{API}/rule-sets/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == rule_set.pk
    assert row["name"] == "sample"
    assert row["root_rule"] == "flowr.sample_rules.A"
    assert row["root_rule_name"] == "A"
    assert row["missing_rule"] is False


def test_create(api, db):
    response = api.post(f"{API}/rule-sets/", {"name": "mine", "root_rule": "flowr.sample_rules.C"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    created = RuleSet.objects.get(pk=body["id"])
    assert created.name == "mine" and created.root_rule is sample_rules.C
    assert {n["data"]["id"] for n in body["elements"]["nodes"]} == {"A", "B", "C", "D", "E"}


def test_detail_has_rule_graph(api, rule_set):
    body = api.get(f"{API}/rule-sets/{rule_set.pk}/").json()
    nodes = {n["data"]["id"]: n["data"] for n in body["elements"]["nodes"]}
    assert nodes["A"]["is_root"] is True and nodes["C"]["multiple_paths"] is True
    assert nodes["C"]["rule_label"] == "flowr.sample_rules.C"
    edges = {(e["data"]["source"], e["data"]["target"]) for e in body["elements"]["edges"]}
    assert edges == {("A", "B"), ("A", "C"), ("C", "D"), ("C", "E"), ("E", "A")}


def test_missing_root_rule_is_shown_not_500(api, db):
    gone = RuleSet.objects.create(name="gone", root_rule_label="nowhere.Gone")
    body = api.get(f"{API}/rule-sets/{gone.pk}/").json()
    assert body["missing_rule"] is True and body["root_rule_name"] == "Gone"
    assert body["elements"] == {"nodes": [], "edges": []}


def test_diagram(api, rule_set):
    dot = api.get(f"{API}/rule-sets/{rule_set.pk}/diagram/?format=dot")
    assert dot.status_code == 200 and dot["Content-Type"].startswith("text/vnd.graphviz")
    assert dot.content.decode().startswith("digraph")
    mermaid = api.get(f"{API}/rule-sets/{rule_set.pk}/diagram/?format=mermaid")
    assert mermaid.status_code == 200 and "flowchart" in mermaid.content.decode()
    default = api.get(f"{API}/rule-sets/{rule_set.pk}/diagram/")
    assert default.content == dot.content


def test_list_constant_queries(api, db, django_assert_max_num_queries):
    for i in range(5):
        RuleSet.factory(f"rs{i}", sample_rules.A)
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/rule-sets/").json()["count"] == 5
    for i in range(45):
        RuleSet.factory(f"more{i}", sample_rules.A)
    with django_assert_max_num_queries(len(small)):
        assert len(api.get(f"{API}/rule-sets/").json()["results"]) == 50
