"""Helpers shared by the tests: canonical graphs and shape comparison."""

from __future__ import annotations

from flowr.graphwalk import EdgeIndex
from flowr.models import DCCGraph, Edge, Node
from tests.testapp.models import Label

# 0.2's graph C:  A -> B, C;  C -> D, E;  D -> G, H;  E -> F;  G -> I;
# links: I -> H, H -> A, F -> A
GRAPH_C = (
    {"name": "C.A"},
    [
        ({"name": "C.B"}, []),
        (
            {"name": "C.C"},
            [
                ({"name": "C.D"}, [({"name": "C.G"}, [({"name": "C.I"}, [])]), ({"name": "C.H"}, [])]),
                ({"name": "C.E"}, [({"name": "C.F"}, [])]),
            ],
        ),
    ],
)


def build_graph_c() -> DCCGraph:
    graph = DCCGraph.factory_from_graph(Label, *GRAPH_C)
    i = graph.find_nodes(name="C.I").get()
    h = graph.find_nodes(name="C.H").get()
    i.connect_child(h)
    h.connect_child(graph.root)
    graph.find_nodes(name="C.F").get().connect_child(graph.root)
    return graph


def nodes_by_name(graph: DCCGraph, *names: str) -> list[Node]:
    return [graph.find_nodes(name=name).get() for name in names]


def shape(graph: DCCGraph) -> set[tuple[str, str]]:
    """The graph's edges as (source name, target name) pairs."""
    names = dict(Label.objects.filter(node__graph=graph).values_list("node_id", "name"))
    return {(names[s], names[t]) for s, t in Edge.objects.filter(graph=graph).values_list("source_id", "target_id")}


def check_invariants(graph: DCCGraph) -> None:
    """Reachability, no duplicate edges, backbone == creation tree, treebeard."""
    graph.refresh_from_db()
    nodes = {n.pk: n for n in Node.objects.filter(graph=graph)}
    rows = list(Edge.objects.filter(graph=graph).values_list("source_id", "target_id", "backbone"))
    pairs = [(s, t) for s, t, _ in rows]
    assert len(pairs) == len(set(pairs)), "duplicate edge"
    index = EdgeIndex(graph.root_id, pairs)
    reachable = index.descendents(graph.root_id) | {graph.root_id}
    assert reachable == set(nodes), f"unreachable nodes: {set(nodes) - reachable}"
    root = nodes[graph.root_id]
    assert root.depth == 1
    assert len({n.path for n in nodes.values()}) == len(nodes), "two nodes share a path"
    backbone = {t: s for s, t, b in rows if b}
    assert len(backbone) == len([t for s, t, b in rows if b]), "two backbone parents"
    for node in nodes.values():
        if node.pk == graph.root_id:
            assert node.pk not in backbone
            continue
        parent = nodes[backbone[node.pk]]
        assert node.path.startswith(parent.path) and node.depth == parent.depth + 1, "backbone != tree"
        assert node.path.startswith(root.path)
    for node in nodes.values():
        assert node.numchild == sum(1 for t, s in backbone.items() if s == node.pk)
    # the related managers agree with the edge rows
    for node in nodes.values():
        assert {c.pk for c in node.children.all()} == set(index.children.get(node.pk, []))
        assert {p.pk for p in node.parents.all()} == set(index.parents.get(node.pk, []))
    problems = Node.objects.find_problems()
    assert all(not p for p in problems), problems
