"""The API of issue 18: status, ?status= filter, diff, migrate."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from flowr import policy
from flowr import sample_rules as S
from flowr.exceptions import StatusChangeNotAllowed
from flowr.governance import change_status
from flowr.models import Flow, FlowEdit, State, StateHistory
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


def post(client: Any, url: str, body: Any = None) -> Any:
    return client.post(API + url, body if body is not None else {}, format="json")


def test_the_flow_shows_its_status_and_changes_it(api, flow):
    assert api.get(f"{API}/flows/{flow.pk}/").json()["status"] == "draft"
    response = post(api, f"/flows/{flow.pk}/status/", {"status": "in_review"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["flow"]["status"] == "in_review"
    assert body["edit"]["operation"] == "submit_for_review" and body["edit"]["actor"] == "admin"
    assert body["retired"] == []


def test_publishing_retires_the_previous_version(api, flow):
    flow.publish()
    v2 = flow.clone()
    body = post(api, f"/flows/{v2.pk}/status/", {"status": "published"}).json()
    assert body["retired"] == [flow.pk]
    listed = api.get(f"{API}/flows/?status=published").json()["results"]
    assert [f["id"] for f in listed] == [v2.pk]
    assert [f["id"] for f in api.get(f"{API}/flows/?status=retired").json()["results"]] == [flow.pk]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"status": "retired"}, 409, "status_change_not_allowed"),
        ({"status": "draft"}, 409, "status_change_not_allowed"),
        ({"status": "gone"}, 400, "invalid"),
        ({"status": 1}, 400, "invalid"),
        ({}, 400, "invalid"),
        ({"status": "published", "extra": 1}, 400, "invalid"),
    ],
)
def test_bad_status_changes_are_refused_and_change_nothing(api, flow, body, status, code):
    before = snapshot()
    response = post(api, f"/flows/{flow.pk}/status/", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert snapshot() == before


def test_the_status_filter_refuses_an_unknown_status(api, flow):
    response = api.get(f"{API}/flows/?status=live")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


@override_settings(FLOWR={"FOUR_EYES_PUBLISH": True})
def test_four_eyes_publish_through_the_api(client_for, users, flow):
    author = users["editor"]  # change_flow, no publish_flow
    with_perm = make_user("reviewer", "flowr.change_flow", "flowr.view_flow", "flowr.publish_flow")
    client = client_for("editor")
    response = post(client, f"/flows/{flow.pk}/status/", {"status": "published"})
    assert (response.status_code, response.json()["code"]) == (403, "publish_not_permitted")
    FlowEdit.objects.filter(flow=flow).update(actor=with_perm)  # the reviewer made the last edit
    reviewer = APIClient()
    reviewer.force_authenticate(with_perm)
    response = post(reviewer, f"/flows/{flow.pk}/status/", {"status": "published"})
    assert (response.status_code, response.json()["code"]) == (403, "publish_not_permitted")
    assert "last editor" in response.json()["detail"]
    FlowEdit.objects.filter(flow=flow).update(actor=author)
    assert post(reviewer, f"/flows/{flow.pk}/status/", {"status": "published"}).status_code == 200


@override_settings(FLOWR={"ONLY_PUBLISHED_START": True})
def test_a_draft_cannot_start_through_the_api(api, flow):
    before = snapshot()
    response = post(api, "/states/", {"flow": flow.pk})
    assert (response.status_code, response.json()["code"]) == (409, "flow_not_published")
    assert snapshot() == before
    flow.publish()
    assert post(api, "/states/", {"flow": flow.pk}).status_code == 201


def test_diff_of_a_flow_and_its_clone_is_empty(api, flow, django_assert_max_num_queries):
    clone = flow.clone()
    with django_assert_max_num_queries(12):
        response = api.get(f"{API}/flows/{flow.pk}/diff/{clone.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        k: [] for k in ("added_nodes", "removed_nodes", "changed_nodes", "added_links", "removed_links")
    }


def test_diff_shows_a_removed_link(api, flow):
    clone = flow.clone()
    by_rule = {d.rule_name: d for d in clone.nodes_data()}
    by_rule["E"].disconnect_child(by_rule["A"])
    body = api.get(f"{API}/flows/{flow.pk}/diff/{clone.pk}/").json()
    assert body["removed_links"] == [
        {
            "source": node_of(flow, S.E),
            "target": node_of(flow, S.A),
            "other_source": by_rule["E"].node_id,
            "other_target": by_rule["A"].node_id,
        }
    ]
    assert body["added_nodes"] == body["removed_nodes"] == body["changed_nodes"] == body["added_links"] == []


def test_diff_with_an_unknown_flow_is_a_404(api, flow):
    response = api.get(f"{API}/flows/{flow.pk}/diff/999999/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_migrate_dry_run_then_move(api, flow):
    state = State.start(flow)
    state.next_state()  # at C
    v2 = flow.clone()
    dry = post(api, f"/flows/{flow.pk}/migrate/", {"target": v2.pk, "dry_run": True})
    assert dry.status_code == 200, dry.json()
    assert dry.json()["moved"] == 0 and [m["state"] for m in dry.json()["moves"]] == [state.pk]
    assert State.objects.get(pk=state.pk).flow_id == flow.pk
    done = post(api, f"/flows/{flow.pk}/migrate/", {"target": v2.pk})
    assert done.status_code == 200 and done.json()["moved"] == 1
    state.refresh_from_db()
    assert state.flow_id == v2.pk
    assert StateHistory.objects.filter(state=state, kind=StateHistory.MIGRATION).count() == 1
    assert FlowEdit.objects.filter(flow=flow).order_by("-seq").first().operation == "migrate"


def test_migrate_with_an_unmapped_node_needs_a_mapping_and_moves_nothing(api, flow, rule_set):
    state = State.start(flow)
    state.next_state()  # at C
    target = Flow.factory_from_rules("other", rule_set, [({"rule": S.B}, [])])
    before = snapshot()
    response = post(api, f"/flows/{flow.pk}/migrate/", {"target": target.pk})
    assert (response.status_code, response.json()["code"]) == (400, "mapping_incomplete")
    assert [p["node"] for p in response.json()["problems"]] == [node_of(flow, S.C)]
    assert snapshot() == before
    mapping = {str(node_of(flow, S.C)): node_of(target, S.B)}
    response = post(api, f"/flows/{flow.pk}/migrate/", {"target": target.pk, "mapping": mapping})
    assert response.status_code == 200 and response.json()["moved"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"target": "x"},
        {"target": 999999},
        {"target": "{flow}"},
        {"target": "{v2}", "mapping": {"a": 1}},
        {"target": "{v2}", "mapping": {"999999": 1}},
        {"target": "{v2}", "dry_run": "yes"},
    ],
)
def test_bad_migrations_are_refused_and_change_nothing(api, flow, body):
    State.start(flow)
    v2 = flow.clone()
    body = {k: (flow.pk if v == "{flow}" else v2.pk if v == "{v2}" else v) for k, v in body.items()}
    before = snapshot()
    response = post(api, f"/flows/{flow.pk}/migrate/", body)
    assert response.status_code == 400, response.json()
    assert snapshot() == before


PATHS = {"draft": [], "in_review": ["submit_for_review"], "published": ["publish"], "retired": ["publish", "retire"]}


@pytest.mark.parametrize("start", list(PATHS))
@pytest.mark.parametrize("wanted", list(PATHS))
def test_model_admin_and_api_agree_with_the_policy(api, users, rule_set, start, wanted):
    transition = policy.TRANSITION_TO[wanted]
    allowed = transition in policy.status_options(start)
    flows = []
    for name in ("model", "admin", "api"):
        flow = build_flow(rule_set, name)
        for step in PATHS[start]:
            change_status(flow, step)
        flows.append(flow)
    model, admin, api_flow = flows
    try:
        change_status(model, transition)
        model_ok = True
    except StatusChangeNotAllowed:
        model_ok = False
    client = Client()
    client.force_login(users["admin"])
    client.post(reverse("admin:flowr_flow_status", args=[admin.pk]), {"transition": transition})
    response = post(api, f"/flows/{api_flow.pk}/status/", {"status": wanted})
    assert response.status_code in (200, 409)
    assert (model_ok, response.status_code == 200) == (allowed, allowed)
    expected = wanted if allowed else start
    assert [Flow.objects.get(pk=f.pk).status for f in flows] == [expected] * 3
