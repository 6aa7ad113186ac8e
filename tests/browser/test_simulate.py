"""The editor's Simulate mode in headless Chromium: step through a flow with
its real rules, verdicts on the graph and in the side panel, nothing kept."""

from __future__ import annotations

from typing import Any

import pytest

from flowr.models import Flow, State
from flowr.testing import build_flow, flow_nodes
from tests import sim_rules as sr
from tests.api_fixtures import snapshot
from tests.browser.pages import classes, click_node, open_editor
from tests.testapp.models import CallbackLog, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "SimStart > SimReview > (SimApprove | SimReject > @SimReview | SimEscalate | SimMail | SimBoom)"


def steps(page: Any) -> list[str]:
    return page.locator("#flowr-sim-steps > li > strong").all_inner_texts()


def wait_steps(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#flowr-sim-steps > li').length === n"
        " && !document.getElementById('flowr-sim').hasAttribute('aria-busy')",
        arg=count,
    )


def test_step_through_with_verdicts_and_nothing_kept(page: Any) -> None:
    flow = build_flow(sr.SimStart, TEXT)
    nodes = {
        name: flow_nodes(flow)[name].node_id
        for name in ("SimStart", "SimReview", "SimEscalate", "SimBoom", "SimApprove")
    }
    before = snapshot(), CallbackLog.objects.count()
    open_editor(page, flow)
    page.click("#flowr-simulate")
    wait_steps(page, 1)
    assert steps(page) == [f"Sim start #{nodes['SimStart']}"]
    assert {"sim-path", "sim-current"} <= classes(page, nodes["SimStart"])
    assert "sim-allowed" in classes(page, nodes["SimReview"])
    # a click on the allowed child in the graph takes it
    click_node(page, nodes["SimReview"])
    wait_steps(page, 2)
    assert "sim-refused" in classes(page, nodes["SimEscalate"])
    assert "sim-allowed" in classes(page, nodes["SimApprove"])
    refused = page.locator(
        "#flowr-sim-next li", has=page.locator(f".flowr-sim-refused[data-node='{nodes['SimEscalate']}']")
    )
    assert refused.inner_text() == f"Sim escalate #{nodes['SimEscalate']}: escalation is closed"
    # a refused node in the graph is not taken
    click_node(page, nodes["SimEscalate"])
    page.wait_for_timeout(300)
    assert len(steps(page)) == 2
    # a callback that raises is reported; the walk stays at the review
    page.click(f".flowr-sim-take[data-node='{nodes['SimBoom']}']")
    page.wait_for_selector(".flowr-sim-error")
    assert "Stopped: RuntimeError: the printer is on fire" in page.locator(".flowr-sim-error").inner_text()
    assert "sim-error" in classes(page, nodes["SimBoom"])
    # another child replaces the failed choice
    page.click(f".flowr-sim-take[data-node='{nodes['SimApprove']}']")
    wait_steps(page, 3)
    assert page.locator("#flowr-sim-outcome").inner_text() == "End reached: this node has no children."
    assert "on_enter SimApprove: ran" in page.locator("#flowr-sim-steps").inner_text()
    page.click("#flowr-sim-reset")
    wait_steps(page, 1)
    # a subject: the root refuses a closed ticket
    ticket = Ticket.objects.create(title="t", status="closed")
    page.select_option("#flowr-sim-subject-type", "testapp.ticket")
    page.fill("#flowr-sim-subject-id", str(ticket.pk))
    page.click("#flowr-sim-subject-apply")
    page.wait_for_selector(".flowr-sim-error")
    assert "this ticket is closed" in page.locator(".flowr-sim-error").inner_text()
    assert "(not reached)" in page.locator("#flowr-sim-steps").inner_text()
    page.click("#flowr-sim-exit")
    assert page.locator("#flowr-sim").is_hidden()
    assert not classes(page, nodes["SimReview"]) & {"sim-allowed", "sim-path", "sim-dimmed"}
    assert (snapshot(), CallbackLog.objects.count()) == before
    assert not flow.in_use()
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_a_frozen_flow_can_be_simulated(page: Any) -> None:
    flow: Flow = build_flow(sr.SimStart, TEXT)
    State.start(flow)
    open_editor(page, flow)
    assert page.locator("#flowr-frozen").is_visible()
    page.click("#flowr-simulate")
    wait_steps(page, 1)
    review = flow_nodes(flow)["SimReview"].node_id
    page.click(f".flowr-sim-take[data-node='{review}']")
    wait_steps(page, 2)
    assert State.objects.count() == 1
    assert State.objects.get().version == 0


def test_an_edit_during_the_simulation_simulates_again(page: Any) -> None:
    flow = build_flow(sr.SimStart, TEXT)
    review = flow_nodes(flow)["SimReview"].node_id
    open_editor(page, flow)
    page.click("#flowr-simulate")
    wait_steps(page, 1)
    page.click(f".flowr-sim-take[data-node='{review}']")
    wait_steps(page, 2)
    page.fill("#flowr-name", "Renamed")
    # the graph is reloaded, then simulated again
    with page.expect_request(lambda request: request.url.endswith("/simulate/")):
        page.click("#flowr-rename button[type=submit]")
    page.wait_for_function("() => document.getElementById('flowr-flow-title').textContent === 'Renamed'")
    wait_steps(page, 2)
    page.wait_for_function(
        "id => window.flowrEditor.graph.cy.getElementById(id).hasClass('sim-current')", arg=f"n{review}"
    )
    assert Flow.objects.get(pk=flow.pk).name == "Renamed"
