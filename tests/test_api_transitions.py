"""API: who may take which transition (403 + code), the State's
``transitions`` for the requesting user, note and data, rules by class name."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from flowr.models import Flow, RuleSet, State, StateHistory
from tests import permission_rules as P
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    snapshot,
    users_fixture,
)


def desk_flow() -> Flow:
    flow = Flow.factory("desk", RuleSet.factory("desk", P.Desk))
    for rule in (P.Approve, P.Reject, P.Hold, P.Park):
        flow.root_data.add_child_rule(rule).connect_child(flow.root_data)
    return flow


def grant(user: User, perm: str) -> None:
    app_label, codename = perm.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture(name="desk")
def desk_fixture(db: Any) -> State:
    return State.start(desk_flow())


def advance(client: Any, state: State, **body: Any) -> Any:
    return client.post(f"{API}/states/{state.pk}/advance/", body, format="json")


def test_a_user_without_the_rules_permission_gets_403_and_nothing_changes(client_for, users, desk):
    runner = client_for("runner")  # may advance States, not approve
    before = snapshot()
    response = advance(runner, desk, rule="tests.permission_rules.Approve")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Approve needs the permission testapp.change_ticket",
        "code": "permission_denied",
    }
    assert snapshot() == before
    grant(users["runner"], P.APPROVE_PERMISSION)
    response = advance(fresh_client("runner"), desk, rule="tests.permission_rules.Approve")
    assert response.status_code == 200 and response.json()["current_rule_name"] == "Approve"


def test_a_callable_permission_and_an_actor_guard_through_the_api(client_for, users, desk):
    response = advance(client_for("runner"), desk, rule="Reject")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["detail"] == "Only reviewers may reject."
    intern = User.objects.create_user("intern")
    for perm in ("flowr.view_state", "flowr.change_state"):
        grant(intern, perm)
    response = advance(client_for_user(intern), desk, rule="Hold")
    assert response.status_code == 400  # a guard's veto keeps its status and code
    assert response.json() == {"detail": "Interns may not hold.", "code": "transition_refused"}
    assert State.objects.get(pk=desk.pk).version == 0


def fresh_client(username: str) -> Any:
    """A client of the user loaded afresh (no permission cache)."""
    return client_for_user(User.objects.get(username=username))


def client_for_user(user: User) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("nobody", 403), ("staff", 403), ("editor", 403)])
def test_users_who_may_not_advance_at_all(client_for, desk, who, status):
    """Anonymous, no permission, staff without the permission: refused before any rule is asked."""
    before = snapshot()
    response = advance(client_for(who), desk, rule="Park")
    assert response.status_code == status and snapshot() == before
    assert response.json()["code"] in ("not_authenticated", "permission_denied")


def test_the_detail_lists_the_transitions_for_the_requesting_user(client_for, users, desk):
    body = client_for("runner").get(f"{API}/states/{desk.pk}/").json()
    by_name = {t["name"]: t for t in body["transitions"]}
    assert list(by_name) == ["Approve", "Reject", "Hold", "Park"]
    assert by_name["Approve"] == {
        "label": "tests.permission_rules.Approve",
        "name": "Approve",
        "verbose_name": "Approve",
        "node": by_name["Approve"]["node"],
        "allowed": False,
        "reason": "Approve needs the permission testapp.change_ticket",
        "code": "permission_denied",
    }
    assert by_name["Park"]["allowed"] is True and by_name["Park"]["reason"] is None
    assert body["next_rules"] == [
        {"label": "tests.permission_rules.Hold", "name": "Hold", "verbose_name": "Hold"},
        {"label": "tests.permission_rules.Park", "name": "Park", "verbose_name": "Park"},
    ]
    # a superuser has every permission string; a callable decides for itself
    admin = client_for("admin").get(f"{API}/states/{desk.pk}/").json()
    assert [t["allowed"] for t in admin["transitions"]] == [True, False, True, True]


def test_the_detail_asks_each_state_once(api, desk, django_assert_num_queries):
    """next_rules and transitions share one transition_options() call."""
    with django_assert_num_queries(3):  # the State, finished, the children
        response = api.get(f"{API}/states/{desk.pk}/")
    assert response.status_code == 200


def test_the_advance_answer_is_for_the_requesting_user_too(client_for, desk):
    response = advance(client_for("runner"), desk, rule="Park")
    assert response.status_code == 200
    body = response.json()
    assert [(t["name"], t["allowed"]) for t in body["transitions"]] == [("Desk", True)]


def test_note_and_data_round_trip(client_for, desk):
    runner = client_for("runner")
    data = {"why": "customer on holiday", "until": "2026-12-01", "tries": [1, 2], "nested": {"ok": None}}
    response = advance(runner, desk, rule="Park", note="Parked — waiting ✓", data=data)
    assert response.status_code == 200, response.json()
    history = runner.get(f"{API}/states/{desk.pk}/history/").json()["results"]
    assert [(r["note"], r["data"]) for r in history] == [("", None), ("Parked — waiting ✓", data)]
    assert StateHistory.objects.get(state=desk, seq=2).data == data
    assert advance(runner, desk, data=None).status_code == 200  # null data: none
    assert StateHistory.objects.get(state=desk, seq=3).data is None


@pytest.mark.parametrize(
    "body",
    [{"rule": "Park", "note": 5}, {"rule": "Park", "note": None}, {"rule": "Park", "note": ["a"]}],
)
def test_a_bad_note_is_a_400_and_nothing_changes(api, desk, body):
    before = snapshot()
    response = api.post(f"{API}/states/{desk.pk}/advance/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert snapshot() == before


def test_a_start_takes_note_and_data_and_checks_the_root_permission(client_for, users):
    flow = Flow.factory("gate", RuleSet.factory("gate", P.Gate))
    flow.root_data.add_child_rule(P.Approve)
    runner = client_for("runner")
    response = runner.post(f"{API}/states/", {"flow": flow.pk, "note": "hi"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not State.objects.exists()
    grant(users["runner"], P.APPROVE_PERMISSION)
    response = fresh_client("runner").post(
        f"{API}/states/", {"flow": flow.pk, "note": "hi", "data": {"source": "api"}}, format="json"
    )
    assert response.status_code == 201, response.json()
    row = StateHistory.objects.get()
    assert (row.note, row.data) == ("hi", {"source": "api"})


def test_a_rule_by_its_class_name(api, desk):
    response = advance(api, desk, rule="Park")
    assert response.status_code == 200 and response.json()["current_rule_label"] == "tests.permission_rules.Park"
    response = advance(api, desk, rule="NoSuchRule")
    assert (response.status_code, response.json()["code"]) == (400, "choice_not_in_flow")


def test_an_ambiguous_class_name_is_a_400_listing_the_labels(api, db):
    flow = Flow.factory("split", RuleSet.factory("split", P.Desk))
    split = flow.root_data.add_child_rule(P.Split)
    split.add_child_rule(P.Review)
    split.add_child_rule(P.Other.Review)
    state = State.start(flow)
    state.next_state()
    before = snapshot()
    response = advance(api, state, rule="Review")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "ambiguous_rule"
    assert body["problems"] == ["tests.permission_rules.Review", "tests.permission_rules.Other.Review"]
    assert "tests.permission_rules.Other.Review" in body["detail"]
    assert snapshot() == before
    assert advance(api, state, rule="tests.permission_rules.Other.Review").status_code == 200


def test_advancing_many_checks_each_rules_permission_and_stores_note_and_data(client_for, users, desk):
    other = State.start(desk.flow)
    body = {"states": [desk.pk, other.pk], "rule": "Approve", "note": "batch", "data": {"run": 7}}
    before = snapshot()
    response = client_for("runner").post(f"{API}/states/advance/", body, format="json")
    assert response.status_code == 200
    assert [(r["ok"], r["code"]) for r in response.json()["results"]] == [(False, "permission_denied")] * 2
    assert snapshot() == before
    grant(users["runner"], P.APPROVE_PERMISSION)
    response = fresh_client("runner").post(f"{API}/states/advance/", body, format="json")
    assert response.status_code == 200 and response.json()["advanced"] == 2
    assert [(row.note, row.data) for row in StateHistory.objects.filter(kind="transition").order_by("pk")] == [
        ("batch", {"run": 7}),
        ("batch", {"run": 7}),
    ]
