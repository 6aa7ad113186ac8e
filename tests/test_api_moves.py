"""``POST /flowr/api/states/advance/``, ``states/{id}/jump/``, ``states/{id}/cancel/``."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from flowr import sample_rules
from flowr.api.serializers import ADVANCE_MANY_MAX
from flowr.models import Flow, Node, State, StateHistory
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    build_flow,
    client_for_fixture,
    flow_fixture,
    make_user,
    node_of,
    rule_set_fixture,
    snapshot,
    users_fixture,
)


def post(client: APIClient, url: str, body: Any) -> Any:
    return client.post(f"{API}{url}", body, format="json")


# -- advance many ---------------------------------------------------------------------


def test_advance_many_returns_one_result_per_state(api, flow, users):
    states = [State.start(flow) for _ in range(3)]
    states[1].cancel()
    response = post(api, "/states/advance/", {"states": [s.pk for s in states] + [999999], "note": "monday"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["advanced"], body["failed"]) == (2, 2)
    got = [(r["state"], r["ok"], r["code"]) for r in body["results"]]
    assert got == [
        (states[0].pk, True, ""),
        (states[1].pk, False, "state_cancelled"),
        (states[2].pk, True, ""),
        (999999, False, "not_found"),
    ]
    history = body["results"][0]["history"]
    assert (history["seq"], history["kind"], history["note"], history["to_rule_name"]) == (
        2,
        "transition",
        "monday",
        "C",
    )
    assert history["actor"] == users["admin"].pk
    assert body["results"][1]["history"] is None and "cancelled" in body["results"][1]["detail"]
    assert State.objects.get(pk=states[0].pk).version == 1


def test_advance_many_with_a_rule_and_atomic(api, flow):
    states = [State.start(flow) for _ in range(2)]
    post(api, "/states/advance/", {"states": [s.pk for s in states]})  # both at C, which branches
    states[1].refresh_from_db()
    states[1].next_state(sample_rules.D)  # D ends the flow
    response = post(
        api, "/states/advance/", {"states": [s.pk for s in states], "rule": sample_rules.E.class_label, "atomic": True}
    )
    assert response.status_code == 200
    assert [(r["ok"], r["code"]) for r in response.json()["results"]] == [
        (False, "rolled_back"),
        (False, "no_next_state"),
    ]
    assert State.objects.get(pk=states[0].pk).version == 1  # rolled back
    response = post(api, "/states/advance/", {"states": [states[0].pk], "rule": sample_rules.E.class_label})
    assert response.json()["advanced"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"states": []},
        {"states": "1"},
        {"states": [1, "2"]},
        {"states": [True]},
        {"states": [0]},
        {"states": [1.5]},
        {"states": [1], "atomic": "yes"},
        {"states": [1], "atomic": 1},
        {"states": [1], "note": 5},
        {"states": [1], "rule": 5},
        {"states": [1], "extra": 1},
        {"states": list(range(1, ADVANCE_MANY_MAX + 2))},
        [1, 2],
    ],
)
def test_advance_many_bad_input_is_400_and_changes_nothing(api, flow, body):
    State.start(flow)
    before = snapshot()
    response = post(api, "/states/advance/", body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid" and response.json()["detail"]
    assert snapshot() == before


def test_advance_many_at_the_limit_is_accepted(api, flow):
    state = State.start(flow)
    response = post(api, "/states/advance/", {"states": [state.pk, *range(10**6, 10**6 + ADVANCE_MANY_MAX - 1)]})
    assert response.status_code == 200
    assert response.json()["advanced"] == 1 and response.json()["failed"] == ADVANCE_MANY_MAX - 1


def test_advance_many_reads_in_bulk(api, flow, django_assert_max_num_queries):
    pks = [State.start(flow).pk for _ in range(20)]
    # at most the session and user, one load of the 20 States, then each
    # transition's statements: a savepoint (the test's transaction), the lock
    # and load, the compare-and-set, the history row, the release
    with django_assert_max_num_queries(3 + 1 + 20 * 5):
        response = post(api, "/states/advance/", {"states": pks})
    assert response.json()["advanced"] == 20


# -- jump -------------------------------------------------------------------------------


def test_jump(api, flow, users):
    state = State.start(flow)
    target = node_of(flow, sample_rules.D)
    response = post(api, f"/states/{state.pk}/jump/", {"node": target, "note": "fast track"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["current_node"], body["current_rule_name"], body["version"]) == (target, "D", 1)
    row = State.objects.get(pk=state.pk).history.last()
    assert (row.kind, row.note, row.actor) == ("jump", "fast track", users["admin"])
    assert sample_rules.done_enter == ["A"]  # no callbacks unless asked
    post(api, f"/states/{state.pk}/jump/", {"node": node_of(flow, sample_rules.C), "callbacks": True})
    assert sample_rules.done_enter == ["A", "C"] and sample_rules.done_leave == ["D"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"node": "1"}, 400, "invalid"),
        ({"node": 999999}, 400, "node_not_in_flow"),
        ({"node": "{other}"}, 400, "node_not_in_flow"),
        ({"node": "{D}", "callbacks": "no"}, 400, "invalid"),
        ({"node": "{D}", "expected_version": 5}, 409, "concurrent_transition"),
        ({"node": "{D}", "oops": 1}, 400, "invalid"),
    ],
)
def test_jump_refusals(api, flow, rule_set, body, status, code):
    state = State.start(flow)
    other = build_flow(rule_set, "other")
    world = {"{D}": node_of(flow, sample_rules.D), "{other}": node_of(other, sample_rules.D)}
    body = {key: world.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    before = snapshot()
    response = post(api, f"/states/{state.pk}/jump/", body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert snapshot() == before


# -- cancel -----------------------------------------------------------------------------


def test_cancel_then_every_move_is_409(api, flow):
    state = State.start(flow)
    response = post(api, f"/states/{state.pk}/cancel/", {"note": "customer left"})
    assert response.status_code == 200, response.json()
    assert response.json()["cancelled"] is not None and response.json()["version"] == 1
    assert State.objects.get(pk=state.pk).history.last().kind == StateHistory.CANCEL
    before = snapshot()
    for url, body in [
        (f"/states/{state.pk}/advance/", {}),
        (f"/states/{state.pk}/jump/", {"node": node_of(flow, sample_rules.C)}),
        (f"/states/{state.pk}/cancel/", {}),
    ]:
        response = post(api, url, body)
        assert (response.status_code, response.json()["code"]) == (409, "state_cancelled"), url
    assert snapshot() == before
    # the flow is no longer frozen: it can be edited
    detail = api.get(f"{API}/flows/{flow.pk}/").json()
    assert detail["state_count"] == 0 and detail["frozen"] is False
    response = api.patch(f"{API}/flows/{flow.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200 and Flow.objects.get(pk=flow.pk).name == "renamed"


def test_cancel_with_a_stale_version_is_409(api, flow):
    state = State.start(flow)
    response = post(api, f"/states/{state.pk}/cancel/", {"expected_version": 3})
    assert (response.status_code, response.json()["code"]) == (409, "concurrent_transition")
    assert State.objects.get(pk=state.pk).cancelled is None


# -- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "perms", "advance", "jump", "cancel"),
    [
        (None, (), 401, 401, 401),
        ("plain", (), 403, 403, 403),
        ("staff", (), 403, 403, 403),
        ("runner", ("flowr.view_state", "flowr.change_state"), 200, 403, 403),
        ("jumper", ("flowr.jump_state",), 403, 200, 403),
        ("canceller", ("flowr.cancel_state",), 403, 403, 200),
    ],
)
def test_permissions(flow, who, perms, advance, jump, cancel):
    client = APIClient()
    if who is not None:
        client.force_login(make_user(who, *perms, is_staff=who != "plain"))
    for url, body, expected in [
        ("/states/advance/", {"states": ["{state}"]}, advance),
        ("/states/{state}/jump/", {"node": node_of(flow, sample_rules.C)}, jump),
        ("/states/{state}/cancel/", {}, cancel),
    ]:
        state = State.start(flow)
        body = {k: [state.pk] if v == ["{state}"] else v for k, v in body.items()}
        before = snapshot()
        response = post(client, url.format(state=state.pk), body)
        assert response.status_code == expected, (url, response.json())
        assert (snapshot() == before) == (expected != 200)


def test_a_node_a_cancelled_state_stands_on_cannot_be_removed(api, flow):
    state = State.start(flow)
    d = node_of(flow, sample_rules.D)
    state.jump_to(Node.objects.get(pk=d))
    state.cancel()
    before = snapshot()
    for response in (api.delete(f"{API}/nodes/{d}/"), post(api, f"/nodes/{d}/prune/", {})):
        assert (response.status_code, response.json()["code"]) == (400, "cannot_remove"), response.json()
        assert "cancelled" in response.json()["detail"]
    assert snapshot() == before
