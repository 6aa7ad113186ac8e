"""The admin's advance page: only the rules the user may take are offered,
refused ones are shown disabled with the reason; the note is stored; the
history shows note and data."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from flowr.models import Flow, RuleSet, State, StateHistory
from tests import permission_rules as P
from tests.test_admin import admin

pytestmark = pytest.mark.django_db

STATE_PERMS = ("flowr.view_state", "flowr.change_state")


def staff(name: str, *perms: str) -> Client:
    user = User.objects.create_user(name, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def desk() -> State:
    flow = Flow.factory("desk", RuleSet.factory("desk", P.Desk))
    for rule in (P.Approve, P.Reject, P.Hold, P.Park):
        flow.root_data.add_child_rule(rule).connect_child(flow.root_data)
    return State.start(flow)


def body(state: State, **extra: Any) -> dict[str, Any]:
    return {"expected_node": state.current_node.node_id, "expected_version": state.version, **extra}


def messages_after(client: Client, url: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    response = client.post(url, data)
    assert response.status_code == 302
    return [(m.level_tag, str(m)) for m in client.get(response["Location"]).context["messages"]]


def test_refused_options_are_disabled_with_the_reason(desk: State) -> None:
    clerk = staff("clerk", *STATE_PERMS)
    page = clerk.get(admin("flowr_state_advance", desk.pk)).content.decode()
    enabled = re.findall(r'<input type="radio" name="rule" value="([^"]+)"', page)
    assert enabled == ["tests.permission_rules.Hold", "tests.permission_rules.Park"]
    assert page.count('<input type="radio" disabled>') == 2
    assert "Approve needs the permission testapp.change_ticket" in page and "Only reviewers may reject." in page
    assert 'name="note"' in page


def test_posting_a_refused_rule_changes_nothing(desk: State) -> None:
    clerk = staff("clerk", *STATE_PERMS)
    url = admin("flowr_state_advance", desk.pk)
    found = messages_after(clerk, url, body(desk, rule="tests.permission_rules.Approve"))
    assert found[0][0] == "error" and "Choose one" in found[0][1]
    desk.refresh_from_db()
    assert desk.version == 0 and desk.history.count() == 1


def test_the_note_is_stored_and_the_history_shows_it(desk: State) -> None:
    manager = staff("manager", *STATE_PERMS, "flowr.view_statehistory", P.APPROVE_PERMISSION)
    url = admin("flowr_state_advance", desk.pk)
    found = messages_after(manager, url, body(desk, rule="tests.permission_rules.Approve", note="looks <b>fine</b>"))
    assert found[0][0] == "success", found
    row = StateHistory.objects.get(state=desk, seq=2)
    assert (row.note, row.actor.username, row.to_rule_name) == ("looks <b>fine</b>", "manager", "Approve")
    StateHistory.objects.filter(pk=row.pk).update(data={"score": 5})
    page = manager.get(admin("flowr_state_change", desk.pk)).content.decode()
    assert "looks &lt;b&gt;fine&lt;/b&gt;" in page and "<b>fine</b>" not in page  # escaped
    assert "score" in page
    page = manager.get(admin("flowr_statehistory_change", row.pk)).content.decode()
    assert "looks &lt;b&gt;fine&lt;/b&gt;" in page and "score" in page


def test_a_single_refused_child_offers_no_advance_button() -> None:
    flow = Flow.factory("gate", RuleSet.factory("gate", P.Gate))
    flow.root_data.add_child_rule(P.Approve)
    state = State.start(flow)
    clerk = staff("clerk", *STATE_PERMS)
    url = admin("flowr_state_advance", state.pk)
    page = clerk.get(url).content.decode()
    assert "Refused: Approve needs the permission testapp.change_ticket" in page
    assert 'value="Advance"' not in page
    found = messages_after(clerk, url, body(state))  # posted anyway: the core refuses it
    assert found[0][0] == "error" and "needs the permission" in found[0][1]
    state.refresh_from_db()
    assert state.version == 0


@pytest.mark.parametrize("who", ["anonymous", "non-staff", "staff without the permission"])
def test_who_may_not_open_the_advance_page(desk: State, who: str) -> None:
    client = Client()
    if who == "non-staff":
        user = User.objects.create_user("outsider")
        user.user_permissions.add(*Permission.objects.filter(codename__in=["view_state", "change_state"]))
        client.force_login(user)
    elif who == "staff without the permission":
        client = staff("viewer", "flowr.view_state")
    url = admin("flowr_state_advance", desk.pk)
    response = client.get(url)
    assert response.status_code in (302, 403)
    client.post(url, body(desk, rule="tests.permission_rules.Park"))
    desk.refresh_from_db()
    assert desk.version == 0


@pytest.mark.parametrize("children", [1, 4])
def test_the_advance_page_queries_are_constant(children: int, django_assert_num_queries: Any) -> None:
    flow = Flow.factory("desk", RuleSet.factory("desk", P.Desk))
    for rule in (P.Hold, P.Park, P.Approve, P.Reject)[:children]:
        flow.root_data.add_child_rule(rule).connect_child(flow.root_data)
    state = State.start(flow)
    clerk = staff("clerk", *STATE_PERMS)
    url = admin("flowr_state_advance", state.pk)
    clerk.get(url)
    with django_assert_num_queries(NUM_ADVANCE_PAGE):
        assert clerk.get(url).status_code == 200


NUM_ADVANCE_PAGE = 8  # the same with 1 child and with 4
