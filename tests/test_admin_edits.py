"""The admin's graph edits and State moves: each works, each refusal is a
message that changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from flowr import sample_rules as S
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, RuleSet, State, StateHistory
from tests.helpers import check_invariants
from tests.test_admin import GONE, admin, build_ae, build_running, snapshot
from tests.testapp.models import Label

pytestmark = pytest.mark.django_db

Nodes = dict[str, FlowNodeData]


@pytest.fixture
def ae() -> tuple[Flow, Nodes]:
    return build_ae()


@pytest.fixture
def running(ae: tuple[Flow, Nodes]) -> State:
    return build_running()


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """POST, expect a redirect, follow it: the messages the next page shows."""
    response = client.post(url, data or {})
    assert response.status_code == 302, (url, response.status_code)
    page = client.get(response["Location"])
    assert page.status_code == 200
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


def refused(found: list[tuple[str, str]], text: str) -> bool:
    return len(found) == 1 and found[0][0] == "error" and text in found[0][1]


# -- add child --------------------------------------------------------------------------
def test_add_child_with_an_allowed_rule(admin_client: Client) -> None:
    flow = Flow.factory("fresh", RuleSet.factory("AE", S.A))
    root = flow.root_data
    found = post(admin_client, admin("flowr_flow_add_child", flow.pk, root.node_id), {"rule": S.C.class_label})
    assert found[0][0] == "success"
    assert [d.rule for d in root.children_data()] == [S.C]
    check_invariants(flow.state_graph)


@pytest.mark.parametrize(
    ("node", "rule", "text"),
    [
        ("C", S.A.class_label, "not a valid child"),  # not in C's children
        ("A", S.B.class_label, "allows only one child"),  # A is full
        ("C", S.D.class_label, "allows at most 2 children"),  # C is full (D and E)
        ("A", "os.system", "Choose one of the rules offered"),  # never imported
        ("A", "", "Choose one of the rules offered"),
    ],
)
def test_add_child_refusals_change_nothing(
    admin_client: Client, ae: tuple[Flow, Nodes], node: str, rule: str, text: str
) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    found = post(admin_client, admin("flowr_flow_add_child", flow.pk, nodes[node].node_id), {"rule": rule})
    assert refused(found, text), found
    assert snapshot(flow) == before


def test_a_duplicate_child_rule_is_refused(admin_client: Client) -> None:
    flow = Flow.factory("fresh", RuleSet.factory("AE", S.A))
    c = flow.root_data.add_child_rule(S.C)
    c.add_child_rule(S.D)
    before = snapshot(flow)
    found = post(admin_client, admin("flowr_flow_add_child", flow.pk, c.node_id), {"rule": S.D.class_label})
    assert refused(found, "already has a child with rule D"), found
    assert snapshot(flow) == before


def test_a_node_of_another_flow_is_refused(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    other, other_nodes = build_ae("other")
    before = (snapshot(flow), snapshot(other))
    url = admin("flowr_flow_add_child", flow.pk, other_nodes["A"].node_id)
    assert refused(post(admin_client, url, {"rule": S.B.class_label}), "not part of the flow")
    url = admin("flowr_flow_connect", flow.pk, nodes["D"].node_id)
    assert refused(post(admin_client, url, {"target": other_nodes["A"].node_id}), "different flows")
    assert (snapshot(flow), snapshot(other)) == before


def test_edits_are_posts_only(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    for name in ["flowr_flow_add_child", "flowr_flow_connect"]:
        assert admin_client.get(admin(name, flow.pk, nodes["A"].node_id) + "?rule=x").status_code == 405
    assert admin_client.get(admin("flowr_flow_clone", flow.pk)).status_code == 405
    assert admin_client.get(admin("flowr_flow_prune", flow.pk, nodes["C"].node_id)).status_code == 200
    assert snapshot(flow) == before


# -- connect ----------------------------------------------------------------------------------
def test_connect_to_an_existing_node(admin_client: Client) -> None:
    flow = Flow.factory("fresh", RuleSet.factory("AE", S.A))
    a = flow.root_data
    e = a.add_child_rule(S.C).add_child_rule(S.E)
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert f'action="{admin("flowr_flow_connect", flow.pk, e.node_id)}"' in page
    found = post(admin_client, admin("flowr_flow_connect", flow.pk, e.node_id), {"target": a.node_id})
    assert found[0][0] == "success", found
    assert Edge.objects.filter(source_id=e.node_id, target_id=a.node_id, backbone=False).exists()
    check_invariants(flow.state_graph)


@pytest.mark.parametrize(
    ("source", "target", "text"),
    [
        ("C", "A", "not a valid child"),
        ("E", "A", "allows only one child"),  # E -> A exists
        ("D", "nonsense", "Choose one of the nodes offered"),
        ("D", "999999", "Choose one of the nodes offered"),
    ],
)
def test_connect_refusals_change_nothing(
    admin_client: Client, ae: tuple[Flow, Nodes], source: str, target: str, text: str
) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    value = str(nodes[target].node_id) if target in nodes else target
    found = post(admin_client, admin("flowr_flow_connect", flow.pk, nodes[source].node_id), {"target": value})
    assert refused(found, text), found
    assert snapshot(flow) == before


# -- remove and prune -------------------------------------------------------------------------
def test_remove_asks_then_removes(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    url = admin("flowr_flow_remove", flow.pk, nodes["D"].node_id)
    page = admin_client.get(url).content.decode()
    assert f"#{nodes['D'].node_id} D" in page and "Yes, remove" in page
    assert post(admin_client, url)[0][0] == "success"
    assert not FlowNodeData.objects.filter(pk=nodes["D"].pk).exists()
    check_invariants(flow.state_graph)


@pytest.mark.parametrize(("node", "text"), [("A", "root"), ("C", "disconnect")])
def test_remove_refusals_change_nothing(admin_client: Client, ae: tuple[Flow, Nodes], node: str, text: str) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    url = admin("flowr_flow_remove", flow.pk, nodes[node].node_id)
    page = admin_client.get(url).content.decode()
    assert text in page and "Yes, remove" not in page
    assert refused(post(admin_client, url), text)
    assert snapshot(flow) == before


def test_prune_lists_what_goes_then_prunes(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    url = admin("flowr_flow_prune", flow.pk, nodes["C"].node_id)
    page = admin_client.get(url).content.decode()
    goes = page[page.index('class="flowr-goes"') : page.index("</ul>", page.index('class="flowr-goes"'))]
    for name in "CDE":
        assert f"#{nodes[name].node_id} {name}" in goes
    assert f"#{nodes['A'].node_id} A" not in goes
    assert post(admin_client, url)[0][0] == "success"
    assert [d.rule for d in flow.nodes_data()] == [S.A]
    check_invariants(flow.state_graph)


def test_prune_of_the_root_is_refused(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    url = admin("flowr_flow_prune", flow.pk, nodes["A"].node_id)
    assert "Yes, prune" not in admin_client.get(url).content.decode()
    assert refused(post(admin_client, url), "root")
    assert snapshot(flow) == before


def test_a_frozen_flow_refuses_every_edit(admin_client: Client, running: State) -> None:
    flow = running.flow
    nodes = {d.rule_name: d for d in flow.nodes_data()}
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "in use · frozen" in page and "add child" not in page and "Clone as new version" in page
    before = snapshot(flow)
    for url, data in [
        (admin("flowr_flow_add_child", flow.pk, nodes["D"].node_id), {"rule": S.A.class_label}),
        (admin("flowr_flow_connect", flow.pk, nodes["D"].node_id), {"target": nodes["A"].node_id}),
        (admin("flowr_flow_remove", flow.pk, nodes["D"].node_id), {}),
        (admin("flowr_flow_prune", flow.pk, nodes["C"].node_id), {}),
    ]:
        found = post(admin_client, url, data)
        assert found and found[0][0] == "error", (url, found)
    assert snapshot(flow) == before
    assert "frozen" in admin_client.get(admin("flowr_flow_prune", flow.pk, nodes["C"].node_id)).content.decode()


# -- clone and export ---------------------------------------------------------------------------
def test_clone_makes_an_editable_version(admin_client: Client, running: State) -> None:
    flow = running.flow
    response = admin_client.post(admin("flowr_flow_clone", flow.pk))
    copy = Flow.objects.get(family=flow.family, version=2)
    assert response["Location"].startswith(admin("flowr_flow_change", copy.pk))
    assert len(copy.nodes_data()) == len(flow.nodes_data())
    assert State.objects.get().flow_id == flow.pk


def test_clone_and_export_actions(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, _ = ae
    url = admin("flowr_flow_changelist")
    admin_client.post(url, {"action": "clone_flows", "_selected_action": [flow.pk]})
    assert Flow.objects.filter(family=flow.family).count() == 2
    response = admin_client.post(url, {"action": "export_flows", "_selected_action": [flow.pk]})
    assert response["Content-Type"] == "application/json"
    assert isinstance(json.loads(response.content), dict)
    both = list(Flow.objects.values_list("pk", flat=True))
    response = admin_client.post(url, {"action": "export_flows", "_selected_action": both})
    assert len(json.loads(response.content)) == 2


def test_export_downloads_json(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, _ = ae
    response = admin_client.get(admin("flowr_flow_export", flow.pk))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)


# -- states: start and advance ------------------------------------------------------------------
def test_start_a_state(admin_client: Client, ae: tuple[Flow, Nodes], admin_user: Any) -> None:
    flow, nodes = ae
    response = admin_client.post(admin("flowr_state_add"), {"flow": flow.pk})
    state = State.objects.get()
    assert response["Location"] == admin("flowr_state_change", state.pk)
    assert state.current_node_id == nodes["A"].pk
    assert StateHistory.objects.get(state=state).actor == admin_user
    assert S.done_enter == ["A"]


def test_start_refusals_change_nothing(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    FlowNodeData.objects.filter(pk=nodes["A"].pk).update(rule_label=GONE)
    response = admin_client.post(admin("flowr_state_add"), {"flow": flow.pk})
    assert response.status_code == 200 and "does not resolve" in response.content.decode()
    response = admin_client.post(admin("flowr_state_add"), {"flow": 999999})
    assert response.status_code == 200
    assert not State.objects.exists()


def test_advance_without_a_choice_where_there_is_one_way(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    state = State.start(flow)
    page = admin_client.get(admin("flowr_state_advance", state.pk)).content.decode()
    assert "Next: <strong>" in page and 'type="radio"' not in page
    url = admin("flowr_state_advance", state.pk)
    found = post(admin_client, url, {"expected_node": nodes["A"].node_id, "expected_version": state.version})
    assert found[0][0] == "success" and "from A to C" in found[0][1]
    state.refresh_from_db()
    assert state.current_node_id == nodes["C"].pk


def test_advance_with_a_choice(admin_client: Client, running: State) -> None:
    url = admin("flowr_state_advance", running.pk)
    at_c, seen = running.current_node.node_id, running.version
    page = admin_client.get(url).content.decode()
    assert page.count('type="radio"') == 2 and "branches here" in page
    assert f'name="expected_version" value="{seen}"' in page
    assert refused(post(admin_client, url, {"expected_node": at_c, "expected_version": seen}), "choose the next rule")
    wrong_rule = {"expected_node": at_c, "expected_version": seen, "rule": S.A.class_label}
    assert refused(post(admin_client, url, wrong_rule), "Choose one")
    running.refresh_from_db()
    assert running.current_node.node_id == at_c and running.history.count() == 2
    found = post(admin_client, url, {"expected_node": at_c, "expected_version": seen, "rule": S.E.class_label})
    assert found[0][0] == "success" and "from C to E" in found[0][1]
    running.refresh_from_db()
    assert running.current_node.rule is S.E and running.history.count() == 3


def test_advance_refusals_change_nothing(admin_client: Client, running: State) -> None:
    url = admin("flowr_state_advance", running.pk)
    at_c, seen = running.current_node.node_id, running.version
    # the page was looked at before the State moved: refused
    stale = post(admin_client, url, {"expected_node": at_c + 1000, "expected_version": seen, "rule": S.E.class_label})
    assert refused(stale, "moved meanwhile")
    running.next_state(S.D)
    at_d = running.current_node.node_id
    assert "end of its flow" in admin_client.get(url).content.decode()
    assert refused(
        post(admin_client, url, {"expected_node": at_d, "expected_version": running.version}), "No next state"
    )
    assert refused(post(admin_client, url, {}), "Choose one")
    running.refresh_from_db()
    assert running.current_node.node_id == at_d and running.history.count() == 3


def test_advance_expects_the_node_id_the_graph_shows(admin_client: Client) -> None:
    """``expected_node`` is the Node id (as in the REST API and the editor),
    not the FlowNodeData pk, where the two differ."""
    DCCGraph.factory(Label, name="shift")  # a Node without FlowNodeData: the ids part
    state = build_running()
    data = state.current_node
    assert data.pk != data.node_id
    url = admin("flowr_state_advance", state.pk)
    assert f'value="{data.node_id}"' in admin_client.get(url).content.decode()
    seen = {"expected_version": state.version, "rule": S.E.class_label}
    assert refused(post(admin_client, url, {"expected_node": data.pk, **seen}), "moved meanwhile")
    found = post(admin_client, url, {"expected_node": data.node_id, **seen})
    assert found[0][0] == "success"
    state.refresh_from_db()
    assert state.current_node.rule is S.E and state.version == 2


def test_the_state_list_has_an_advance_button_and_the_page_the_history(admin_client: Client, running: State) -> None:
    advance = admin("flowr_state_advance", running.pk)
    assert advance in admin_client.get(admin("flowr_state_changelist")).content.decode()
    page = admin_client.get(admin("flowr_state_change", running.pk)).content.decode()
    assert advance in page and "history" in page.lower()
    for row in running.history:
        assert row.to_rule_name in page


def test_unknown_or_malformed_ids_are_404_not_500(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, nodes = ae
    base = admin("flowr_flow_changelist")
    for url in [
        f"{base}abc/nodes/{nodes['D'].node_id}/remove/",
        f"{base}999999/nodes/{nodes['D'].node_id}/prune/",
        f"{base}abc/export/",
        admin("flowr_state_changelist") + "abc/advance/",
        admin("flowr_state_changelist") + "999999/advance/",
    ]:
        assert admin_client.get(url).status_code == 404, url
    assert admin_client.post(f"{base}abc/clone/").status_code == 404
    response = admin_client.get(admin("flowr_flow_prune", flow.pk, 999999))
    assert response.status_code == 302


# -- renaming ---------------------------------------------------------------------------
def test_renaming_a_flow_goes_through_the_edit_service(admin_client: Client, ae: tuple[Flow, Nodes]) -> None:
    flow, _ = ae
    response = admin_client.post(admin("flowr_flow_change", flow.pk), {"name": "renamed"})
    assert response.status_code == 302
    assert Flow.objects.get(pk=flow.pk).name == "renamed"


def test_renaming_a_frozen_flow_is_refused_with_a_message(admin_client: Client, running: State) -> None:
    flow = running.flow
    before = Flow.objects.filter(pk=flow.pk).values().get()
    response = admin_client.post(admin("flowr_flow_change", flow.pk), {"name": "renamed"})
    assert response.status_code == 200  # the form again, with the refusal
    assert "is frozen" in response.content.decode()
    assert response.context["adminform"].form.errors.as_data()["__all__"][0].code == "flow_frozen"
    assert Flow.objects.filter(pk=flow.pk).values().get() == before


def test_a_flow_frozen_after_the_form_was_checked_is_not_renamed(
    admin_client: Client, running: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edit service checks again under the graph lock: a State started
    between the form's check and the save wins, nothing is renamed."""
    from flowr import edits

    flow = running.flow
    monkeypatch.setattr(edits, "edit_refusal", lambda flow: None)  # the form's check saw no State yet
    before = Flow.objects.filter(pk=flow.pk).values().get()
    found = post(admin_client, admin("flowr_flow_change", flow.pk), {"name": "renamed"})
    assert refused(found, "is frozen"), found
    assert Flow.objects.filter(pk=flow.pk).values().get() == before


def test_advance_refuses_a_page_seen_before_the_state_went_round_a_loop(admin_client: Client) -> None:
    """Back at the node the page showed, but not the same visit: the version tells."""
    from tests.testapp.rules import cycle_flow

    flow, _ = cycle_flow("admin loop")
    state = State.start(flow)
    url = admin("flowr_state_advance", state.pk)
    seen = {"expected_node": state.current_node.node_id, "expected_version": state.version}
    for _ in range(3):  # Cycle1 -> Cycle2 -> Cycle3 -> Cycle1
        state.next_state()
    assert state.current_node.node_id == seen["expected_node"]
    assert refused(post(admin_client, url, seen), "moved meanwhile")
    state.refresh_from_db()
    assert state.version == seen["expected_version"] + 3
    found = post(admin_client, url, {**seen, "expected_version": state.version})
    assert found[0][0] == "success"


@pytest.mark.parametrize("target", ["²", "-1", "1.5", "", "9" * 30, "1\x00"])
def test_connect_with_a_bad_target_is_a_message(admin_client: Client, ae: tuple[Flow, Nodes], target: str) -> None:
    flow, nodes = ae
    before = snapshot(flow)
    found = post(admin_client, admin("flowr_flow_connect", flow.pk, nodes["D"].node_id), {"target": target})
    assert refused(found, "Choose one of the nodes offered")
    assert snapshot(flow) == before
