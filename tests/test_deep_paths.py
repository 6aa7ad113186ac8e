"""Nodes deeper than 256: paths longer than 1,024 characters.

MariaDB/MySQL compare only the first ``max_sort_length`` bytes (1,024 by
default) of a text column when they sort, so every edit that needs "the last
child" or "parents before children" must not rely on ``ORDER BY path``.
"""

import pytest

from flowr.export import export_flow, import_flow
from flowr.models import DCCGraph, Edge, FlowNodeData, Node
from flowr.models.ops import bulk_create_graph
from tests.helpers import check_invariants
from tests.test_versions import chain_flow
from tests.testapp.models import Label

pytestmark = pytest.mark.django_db

DEPTH = 300


def deep_chain() -> tuple[DCCGraph, list[int]]:
    parents = [None, *range(DEPTH - 1)]
    return bulk_create_graph(Label, parents, [{"name": f"N{i}"} for i in range(DEPTH)])


def test_children_of_a_deep_node_get_distinct_paths():
    graph, pks = deep_chain()
    deep = Node.objects.get(pk=pks[-1])
    assert len(deep.path) > 1024
    children = [deep.add_child(name=f"child {i}") for i in range(3)]
    paths = [Node.objects.get(pk=c.pk).path for c in children]
    assert paths == sorted(paths) and len(set(paths)) == 3
    assert all(p.startswith(deep.path) and len(p) == len(deep.path) + Node.steplen for p in paths)
    check_invariants(graph)


def test_remove_rehomes_under_a_deep_node_with_children():
    graph, pks = deep_chain()
    deep = Node.objects.get(pk=pks[-1])
    first, second = deep.add_child(name="first"), deep.add_child(name="second")
    x = graph.root.add_child(name="X")
    moved = x.add_child(name="moved")
    grandchild = moved.add_child(name="grandchild")
    deep.connect_child(moved)
    x.remove()
    moved.refresh_from_db()
    grandchild.refresh_from_db()
    second.refresh_from_db()
    assert Edge.objects.get(source=deep, target=moved).backbone is True
    assert moved.depth == DEPTH + 1 and grandchild.depth == DEPTH + 2
    assert moved.path > second.path > Node.objects.get(pk=first.pk).path
    assert moved.path[: -Node.steplen] == deep.path
    assert grandchild.path.startswith(moved.path)
    assert Node.objects.get(pk=deep.pk).numchild == 3
    check_invariants(graph)


def test_clone_and_export_of_a_deep_flow_keep_the_shape():
    flow = chain_flow(DEPTH)
    copy = flow.clone()
    depths = sorted(Node.objects.filter(graph_id=copy.state_graph_id).values_list("depth", flat=True))
    assert depths == list(range(1, DEPTH + 1))
    check_invariants(copy.state_graph)
    imported = import_flow(export_flow(flow), name="imported")
    assert export_flow(imported)["nodes"] == export_flow(flow)["nodes"]
    assert FlowNodeData.objects.filter(node__graph_id=imported.state_graph_id).count() == DEPTH
    check_invariants(imported.state_graph)
