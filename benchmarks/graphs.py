"""Graph scale: build, traverse, render and clone flows of 1k, 10k, 50k nodes.

The graphs are a binary creation tree (``Split`` -> ``Left``/``Right`` ->
``Split`` ...) plus back-edges: every ``Split`` but the root links back to
the ``Split`` two levels above it, so the graph is full of cycles.  They are
made through the bulk import path (``flowr.export.import_flow``); building
one by one with ``add_child_rule`` is timed on a whole small graph and, above
that size, on a sample of nodes added under leaves of the imported graph (the
per-node cost is then extrapolated, and the table says so).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from benchmarks.benchapp.rules import Chain, Left, Right, Split
from benchmarks.common import Measure, Section, call, ms
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, RuleSet

CHILD_RULES = {Split.class_label: (Left, Right), Left.class_label: (Split,), Right.class_label: (Split,)}
READS = {  # table row -> key in the BENCH json
    "descendents (root)": "descendents",
    "ancestors (deepest)": "ancestors",
    "can_remove (depth 2)": "can_remove",
    "prune_list (depth 2)": "prune_list",
    "cytoscape_json + node.data": "graph_json",
    "editor graph JSON (API builder)": "editor_json",
    "GET /flowr/api/flows/<id>/graph/": "api_graph",
}


def shape(size: int) -> tuple[list[str], list[int | None], list[tuple[int, int]]]:
    """Rule labels, creation-tree parents and back-edges of a ``size``-node graph."""
    labels = [Split.class_label]
    parents: list[int | None] = [None]
    cursor = 0
    while len(labels) < size:
        for rule in CHILD_RULES[labels[cursor]]:
            if len(labels) < size:
                labels.append(rule.class_label)
                parents.append(cursor)
        cursor += 1
    links = []
    for index, label in enumerate(labels):
        parent = parents[index]
        if parent is not None and label == Split.class_label:
            links.append((index, parents[parent] or 0))
    return labels, parents, links


def document(name: str, labels: list[str], parents: list[int | None], links: list[tuple[int, int]]) -> dict[str, Any]:
    """An export document (format 1) of the given graph."""
    edges = [
        {"source": f"n{p + 1}", "target": f"n{i + 1}", "kind": "backbone"}
        for i, p in enumerate(parents)
        if p is not None
    ]
    edges += [{"source": f"n{s + 1}", "target": f"n{t + 1}", "kind": "link"} for s, t in links]
    return {
        "format": 1,
        "flow": {"name": name, "version": 1, "family": "00000000-0000-0000-0000-000000000000"},
        "rule_set": {"name": name, "root_rule": labels[0]},
        "nodes": [{"id": f"n{i + 1}", "rule": label, "data": {}} for i, label in enumerate(labels)],
        "edges": edges,
    }


def import_flow(doc: dict[str, Any], rule_set: RuleSet) -> Flow:
    from flowr.export import import_flow as flowr_import

    return flowr_import(doc, rule_set=rule_set)


def _total(measures: list[Measure], note: str) -> Measure:
    return Measure(sum(m.wall for m in measures), sum(m.cpu for m in measures), sum(m.queries for m in measures), note)


def build_one_by_one(rule_set: RuleSet, size: int) -> tuple[Measure, Measure]:
    """The whole graph through ``add_child_rule``, then its links through
    ``connect_child``: the totals of each."""
    labels, parents, links = shape(size)
    flow = Flow.factory(f"one by one {size}", rule_set)
    made: list[FlowNodeData] = [flow.root_data]
    adds = []
    for index in range(1, size):
        measure, data = call(made[parents[index] or 0].add_child_rule, labels[index])
        adds.append(measure)
        made.append(data)
    connects = [call(made[s].connect_child, made[t])[0] for s, t in links]
    return _total(adds, f"whole graph, {size - 1} nodes"), _total(connects, f"{len(links)} links")


def add_sample(flow: Flow, count: int) -> tuple[Measure, int]:
    """Add ``count`` nodes one by one under leaves of ``flow``: the total."""
    leaves = list(
        FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id, node__out_edges=None)
        .select_related("node")
        .order_by("-node_id")[:count]  # imported breadth first: the last are the deepest
    )
    adds = [call(data.add_child_rule, CHILD_RULES[data.rule_label][0])[0] for data in leaves]
    return _total(adds, f"sample of {len(adds)}, extrapolated"), len(adds)


def measure(func: Callable[[Any], Any], fresh: Callable[[], Any], repeat: int) -> tuple[Measure, Any]:
    """The median measure of ``func(fresh())`` over ``repeat`` calls.

    ``fresh()`` (not measured) gives a new object each time, as a caller
    holding a just-loaded node or graph would have: no cache helps.
    """
    runs = [call(func, fresh()) for _ in range(repeat)]
    wall = statistics.median(m.wall for m, _ in runs)
    cpu = statistics.median(m.cpu for m, _ in runs)
    result = runs[-1][1]
    if isinstance(result, bool):
        note = str(result)
    elif isinstance(result, list):
        note = f"{len(result)} nodes"
    else:
        note = f"{len(result) // 1024} KiB"
    return Measure(wall, cpu, runs[-1][0].queries, note), result


def _first_child(pk: int) -> int:
    """The first backbone child of node ``pk`` (a node at depth 2 under the root)."""
    return Edge.objects.filter(source_id=pk, backbone=True).order_by("pk").values_list("target_id", flat=True)[0]


def read_paths(flow: Flow, repeat: int) -> dict[str, Measure]:
    """The read paths on ``flow``, each on a freshly loaded object."""
    from flowr.readmodel import FlowGraph

    graph_pk = flow.state_graph_id
    root = DCCGraph.objects.get(pk=graph_pk).root_id
    nodes = Node.objects.filter(graph_id=graph_pk)
    deepest = nodes.order_by("-pk").values_list("pk", flat=True)[0]  # imported breadth first
    middle = _first_child(root)

    def node(pk: int) -> Callable[[], Node]:
        return lambda: Node.objects.get(pk=pk)

    cases: dict[str, tuple[Callable[[Any], Any], Callable[[], Any]]] = {
        "descendents (root)": (lambda n: n.descendents(), node(root)),
        "ancestors (deepest)": (lambda n: n.ancestors(), node(deepest)),
        "can_remove (depth 2)": (lambda n: n.can_remove(), node(middle)),
        "prune_list (depth 2)": (lambda n: n.prune_list(), node(middle)),
        "cytoscape_json + node.data": (
            lambda g: g.cytoscape_json(lambda n: {"rule": n.data.rule_label}),
            lambda: DCCGraph.objects.get(pk=graph_pk),
        ),
        "editor graph JSON (API builder)": (
            lambda f: json.dumps(FlowGraph.load(f).as_json()),
            lambda: Flow.objects.get(pk=flow.pk),
        ),
    }
    results = {name: measure(func, fresh, repeat)[0] for name, (func, fresh) in cases.items()}
    results["GET /flowr/api/flows/<id>/graph/"] = api_graph(flow)
    return results


def api_graph(flow: Flow) -> Measure:
    """The editor's graph endpoint, as a logged-in superuser (session lookups included)."""
    user = get_user_model().objects.filter(is_superuser=True).first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-graphs", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    url = f"/flowr/api/flows/{flow.pk}/graph/"
    try:
        client.get("/flowr/api/")  # warm up: URL resolver, DRF settings, session
        found, response = call(client.get, url)
    except Exception as exc:  # a surface still being built must not stop the run
        return Measure(0.0, 0.0, 0, f"error: {type(exc).__name__}")
    found.note = f"HTTP {response.status_code}, {len(response.content) // 1024} KiB"
    return found


def growth(sizes: list[int], values: list[float]) -> str:
    """Growth factor per 10x nodes between the smallest and largest size."""
    if len(sizes) < 2 or values[0] <= 0:
        return "-"
    return f"{(values[-1] / values[0]) ** (1 / math.log10(sizes[-1] / sizes[0])):.1f}x"


def deep_chain(depth: int) -> tuple[Section, dict[str, Any]]:
    """A ``depth``-long chain: every traversal must work without recursion."""
    rule_set = RuleSet.factory(f"chain {depth}", Chain)
    labels = [Chain.class_label] * depth
    parents: list[int | None] = [None, *range(depth - 1)]
    flow = import_flow(document(f"chain {depth}", labels, parents, [(depth - 1, 0)]), rule_set)
    graph = DCCGraph.objects.get(pk=flow.state_graph_id)
    leaf = Node.objects.filter(graph_id=graph.pk).order_by("-pk").values_list("pk", flat=True)[0]
    second = _first_child(graph.root_id)
    section = Section(
        f"Deep chain: {depth:,} nodes in one line plus a loop back (no recursion limit)",
        ["operation", "ms", "cpu ms", "queries", "result"],
    )
    cases: list[tuple[str, Callable[[Any], Any], int]] = [
        ("descendents (root)", lambda n: n.descendents(), graph.root_id),
        ("ancestors (last)", lambda n: n.ancestors(), leaf),
        ("can_remove (last)", lambda n: n.can_remove(), leaf),
        ("prune_list (depth 2)", lambda n: n.prune_list(), second),
    ]
    for name, func, pk in cases:
        found, _ = measure(func, lambda pk=pk: Node.objects.get(pk=pk), 1)
        section.add(name, ms(found.wall), ms(found.cpu), found.queries, found.note)
    return section, {"deep_chain_nodes": depth, "deep_chain_ok": True}


def _scale_one(size: int, rule_set: RuleSet, quick: bool) -> dict[str, Measure]:
    rows: dict[str, Measure] = {}
    labels, parents, links = shape(size)
    doc = document(f"scale {size}", labels, parents, links)
    rows["import (bulk, whole graph)"], flow = call(import_flow, doc, rule_set)
    rows["import (bulk, whole graph)"].note = f"{size - 1 + len(links)} edges"
    if size <= (300 if quick else 1000):
        adds, connects = build_one_by_one(rule_set, size)
        rows["connect_child (per link)"] = Measure(
            connects.wall / len(links), connects.cpu / len(links), round(connects.queries / len(links), 1)
        )
        count = size - 1
    else:
        adds, count = add_sample(flow, 150 if quick else 500)
    per_node = Measure(adds.wall / count, adds.cpu / count, round(adds.queries / count, 1), adds.note)
    rows["add_child_rule (per node)"] = per_node
    rows["add_child_rule (whole graph)"] = Measure(
        per_node.wall * (size - 1), per_node.cpu * (size - 1), round(per_node.queries * (size - 1)), adds.note
    )
    rows.update(read_paths(flow, 3 if quick else 5))
    rows["Flow.clone"], _ = call(Flow.clone, Flow.objects.get(pk=flow.pk))
    rows["Flow.clone"].note = "new version, same graph"
    return rows


def _key(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def run(sizes: list[int], quick: bool) -> Iterator[tuple[Section, dict[str, Any]]]:
    rule_set = RuleSet.factory("scale", Split)
    table: dict[str, list[Measure]] = {}
    found: dict[str, Any] = {}
    for size in sizes:
        for name, value in _scale_one(size, rule_set, quick).items():
            table.setdefault(name, []).append(value)
            short = READS.get(name) or {"Flow.clone": "clone", "import (bulk, whole graph)": "import"}.get(name)
            if short:
                found[f"{short}_{_key(size)}_ms"] = round(value.wall * 1000, 2)
                found[f"{short}_{_key(size)}_cpu_ms"] = round(value.cpu * 1000, 2)
                found[f"{short}_{_key(size)}_queries"] = value.queries
            if name == "add_child_rule (per node)":
                found[f"build_per_node_{_key(size)}_queries"] = value.queries
                found[f"build_per_node_{_key(size)}_ms"] = round(value.wall * 1000, 2)
                found.setdefault("build_per_node_queries", value.queries)
    header = ["operation"]
    for size in sizes:
        header += [f"{size:,} ms", "cpu ms", "queries"]
    header += ["growth/10x (cpu)", "notes (largest size)"]
    section = Section("Graph scale: tree plus back-edges (each call on a freshly loaded object; median)", header)
    for name, values in table.items():
        cells: list[Any] = [name]
        for value in values:
            cells += [ms(value.wall), ms(value.cpu), value.queries]
        cells += ["" for _ in range(3 * (len(sizes) - len(values)))]
        cells += [growth(sizes[: len(values)], [v.cpu for v in values]), values[-1].note]
        section.add(*cells)
    section.notes += [
        "ms: wall clock; cpu ms: CPU time of this process -- with SQLite (it runs in the process) the steadier"
        " figure on a busy machine; a server database's own work is not in it",
        "queries: SQL statements, transaction control not counted; growth/10x: CPU time ratio per tenfold nodes",
    ]
    yield section, found
    yield deep_chain(2000 if quick else 10_000)
    yield edits_among_flows(10_000, 50)


def _branch(flow: Flow, length: int, avoid: int) -> int:
    """Add a ``length``-node chain under a leaf of ``flow`` (not ``avoid``); the chain's first node."""
    leaf = (
        FlowNodeData.objects.filter(
            node__graph_id=flow.state_graph_id, node__out_edges=None, rule_label=Left.class_label
        )
        .exclude(node_id=avoid)
        .select_related("node")
        .order_by("-node_id")[0]
    )
    first = current = leaf.add_child_rule(Split)
    for _ in range(length - 1):
        current = current.add_child_rule(CHILD_RULES[current.rule_label][0])
    return first.node_id


def edits_among_flows(size: int, others: int) -> tuple[Section, dict[str, Any]]:
    """remove() and prune() in one ``size``-node flow while ``others`` flows of
    the same size are in the tables: every statement is scoped by the graph."""
    rule_set = RuleSet.factory("among", Split)
    labels, parents, links = shape(size)
    doc = document("among", labels, parents, links)
    built, _ = call(lambda: [import_flow(doc, rule_set) for _ in range(others)])
    flow = import_flow(doc, rule_set)
    section = Section(
        f"Edits in one {size:,}-node flow among {others} others of {size:,} nodes"
        f" ({Node.objects.count():,} nodes in the table; the others built in {built.wall:.1f} s)",
        ["operation", "ms", "cpu ms", "queries", "result"],
    )
    found: dict[str, Any] = {}
    leaf = (
        FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id, node__out_edges=None)
        .order_by("-node_id")
        .values_list("node_id", flat=True)[0]
    )
    cases = [
        ("remove (a leaf)", lambda n: n.remove(), leaf, "remove"),
        ("prune (a 10-node branch)", lambda n: n.prune(), _branch(flow, 10, avoid=leaf), "prune"),
    ]
    for name, func, pk, key in cases:
        measured, result = call(func, Node.objects.get(pk=pk))
        removed = len(result) if isinstance(result, list) else 1
        section.add(name, ms(measured.wall), ms(measured.cpu), measured.queries, f"{removed} nodes removed")
        found[f"{key}_among_{others}_ms"] = round(measured.wall * 1000, 2)
        found[f"{key}_among_{others}_queries"] = measured.queries
    section.notes.append("queries: SQL statements, transaction control not counted; target <= 5 and <= 100 ms")
    return section, found
