"""The API of issue 14: disconnect, insert, change rule, undo / redo, the
edit log, revisions and the 409 of a stale edit, the node detail's new
fields."""

from __future__ import annotations

from typing import Any

import pytest

from flowr import edits
from flowr import sample_rules as S
from flowr.models import Flow, FlowEdit, FlowNodeData, RuleSet, State
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    build_flow,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    flow_shape,
    node_of,
    rule_set_fixture,
    snapshot,
    users_fixture,
)
from tests.testapp import rules as T


def post(api: Any, url: str, body: Any = None) -> Any:
    return api.post(API + url, body if body is not None else {}, format="json")


def revision(api: Any, flow: Flow) -> int:
    return int(api.get(f"{API}/flows/{flow.pk}/graph/").json()["flow"]["revision"])


def test_graph_document_carries_revision_undo_and_redo(api, flow):
    doc = api.get(f"{API}/flows/{flow.pk}/graph/").json()["flow"]
    assert doc["revision"] == 5
    assert doc["undo"] == {"seq": 5, "operation": "connect", "description": "connect E to A"}
    assert doc["redo"] is None
    assert post(api, f"/flows/{flow.pk}/undo/").status_code == 200
    doc = api.get(f"{API}/flows/{flow.pk}/graph/").json()["flow"]
    assert doc["revision"] == 6 and doc["redo"]["description"] == "connect E to A"
    assert doc["undo"]["description"] == "add E under C"


def test_node_detail_new_fields(api, flow):
    c, d, e, a = (node_of(flow, r) for r in (S.C, S.D, S.E, S.A))
    body = api.get(f"{API}/nodes/{c}/").json()
    assert [link["child"] for link in body["links"]] == [d, e]
    assert all(link["backbone"] and not link["can_disconnect"] for link in body["links"])
    assert body["links"][0]["reason"].startswith("Deleting this link would cut D (node")
    assert body["insert_options"] == [{"child": d, "rules": []}, {"child": e, "rules": []}]
    assert body["rule_options"] == [] and body["rule_reason"]
    e_body = api.get(f"{API}/nodes/{e}/").json()
    assert e_body["links"] == [{"child": a, "backbone": False, "can_disconnect": True, "reason": None}]
    root = api.get(f"{API}/nodes/{a}/").json()
    assert root["rule_reason"] == "The root's rule is the rule set's root rule; it cannot be changed."
    assert root["prune_above"] == []


def test_prune_above_names_the_ancestor_and_why(api, rule_set):
    """A -> C -> E, E -> C (C allows E; E allows A only: use a loop via connect)."""
    flow = Flow.factory("f", rule_set)
    c = flow.root_data.add_child_rule(S.C)
    e = c.add_child_rule(S.E)
    e.connect_child(flow.root_data)
    # prune E: reaches A (the root, never pruned) - nothing above goes
    assert api.get(f"{API}/nodes/{e.node_id}/").json()["prune_above"] == []
    chains = RuleSet.factory("chains", T.Chain)
    chain = Flow.factory("chain", chains)
    one = chain.root_data.add_child_rule(T.Chain)
    two = one.add_child_rule(T.Chain)
    three = two.add_child_rule(T.Chain)
    three.connect_child(one)  # loops back above two
    body = api.get(f"{API}/nodes/{two.node_id}/").json()
    assert body["prune_above"] == [{"node": one.node_id, "rule_name": "Chain", "because": "Chain loops back to it"}]
    assert set(body["prune_list"]) == {one.node_id, two.node_id, three.node_id}


def test_disconnect(api, flow):
    e, a = node_of(flow, S.E), node_of(flow, S.A)
    response = post(api, f"/nodes/{e}/disconnect/", {"child": a})
    assert response.status_code == 200, response.json()
    assert response.json()["children"] == []
    assert ("E", "A") not in flow_shape(flow)
    assert FlowEdit.objects.filter(flow=flow).latest("seq").operation == "disconnect"


def test_disconnect_refused(api, flow):
    c, d = node_of(flow, S.C), node_of(flow, S.D)
    before = snapshot()
    response = post(api, f"/nodes/{c}/disconnect/", {"child": d})
    assert response.status_code == 400 and response.json()["code"] == "cannot_disconnect"
    response = post(api, f"/nodes/{d}/disconnect/", {"child": c})
    assert response.status_code == 400 and response.json()["code"] == "not_a_child"
    assert snapshot() == before


def test_insert(api, chain_set):
    flow = Flow.factory("chain", chain_set)
    one = flow.root_data.add_child_rule(T.Chain)
    root = flow.state_graph.root_id
    response = post(api, f"/nodes/{root}/insert/", {"rule": T.Chain.class_label, "child": one.node_id})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["parents"] == [root] and body["children"] == [one.node_id]
    assert FlowEdit.objects.filter(flow=flow).latest("seq").operation == "insert"


def test_insert_refused(api, flow):
    a, c = node_of(flow, S.A), node_of(flow, S.C)
    before = snapshot()
    response = post(api, f"/nodes/{a}/insert/", {"rule": S.B.class_label, "child": c})
    assert response.status_code == 400 and response.json()["code"] == "rule_not_allowed"
    assert "C is not a valid child of rule B" in response.json()["detail"]
    assert snapshot() == before


def test_change_rule(api, rule_set):
    flow = Flow.factory("f", rule_set)
    c = flow.root_data.add_child_rule(S.C)
    d = c.add_child_rule(S.D)
    detail = api.get(f"{API}/nodes/{d.node_id}/").json()
    assert detail["rule_options"] == [{"label": S.E.class_label, "name": "E", "verbose_name": "E"}]
    response = post(api, f"/nodes/{d.node_id}/rule/", {"rule": S.E.class_label})
    assert response.status_code == 200, response.json()
    assert response.json()["rule_name"] == "E"


def test_change_rule_refused(api, flow):
    before = snapshot()
    response = post(api, f"/nodes/{node_of(flow, S.C)}/rule/", {"rule": S.B.class_label})
    assert response.status_code == 400 and response.json()["code"] == "rule_not_allowed"
    response = post(api, f"/nodes/{node_of(flow, S.A)}/rule/", {"rule": S.B.class_label})
    assert response.status_code == 400 and "root" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/nodes/{C}/disconnect/", {}),
        ("/nodes/{C}/disconnect/", {"child": "1"}),
        ("/nodes/{C}/disconnect/", {"child": True}),
        ("/nodes/{C}/disconnect/", {"child": 1, "extra": 1}),
        ("/nodes/{C}/insert/", {"rule": 5, "child": 1}),
        ("/nodes/{C}/insert/", {"rule": "no.such.Rule", "child": "{D}"}),
        ("/nodes/{C}/rule/", {"rule": None}),
        ("/nodes/{C}/rule/", {"rule": "no.such.Rule"}),
        ("/nodes/{C}/rule/", {"rule": S.E.class_label, "revision": -1}),
        ("/nodes/{C}/rule/", {"rule": S.E.class_label, "revision": "3"}),
        ("/flows/{flow}/undo/", {"revision": 1.5}),
        ("/flows/{flow}/redo/", {"x": 1}),
    ],
)
def test_bad_input_is_400_and_changes_nothing(api, flow, url, body):
    names = {"C": node_of(flow, S.C), "D": node_of(flow, S.D), "flow": flow.pk}
    body = {k: (names[v[1:-1]] if isinstance(v, str) and v[1:-1] in names else v) for k, v in body.items()}
    before = snapshot()
    response = post(api, url.format(**names), body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] in ("invalid", "invalid_rule", "missing_rule", "not_a_child")
    assert snapshot() == before


def test_undo_redo_and_the_edit_log(api, flow, users):
    e, a = node_of(flow, S.E), node_of(flow, S.A)
    assert post(api, f"/nodes/{e}/disconnect/", {"child": a}).status_code == 200
    response = post(api, f"/flows/{flow.pk}/undo/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["revision"] == 7
    assert body["edit"]["operation"] == "disconnect" and body["edit"]["undone"] is True
    assert body["edit"]["actor"] == "admin"
    assert ("E", "A") in flow_shape(flow)
    response = post(api, f"/flows/{flow.pk}/redo/")
    assert response.status_code == 200 and response.json()["edit"]["undone"] is False
    assert post(api, f"/flows/{flow.pk}/redo/").json()["code"] == "nothing_to_redo"
    log = api.get(f"{API}/flows/{flow.pk}/edits/").json()
    assert log["count"] == 8
    assert [row["operation"] for row in log["results"]] == [
        "create",
        "add",
        "add",
        "add",
        "connect",
        "disconnect",
        "undo",
        "redo",
    ]
    first = log["results"][0]
    assert set(first) == {"seq", "actor", "operation", "description", "created", "undone"}
    assert first["actor"] is None and log["results"][-1]["actor"] == "admin"


def test_nothing_to_undo_is_409(api, rule_set):
    flow = Flow.factory("f", rule_set)
    response = post(api, f"/flows/{flow.pk}/undo/")
    assert response.status_code == 409 and response.json()["code"] == "nothing_to_undo"


def test_frozen_flow_refuses_the_new_edits(api, flow):
    State.start(flow)
    before = snapshot()
    e, a = node_of(flow, S.E), node_of(flow, S.A)
    for url, body in [
        (f"/nodes/{e}/disconnect/", {"child": a}),
        (f"/nodes/{a}/insert/", {"rule": S.C.class_label, "child": node_of(flow, S.C)}),
        (f"/nodes/{node_of(flow, S.D)}/rule/", {"rule": S.E.class_label}),
        (f"/flows/{flow.pk}/undo/", {}),
    ]:
        response = post(api, url, body)
        assert response.status_code == 409 and response.json()["code"] == "flow_frozen", url
    assert snapshot() == before


def test_two_editors_a_stale_conflicting_edit_is_409(client_for, flow, users):
    first, second = client_for("admin"), client_for("editor")
    seen = revision(first, flow)
    d, c = node_of(flow, S.D), node_of(flow, S.C)
    assert first.delete(f"{API}/nodes/{d}/").status_code == 204
    before = snapshot()
    # the second editor, on the old revision, adds under C (touched by the removal)
    response = post(second, f"/nodes/{c}/children/", {"rule": S.D.class_label, "revision": seen})
    assert response.status_code == 409 and response.json()["code"] == "concurrent_edit"
    assert response.json()["detail"].startswith(f"Node {c} was changed by another edit (remove D (node {d})")
    # an edit on the removed node itself: 409 naming it, not 404
    response = post(second, f"/nodes/{d}/rule/", {"rule": S.E.class_label, "revision": seen})
    assert response.status_code == 409, response.json()
    detail = response.json()["detail"]
    assert detail.startswith(f"Node {d} (D) was removed by another edit (admin, ") and detail.endswith(
        "reload the flow."
    )
    assert "null" not in detail and "None" not in detail
    response = second.delete(f"{API}/nodes/{d}/?revision={seen}")
    assert response.status_code == 409
    # without a revision: the plain 404
    assert post(second, f"/nodes/{d}/rule/", {"rule": S.E.class_label}).status_code == 404
    assert snapshot() == before


def test_two_editors_a_stale_edit_that_does_not_conflict_is_applied(client_for, flow, users):
    first, second = client_for("admin"), client_for("editor")
    seen = revision(first, flow)
    e, a = node_of(flow, S.E), node_of(flow, S.A)
    assert post(first, f"/nodes/{e}/disconnect/", {"child": a}).status_code == 200
    response = second.delete(f"{API}/nodes/{node_of(flow, S.D)}/?revision={seen}")
    assert response.status_code == 204
    assert FlowEdit.objects.filter(flow=flow).latest("seq").actor_repr == "editor"


def test_rename_takes_a_revision(api, flow):
    seen = revision(api, flow)
    assert api.patch(f"{API}/flows/{flow.pk}/", {"name": "one", "revision": seen}, format="json").status_code == 200
    response = api.patch(f"{API}/flows/{flow.pk}/", {"name": "two", "revision": seen}, format="json")
    assert response.status_code == 409 and "rename flow 'flow' to 'one'" in response.json()["detail"]


def test_undo_with_a_stale_revision_is_409(api, flow):
    seen = revision(api, flow)
    edits.remove(FlowNodeData.objects.get(node_id=node_of(flow, S.D)).node)
    response = post(api, f"/flows/{flow.pk}/undo/", {"revision": seen})
    assert response.status_code == 409 and response.json()["code"] == "concurrent_edit"


@pytest.mark.parametrize("who", [None, "nobody", "staff", "runner"])
def test_the_new_edits_need_the_change_permission(client_for, flow, users, who):
    client = client_for(who)
    before = snapshot()
    e, a = node_of(flow, S.E), node_of(flow, S.A)
    for url, body in [
        (f"/nodes/{e}/disconnect/", {"child": a}),
        (f"/nodes/{node_of(flow, S.D)}/rule/", {"rule": S.E.class_label}),
        (f"/flows/{flow.pk}/undo/", {}),
        (f"/flows/{flow.pk}/redo/", {}),
    ]:
        assert post(client, url, body).status_code == (401 if who is None else 403)
    assert client.get(f"{API}/flows/{flow.pk}/edits/").status_code == (401 if who is None else 403)
    assert snapshot() == before
