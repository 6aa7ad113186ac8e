"""The editor's pages (flowr.views): access, escaping, no writes, query counts."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flowr import sample_rules
from flowr.models import Flow, FlowNodeData, Node, RuleSet, State
from flowr.views import rule_set_graph_elements
from tests.api_fixtures import EDIT_PERMS, make_user
from tests.graph_document import graph_edges, graph_nodes
from tests.testapp.rules import Chain

pytestmark = pytest.mark.django_db

XSS = "</script><script>alert(1)</script>"


@pytest.fixture
def rule_set():
    return RuleSet.factory("Samples", sample_rules.A)


@pytest.fixture
def flow(rule_set):
    """A -> C;  C -> D, E;  E -> A (a loop back to the root)."""
    flow = Flow.factory("Order", rule_set)
    root = flow.root_data
    c = root.add_child_rule(sample_rules.C)
    c.add_child_rule(sample_rules.D)
    e = c.add_child_rule(sample_rules.E)
    e.connect_child(root)
    return flow


@pytest.fixture
def staff(db):
    """A staff user with the flow and rule set permissions: staff alone opens no page."""
    return make_user("staff", *EDIT_PERMS, is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def node_of(flow: Flow, rule) -> FlowNodeData:
    return FlowNodeData.objects.get(node__graph=flow.state_graph, rule_label=rule.class_label)


def page_urls(flow: Flow) -> list[str]:
    return [
        reverse("flowr:flow_editor", kwargs={"pk": flow.pk}),
        reverse("flowr:rule_set_graph", kwargs={"pk": flow.rule_set_id}),
        reverse("flowr:node_edit_screen", kwargs={"pk": node_of(flow, sample_rules.C).node_id}),
    ]


def json_script(response, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode())
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


# -- access ------------------------------------------------------------------
def test_urls_are_where_the_contract_says(flow):
    assert reverse("flowr:flow_editor", kwargs={"pk": 7}) == "/flowr/flows/7/edit/"
    assert reverse("flowr:rule_set_graph", kwargs={"pk": 7}) == "/flowr/rule-sets/7/graph/"
    assert reverse("flowr:node_edit_screen", kwargs={"pk": 7}) == "/flowr/nodes/7/edit-screen/"


def test_anonymous_users_are_sent_to_the_admin_login(client, flow):
    for url in page_urls(flow):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login") + "?next=")
        assert url in response["Location"].replace("%2F", "/")


def test_logged_in_non_staff_users_get_403(client, django_user_model, flow):
    client.force_login(django_user_model.objects.create_user("joe", password="pw"))
    for url in page_urls(flow):
        assert client.get(url).status_code == 403


def test_inactive_staff_is_refused(client, django_user_model, flow):
    user = django_user_model.objects.create_user("old", password="pw", is_staff=True)
    client.force_login(user)
    user.is_active = False
    user.save()
    for url in page_urls(flow):
        assert client.get(url).status_code in (302, 403)


def test_staff_users_with_the_permissions_see_the_pages(staff_client, flow):
    for url in page_urls(flow):
        assert staff_client.get(url).status_code == 200


def test_staff_without_the_permissions_get_403(client, flow):
    client.force_login(make_user("bare", is_staff=True))
    for url in page_urls(flow):
        assert client.get(url).status_code == 403


def test_view_permission_opens_the_rule_graph_only(client, flow):
    client.force_login(make_user("viewer", "flowr.view_flow", "flowr.view_ruleset", is_staff=True))
    editor, graph, screen = page_urls(flow)
    assert [client.get(url).status_code for url in (editor, graph, screen)] == [403, 200, 403]


@pytest.mark.parametrize("name", ["flowr:flow_editor", "flowr:rule_set_graph", "flowr:node_edit_screen"])
def test_unknown_ids_are_404(staff_client, name):
    assert staff_client.get(reverse(name, kwargs={"pk": 999999})).status_code == 404


def test_pages_only_answer_get(staff_client, flow):
    editor, rules, _ = page_urls(flow)
    for url in (editor, rules):
        assert staff_client.head(url).status_code == 200
        assert staff_client.post(url).status_code == 405
        assert staff_client.delete(url).status_code == 405


# -- the editor page -----------------------------------------------------------
def test_editor_extends_the_admin_and_embeds_the_graph(staff_client, flow):
    response = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    html = response.content.decode()
    assert 'id="site-name"' in html  # the admin's header
    assert "flowr/vendor/cytoscape/cytoscape.min.js" in html
    assert 'type="module" src="/static/flowr/js/editor.js"' in html
    assert "csrfmiddlewaretoken" in html
    payload = json_script(response, "flowr-graph-data")
    assert payload["flow"]["name"] == "Order"
    assert payload["flow"]["frozen"] is False
    nodes = {n["rule_name"]: n for n in graph_nodes(payload).values()}
    assert set(nodes) == {"A", "C", "D", "E"}
    assert nodes["A"]["is_root"] and not nodes["A"]["can_remove"]
    assert [r["name"] for r in nodes["C"]["allowed_child_rules"]] == []
    assert nodes["C"]["full_reason"]
    assert nodes["C"]["has_edit_screen"] and nodes["C"]["multiple_paths"]
    kinds = sorted(kind for _, _, kind in graph_edges(payload))
    assert kinds == ["backbone"] * 3 + ["link"]
    config = json_script(response, "flowr-config")
    assert config["flow_id"] == flow.pk
    assert config["api"] == "/flowr/api/"
    assert config["editor_url"] == "/flowr/flows/{id}/edit/"
    assert config["edit_screen_url"] == "/flowr/nodes/{id}/edit-screen/"


def test_editor_payload_is_what_the_api_reloads(staff_client, flow):
    """The first render and the JavaScript's reloads after each edit agree."""
    State.start(flow)
    response = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    config = json_script(response, "flowr-config")
    api = staff_client.get(f"{config['api']}flows/{flow.pk}/graph/", HTTP_ACCEPT="application/json")
    assert api.status_code == 200
    assert json_script(response, "flowr-graph-data") == api.json()


def test_flow_name_is_escaped_everywhere(staff_client, rule_set):
    flow = Flow.factory(XSS, rule_set)
    response = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    html = response.content.decode()
    assert XSS not in html
    assert "<script>alert(1)" not in html
    assert "\\u003C/script\\u003E\\u003Cscript\\u003Ealert(1)" in html  # inside json_script
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html  # in the title and the name field
    assert json_script(response, "flowr-graph-data")["flow"]["name"] == XSS


def test_rule_set_name_is_escaped(staff_client):
    rule_set = RuleSet.factory(XSS, sample_rules.A)
    html = staff_client.get(reverse("flowr:rule_set_graph", kwargs={"pk": rule_set.pk})).content.decode()
    assert XSS not in html and "<script>alert(1)" not in html


def test_frozen_flow_opens_with_the_banner(staff_client, flow):
    State.start(flow)
    html = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk})).content.decode()
    assert re.search(r'<div id="flowr-frozen"[^>]*role="status">', html)  # no "hidden"
    assert 'id="flowr-clone"' in html
    assert "flowr-readonly" in html


def test_editable_flow_hides_the_frozen_banner(staff_client, flow):
    html = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk})).content.decode()
    assert re.search(r'<div id="flowr-frozen"[^>]*hidden>', html)


def test_missing_rule_is_shown_not_a_500(staff_client, flow):
    FlowNodeData.objects.filter(pk=node_of(flow, sample_rules.D).pk).update(rule_label="tests.testapp.rules.Gone")
    response = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    assert response.status_code == 200
    nodes = list(graph_nodes(json_script(response, "flowr-graph-data")).values())
    gone = next(n for n in nodes if n["rule_label"] == "tests.testapp.rules.Gone")
    assert gone["missing_rule"] and gone["rule_name"] == "Gone" and gone["allowed_child_rules"] == []


# -- the rule set page ------------------------------------------------------------
def test_rule_set_graph_elements(staff_client, rule_set):
    response = staff_client.get(reverse("flowr:rule_set_graph", kwargs={"pk": rule_set.pk}))
    elements = json_script(response, "flowr-rules-data")
    nodes = {n["data"]["rule_name"]: n["data"] for n in elements["nodes"]}
    assert list(nodes) == ["A", "B", "C", "D", "E"]
    assert nodes["A"]["is_root"] and nodes["C"]["multiple_paths"] and nodes["C"]["has_edit_screen"]
    pairs = {(e["data"]["source"].rsplit(".", 1)[1], e["data"]["target"].rsplit(".", 1)[1]) for e in elements["edges"]}
    assert pairs == {("A", "B"), ("A", "C"), ("C", "D"), ("C", "E"), ("E", "A")}


def test_rule_graph_shows_self_loops_and_missing_rules():
    rule_set = RuleSet.factory("Chains", Chain)
    elements = rule_set_graph_elements(rule_set)
    assert [e["data"]["source"] for e in elements["edges"]] == [Chain.class_label]
    assert elements["edges"][0]["data"]["target"] == Chain.class_label
    RuleSet.objects.filter(pk=rule_set.pk).update(root_rule_label="tests.testapp.rules.Gone")
    rule_set.refresh_from_db()
    elements = rule_set_graph_elements(rule_set)
    assert elements == {
        "nodes": [
            {
                "data": {
                    "id": "tests.testapp.rules.Gone",
                    "label": "Gone",
                    "rule_label": "tests.testapp.rules.Gone",
                    "rule_name": "Gone",
                    "verbose_name": "Gone",
                    "missing_rule": True,
                    "is_root": True,
                    "multiple_paths": False,
                    "has_edit_screen": False,
                    "children": [],
                }
            }
        ],
        "edges": [],
    }


def test_rule_set_with_a_missing_root_rule_still_renders(staff_client):
    rule_set = RuleSet.factory("Broken", sample_rules.A)
    RuleSet.objects.filter(pk=rule_set.pk).update(root_rule_label="nowhere.Gone")
    response = staff_client.get(reverse("flowr:rule_set_graph", kwargs={"pk": rule_set.pk}))
    assert response.status_code == 200
    assert "missing rule" in response.content.decode()


# -- the edit screen -----------------------------------------------------------------
FRAGMENT = {"HTTP_X_FLOWR_FRAGMENT": "1"}


def test_edit_screen_is_the_rules_html(staff_client, flow):
    c = node_of(flow, sample_rules.C)
    response = staff_client.get(reverse("flowr:node_edit_screen", kwargs={"pk": c.node_id}), **FRAGMENT)
    html = response.content.decode()
    assert '<div class="flowr-edit-screen"><h3>Rule C</h3>' in html  # trusted: not escaped
    assert f"Node {c.node_id}:" in html
    assert "<html" not in html  # a fragment
    assert "X-Flowr-Fragment" in response["Vary"]


def test_edit_screen_opened_directly_is_an_admin_page(staff_client, flow):
    c = node_of(flow, sample_rules.C)
    Flow.objects.filter(pk=flow.pk).update(name=XSS)
    html = staff_client.get(reverse("flowr:node_edit_screen", kwargs={"pk": c.node_id})).content.decode()
    assert 'id="site-name"' in html and '<div class="flowr-edit-screen"><h3>Rule C</h3>' in html
    assert reverse("flowr:flow_editor", kwargs={"pk": flow.pk}) in html
    assert XSS not in html


def test_edit_screen_404_without_one_or_without_the_rule(staff_client, flow):
    d = node_of(flow, sample_rules.D)
    url = reverse("flowr:node_edit_screen", kwargs={"pk": d.node_id})
    assert staff_client.get(url).status_code == 404
    FlowNodeData.objects.filter(pk=d.pk).update(rule_label="tests.testapp.rules.Gone")
    assert staff_client.get(url).status_code == 404


def test_edit_screen_post_needs_csrf(client, staff, flow):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff)
    url = reverse("flowr:node_edit_screen", kwargs={"pk": node_of(flow, sample_rules.C).node_id})
    assert csrf_client.post(url).status_code == 403


# -- no writes, bounded queries ------------------------------------------------------------
def test_get_changes_nothing(staff_client, flow):
    State.start(flow)
    staff_client.get(page_urls(flow)[0])  # warm caches (content types, session)
    for url in page_urls(flow):
        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get(url).status_code == 200
        writes = [q["sql"] for q in ctx.captured_queries if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.I)]
        assert writes == [], writes


def _chain_flow(length: int) -> Flow:
    flow = Flow.factory(f"Chain {length}", RuleSet.factory("Chains", Chain))
    data = flow.root_data
    for _ in range(length - 1):
        data = data.add_child_rule(Chain)
    return flow


@pytest.mark.parametrize("length", [3, 40])
def test_editor_query_count_is_constant(staff_client, django_assert_max_num_queries, length):
    flow = _chain_flow(length)
    State.start(flow)
    url = reverse("flowr:flow_editor", kwargs={"pk": flow.pk})
    staff_client.get(url)
    with django_assert_max_num_queries(10):
        response = staff_client.get(url)
    assert len(json_script(response, "flowr-graph-data")["nodes"]) == length


def test_editor_query_count_does_not_grow(staff_client):
    small, big = _chain_flow(3), _chain_flow(40)
    counts = []
    for flow in (small, big):
        url = reverse("flowr:flow_editor", kwargs={"pk": flow.pk})
        staff_client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            staff_client.get(url)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_rule_set_and_edit_screen_query_counts(staff_client, django_assert_max_num_queries, flow):
    rules_url, screen_url = page_urls(flow)[1:]
    staff_client.get(rules_url)
    # session, user, rule set, the admin's permission checks (user + groups)
    with django_assert_max_num_queries(5):
        staff_client.get(rules_url)
    # session, user, the permission check (user + groups), node data
    with django_assert_max_num_queries(5):
        staff_client.get(screen_url, **FRAGMENT)
    # as a page: + the flow, the admin's permission checks
    with django_assert_max_num_queries(6):
        staff_client.get(screen_url)


def test_node_pks_are_graph_nodes(staff_client, flow):
    response = staff_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    ids = set(graph_nodes(json_script(response, "flowr-graph-data")))
    assert ids == set(Node.objects.filter(graph=flow.state_graph).values_list("pk", flat=True))
