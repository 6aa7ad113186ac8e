"""Helpers that drive the editor pages the way a user does (mouse, forms)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from flowr.models import Edge, Flow, FlowNodeData


def open_editor(page: Any, flow: Flow, timeout: float = 15_000) -> None:
    page.goto(reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
    page.wait_for_selector("#flowr-editor[data-ready=true]", timeout=timeout)


def open_rules(page: Any, rule_set_pk: int) -> None:
    page.goto(reverse("flowr:rule_set_graph", kwargs={"pk": rule_set_pk}))
    page.wait_for_selector("#flowr-rules[data-ready=true]")


def node_point(page: Any, element_id: str, app: str = "flowrEditor") -> tuple[float, float]:
    """Where a graph element is on the screen (brought into view first)."""
    point = page.evaluate(
        """([id, app]) => {
            const cy = window[app].graph.cy;
            const ele = cy.getElementById(id);
            window[app].graph.reveal(ele);
            const p = ele.renderedPosition();
            const box = cy.container().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
        [element_id, app],
    )
    return point[0], point[1]


def click_node(page: Any, pk: int) -> None:
    """Click a flow node in the canvas, as a user would."""
    x, y = node_point(page, f"n{pk}")
    page.mouse.click(x, y)


def select_node(page: Any, pk: int) -> None:
    click_node(page, pk)
    page.wait_for_selector(f".flowr-node[data-node='{pk}']")


def classes(page: Any, pk: int) -> set[str]:
    return set(page.evaluate("id => window.flowrEditor.graph.cy.getElementById(id).classes()", f"n{pk}"))


def graph_size(page: Any, app: str = "flowrEditor") -> tuple[int, int]:
    return tuple(
        page.evaluate("app => [window[app].graph.cy.nodes().length, window[app].graph.cy.edges().length]", app)
    )


def wait_graph_size(page: Any, nodes: int) -> None:
    """Wait until the graph has ``nodes`` nodes and the editor is idle again
    (laid out, view settled, panel redrawn)."""
    page.wait_for_function(
        "n => window.flowrEditor.graph.cy.nodes().length === n"
        " && !document.getElementById('flowr-editor').classList.contains('flowr-busy')",
        arg=nodes,
    )


def wait_idle(page: Any) -> None:
    page.wait_for_function("() => !document.getElementById('flowr-editor').classList.contains('flowr-busy')")


def data_of(flow: Flow, rule: Any) -> list[FlowNodeData]:
    return list(FlowNodeData.objects.filter(node__graph=flow.state_graph, rule_label=rule.class_label))


def edges_of(flow: Flow) -> set[tuple[str, str]]:
    """The flow's edges as (source rule name, target rule name) pairs."""
    names = {d.node_id: d.rule_name for d in FlowNodeData.objects.filter(node__graph=flow.state_graph)}
    return {
        (names[s], names[t])
        for s, t in Edge.objects.filter(graph=flow.state_graph).values_list("source_id", "target_id")
    }
