"""The editor's layout in headless Chromium: ELK's layered layout with routed
edges (flowr/static/flowr/js/layout.js), read back from cytoscape's rendered
geometry.

For the helpdesk demo flow and a generated 200-node flow with loops: no
edge's path crosses a node's box other than at its own ends, no two edges
run along the same segment, and every label fits inside its node.  The
500-node layout time is measured (and printed: run with ``-s`` to see it).
"""

from __future__ import annotations

import os
import statistics
from typing import Any

import pytest

from flowr.models import DCCGraph, Flow, FlowNodeData, RuleSet
from flowr.rules import Rule
from tests.browser.pages import open_editor, select_node, wait_graph_size, wait_idle
from tests.testapp.rules import Chain, Leaf, Leaf2, Wide

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# -- the helpdesk demo's rules and flow (extras/sample_site/helpdesk), by shape -------------------
class Closed(Rule):
    pass


class Rejected(Rule):
    pass


class Resolved(Rule):
    children = [Closed, "tests.browser.test_layout.Reopened"]
    multiple_paths = True


class WaitingOnCustomer(Rule):
    children = ["tests.browser.test_layout.InProgress"]


class InProgress(Rule):
    children = [WaitingOnCustomer, Resolved]
    multiple_paths = True


class Reopened(Rule):
    children = [InProgress]


class Triaged(Rule):
    children = [InProgress, Rejected]
    multiple_paths = True


class Opened(Rule):
    children = [Triaged]


def helpdesk_flow() -> Flow:
    """The demo's "Support tickets" flow (helpdesk.demo_data._support_flow)."""
    flow = Flow.factory("Support tickets", RuleSet.factory("Helpdesk", Opened))
    triaged = flow.root_data.add_child_rule(Triaged)
    working = triaged.add_child_rule(InProgress)
    triaged.add_child_rule(Rejected)
    working.add_child_rule(WaitingOnCustomer).connect_child(working)
    resolved = working.add_child_rule(Resolved)
    resolved.add_child_rule(Closed)
    resolved.add_child_rule(Reopened).connect_child(working)
    return flow


def looped_flow(size: int) -> Flow:
    """``size`` nodes of the Wide/Leaf/Leaf2/Chain rules built breadth first,
    then every childless Leaf / Leaf2 linked back to the root (loops) and
    every Wide without a Chain child joined to the last Chain (joins)."""
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
    flow = Flow.objects.create(name=f"Loops {size}", rule_set=RuleSet.factory("Wide", Wide), state_graph=graph)
    nodes = {d.node_id: d for d in FlowNodeData.objects.filter(node__graph=graph)}
    root = nodes[graph.root_id]
    chains = [d for d in nodes.values() if d.rule_label == Chain.class_label]
    for data in sorted(nodes.values(), key=lambda d: d.node_id):
        children = {c.rule_label for c in data.children_data()}
        if data.rule_label in (Leaf.class_label, Leaf2.class_label) and not children:
            data.connect_child(root)
        elif data.rule_label == Wide.class_label and Chain.class_label not in children and chains:
            data.connect_child(chains[-1])
    return flow


# -- reading the geometry -------------------------------------------------------------------------
GEOMETRY = """() => {
  const cy = window.flowrEditor.graph.cy;
  const nodes = cy.nodes().map((n) => {
    const p = n.position();
    const label = n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true,
      includeOverlays: false, includeUnderlays: false });
    return { id: n.id(), x: p.x, y: p.y, w: n.width(), h: n.height(), hexagon: n.data("multiple_paths"),
      label: [label.x1, label.y1, label.x2, label.y2], zoom: cy.zoom(),
      rendered: [n.renderedBoundingBox({ includeLabels: false }).w, n.renderedBoundingBox({ includeLabels: true }).w] };
  });
  const edges = cy.edges().map((e) => {
    const points = [e.sourceEndpoint(), ...(e.segmentPoints() || []), e.targetEndpoint()];
    return { id: e.id(), source: e.source().id(), target: e.target().id(), route: e.data("route"),
      points: points.map((p) => [p.x, p.y]) };
  });
  return { nodes, edges, layout: window.flowrEditor.graph.layoutName };
}"""


def geometry(page: Any) -> dict[str, Any]:
    return page.evaluate(GEOMETRY)


def segments(points: list[list[float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return [((a[0], a[1]), (b[0], b[1])) for a, b in zip(points, points[1:], strict=False) if a != b]


def crosses_box(seg: Any, box: tuple[float, float, float, float]) -> bool:
    """Whether the segment enters the open rectangle (Liang-Barsky clipping)."""
    (x1, y1), (x2, y2) = seg
    x_min, y_min, x_max, y_max = box
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x1 - x_min), (dx, x_max - x1), (-dy, y1 - y_min), (dy, y_max - y1)):
        if p == 0:
            if q <= 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 >= t1:
                return False
    return t1 - t0 > 1e-9


def overlap(a: Any, b: Any, tolerance: float = 0.5) -> float:
    """How long two segments run on top of each other (0 when they do not)."""
    (ax1, ay1), (ax2, ay2) = a
    (bx1, by1), (bx2, by2) = b
    dx, dy = ax2 - ax1, ay2 - ay1
    length = (dx * dx + dy * dy) ** 0.5
    ux, uy = dx / length, dy / length
    # both ends of b on a's line?
    for px, py in ((bx1, by1), (bx2, by2)):
        if abs((px - ax1) * uy - (py - ay1) * ux) > tolerance:
            return 0.0
    ta = sorted((0.0, length))
    tb = sorted(((bx1 - ax1) * ux + (by1 - ay1) * uy, (bx2 - ax1) * ux + (by2 - ay1) * uy))
    return max(0.0, min(ta[1], tb[1]) - max(ta[0], tb[0]))


def layout_problems(geo: dict[str, Any]) -> list[str]:
    problems = []
    boxes = {
        n["id"]: (n["x"] - n["w"] / 2, n["y"] - n["h"] / 2, n["x"] + n["w"] / 2, n["y"] + n["h"] / 2)
        for n in geo["nodes"]
    }
    # 1. no edge passes through a node's box (its own ends included: the
    #    route starts and ends on the border, shrunk by 1 px for rounding)
    for edge in geo["edges"]:
        if edge["source"] == edge["target"]:
            continue
        for seg in segments(edge["points"]):
            for node_id, (x1, y1, x2, y2) in boxes.items():
                if crosses_box(seg, (x1 + 1, y1 + 1, x2 - 1, y2 - 1)):
                    problems.append(f"edge {edge['id']} crosses node {node_id}: {seg}")
    # 2. no two edges share a stretch of line
    edge_segments = [(edge["id"], seg) for edge in geo["edges"] for seg in segments(edge["points"])]
    for i, (id_a, a) in enumerate(edge_segments):
        for id_b, b in edge_segments[i + 1 :]:
            if id_a != id_b and overlap(a, b) > 1.0:
                problems.append(f"edges {id_a} and {id_b} overlap along {a} / {b}")
    # 3. every label inside its node (hexagons: inside the middle 80%)
    for n in geo["nodes"]:
        x1, y1, x2, y2 = boxes[n["id"]]
        inner = 0.1 * n["w"] if n["hexagon"] else 0.0
        lx1, ly1, lx2, ly2 = n["label"]
        if lx1 < x1 + inner - 0.5 or lx2 > x2 - inner + 0.5 or ly1 < y1 - 0.5 or ly2 > y2 + 0.5:
            problems.append(f"label of {n['id']} ({lx2 - lx1:.0f}x{ly2 - ly1:.0f}) overflows {n['w']}x{n['h']}")
        # the rendered box with the label is no wider than without
        if n["rendered"][1] > n["rendered"][0] + 0.5:
            problems.append(f"label of {n['id']} widens its rendered box: {n['rendered']}")
    return problems


def test_helpdesk_flow_is_laid_out_without_crossings(page):
    flow = helpdesk_flow()
    open_editor(page, flow)
    geo = geometry(page)
    assert geo["layout"] == "layered"
    assert len(geo["nodes"]) == 8 and len(geo["edges"]) == 9
    assert layout_problems(geo) == []
    # the two loops back to InProgress are drawn along ELK's routes
    names = {n.node_id: n.rule_name for n in FlowNodeData.objects.filter(node__graph=flow.state_graph)}
    loops = [
        e
        for e in geo["edges"]
        if names[int(e["target"][1:])] == "InProgress"
        and names[int(e["source"][1:])] in ("Reopened", "WaitingOnCustomer")
    ]
    assert len(loops) == 2 and all(e["route"] in ("segments", "straight") for e in loops)
    # "WaitingOnCustomer" is not clipped: its node is wider than the default 70 px
    (waiting,) = [n for n in geo["nodes"] if names[int(n["id"][1:])] == "WaitingOnCustomer"]
    assert waiting["label"][2] - waiting["label"][0] > 100 and waiting["w"] > waiting["label"][2] - waiting["label"][0]
    # deterministic: the same positions and routes after a reload
    open_editor(page, flow)
    again = geometry(page)
    assert [(n["x"], n["y"]) for n in again["nodes"]] == [(n["x"], n["y"]) for n in geo["nodes"]]
    assert [e["points"] for e in again["edges"]] == [e["points"] for e in geo["edges"]]


def test_200_nodes_with_loops_are_laid_out_without_crossings(page):
    flow = looped_flow(200)
    open_editor(page, flow, timeout=60_000)
    geo = geometry(page)
    assert geo["layout"] == "layered"
    assert len(geo["nodes"]) == 200
    loops = sum(1 for e in geo["edges"] if e["target"] == f"n{flow.state_graph.root_id}")
    assert loops > 10
    problems = layout_problems(geo)
    assert problems == [], f"{len(problems)} problems, first: {problems[:10]}"


# The first layout of 500 nodes on opening the editor, in a page that has
# not run ELK yet (figures: ``python benchmarks/run.py --only editor``).  The
# bound here is loose, and grows with the machine's load average, since the
# wall clock of a busy machine also counts the time spent waiting for a CPU.
COLD_BUDGET_MS = 3000


def test_500_nodes_lay_out_in_the_worker_within_the_budget(page):
    """ELK runs in its web worker: the cold first layout stays under the
    budget, and a warm re-layout costs the page's main thread only the
    drawing of the routes (its CPU time, Chrome's ThreadTime metric)."""
    flow = looped_flow(500)
    open_editor(page, flow, timeout=60_000)
    graph = page.evaluate(
        """() => ({ name: window.flowrEditor.graph.layoutName, thread: window.flowrEditor.graph.elkThread,
        cold: performance.getEntriesByName("flowr-layout").at(-1).duration })"""
    )
    assert graph["name"] == "layered" and graph["thread"] == "worker"
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

    def thread_time() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["ThreadTime"]) * 1000

    wall, cpu = [], []
    for _ in range(5):
        before = thread_time()
        wall.append(
            page.evaluate("""async () => {
            const started = performance.now();
            await window.flowrEditor.graph.layout(false);
            return performance.now() - started;
        }""")
        )
        cpu.append(thread_time() - before)
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    budget = COLD_BUDGET_MS * max(1.0, load)
    print(
        f"\n500-node layout, headless Chromium, ms: first on page load {graph['cold']:.0f} wall "
        f"(budget {budget:.0f} at load {load:.1f} per CPU); warm re-layouts "
        f"{', '.join(f'{t:.0f}' for t in wall)} wall (median {statistics.median(wall):.0f}), "
        f"main-thread CPU {', '.join(f'{t:.0f}' for t in cpu)} (median {statistics.median(cpu):.0f})"
    )
    assert graph["cold"] <= budget, f"the first 500-node layout took {graph['cold']:.0f} ms"
    assert statistics.median(cpu) <= 500, "ELK ran on the page's main thread"


def chain_flow(length: int) -> Flow:
    flow = Flow.factory("Chain", RuleSet.factory("Chain", Chain))
    node = flow.root_data
    for _ in range(length - 1):
        node = node.add_child_rule(Chain)
    return flow


IN_VIEW = """id => {
    const cy = window.flowrEditor.graph.cy;
    const box = cy.getElementById(id).renderedBoundingBox();
    return box.x1 >= 0 && box.y1 >= 0 && box.x2 <= cy.width() && box.y2 <= cy.height();
}"""


def test_each_new_node_comes_into_view_and_the_others_stay_put(page):
    """The issue: after each add the zoom stayed at 1.5x and new nodes landed
    outside the canvas, where clicks missed them."""
    flow = chain_flow(3)
    open_editor(page, flow)
    assert page.evaluate("() => window.flowrEditor.graph.cy.zoom()") == pytest.approx(1.5)
    last = FlowNodeData.objects.filter(node__graph=flow.state_graph).order_by("node_id").last()
    assert last is not None
    zooms = []
    for size in range(4, 16):
        before = {n["id"]: (n["x"], n["y"]) for n in geometry(page)["nodes"]}
        select_node(page, last.node_id)
        page.click("#flowr-add-child")
        wait_graph_size(page, size)
        wait_idle(page)
        new = FlowNodeData.objects.filter(node__graph=flow.state_graph).order_by("node_id").last()
        assert new is not None and new.node_id != last.node_id
        # the new node is on screen, whole, without any "Fit" or scrolling
        assert page.evaluate(IN_VIEW, f"n{new.node_id}"), f"node {size} is out of view"
        after = {n["id"]: (n["x"], n["y"]) for n in geometry(page)["nodes"]}
        assert {k: after[k] for k in before} == before  # no existing node moved
        zooms.append(page.evaluate("() => window.flowrEditor.graph.cy.zoom()"))
        last = new
    # the zoom follows the growing graph down from 1.5x
    assert zooms[-1] < 1.0 and zooms == sorted(zooms, reverse=True)
    # and a plain click at the new node's place selects it
    x, y = page.evaluate(
        """id => {
        const cy = window.flowrEditor.graph.cy;
        const p = cy.getElementById(id).renderedPosition();
        const box = cy.container().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""",
        f"n{last.node_id}",
    )
    page.mouse.click(x, y)
    page.wait_for_selector(f".flowr-node[data-node='{last.node_id}']")


def layers(geo: dict[str, Any]) -> list[list[str]]:
    """The nodes layer by layer (top down), each layer left to right."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for n in geo["nodes"]:
        rows.setdefault(round(n["y"], 1), []).append((n["x"], n["id"]))
    return [[node for _, node in sorted(rows[y])] for y in sorted(rows)]


def test_edits_keep_the_order_of_the_nodes_in_their_layers(page):
    """After an edit ELK orders each layer as it was (interactive crossing
    minimisation from the old positions): the picture does not shuffle."""
    flow = looped_flow(60)
    open_editor(page, flow)
    ends = [
        d
        for d in FlowNodeData.objects.filter(node__graph=flow.state_graph, rule_label=Chain.class_label)
        if not d.children_data()
    ]
    assert len(ends) >= 3
    for size, end in enumerate(ends[:3], start=61):
        before = layers(geometry(page))
        select_node(page, end.node_id)
        page.click("#flowr-add-child")
        wait_graph_size(page, size)
        after = layers(geometry(page))
        where = {node: i for i, layer in enumerate(after) for node in layer}
        for layer in before:
            assert len({where[node] for node in layer}) == 1, f"layer {layer} was split"
            assert [n for n in after[where[layer[0]]] if n in layer] == layer, "a layer was reordered"
    assert layout_problems(geometry(page)) == []


def test_above_the_threshold_the_fast_layout_is_used(page):
    flow = helpdesk_flow()
    open_editor(page, flow)
    assert page.evaluate("() => window.flowrEditor.graph.elkMaxNodes") == 1000
    # lower the threshold under the flow's size, then Re-layout
    page.evaluate("() => { window.flowrEditor.graph.elkMaxNodes = 5; }")
    page.click("#flowr-relayout")
    page.wait_for_function("() => window.flowrEditor.graph.layoutName === 'breadthfirst'")
    geo = geometry(page)
    assert {e["route"] for e in geo["edges"]} == {"none"}  # plain edges, no ELK routes
    root = next(n for n in geo["nodes"] if n["id"] == f"n{flow.state_graph.root_id}")
    assert all(root["y"] <= n["y"] for n in geo["nodes"])  # still top-down from the root


def test_a_reload_above_the_threshold_lays_out_with_styles_applied(page):
    """A reload (as after an edit) adds the elements in one batch that lasts
    until they are laid out; the breadth-first fallback needs their styles,
    so the batch ends before it: the nodes get their sizes and do not pile up."""
    flow = helpdesk_flow()
    open_editor(page, flow)
    page.evaluate("() => { window.flowrEditor.graph.elkMaxNodes = 5; }")
    page.evaluate("() => window.flowrEditor.reload()")
    page.wait_for_function("() => window.flowrEditor.graph.layoutName === 'breadthfirst'")
    assert page.evaluate("() => window.flowrEditor.graph.cy.batching()") is False
    geo = geometry(page)
    assert len(geo["nodes"]) == 8 and {e["route"] for e in geo["edges"]} == {"none"}
    assert all(n["w"] >= 70 and n["h"] >= 40 for n in geo["nodes"])  # the style's sizes, from the labels
    assert len({(round(n["x"]), round(n["y"])) for n in geo["nodes"]}) == 8  # no two nodes on one spot
    page.evaluate("() => { window.flowrEditor.graph.elkMaxNodes = 1000; }")
    page.evaluate("() => window.flowrEditor.reload()")
    page.wait_for_function("() => window.flowrEditor.graph.layoutName === 'layered'")
    assert page.evaluate("() => window.flowrEditor.graph.cy.batching()") is False
    assert layout_problems(geometry(page)) == []


def test_without_a_worker_elk_runs_in_the_page(page):
    """Where the worker cannot start (here its script is refused, as a
    content security policy or a static host on another origin would), the
    same layout runs in the page from elk.bundled.js."""
    page.route("**/elk-worker.min.js", lambda route: route.fulfill(status=404, body="not here"))
    flow = helpdesk_flow()
    open_editor(page, flow)
    assert page.evaluate("() => window.flowrEditor.graph.elkThread") == "page"
    geo = geometry(page)
    assert geo["layout"] == "layered" and len(geo["nodes"]) == 8
    assert layout_problems(geo) == []
