"""The flow editor in headless Chromium, against a live server.

Every edit is made the way a user makes it (clicks in the graph, the side
panel's buttons and forms) and its effect is then checked in the database.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from flowr import sample_rules
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, RuleSet, State
from tests.browser.pages import (
    classes,
    click_node,
    data_of,
    edges_of,
    graph_size,
    open_editor,
    select_node,
    wait_graph_size,
    wait_idle,
)
from tests.testapp.rules import Chain, Leaf, Leaf2, Wide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

A, B, C, D, E = (sample_rules.A, sample_rules.B, sample_rules.C, sample_rules.D, sample_rules.E)


def new_flow(name: str = "Order") -> Flow:
    return Flow.factory(name, RuleSet.factory("Samples", A))


def sample_flow(loop: bool = True) -> Flow:
    """A -> C;  C -> D, E;  and (loop) E -> A."""
    flow = new_flow()
    root = flow.root_data
    c = root.add_child_rule(C)
    c.add_child_rule(D)
    e = c.add_child_rule(E)
    if loop:
        e.connect_child(root)
    return flow


def pk_of(flow: Flow, rule: Any) -> int:
    (data,) = data_of(flow, rule)
    return data.node_id


def offered(page: Any) -> list[str]:
    return page.eval_on_selector_all("#flowr-add-rule option", "options => options.map(o => o.value)")


# -- opening ---------------------------------------------------------------------
def test_open_editor_shows_the_flow(page):
    flow = sample_flow()
    open_editor(page, flow)
    assert graph_size(page) == (4, 4)
    root = flow.state_graph.root_id
    assert page.evaluate("id => window.flowrEditor.graph.cy.getElementById(id).data('is_root')", f"n{root}")
    assert "end" in classes(page, pk_of(flow, D))
    assert page.locator("#flowr-flow-title").inner_text() == "Order"
    assert page.locator("#flowr-legend").is_visible()
    # the problems list: D is an end; nothing is missing
    ends = page.locator(".flowr-problem-ends li button").all_inner_texts()
    assert ends == [f"D #{pk_of(flow, D)}"]
    assert page.locator(".flowr-problem-missing").count() == 0
    # the layout is stable between reloads
    positions = page.evaluate("() => window.flowrEditor.graph.cy.nodes().map(n => n.position())")
    open_editor(page, flow)
    assert page.evaluate("() => window.flowrEditor.graph.cy.nodes().map(n => n.position())") == positions
    # zoom, pan (fit) work
    zoom = page.evaluate("() => window.flowrEditor.graph.cy.zoom()")
    page.click("#flowr-zoom-in")
    assert page.evaluate("() => window.flowrEditor.graph.cy.zoom()") > zoom
    page.click("#flowr-fit")
    assert page.evaluate("() => window.flowrEditor.graph.cy.zoom()") == pytest.approx(zoom)
    select_node(page, pk_of(flow, C))


def test_problems_list_shows_missing_rules_and_single_branches(page):
    flow = new_flow()
    c = flow.root_data.add_child_rule(C)
    c.add_child_rule(D)
    FlowNodeData.objects.filter(pk=data_of(flow, D)[0].pk).update(rule_label="tests.testapp.rules.Gone")
    open_editor(page, flow)
    assert page.locator(".flowr-problem-missing li").all_inner_texts()[0].startswith("Gone #")
    assert page.locator(".flowr-problem-single-branch li button").all_inner_texts() == [f"C #{c.node_id}"]
    page.click(".flowr-problem-missing li button")
    assert page.locator(".flowr-node .flowr-missing").inner_text() == "missing rule: tests.testapp.rules.Gone"
    assert page.locator("#flowr-add-child").is_disabled()


# -- add a child -------------------------------------------------------------------
def test_add_child_offers_exactly_the_allowed_rules(page):
    flow = new_flow()
    root = flow.state_graph.root_id
    open_editor(page, flow)
    select_node(page, root)
    assert offered(page) == [B.class_label, C.class_label]
    page.select_option("#flowr-add-rule", C.class_label)
    page.click("#flowr-add-child")
    wait_graph_size(page, 2)
    assert edges_of(flow) == {("A", "C")}
    # A allows one child only: now full, and the panel says why
    page.wait_for_selector("#flowr-add-child[disabled]")
    assert "only one child" in page.locator("[data-reason-for=add-child]").inner_text()
    c = pk_of(flow, C)
    select_node(page, c)
    assert offered(page) == [D.class_label, E.class_label]
    page.select_option("#flowr-add-rule", E.class_label)
    page.click("#flowr-add-child")
    wait_graph_size(page, 3)
    assert offered(page) == [D.class_label]  # a rule is used once per node
    assert edges_of(flow) == {("A", "C"), ("C", "E")}
    assert page.locator(".flowr-children button.flowr-link").all_inner_texts() == [f"E #{pk_of(flow, E)}"]


# -- connect -----------------------------------------------------------------------
def test_connect_to_an_existing_node(page):
    flow = sample_flow(loop=False)
    root, c, d, e = flow.state_graph.root_id, pk_of(flow, C), pk_of(flow, D), pk_of(flow, E)
    open_editor(page, flow)
    select_node(page, e)
    page.click("#flowr-connect")
    page.wait_for_selector("#flowr-mode[data-kind=connect]")
    assert page.locator("#flowr-candidate-count").inner_text() == "1"
    assert "candidate" in classes(page, root)
    assert {"dimmed"} <= classes(page, c) and {"dimmed"} <= classes(page, d)
    # a disallowed target cannot be picked: clicking it only explains why
    click_node(page, d)
    assert "cannot be picked" in page.locator("#flowr-connect-note").inner_text()
    assert edges_of(flow) == {("A", "C"), ("C", "D"), ("C", "E")}
    click_node(page, root)
    page.wait_for_selector(f".flowr-children button[data-node='{root}']")
    assert edges_of(flow) == {("A", "C"), ("C", "D"), ("C", "E"), ("E", "A")}
    drawn = page.evaluate(
        "() => window.flowrEditor.graph.cy.edges().map((e) => [e.source().data('node'), e.target().data('node'), "
        "e.data('kind')])"
    )
    stored = Edge.objects.filter(graph=flow.state_graph).values_list("source_id", "target_id", "backbone")
    assert sorted(map(tuple, drawn)) == sorted((s, t, "backbone" if b else "link") for s, t, b in stored)
    assert [kind for _, _, kind in drawn].count("link") == 1
    # E is full now: connecting is disabled, with the reason
    assert page.locator("#flowr-connect").is_disabled()
    assert "only one child" in page.locator("[data-reason-for=connect]").inner_text()


def test_connect_mode_is_cancelled_with_escape(page):
    flow = sample_flow(loop=False)
    open_editor(page, flow)
    select_node(page, pk_of(flow, E))
    page.click("#flowr-connect")
    page.wait_for_selector("#flowr-mode[data-kind=connect]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#flowr-mode", state="hidden")
    assert "dimmed" not in classes(page, pk_of(flow, C))


# -- remove ----------------------------------------------------------------------------
def test_remove_keeps_the_graph_connected(page):
    """Wide -> Leaf -> Wide2 and Wide -> Leaf2 -> Wide2: Leaf can go, Leaf2 then cannot."""
    flow = Flow.factory("Wide", RuleSet.factory("Wide", Wide))
    root = flow.root_data
    leaf = root.add_child_rule(Leaf)
    leaf2 = root.add_child_rule(Leaf2)
    wide2 = leaf.add_child_rule(Wide)
    leaf2.connect_child(wide2)
    open_editor(page, flow)
    select_node(page, leaf.node_id)
    assert page.locator("#flowr-remove").is_enabled()
    page.click("#flowr-remove")
    page.wait_for_selector("#flowr-mode[data-kind=remove]")
    assert "doomed" in classes(page, leaf.node_id)
    page.click("#flowr-confirm")
    wait_graph_size(page, 3)
    assert not FlowNodeData.objects.filter(pk=leaf.pk).exists()
    assert edges_of(flow) == {("Wide", "Leaf2"), ("Leaf2", "Wide")}
    # Leaf2 now carries Wide2 alone: removing it would cut Wide2 off
    select_node(page, leaf2.node_id)
    assert page.locator("#flowr-remove").is_disabled()
    assert "disconnect 1 other node" in page.locator("[data-reason-for=remove]").inner_text()
    select_node(page, flow.state_graph.root_id)
    assert page.locator("#flowr-remove").is_disabled()
    assert "root" in page.locator("[data-reason-for=remove]").inner_text()


# -- prune -------------------------------------------------------------------------------
def test_prune_highlights_then_asks(page):
    flow = sample_flow()
    root, c, d, e = flow.state_graph.root_id, pk_of(flow, C), pk_of(flow, D), pk_of(flow, E)
    open_editor(page, flow)
    select_node(page, c)
    page.click("#flowr-prune")
    page.wait_for_selector("#flowr-mode[data-kind=prune]")
    assert page.locator("#flowr-prune-count").inner_text() == "3"
    for pk in (c, d, e):
        assert "doomed" in classes(page, pk)
    assert "doomed" not in classes(page, root)
    # cancelling changes nothing
    page.click("#flowr-cancel")
    assert "doomed" not in classes(page, c)
    assert FlowNodeData.objects.filter(node__graph=flow.state_graph).count() == 4
    # confirming prunes exactly the highlighted nodes
    page.click("#flowr-prune")
    page.wait_for_selector("#flowr-mode[data-kind=prune]")
    page.click("#flowr-confirm")
    wait_graph_size(page, 1)
    assert list(FlowNodeData.objects.filter(node__graph=flow.state_graph).values_list("node_id", flat=True)) == [root]
    assert page.locator("#flowr-node-panel .flowr-hint").is_visible()  # the selection went with the node


# -- refusals -----------------------------------------------------------------------------
def test_refusal_shows_in_the_banner_and_the_graph_reloads(page):
    flow = new_flow()
    root = flow.root_data
    open_editor(page, flow)
    select_node(page, root.node_id)
    root.add_child_rule(C)  # behind the page's back: A is full now
    page.select_option("#flowr-add-rule", B.class_label)
    page.click("#flowr-add-child")
    page.wait_for_selector("#flowr-banner:not([hidden])")
    # the page's edit was made on an older revision and needs A: refused as concurrent
    text = page.locator("#flowr-banner-text").inner_text()
    assert "changed by another edit (add C under A" in text and "null" not in text
    assert page.locator(".flowr-banner-code").inner_text() == "concurrent_edit"
    wait_graph_size(page, 2)  # the graph as the server has it
    assert edges_of(flow) == {("A", "C")}
    page.wait_for_selector("#flowr-add-child[disabled]")
    page.click(".flowr-banner-close")
    page.wait_for_selector("#flowr-banner", state="hidden")
    # up to date now: what the rules refuse (sent anyway) shows the rule's message and code
    send = "([id, rule]) => window.flowrEditor.run(() => window.flowrEditor.api.addChild(id, rule))"
    page.evaluate(send, [root.node_id, B.class_label])
    page.wait_for_selector("#flowr-banner:not([hidden])")
    assert "only one child" in page.locator("#flowr-banner-text").inner_text()
    assert page.locator(".flowr-banner-code").inner_text() == "too_many_children"
    assert edges_of(flow) == {("A", "C")}
    # a plain 404: the message alone, no code, never "null"
    page.evaluate(send, [10**9, B.class_label])
    page.wait_for_function("() => document.getElementById('flowr-banner').dataset.code === 'not_found'")
    assert page.locator("#flowr-banner-text").inner_text() == "The server refused: Not found."
    assert page.locator(".flowr-banner-code").count() == 0
    assert "null" not in page.locator("#flowr-banner").inner_text()


def test_flow_frozen_after_loading_is_refused(page):
    flow = sample_flow()
    open_editor(page, flow)
    State.start(flow)
    page.fill("#flowr-name", "Renamed")
    page.click("#flowr-rename button")
    page.wait_for_selector("#flowr-banner:not([hidden])")
    assert page.locator(".flowr-banner-code").inner_text() == "flow_frozen"
    page.wait_for_selector("#flowr-frozen:not([hidden])")
    assert Flow.objects.get(pk=flow.pk).name == "Order"


# -- rename, edit screen --------------------------------------------------------------------
def test_rename(page):
    flow = sample_flow()
    open_editor(page, flow)
    page.fill("#flowr-name", "Orders <b>2</b>")
    page.click("#flowr-rename button")
    page.wait_for_function("() => document.getElementById('flowr-flow-title').textContent === 'Orders <b>2</b>'")
    assert Flow.objects.get(pk=flow.pk).name == "Orders <b>2</b>"


def test_custom_edit_screen(page):
    flow = sample_flow()
    c = pk_of(flow, C)
    open_editor(page, flow)
    select_node(page, c)
    page.wait_for_selector("#flowr-edit-screen .flowr-edit-screen h3")
    assert page.locator("#flowr-edit-screen h3").inner_text() == "Rule C"
    assert f"Node {c}:" in page.locator("#flowr-edit-screen").inner_text()
    select_node(page, flow.state_graph.root_id)
    assert page.locator("#flowr-edit-screen").is_hidden()


# -- frozen flows ------------------------------------------------------------------------------
def test_frozen_flow_is_read_only_and_clones(page):
    flow = sample_flow()
    State.start(flow)
    State.start(flow)
    root = flow.state_graph.root_id
    open_editor(page, flow)
    assert page.locator("#flowr-frozen").is_visible()
    assert page.locator("#flowr-frozen-count").inner_text() == "2"
    assert page.locator("#flowr-name").is_disabled()
    assert page.evaluate("id => window.flowrEditor.graph.cy.getElementById(id).data('display')", f"n{root}") == (
        "A\n\u25cf 2"
    )
    select_node(page, root)
    assert page.locator(".flowr-readonly-note").is_visible()
    for control in ("#flowr-add-child", "#flowr-connect", "#flowr-remove", "#flowr-prune"):
        assert page.locator(control).count() == 0
    assert "2 states here" in page.locator(".flowr-badge-states").inner_text()
    page.click("#flowr-clone")
    page.wait_for_url(lambda url: re.search(r"/flowr/flows/(\d+)/edit/$", url)[1] != str(flow.pk))
    page.wait_for_selector("#flowr-editor[data-ready=true]")
    copy = Flow.objects.exclude(pk=flow.pk).get()
    assert page.url.endswith(f"/flowr/flows/{copy.pk}/edit/")
    assert (copy.family, copy.version) == (flow.family, 2)
    assert edges_of(copy) == edges_of(flow)
    assert page.locator("#flowr-frozen").is_hidden()
    assert page.locator("#flowr-name").is_enabled()
    assert State.objects.filter(flow=flow).count() == 2 and not State.objects.filter(flow=copy).exists()


# -- big flows ------------------------------------------------------------------------------------
def big_flow(size: int) -> Flow:
    """``size`` nodes obeying the Wide/Leaf/Leaf2/Chain rules, built breadth first."""
    follow = {Wide: [Leaf, Leaf2, Chain], Leaf: [Wide], Leaf2: [Wide], Chain: [Chain]}
    top: list[Any] = []
    queue = [(Wide, top)]
    count = 1
    while queue and count < size:
        rule, kids = queue.pop(0)
        for child in follow[rule][: size - count]:
            grandchildren: list[Any] = []
            kids.append(({"rule_label": child.class_label}, grandchildren))
            queue.append((child, grandchildren))
            count += 1
    graph = DCCGraph.factory_from_graph(FlowNodeData, {"rule_label": Wide.class_label}, top)
    return Flow.objects.create(name=f"Big {size}", rule_set=RuleSet.factory("Wide", Wide), state_graph=graph)


def test_600_nodes_stay_interactive(page):
    flow = big_flow(600)
    started = time.monotonic()
    open_editor(page, flow, timeout=60_000)
    loaded = time.monotonic() - started
    assert graph_size(page)[0] == 600
    assert loaded < 30, f"the editor took {loaded:.1f}s to become interactive"
    # the page answers at once, and an edit round trip (reload of 600) is quick
    started = time.monotonic()
    assert page.locator(".flowr-problem-ends").get_attribute("open") is None  # 150+ ends start folded
    page.click(".flowr-problem-ends summary")
    page.click(".flowr-problem-ends li button")
    page.wait_for_selector(".flowr-node")
    select_node(page, flow.state_graph.root_id)
    assert page.locator("#flowr-prune").is_enabled() is False
    chain = FlowNodeData.objects.filter(node__graph=flow.state_graph, rule_label=Chain.class_label).last()
    assert not chain.children_data()
    select_node(page, chain.node_id)
    page.click("#flowr-add-child")
    wait_graph_size(page, 601)
    wait_idle(page)
    assert time.monotonic() - started < 30
    assert [d.rule_label for d in chain.children_data()] == [Chain.class_label]
