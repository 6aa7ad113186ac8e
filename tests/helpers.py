"""Helpers shared by the tests: canonical graphs and shape comparison."""

from __future__ import annotations

from django.db.models import Q

from flowr.graphwalk import EdgeIndex, Tree, tree_order
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
    """Reachability, no duplicate edges, the backbone a tree over every node."""
    graph.refresh_from_db()
    nodes = {n.pk: n for n in Node.objects.filter(graph=graph)}
    rows = list(Edge.objects.filter(graph=graph).order_by("pk").values_list("source_id", "target_id", "backbone"))
    pairs = [(s, t) for s, t, _ in rows]
    assert len(pairs) == len(set(pairs)), "duplicate edge"
    assert set(Edge.objects.filter(Q(source__in=nodes) | Q(target__in=nodes)).values_list("graph_id", flat=True)) <= {
        graph.pk
    }, "an edge of another graph touches this one"
    index = EdgeIndex(graph.root_id, pairs)
    reachable = index.descendents(graph.root_id) | {graph.root_id}
    assert reachable == set(nodes), f"unreachable nodes: {set(nodes) - reachable}"
    backbone_edges = [(s, t) for s, t, b in rows if b]
    backbone = dict((t, s) for s, t in backbone_edges)
    assert len(backbone) == len(backbone_edges), "two backbone parents"
    assert graph.root_id not in backbone, "the root has a backbone parent"
    assert set(backbone) == set(nodes) - {graph.root_id}, "a node without a backbone parent"
    tree = tree_order(graph.root_id, backbone_edges)
    assert sorted(tree.order) == sorted(nodes), "the backbone is not a tree from the root"
    # the related managers agree with the edge rows
    for node in nodes.values():
        assert {c.pk for c in node.children.all()} == set(index.children.get(node.pk, []))
        assert {p.pk for p in node.parents.all()} == set(index.parents.get(node.pk, []))


def backbone_tree(graph: DCCGraph) -> Tree:
    """The graph's backbone as stored, laid out (depths, tree order, subtrees)."""
    graph.refresh_from_db()
    rows = Edge.objects.filter(graph=graph, backbone=True).order_by("pk").values_list("source_id", "target_id")
    return tree_order(graph.root_id, list(rows))
