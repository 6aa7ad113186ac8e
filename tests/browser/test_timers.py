"""The editor shows a clock on nodes with a timer; hovering one says when
and where it times out (the server's sentence), and the side panel repeats it."""

from __future__ import annotations

import pytest

from tests.browser.pages import node_point, open_editor, select_node
from tests.browser.test_editor_edits import wait_detail
from tests.testapp.timer_rules import TimerEscalated, timer_flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLOCK = "\u23f0"


def test_a_node_with_a_timer_wears_a_clock_with_its_tooltip(page):
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 259200, "timeout_rule": TimerEscalated.class_label})
    text = f"times out after 3 days to {TimerEscalated.verbose_name}"
    open_editor(page, flow)
    labels = page.evaluate(
        "() => Object.fromEntries(window.flowrEditor.graph.cy.nodes().map(n => [n.data('node'), n.data('display')]))"
    )
    clocked = {int(pk) for pk, label in labels.items() if label.startswith(CLOCK)}
    assert clocked == {waiting.node_id}
    container = "window.flowrEditor.graph.cy.container()"
    x, y = node_point(page, f"n{waiting.node_id}")
    page.mouse.move(x, y)
    page.wait_for_function(f"t => {container}.title === t", arg=text)
    x, y = node_point(page, f"n{flow.root_data.node_id}")
    page.mouse.move(x, y)  # a node without a timer: no tooltip
    page.wait_for_function(f"() => {container}.title === ''")
    select_node(page, waiting.node_id)
    wait_detail(page, waiting.node_id)
    badge = page.locator(".flowr-badge-timer")
    assert badge.inner_text().strip() == f"{CLOCK} {text}"
    assert badge.get_attribute("title") == text
