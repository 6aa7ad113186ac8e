"""The editor shows a clock on nodes with a timer; hovering one says when
and where it times out (the server's sentence), and the side panel repeats it."""

from __future__ import annotations

import datetime

import pytest

from flowr.testing import flow_nodes
from tests.browser.pages import classes, node_point, open_editor, select_node
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


def test_simulate_waits_until_a_time_and_the_timeout_moves_the_state(page):
    from django.utils import timezone

    from tests.api_fixtures import snapshot
    from tests.browser.test_simulate import steps, wait_steps

    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 259200, "timeout_rule": TimerEscalated.class_label})
    found = flow_nodes(flow)
    nodes = {name: found[name].node_id for name in ("TimerAnswered", "TimerEscalated")}
    before = snapshot()
    open_editor(page, flow)
    page.click("#flowr-simulate")
    wait_steps(page, 1)
    page.click(f".flowr-sim-take[data-node='{waiting.node_id}']")
    wait_steps(page, 2)  # no time passes: the State waits
    assert page.locator(".flowr-sim-timers").count() == 0
    assert "sim-allowed" in classes(page, nodes["TimerAnswered"])

    def wait_until(days: int) -> None:
        when = timezone.localtime(timezone.now() + datetime.timedelta(days=days))
        page.fill("#flowr-sim-now", when.strftime("%Y-%m-%dT%H:%M"))
        page.click("#flowr-sim-now-apply")
        wait_steps(page, 1)  # a new time starts the walk again
        page.click(f".flowr-sim-take[data-node='{waiting.node_id}']")

    wait_until(4)  # past the 3 days: the timeout takes the State to Escalated
    wait_steps(page, 3)
    assert steps(page) == [
        f"Timer opened #{flow.root_data.node_id}",
        f"Timer waiting #{waiting.node_id}",
        f"Timer escalated #{nodes['TimerEscalated']}",
    ]
    timers = page.locator("#flowr-sim-steps > li").nth(1).locator(".flowr-sim-timers li")
    assert timers.all_inner_texts() == [f"{CLOCK} timed out"]
    assert "sim-current" in classes(page, nodes["TimerEscalated"])
    # the next click is a choice from Escalated (the timeout's move is not one)
    page.click(".flowr-sim-take")  # Escalated's one child, Closed
    wait_steps(page, 4)
    assert page.locator("#flowr-sim-outcome").inner_text() == "End reached: this node has no children."
    wait_until(2)  # before the timeout: the State still waits
    wait_steps(page, 2)
    assert page.locator(".flowr-sim-timers").count() == 0
    assert "sim-current" in classes(page, waiting.node_id)
    assert snapshot() == before and not flow.in_use()


def test_simulate_offers_no_wait_without_timers(page):
    flow, _ = timer_flow()
    open_editor(page, flow)
    page.click("#flowr-simulate")
    page.wait_for_selector("#flowr-sim-steps")
    assert page.locator("#flowr-sim-now").count() == 0
