"""Issue 14's edits in the flow editor (headless Chromium, real clicks):
delete a link, insert a node between two, change a node's rule, the prune
confirmation naming the nodes above, undo / redo (buttons and keys), and two
pages editing one flow (the stale one is refused, reloaded and told why).
"""

from __future__ import annotations

from typing import Any

import pytest

from flowr import sample_rules
from flowr.models import Flow, FlowEdit, FlowNodeData, RuleSet
from tests.browser.pages import edges_of, open_editor, select_node, wait_graph_size, wait_idle
from tests.browser.test_layout import (
    IN_VIEW,
    InProgress,
    Reopened,
    Resolved,
    WaitingOnCustomer,
    chain_flow,
    helpdesk_flow,
)
from tests.testapp.rules import Chain, Leaf, Leaf2, Wide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

A, C, D, E = sample_rules.A, sample_rules.C, sample_rules.D, sample_rules.E


def node_of(flow: Flow, rule: Any) -> FlowNodeData:
    (data,) = FlowNodeData.objects.filter(node__graph=flow.state_graph, rule_label=rule.class_label)
    return data


def sample_flow() -> Flow:
    """A -> C;  C -> D, E;  E -> A (a loop)."""
    flow = Flow.factory("Order", RuleSet.factory("Samples", A))
    root = flow.root_data
    c = root.add_child_rule(C)
    c.add_child_rule(D)
    c.add_child_rule(E).connect_child(root)
    return flow


def wait_detail(page: Any, pk: int) -> None:
    page.wait_for_selector(f".flowr-node[data-node='{pk}'][data-detail=loaded]")


def banner(page: Any) -> str:
    page.wait_for_selector("#flowr-banner:not([hidden])")
    return str(page.locator("#flowr-banner").inner_text())


# -- delete a link ---------------------------------------------------------------------
def test_delete_a_link_and_a_refused_one(page):
    flow = sample_flow()
    root, c, e = flow.root_data, node_of(flow, C), node_of(flow, E)
    open_editor(page, flow)
    # A -> C is the only way to C: refused, with the reason, the button disabled
    select_node(page, root.node_id)
    wait_detail(page, root.node_id)
    button = page.locator(f".flowr-disconnect[data-child='{c.node_id}']")
    assert button.is_disabled()
    assert page.locator(f"[data-reason-for='disconnect-{c.node_id}']").inner_text().strip() != ""
    # E -> A (the loop) may go: confirm, and it is gone
    select_node(page, e.node_id)
    wait_detail(page, e.node_id)
    page.click(f".flowr-disconnect[data-child='{root.node_id}']")
    page.wait_for_selector("#flowr-mode[data-kind=disconnect]")
    assert ("E", "A") in edges_of(flow)  # nothing before the confirmation
    page.click("#flowr-confirm")
    wait_idle(page)
    page.wait_for_function("() => window.flowrEditor.graph.cy.edges().length === 3")
    assert edges_of(flow) == {("A", "C"), ("C", "D"), ("C", "E")}
    assert FlowEdit.objects.filter(flow=flow).latest("seq").operation == "disconnect"


# -- insert a node between two ---------------------------------------------------------
def test_insert_between_a_node_and_its_child(page):
    flow = chain_flow(3)
    first = flow.root_data
    (second,) = first.children_data()
    open_editor(page, flow)
    select_node(page, first.node_id)
    wait_detail(page, first.node_id)
    assert page.eval_on_selector_all("#flowr-insert-child option", "o => o.map(x => x.value)") == [str(second.node_id)]
    assert page.eval_on_selector_all("#flowr-insert-rule option", "o => o.map(x => x.value)") == [Chain.class_label]
    page.click("#flowr-insert")
    wait_graph_size(page, 4)
    wait_idle(page)
    (inserted,) = first.children_data()
    assert inserted.node_id != second.node_id
    assert [d.node_id for d in inserted.children_data()] == [second.node_id]
    assert page.evaluate(IN_VIEW, f"n{inserted.node_id}")


def test_insert_is_disabled_with_the_reason_when_no_rule_fits(page):
    flow = sample_flow()
    c = node_of(flow, C)
    open_editor(page, flow)
    select_node(page, c.node_id)
    wait_detail(page, c.node_id)
    assert page.locator("#flowr-insert").count() == 0
    assert page.locator("[data-reason-for=insert]").inner_text().strip() != ""


# -- change a node's rule ----------------------------------------------------------------
def test_change_rule(page):
    flow = Flow.factory("Wide", RuleSet.factory("Wide", Wide))
    leaf = flow.root_data.add_child_rule(Leaf)
    leaf.add_child_rule(Wide)
    open_editor(page, flow)
    select_node(page, leaf.node_id)
    wait_detail(page, leaf.node_id)
    options = page.eval_on_selector_all("#flowr-rule-new option", "o => o.map(x => x.value)")
    assert options == [Leaf2.class_label]
    page.click("#flowr-change-rule")
    page.wait_for_function(
        "id => window.flowrEditor.graph.cy.getElementById(id).data('rule_name') === 'Leaf2'", arg=f"n{leaf.node_id}"
    )
    wait_idle(page)
    leaf.refresh_from_db()
    assert leaf.rule_label == Leaf2.class_label
    # the root's rule cannot change: the panel says why
    select_node(page, flow.state_graph.root_id)
    wait_detail(page, flow.state_graph.root_id)
    assert page.locator("#flowr-change-rule").count() == 0
    assert page.locator("[data-reason-for=rule]").inner_text().strip() != ""


# -- prune: the nodes above -------------------------------------------------------------------
def test_prune_confirmation_names_the_nodes_above(page):
    flow = helpdesk_flow()
    resolved, working = node_of(flow, Resolved), node_of(flow, InProgress)
    open_editor(page, flow)
    select_node(page, resolved.node_id)
    page.click("#flowr-prune")
    page.wait_for_selector("#flowr-mode[data-kind=prune]")
    above = page.locator(".flowr-prune-list .flowr-above")
    assert above.count() == 1
    text = above.inner_text()
    assert f" #{working.node_id}, above Resolved" in text  # InProgress, by its verbose name
    assert "loops back to it" in text
    marks = page.evaluate("id => window.flowrEditor.graph.cy.getElementById(id).classes()", f"n{working.node_id}")
    assert "above" in marks
    page.click("#flowr-cancel")
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 8


# -- undo / redo --------------------------------------------------------------------------------
def test_undo_and_redo_with_buttons_and_keys(page):
    flow = chain_flow(2)
    (last,) = flow.root_data.children_data()
    open_editor(page, flow)
    # the flow was built by edits too (through the model): the last one can be undone
    assert page.locator("#flowr-undo").is_enabled() and page.locator("#flowr-redo").is_disabled()
    assert page.locator("#flowr-redo").inner_text() == "Redo"
    select_node(page, last.node_id)
    page.click("#flowr-add-child")
    wait_graph_size(page, 3)
    wait_idle(page)
    undo = page.locator("#flowr-undo")
    assert undo.is_enabled() and "Chain" in undo.inner_text() and "null" not in undo.inner_text()
    # the button
    undo.click()
    wait_graph_size(page, 2)
    wait_idle(page)
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 2
    assert page.locator("#flowr-redo").is_enabled() and "Chain" in page.locator("#flowr-redo").inner_text()
    # Ctrl+Shift+Z redoes, Ctrl+Z undoes (focus on the page, not in a field)
    page.locator("#flowr-graph").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+Shift+Z")
    wait_graph_size(page, 3)
    wait_idle(page)
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 3
    page.keyboard.press("Control+Z")
    wait_graph_size(page, 2)
    wait_idle(page)
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 2
    # in the name field, Ctrl+Z is the field's own
    page.click("#flowr-name")
    page.keyboard.press("Control+Z")
    wait_idle(page)
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 2
    assert page.locator("#flowr-banner").is_hidden()


# -- two pages on one flow ----------------------------------------------------------------------
def test_stale_page_is_refused_reloaded_and_told_why(page):
    flow = helpdesk_flow()
    reopened = node_of(flow, Reopened)
    other = page.context.new_page()
    open_editor(page, flow)
    open_editor(other, flow)
    # the other page removes Reopened
    select_node(other, reopened.node_id)
    other.click("#flowr-remove")
    other.click("#flowr-confirm")
    wait_graph_size(other, 7)
    # this page still shows it, and edits it: refused, reloaded, told why
    select_node(page, reopened.node_id)
    page.click("#flowr-remove")
    page.click("#flowr-confirm")
    text = banner(page)
    assert "removed by another edit" in text and f"{reopened.node_id}" in text
    assert "null" not in text
    assert page.locator(".flowr-banner-code").inner_text() == "concurrent_edit"
    wait_graph_size(page, 7)
    assert not page.evaluate("id => window.flowrEditor.graph.cy.getElementById(id).length", f"n{reopened.node_id}")
    # a stale edit that does not conflict goes through: the other page
    # renames the flow, this one (now stale again) deletes the loop
    # WaitingOnCustomer -> InProgress
    other.fill("#flowr-name", "Tickets")
    other.click("#flowr-rename button[type=submit]")
    other.wait_for_function("() => document.getElementById('flowr-flow-title').textContent === 'Tickets'")
    other.close()
    waiting = node_of(flow, WaitingOnCustomer)
    select_node(page, waiting.node_id)
    wait_detail(page, waiting.node_id)
    page.click(f".flowr-disconnect[data-child='{node_of(flow, InProgress).node_id}']")
    page.click("#flowr-confirm")
    wait_idle(page)
    assert page.locator("#flowr-banner").is_hidden()
    assert ("WaitingOnCustomer", "InProgress") not in edges_of(flow)
    assert page.locator("#flowr-flow-title").inner_text() == "Tickets"
