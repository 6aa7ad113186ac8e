"""Issue 18 in headless Chromium: the migration screen with a node that
must be picked, the status buttons, and the editor's compare view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Flow, FlowEdit, RuleSet, State, StateHistory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def node_of(flow: Flow, rule: type) -> int:
    return next(d.node_id for d in flow.nodes_data() if d.rule_label == rule.class_label)


def test_the_migration_screen_needs_the_unmapped_node_picked(page):
    rule_set = RuleSet.factory("Sample rules", S.A)
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])
    at_c = State.start(flow)
    at_c.next_state()
    at_root = State.start(flow)
    target = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.B}, [])])
    c_node, b_node = node_of(flow, S.C), node_of(target, S.B)

    page.goto(reverse("admin:flowr_flow_change", args=[flow.pk]))
    page.click("text=Move running states to another version…")
    page.select_option("#id_target", str(target.pk))
    page.click("input[type=submit][value=Choose]")
    row = page.locator(f"tr[data-node='{c_node}']")
    assert row.get_attribute("class") == "flowr-unmapped"
    assert "none: choose one" in row.inner_text()
    page.click("input[name=dry_run]")
    assert "has no target" in page.locator("#flowr-dry-run").inner_text()
    assert page.locator("input[name=move]").count() == 0

    page.select_option(f"#id_map_{c_node}", str(b_node))
    page.click("input[name=dry_run]")
    dry = page.locator("#flowr-dry-run").inner_text()
    assert "2 states would move" in dry and f"state {at_c.pk}:" in dry and f"state {at_root.pk}:" in dry
    assert State.objects.filter(flow=flow).count() == 2  # a dry run moves nothing

    page.click("input[name=move]")
    page.wait_for_selector("ul.messagelist li.success")
    assert "Moved 2 state(s)" in page.locator("ul.messagelist").inner_text()
    at_c.refresh_from_db()
    assert (at_c.flow_id, at_c.current_node.node_id) == (target.pk, b_node)
    assert StateHistory.objects.filter(kind=StateHistory.MIGRATION).count() == 2
    assert FlowEdit.objects.filter(flow=target, operation="migrate", actor_repr="editor").exists()


def test_status_buttons_and_the_compare_view(page):
    rule_set = RuleSet.factory("Sample rules", S.A)
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])
    v2 = flow.clone()
    c = next(d for d in v2.nodes_data() if d.rule_name == "C")
    c.add_child_rule(S.E)

    page.goto(reverse("admin:flowr_flow_change", args=[flow.pk]))
    page.click("#flowr-status input[value='Publish']")
    page.wait_for_selector("ul.messagelist li.success")
    assert page.locator("#flowr-status .flowr-badge").inner_text() == "published"
    assert Flow.objects.get(pk=flow.pk).status == "published"

    page.goto(reverse("flowr:flow_compare", kwargs={"pk": flow.pk}) + f"?other={v2.pk}")
    page.wait_for_selector("#flowr-compare[data-ready=true]")
    marks = page.evaluate(
        "() => window.flowrCompare.graph.cy.nodes().map((n) => [n.data('rule_name'), n.data('diff')])"
    )
    assert sorted(marks) == [["A", "kept"], ["C", "kept"], ["D", "kept"], ["E", "added"]]
    assert "1 node(s) added" in page.locator("#flowr-compare-summary").inner_text()


def test_the_editor_migration_page_needs_the_unmapped_node_picked(page):
    rule_set = RuleSet.factory("Sample rules", S.A)
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])
    at_c = State.start(flow)
    at_c.next_state()
    target = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.B}, [])])
    c_node, b_node = node_of(flow, S.C), node_of(target, S.B)

    page.goto(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    page.click("#flowr-migrate-link")
    page.select_option("#id_target", str(target.pk))
    page.click("input[type=submit][value=Choose]")
    page.wait_for_selector("#flowr-migrate[data-ready=true]")
    row = page.locator(f"#flowr-migrate-rows tr[data-node='{c_node}']")
    assert row.get_attribute("class") == "flowr-unmapped" and "none: choose one" in row.inner_text()
    page.click("#flowr-migrate-dry-run")
    page.wait_for_selector("#flowr-migrate-result .errornote")
    assert "has no target" in page.locator("#flowr-migrate-result").inner_text()
    assert page.locator("#flowr-migrate-move").is_hidden()

    page.select_option(f"#flowr-map-{c_node}", str(b_node))
    page.click("#flowr-migrate-dry-run")
    page.wait_for_selector("#flowr-migrate-move:not([hidden])")
    assert f"state {at_c.pk}: #{c_node} C → #{b_node} B" in page.locator("#flowr-migrate-result").inner_text()
    assert State.objects.get(pk=at_c.pk).flow_id == flow.pk  # a dry run moves nothing
    page.click("#flowr-migrate-move")
    page.wait_for_selector("#flowr-migrate-result .flowr-done")
    at_c.refresh_from_db()
    assert (at_c.flow_id, at_c.current_node.node_id) == (target.pk, b_node)
    assert FlowEdit.objects.filter(flow=flow, operation="migrate", actor_repr="editor").exists()
