"""Deep graphs: a node row does not grow with its depth.

The backbone is the Edge rows, so a node at depth 3,000 is stored like the
root (flowr on treebeard stored a 4d-character path per node: 18 MB of paths
for a 3,000-deep chain).  Edits, export and clone of such a chain work, and
nothing recurses.
"""

import pytest
from django.db import connection

from flowr.edits import bulk_create_graph
from flowr.export import export_flow, import_flow
from flowr.models import DCCGraph, Edge, FlowNodeData, Node
from tests.helpers import backbone_tree, check_invariants
from tests.test_versions import chain_flow
from tests.testapp.models import Label

pytestmark = pytest.mark.django_db

DEPTH = 3000


def deep_chain(depth: int = DEPTH) -> tuple[DCCGraph, list[int]]:
    parents = [None, *range(depth - 1)]
    return bulk_create_graph(Label, parents, [{"name": f"N{i}"} for i in range(depth)])


def test_node_and_edge_rows_hold_integers_only():
    """No column of the graph tables can grow with depth: all are integers
    or booleans (a text column like 0.2's ``path`` would)."""
    for model in (Node, Edge):
        kinds = {f.get_internal_type() for f in model._meta.concrete_fields}
        assert kinds <= {"AutoField", "BigAutoField", "ForeignKey", "BooleanField"}, (model, kinds)
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, Node._meta.db_table)
    assert sorted(c.name for c in columns) == ["graph_id", "id"]


def test_stored_data_is_linear_in_depth():
    """Rows (and the values in them) per node are the same at depth 3,000 as at 300."""
    sizes = []
    for depth in (300, DEPTH):
        graph, pks = deep_chain(depth)
        nodes = list(Node.objects.filter(graph_id=graph.pk).values_list("id", "graph_id"))
        edges = list(Edge.objects.filter(graph_id=graph.pk).values_list("id", "graph_id", "source_id", "target_id"))
        assert len(nodes) == depth and len(edges) == depth - 1
        assert all(isinstance(v, int) for row in nodes + edges for v in row)
        sizes.append((len(nodes) + len(edges)) / depth)
        assert backbone_tree(graph).depth[pks[-1]] == depth
    assert sizes[1] <= sizes[0] * 1.01


def test_edits_at_the_bottom_of_a_deep_chain():
    graph, pks = deep_chain()
    deep = Node.objects.get(pk=pks[-1])
    children = [deep.add_child(name=f"child {i}") for i in range(3)]
    tree = backbone_tree(graph)
    assert [tree.depth[c.pk] for c in children] == [DEPTH + 1] * 3
    assert tree.order[-3:] == [c.pk for c in children]  # creation order
    x = graph.root.add_child(name="X")
    moved = x.add_child(name="moved")
    grandchild = moved.add_child(name="grandchild")
    deep.connect_child(moved)
    x.remove()
    assert Edge.objects.get(source=deep, target=moved).backbone is True
    tree = backbone_tree(graph)
    assert tree.depth[moved.pk] == DEPTH + 1 and tree.depth[grandchild.pk] == DEPTH + 2
    assert tree.contains(deep.pk, grandchild.pk) and tree.contains(graph.root_id, grandchild.pk)
    check_invariants(graph)
    middle = Node.objects.get(pk=pks[DEPTH // 2])
    assert len(middle.prune()) == DEPTH - DEPTH // 2 + 5  # the chain's rest, 3 children, moved, grandchild
    check_invariants(graph)


def test_clone_and_export_of_a_deep_flow_keep_the_shape():
    flow = chain_flow(300)
    copy = flow.clone()
    tree = backbone_tree(copy.state_graph)
    assert sorted(tree.depth.values()) == list(range(1, 301))
    check_invariants(copy.state_graph)
    imported = import_flow(export_flow(flow), name="imported")
    assert export_flow(imported)["nodes"] == export_flow(flow)["nodes"]
    assert FlowNodeData.objects.filter(node__graph_id=imported.state_graph_id).count() == 300
    check_invariants(imported.state_graph)
