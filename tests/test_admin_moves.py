"""The State admin's batch advance (an action with a confirmation page), jump and cancel pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import State
from flowr.models.moves import BATCH_MAX
from tests.api_fixtures import snapshot
from tests.test_admin import build_ae

pytestmark = pytest.mark.django_db


def admin(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames, content_type__app_label="flowr"))
    client = Client()
    client.force_login(user)
    return client


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- advance selected ---------------------------------------------------------------------


def test_the_action_leads_to_a_confirmation_page_that_moves_nothing(admin_client: Client) -> None:
    flow, nodes = build_ae()
    states = [State.start(flow) for _ in range(3)]
    before = snapshot()
    response = admin_client.post(
        admin("flowr_state_changelist"),
        {"action": "advance_selected", "_selected_action": [s.pk for s in states]},
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert "Advance 3 state(s)" in page.content.decode()
    assert snapshot() == before
    # the rules the selected States' nodes lead to are offered
    assert [c[0] for c in page.context["form"].fields["rule"].choices] == ["", S.C.class_label]


def test_confirming_advances_and_reports_each_refusal(admin_client: Client) -> None:
    flow, nodes = build_ae()
    fine, ended = State.start(flow), State.start(flow)
    ended.next_state()
    ended.next_state(S.D)
    response = admin_client.post(
        admin("flowr_state_advance_many"), {"ids": f"{fine.pk},{ended.pk}", "rule": "", "note": "batch"}
    )
    assert response.status_code == 302 and response["Location"] == admin("flowr_state_changelist")
    got = texts(response)
    assert got[0] == "1 state(s) advanced."
    assert got[1].startswith(f"State {ended.pk}: No next state")
    fine.refresh_from_db()
    assert fine.current_node_id == nodes["C"].pk
    assert fine.history.last().note == "batch"


def test_all_or_nothing(admin_client: Client) -> None:
    flow, nodes = build_ae()
    fine, ended = State.start(flow), State.start(flow)
    ended.next_state()
    ended.next_state(S.D)
    response = admin_client.post(admin("flowr_state_advance_many"), {"ids": f"{fine.pk},{ended.pk}", "atomic": "on"})
    assert response.status_code == 302
    assert any("rolled back" in text for text in texts(response))
    assert State.objects.get(pk=fine.pk).version == 0


@pytest.mark.parametrize(
    ("ids", "rule"),
    [
        ("", ""),
        ("x", ""),
        ("{pk},y", ""),
        ("0", ""),
        ("-3", ""),
        (str(2**63), ""),
        ("²", ""),
        ("１", ""),
        ("{pk}", "not.a.Rule"),
    ],
)
def test_bad_ids_or_rule_change_nothing(admin_client: Client, ids: str, rule: str) -> None:
    flow, _ = build_ae()
    state = State.start(flow)
    before = snapshot()
    data = {"ids": ids.format(pk=state.pk), "rule": rule}
    response = admin_client.post(admin("flowr_state_advance_many"), data)
    assert response.status_code == 200  # the form again, with its errors
    assert set(response.context["form"].errors) == {"rule" if rule else "ids"}
    assert snapshot() == before


def test_more_than_the_limit_is_refused(admin_client: Client) -> None:
    ids = ",".join(str(i) for i in range(1, BATCH_MAX + 2))
    response = admin_client.post(admin("flowr_state_advance_many"), {"ids": ids})
    assert response.status_code == 200
    assert f"At most {BATCH_MAX}" in str(response.context["form"].errors)


def test_the_action_is_offered_only_with_the_change_permission() -> None:
    flow, _ = build_ae()
    State.start(flow)
    viewer = staff("view_state")
    page = viewer.get(admin("flowr_state_changelist"))
    assert "advance_selected" not in page.content.decode()
    runner = Client()
    user = User.objects.create_user("runner", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_state", "change_state"]))
    runner.force_login(user)
    assert "advance_selected" in runner.get(admin("flowr_state_changelist")).content.decode()


def test_the_confirmation_page_reads_in_constant_queries(
    admin_client: Client, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    flow, _ = build_ae()
    for count in (3, 30):
        ids = ",".join(str(State.start(flow).pk) for _ in range(count))
        # session, user, the rule choices
        with django_assert_max_num_queries(3):
            assert admin_client.get(admin("flowr_state_advance_many") + f"?ids={ids}").status_code == 200


# -- jump -------------------------------------------------------------------------------------


def test_jump_page_and_jump(admin_client: Client) -> None:
    flow, nodes = build_ae()
    state = State.start(flow)
    page = admin_client.get(admin("flowr_state_jump", state.pk))
    assert page.status_code == 200
    choices = [c[0] for c in page.context["form"].fields["node"].choices]
    assert choices == sorted(d.node_id for d in nodes.values())
    response = admin_client.post(
        admin("flowr_state_jump", state.pk), {"node": nodes["D"].node_id, "expected_version": 0, "note": "skip"}
    )
    assert response.status_code == 302 and response["Location"] == admin("flowr_state_change", state.pk)
    state.refresh_from_db()
    assert state.current_node_id == nodes["D"].pk
    row = state.history.last()
    assert (row.kind, row.note) == ("jump", "skip")
    assert S.done_enter == ["A"]  # no callbacks unless asked


@pytest.mark.parametrize("body", [{"node": "{other}", "expected_version": 0}, {"node": "{D}", "expected_version": 3}])
def test_jump_refused_changes_nothing(admin_client: Client, body: dict[str, Any]) -> None:
    flow, nodes = build_ae()
    _, other = build_ae("other")
    state = State.start(flow)
    world = {"{other}": other["D"].node_id, "{D}": nodes["D"].node_id}
    before = snapshot()
    response = admin_client.post(admin("flowr_state_jump", state.pk), {k: world.get(v, v) for k, v in body.items()})
    assert response.status_code == 302 and response["Location"] == admin("flowr_state_jump", state.pk)
    assert texts(response) and "nothing was done" in texts(response)[0]
    assert snapshot() == before


def test_get_never_jumps_or_cancels(admin_client: Client) -> None:
    flow, nodes = build_ae()
    state = State.start(flow)
    before = snapshot()
    admin_client.get(admin("flowr_state_jump", state.pk), {"node": nodes["D"].node_id, "expected_version": 0})
    admin_client.get(admin("flowr_state_cancel", state.pk), {"expected_version": 0})
    assert snapshot() == before


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_then_jump_is_refused_with_a_message(admin_client: Client) -> None:
    flow, nodes = build_ae()
    state = State.start(flow)
    response = admin_client.post(admin("flowr_state_cancel", state.pk), {"expected_version": 0, "note": "gone"})
    assert response.status_code == 302
    state.refresh_from_db()
    assert state.cancelled is not None and state.history.last().kind == "cancel"
    before = snapshot()
    response = admin_client.post(
        admin("flowr_state_jump", state.pk), {"node": nodes["D"].node_id, "expected_version": state.version}
    )
    assert response.status_code == 302 and "cancelled" in texts(response)[0]
    assert snapshot() == before
    page = admin_client.get(admin("flowr_state_change", state.pk)).content.decode()
    assert admin("flowr_state_jump", state.pk) not in page and admin("flowr_state_cancel", state.pk) not in page


def test_the_change_page_offers_jump_and_cancel_only_with_their_permissions() -> None:
    flow, _ = build_ae()
    state = State.start(flow)
    jump, cancel = admin("flowr_state_jump", state.pk), admin("flowr_state_cancel", state.pk)
    page = staff("view_state").get(admin("flowr_state_change", state.pk)).content.decode()
    assert jump not in page and cancel not in page
    User.objects.filter(username="staff").delete()
    page = staff("view_state", "jump_state").get(admin("flowr_state_change", state.pk)).content.decode()
    assert jump in page and cancel not in page
    User.objects.filter(username="staff").delete()
    page = staff("view_state", "cancel_state").get(admin("flowr_state_change", state.pk)).content.decode()
    assert jump not in page and cancel in page
