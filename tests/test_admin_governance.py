"""The admin of issue 18: status column, filter and buttons; the compare
page; the migration screen (dry run, picker, all or nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Flow, FlowEdit, RuleSet, State, StateHistory
from tests.api_fixtures import build_flow, make_user, node_of, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_set() -> RuleSet:
    return RuleSet.factory("sample", S.A)


@pytest.fixture
def flow(rule_set: RuleSet) -> Flow:
    return build_flow(rule_set)


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:flowr_flow_{name}", args=args)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_changelist_shows_and_filters_the_status(admin_client: Client, flow: Flow, rule_set: RuleSet) -> None:
    other = build_flow(rule_set, "other")
    other.publish()
    page = admin_client.get(url("changelist") + "?status__exact=published").content.decode()
    assert "other" in page and f"/{flow.pk}/change/" not in page
    assert "published" in page


def test_the_status_buttons_change_the_status_and_log_the_user(admin_client: Client, flow: Flow) -> None:
    page = admin_client.get(url("change", flow.pk)).content.decode()
    assert 'value="submit_for_review"' in page and 'value="publish"' in page and 'value="retire"' not in page
    response = admin_client.post(url("status", flow.pk), {"transition": "publish"}, follow=True)
    assert any("published" in m for m in messages_of(response))
    assert Flow.objects.get(pk=flow.pk).status == "published"
    edit = FlowEdit.objects.filter(flow=flow).order_by("-seq").first()
    assert edit is not None and (edit.operation, edit.actor_repr) == ("publish", "admin")
    page = response.content.decode()
    assert 'value="retire"' in page and 'value="publish"' not in page


@pytest.mark.parametrize("transition", ["retire", "back_to_draft", "nonsense", ""])
def test_illegal_status_changes_are_an_error_message(admin_client: Client, flow: Flow, transition: str) -> None:
    before = snapshot()
    response = admin_client.post(url("status", flow.pk), {"transition": transition}, follow=True)
    assert response.status_code == 200
    assert any("status" in m.lower() or "cannot become" in m for m in messages_of(response)), messages_of(response)
    assert snapshot() == before


def test_the_status_page_is_post_only(admin_client: Client, flow: Flow) -> None:
    assert admin_client.get(url("status", flow.pk)).status_code == 405


@override_settings(FLOWR={"FOUR_EYES_PUBLISH": True})
def test_four_eyes_in_the_admin(client: Client, flow: Flow) -> None:
    staff = make_user("staffer", "flowr.change_flow", "flowr.view_flow", is_staff=True)
    client.force_login(staff)
    response = client.post(url("status", flow.pk), {"transition": "publish"}, follow=True)
    assert any("permission to publish" in m for m in messages_of(response))
    assert Flow.objects.get(pk=flow.pk).status == "draft"


@override_settings(FLOWR={"ONLY_PUBLISHED_START": True})
def test_a_draft_cannot_start_from_the_admin(admin_client: Client, flow: Flow) -> None:
    before = snapshot()
    response = admin_client.post(reverse("admin:flowr_state_add"), {"flow": flow.pk}, follow=True)
    assert response.status_code == 200
    assert "only published flows may start" in response.content.decode()
    assert snapshot() == before


def test_the_compare_page(admin_client: Client, flow: Flow) -> None:
    clone = flow.clone()
    page = admin_client.get(url("compare", flow.pk) + f"?other={clone.pk}").content.decode()
    assert "No differences" in page
    by_rule = {d.rule_name: d for d in clone.nodes_data()}
    by_rule["E"].disconnect_child(by_rule["A"])
    page = admin_client.get(url("compare", flow.pk) + f"?other={clone.pk}").content.decode()
    assert "link removed" in page and "No differences" not in page
    assert reverse("flowr:flow_compare", kwargs={"pk": flow.pk}) in page
    for bad in ("x", "999999", str(flow.pk)):
        response = admin_client.get(url("compare", flow.pk) + f"?other={bad}", follow=True)
        assert response.status_code == 200 and "Choose one of the flows offered" in response.content.decode()


def test_the_change_page_links_compare_and_migrate(admin_client: Client, flow: Flow) -> None:
    State.start(flow)
    v2 = flow.clone()
    page = admin_client.get(url("change", flow.pk)).content.decode()
    assert url("compare", flow.pk) + f"?other={v2.pk}" in page
    assert url("migrate", flow.pk) + f"?target={v2.pk}" in page


def test_the_migration_screen_dry_run_then_move(admin_client: Client, flow: Flow) -> None:
    state = State.start(flow)
    state.next_state()  # at C
    v2 = flow.clone()
    page = admin_client.get(url("migrate", flow.pk) + f"?target={v2.pk}").content.decode()
    assert f'data-node="{node_of(flow, S.C)}"' in page
    assert f"#{node_of(flow, S.C)} C" in page and "missing" not in page  # nodes named as the admin names them
    before = snapshot()
    response = admin_client.post(url("migrate", flow.pk), {"target": v2.pk, "dry_run": "1"})
    page = response.content.decode()
    assert "1 state would move" in page and f"state {state.pk}:" in page
    assert snapshot() == before  # a dry run changes nothing
    response = admin_client.post(url("migrate", flow.pk), {"target": v2.pk, "move": "1"}, follow=True)
    assert any("Moved 1 state" in m for m in messages_of(response))
    state.refresh_from_db()
    assert state.flow_id == v2.pk
    assert StateHistory.objects.filter(state=state, kind=StateHistory.MIGRATION).count() == 1
    edit = FlowEdit.objects.filter(flow=v2).order_by("-seq").first()
    assert edit is not None and (edit.operation, edit.actor_repr) == ("migrate", "admin")


def test_an_unmapped_node_must_be_picked_and_nothing_moves_until_it_is(
    admin_client: Client, flow: Flow, rule_set: RuleSet
) -> None:
    state = State.start(flow)
    state.next_state()  # at C
    target = Flow.factory_from_rules("other", rule_set, [({"rule": S.B}, [])])
    c_node, b_node = node_of(flow, S.C), node_of(target, S.B)
    page = admin_client.get(url("migrate", flow.pk) + f"?target={target.pk}").content.decode()
    assert 'class="flowr-unmapped"' in page and "none: choose one" in page
    before = snapshot()
    page = admin_client.post(url("migrate", flow.pk), {"target": target.pk, "dry_run": "1"}).content.decode()
    assert "has no target" in page and 'name="move"' not in page
    response = admin_client.post(url("migrate", flow.pk), {"target": target.pk, "move": "1"}, follow=True)
    assert any("Nothing moved" in m for m in messages_of(response))
    assert snapshot() == before  # all or nothing
    picked = {"target": target.pk, f"map_{c_node}": b_node}
    page = admin_client.post(url("migrate", flow.pk), {**picked, "dry_run": "1"}).content.decode()
    assert "1 state would move" in page and 'name="move"' in page
    admin_client.post(url("migrate", flow.pk), {**picked, "move": "1"})
    state.refresh_from_db()
    assert (state.flow_id, state.current_node.node_id) == (target.pk, b_node)


def test_bad_mapping_values_are_an_error_message(admin_client: Client, flow: Flow) -> None:
    State.start(flow)
    v2 = flow.clone()
    before = snapshot()
    for value in ("abc", "999999"):
        body = {"target": v2.pk, f"map_{node_of(flow, S.A)}": value, "move": "1"}
        response = admin_client.post(url("migrate", flow.pk), body, follow=True)
        assert response.status_code == 200 and messages_of(response), value
    assert snapshot() == before


def test_the_migration_screen_needs_the_state_permission(client: Client, flow: Flow) -> None:
    user: User = make_user("editor", "flowr.change_flow", "flowr.view_flow", is_staff=True)
    client.force_login(user)
    assert client.get(url("migrate", flow.pk)).status_code == 403


def test_the_editor_links_the_compare_view_and_the_migration_screen(admin_client: Client, flow: Flow) -> None:
    page = admin_client.get(reverse("flowr:flow_editor", kwargs={"pk": flow.pk})).content.decode()
    assert reverse("flowr:flow_compare", kwargs={"pk": flow.pk}) in page
    assert reverse("flowr:flow_migrate", kwargs={"pk": flow.pk}) in page


def test_the_editor_migration_page(admin_client: Client, flow: Flow, client: Client) -> None:
    State.start(flow)
    v2 = flow.clone()
    address = reverse("flowr:flow_migrate", kwargs={"pk": flow.pk})
    page = admin_client.get(address).content.decode()
    assert f'<option value="{v2.pk}"' in page and "flowr-migrate-data" not in page
    page = admin_client.get(address + f"?target={v2.pk}").content.decode()
    assert 'id="flowr-migrate-data"' in page and "migrate.js" in page
    for bad in ("x", "99999999", str(flow.pk)):
        assert "flowr-migrate-data" not in admin_client.get(address + f"?target={bad}").content.decode()
    editor = make_user("flow_editor", "flowr.change_flow", "flowr.view_flow", is_staff=True)
    client.force_login(editor)
    assert client.get(address).status_code == 403  # needs flowr.change_state too


def test_the_editor_compare_view_without_a_choice_offers_the_flows(admin_client: Client, flow: Flow) -> None:
    clone = flow.clone()
    compare = reverse("flowr:flow_compare", kwargs={"pk": flow.pk})
    page = admin_client.get(compare).content.decode()
    assert f'<option value="{clone.pk}"' in page and "flowr-compare-data" not in page
    page = admin_client.get(compare + f"?other={clone.pk}").content.decode()
    assert 'id="flowr-compare-data"' in page
    for bad in ("x", "99999999", str(flow.pk)):
        assert "flowr-compare-data" not in admin_client.get(compare + f"?other={bad}").content.decode()


def chain_of(rule_set: RuleSet, extra: int) -> Flow:
    """A -> C -> E -> A' -> C' ... : ``extra`` more nodes than A -> C -> E."""
    spec: list[Any] = []
    rules = [S.C, S.E, S.A]
    for i in reversed(range(2 + extra)):
        spec = [({"rule": rules[i % 3]}, spec)]
    return Flow.factory_from_rules(f"chain {extra}", rule_set, spec)


@pytest.mark.parametrize("page", ["compare", "migrate"])
def test_the_pages_cost_the_same_queries_whatever_the_size(admin_client: Client, rule_set: RuleSet, page: str) -> None:
    counts = []
    for extra in (0, 6):
        flow = chain_of(rule_set, extra)
        for _ in range(3):
            state = State.start(flow)
        state.next_state()
        other = flow.clone()
        param = "other" if page == "compare" else "target"
        address = url(page, flow.pk) + f"?{param}={other.pk}"
        admin_client.get(address)  # warm the caches (session, content types)
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(address).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
