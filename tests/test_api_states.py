"""``/flowr/api/states/``: start, list (filters), detail, advance, history, diagram."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import sample_rules
from flowr.models import DCCGraph, Flow, FlowNodeData, RuleSet, State, StateHistory
from flowr.rules import Rule
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    build_flow,
    chain_set_fixture,
    client_for_fixture,
    flow_fixture,
    node_of,
    rule_set_fixture,
    snapshot,
    users_fixture,
)
from tests.testapp.models import Document, Label, Ticket


def test_start(client_for, flow, users):
    runner = client_for("runner")
    response = runner.post(f"{API}/states/", {"flow": flow.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    state = State.objects.get(pk=body["id"])
    assert body["current_node"] == flow.state_graph.root_id == state.current_node.node_id
    assert body["current_rule_name"] == "A" and body["subject_type"] is None and body["subject_id"] is None
    assert body["finished"] is False and body["next_rules"] == [
        {"label": "flowr.sample_rules.C", "name": "C", "verbose_name": "C"}
    ]
    assert sample_rules.done_enter == ["A"]
    start = state.history.get()
    assert start.kind == StateHistory.START and start.actor == users["runner"]


def test_start_with_subject(api, flow):
    ticket = Ticket.objects.create(title="t")
    response = api.post(
        f"{API}/states/",
        {"flow": flow.pk, "subject_type": "testapp.ticket", "subject_id": str(ticket.pk)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["subject_type"] == "testapp.ticket" and response.json()["subject_id"] == str(ticket.pk)
    assert State.objects.for_subject(ticket).count() == 1


def test_detail(api, flow):
    state = State.start(flow)
    body = api.get(f"{API}/states/{state.pk}/").json()
    assert body["id"] == state.pk and body["flow"] == flow.pk and body["flow_name"] == "flow" and body["version"] == 0


def test_advance_and_choose(api, flow):
    state = State.start(flow)
    url = f"{API}/states/{state.pk}/advance/"
    body = api.post(url, {}, format="json").json()
    assert body["current_rule_name"] == "C" and body["version"] == 1
    assert {r["name"] for r in body["next_rules"]} == {"D", "E"}
    response = api.post(url, {"rule": "flowr.sample_rules.E", "expected_node": body["current_node"]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["current_rule_name"] == "E"
    body = api.post(url, {"rule": None}, format="json").json()
    assert body["current_node"] == flow.state_graph.root_id
    assert sample_rules.done_enter == ["A", "C", "E", "A"] and sample_rules.done_leave == ["A", "C", "E"]


def test_advance_to_the_end(api, flow):
    state = State.start(flow)
    url = f"{API}/states/{state.pk}/advance/"
    api.post(url, format="json")
    body = api.post(url, {"rule": "flowr.sample_rules.D"}, format="json").json()
    assert body["finished"] is True and body["next_rules"] == []


def test_history(api, flow, users):
    state = State.start(flow)
    api.post(f"{API}/states/{state.pk}/advance/", format="json")
    body = api.get(f"{API}/states/{state.pk}/history/").json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["seq"] == 1 and first["kind"] == "start" and first["from_node"] is None
    assert first["to_node"] == flow.state_graph.root_id and first["to_rule_name"] == "A"
    assert second["kind"] == "transition" and second["from_rule_name"] == "A" and second["to_rule_name"] == "C"
    assert second["actor"] == users["admin"].pk and second["actor_repr"] == "admin"


def _lap(state: State) -> None:
    """A -> C -> E -> A: three transitions."""
    state.next_state()
    state.next_state(sample_rules.E)
    state.next_state()


def test_history_is_paginated_with_constant_queries(api, flow, django_assert_max_num_queries):
    state = State.start(flow)
    _lap(state)
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/states/{state.pk}/history/").json()["count"] == 4
    for _ in range(20):
        _lap(state)
    with django_assert_max_num_queries(len(small)):
        body = api.get(f"{API}/states/{state.pk}/history/").json()
    assert body["count"] == 64 and len(body["results"]) == 50 and body["next"]
    assert len(api.get(body["next"]).json()["results"]) == 14


def test_filters(api, flow, rule_set):
    other = build_flow(rule_set, "other")
    ticket, document = Ticket.objects.create(title="t"), Document.objects.create(title="d")
    at_root = State.start(flow, subject=ticket)
    moved = State.start(flow, subject=document)
    moved.next_state()
    elsewhere = State.start(other)

    def ids(query: str) -> set[int]:
        response = api.get(f"{API}/states/?{query}")
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    assert ids("") == {at_root.pk, moved.pk, elsewhere.pk}
    assert ids(f"flow={flow.pk}") == {at_root.pk, moved.pk}
    assert ids("rule=flowr.sample_rules.C") == {moved.pk}
    assert ids(f"node={node_of(flow, sample_rules.C)}") == {moved.pk}
    assert ids("subject_type=testapp.ticket") == {at_root.pk}
    assert ids(f"subject_type=testapp.document&subject_id={document.pk}") == {moved.pk}
    assert ids(f"subject_type=testapp.ticket&subject_id={ticket.pk + 1}") == set()
    assert ids(f"flow={other.pk}&rule=flowr.sample_rules.A") == {elsewhere.pk}


def test_list_constant_queries(api, rule_set, django_assert_max_num_queries):
    flows = [build_flow(rule_set, f"f{i}") for i in range(3)]
    for i in range(5):
        State.start(flows[i % 3], subject=Ticket.objects.create(title=str(i)))
    with CaptureQueriesContext(connection) as small:
        assert api.get(f"{API}/states/").json()["count"] == 5
    for i in range(45):
        State.start(flows[i % 3], subject=Document.objects.create(title=str(i)))
    with django_assert_max_num_queries(len(small)):
        assert len(api.get(f"{API}/states/").json()["results"]) == 50


def test_diagram_highlights_the_state(api, flow):
    state = State.start(flow)
    response = api.get(f"{API}/states/{state.pk}/diagram/?format=dot")
    assert response.status_code == 200 and "fillcolor" in response.content.decode()


def test_actor_recorded_per_user(client_for, flow, users):
    state = State.start(flow)
    client_for("runner").post(f"{API}/states/{state.pk}/advance/", format="json")
    assert state.history.last().actor == User.objects.get(username="runner")


class GuardRoot(Rule):
    """Root of the guard tests: its only child refuses entry."""

    children = ["tests.test_api_states.Closed"]


class Closed(Rule):
    @classmethod
    def can_enter(cls, state: State) -> str:
        return "closed today"


def test_guard_refusal_changes_nothing(api, db):
    flow = Flow.factory("guarded", RuleSet.factory("guards", GuardRoot))
    flow.root_data.add_child_rule(Closed)
    state = State.start(flow)
    assert api.get(f"{API}/states/{state.pk}/").json()["next_rules"] == []
    before = snapshot()
    response = api.post(f"{API}/states/{state.pk}/advance/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "closed today", "code": "transition_refused"}
    assert snapshot() == before


def test_missing_rule_of_current_node(api, flow):
    state = State.start(flow)
    FlowNodeData.objects.filter(pk=state.current_node_id).update(rule_label="gone.Vanished")
    body = api.get(f"{API}/states/{state.pk}/").json()
    assert body["missing_rule"] is True and body["current_rule_name"] == "Vanished" and body["next_rules"] == []
    before = snapshot()
    response = api.post(f"{API}/states/{state.pk}/advance/", {}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "missing_rule"
    assert snapshot() == before


# -- expected_node and expected_version -------------------------------------------------


def advance(api, state: State, body: dict) -> tuple[int, dict]:
    response = api.post(f"{API}/states/{state.pk}/advance/", body, format="json")
    return response.status_code, response.json()


def unchanged(state: State, version: int, rows: int) -> bool:
    fresh = State.objects.get(pk=state.pk)
    return fresh.version == version and StateHistory.objects.filter(state_id=state.pk).count() == rows


def test_advance_with_a_stale_version_is_refused(api, flow):
    state = State.start(flow)
    status, body = advance(api, state, {"expected_version": 1})
    assert (status, body["code"]) == (409, "concurrent_transition")
    assert set(body) == {"detail", "code"} and "version 0, not version 1" in body["detail"]
    assert unchanged(state, 0, 1)
    status, body = advance(api, state, {"expected_version": 0, "expected_node": flow.state_graph.root_id})
    assert status == 200 and body["version"] == 1 and body["current_rule_name"] == "C"


def test_a_state_round_a_loop_passes_the_node_check_not_the_version(api, flow):
    """A -> C -> E -> A: back at the node the caller saw, three moves later."""
    state = State.start(flow)
    root = flow.state_graph.root_id
    advance(api, state, {})
    advance(api, state, {"rule": "flowr.sample_rules.E"})
    status, body = advance(api, state, {})
    assert status == 200 and (body["current_node"], body["version"]) == (root, 3)
    status, body = advance(api, state, {"expected_node": root, "expected_version": 0})
    assert (status, body["code"]) == (409, "concurrent_transition")
    assert unchanged(state, 3, 4)
    status, body = advance(api, state, {"expected_node": root, "expected_version": 3})
    assert status == 200 and body["version"] == 4 and body["current_rule_name"] == "C"


def test_expected_node_is_the_node_id_not_the_node_data_pk(api, rule_set):
    """Where the two differ, the Node id (the graph document's) is the one."""
    DCCGraph.factory(Label, name="shift")  # a Node without FlowNodeData: the ids part
    state = State.start(build_flow(rule_set))
    data = state.current_node
    assert data.pk != data.node_id
    status, body = advance(api, state, {"expected_node": data.pk})
    assert (status, body["code"]) == (409, "concurrent_transition")
    assert unchanged(state, 0, 1)
    status, body = advance(api, state, {"expected_node": data.node_id})
    assert status == 200 and body["version"] == 1
