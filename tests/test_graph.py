"""DCCGraph / Node: 0.2's graph behaviour, on the backbone of Edge rows."""

import json

import pytest

from flowr.exceptions import CannotRemove, DifferentGraphs, FlowrError, InvalidDataClass
from flowr.models import BaseNodeData, DCCGraph, Edge, Node
from tests.helpers import backbone_tree, build_graph_c, check_invariants, nodes_by_name, shape
from tests.testapp.models import Label

pytestmark = pytest.mark.django_db

NAMES = [f"C.{x}" for x in "ABCDEFGHI"]


@pytest.fixture
def graph_c():
    return build_graph_c()


@pytest.fixture
def c_nodes(graph_c):
    return nodes_by_name(graph_c, *NAMES)


def test_factory_creates_root_and_data():
    graph = DCCGraph.factory(Label, name="A.A")
    root = graph.root
    assert root.is_root()
    assert root.data.name == "A.A"
    assert root.data.node == root
    assert root.children.count() == 0
    assert root.parents.count() == 0
    assert str(graph) == f"graph {graph.pk}"
    assert str(root) == f"node #{root.pk}"
    check_invariants(graph)


def test_add_child_returns_node_with_data():
    graph = DCCGraph.factory(Label, name="A.A")
    child = graph.root.add_child(name="A.B")
    assert isinstance(child, Node)
    assert child.data.name == "A.B"
    assert list(graph.root.children.all()) == [child]
    assert list(child.parents.all()) == [graph.root]
    assert not child.is_root()
    assert Node.objects.filter(graph=graph).count() == 2
    check_invariants(graph)


def test_cycle_graph_b():
    graph = DCCGraph.factory(Label, name="B.A")
    b = graph.root.add_child(name="B.B")
    c = graph.root.add_child(name="B.C")
    c.connect_child(graph.root)
    a = graph.root
    assert list(a.parents.all()) == [c]
    assert set(a.children.all()) == {b, c}
    assert list(c.children.all()) == [a]
    assert b.children.count() == 0
    check_invariants(graph)


def test_factory_from_graph_shape(graph_c, c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    assert graph_c.root == a
    assert Node.objects.filter(graph=graph_c).count() == 9
    assert set(a.parents.all()) == {f, h}
    assert set(a.children.all()) == {b, c}
    assert list(h.parents.all()) == [d, i]
    assert set(d.children.all()) == {g, h}
    assert list(i.children.all()) == [h]
    assert shape(graph_c) == {
        ("C.A", "C.B"), ("C.A", "C.C"), ("C.C", "C.D"), ("C.C", "C.E"), ("C.D", "C.G"), ("C.D", "C.H"),
        ("C.E", "C.F"), ("C.F", "C.A"), ("C.G", "C.I"), ("C.H", "C.A"), ("C.I", "C.H"),
    }  # fmt: skip
    check_invariants(graph_c)


def test_links_are_not_backbone(graph_c, c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    assert Edge.objects.get(source=i, target=h).backbone is False
    assert Edge.objects.get(source=d, target=h).backbone is True
    assert backbone_tree(graph_c).parent[h.pk] == d.pk


def test_ancestors(c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    assert set(a.ancestors()) == {f, e, c, h, d, i, g}
    assert set(b.ancestors()) == {a, f, e, c, h, d, i, g}
    assert set(h.ancestors()) == {d, c, a, f, e, i, g}
    assert set(a.ancestors_root()) == set()
    assert set(b.ancestors_root()) == {a}
    assert set(d.ancestors_root()) == {c, a}
    assert set(f.ancestors_root()) == {e, c, a}
    assert set(h.ancestors_root()) == {d, c, a, i, g}
    assert set(i.ancestors_root()) == {g, d, c, a}


def test_descendents(c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    everything = {a, b, c, d, e, f, g, h, i}
    for node in (c, d, e, f, g, h, i):
        assert set(node.descendents()) == everything - {node}
    assert set(a.descendents()) == everything - {a}
    assert set(b.descendents()) == set()
    assert set(a.descendents_root()) == everything - {a}
    assert set(c.descendents_root()) == {d, e, f, g, h, i, a}
    assert set(d.descendents_root()) == {g, h, i, a}
    assert set(e.descendents_root()) == {f, a}
    assert set(g.descendents_root()) == {i, h, a}
    assert set(i.descendents_root()) == {h, a}


def test_cytoscape_json(graph_c, c_nodes):
    result = json.loads(graph_c.cytoscape_json(lambda n: {"name": n.data.name}))
    assert len(result["nodes"]) == 9
    assert len(result["edges"]) == 11
    for node in c_nodes:
        assert {"data": {"id": f"n{node.pk}", "name": node.data.name}} in result["nodes"]
    a, b, c, d, e, f, g, h, i = c_nodes
    for src, dst in [(a, b), (a, c), (c, d), (c, e), (d, g), (d, h), (e, f), (f, a), (g, i), (h, a), (i, h)]:
        edge = {"data": {"id": f"e{src.pk}_{dst.pk}", "source": f"n{src.pk}", "target": f"n{dst.pk}"}}
        assert edge in result["edges"]


def test_cytoscape_json_without_extra_fields(graph_c):
    result = json.loads(graph_c.cytoscape_json())
    assert all(set(n["data"]) == {"id"} for n in result["nodes"])
    assert all(set(e["data"]) == {"id", "source", "target"} for e in result["edges"])
    # the same nodes in the same (tree) order as with extra fields
    with_fields = json.loads(graph_c.cytoscape_json(lambda n: {}))
    assert [n["data"]["id"] for n in result["nodes"]] == [n["data"]["id"] for n in with_fields["nodes"]]
    assert result["edges"] == with_fields["edges"]


def test_can_remove_follows_documented_contract(c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    # True exactly when the graph stays connected without the node.
    assert [n.can_remove() for n in c_nodes] == [False, True, False, False, False, True, False, True, True]
    # 0.2 said False for I, yet H stays reachable through D: documented difference.
    assert i.can_remove()


def test_remove_returns_data_and_deletes(graph_c, c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    with pytest.raises(AttributeError):
        a.remove()
    expected = b.data
    assert b.remove() == expected
    assert Node.objects.filter(graph=graph_c).count() == 8
    assert not Label.objects.filter(pk=expected.pk).exists()
    assert set(a.descendents()) == {c, d, e, f, g, h, i}
    expected = h.data
    assert h.remove() == expected
    assert Node.objects.filter(graph=graph_c).count() == 7
    assert set(a.descendents()) == {c, d, e, f, g, i}
    assert i.children.count() == 0
    assert set(d.descendents_root()) == {g, i}
    check_invariants(graph_c)


def test_remove_refused_when_it_disconnects(graph_c, c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    before = shape(graph_c)
    for node in (a, c, d, e, g):
        with pytest.raises(CannotRemove):
            node.remove()
    assert shape(graph_c) == before
    check_invariants(graph_c)


def test_remove_rehomes_backbone_child_reachable_through_link():
    #  R -> X -> C (backbone), R -> L -> C (link): removing X moves C under L
    graph = DCCGraph.factory(Label, name="R")
    x = graph.root.add_child(name="X")
    link = graph.root.add_child(name="L")
    c = x.add_child(name="C")
    grandchild = c.add_child(name="G")
    link.connect_child(c)
    assert x.can_remove()
    x.remove()
    c.refresh_from_db()
    grandchild.refresh_from_db()
    assert shape(graph) == {("R", "L"), ("L", "C"), ("C", "G")}
    assert Edge.objects.get(source=link, target=c).backbone is True
    assert backbone_tree(graph).contains(c.pk, grandchild.pk)
    check_invariants(graph)


def test_remove_rehomes_when_only_path_enters_through_own_subtree():
    #  R -> X -> C -> D (backbone); R -> D and D -> C (links).
    #  Without X, C is reached only through its own backbone child D.
    graph = DCCGraph.factory(Label, name="R")
    x = graph.root.add_child(name="X")
    c = x.add_child(name="C")
    d = c.add_child(name="D")
    graph.root.connect_child(d)
    d.connect_child(c)
    assert x.can_remove()
    x.remove()
    assert shape(graph) == {("R", "D"), ("D", "C"), ("C", "D")}
    check_invariants(graph)


def test_prune(graph_c, c_nodes):
    a, b, c, d, e, f, g, h, i = c_nodes
    assert b.prune_list() == [b]
    expected = [b.data]
    assert b.prune() == expected
    assert set(a.descendents()) == {c, d, e, f, g, h, i}
    assert a.children.count() == 1
    assert Node.objects.filter(graph=graph_c).count() == 8
    assert set(d.prune_list()) == {d, g, h, i}
    expected = [d.data, g.data, h.data, i.data]
    assert set(d.prune()) == set(expected)
    assert set(a.descendents()) == {c, e, f}
    assert c.children.count() == 1
    assert Node.objects.filter(graph=graph_c).count() == 4
    assert Label.objects.filter(node__graph=graph_c).count() == 4
    check_invariants(graph_c)


def test_prune_root_refused(graph_c):
    before = shape(graph_c)
    assert graph_c.root.prune_list() == []
    with pytest.raises(CannotRemove):
        graph_c.root.prune()
    assert shape(graph_c) == before


def test_connect_nodes_of_different_graphs_refused():
    one = DCCGraph.factory(Label, name="A.A")
    two = DCCGraph.factory(Label, name="B.A")
    with pytest.raises(DifferentGraphs) as info:
        one.root.connect_child(two.root)
    assert isinstance(info.value, AttributeError)
    assert Edge.objects.count() == 0


def test_connect_twice_is_a_no_op():
    graph = DCCGraph.factory(Label, name="A")
    b = graph.root.add_child(name="B")
    b.connect_child(graph.root)
    b.connect_child(graph.root)
    assert Edge.objects.filter(source=b, target=graph.root).count() == 1


def test_factory_requires_node_data_class():
    for bad in (object, Node, BaseNodeData, "Label", 3):
        with pytest.raises(InvalidDataClass) as info:
            DCCGraph.factory(bad)
        assert isinstance(info.value, AttributeError)
        assert isinstance(info.value, FlowrError)
    assert DCCGraph.objects.count() == 0


def test_bad_data_kwargs_change_nothing():
    graph = DCCGraph.factory(Label, name="A")
    with pytest.raises(TypeError):
        graph.root.add_child(nonsense="x")
    assert Node.objects.filter(graph=graph).count() == 1
    check_invariants(graph)


def test_find_nodes_scoped_to_graph():
    one = DCCGraph.factory(Label, name="same")
    two = DCCGraph.factory(Label, name="same")
    assert list(one.find_nodes(name="same")) == [one.root]
    assert list(two.find_nodes(name="same")) == [two.root]
    assert one.find_nodes(name__startswith="sa").count() == 1


def test_delete_graph_deletes_nodes_edges_and_data(graph_c):
    graph_c.delete()
    assert Node.objects.count() == 0
    assert Edge.objects.count() == 0
    assert Label.objects.count() == 0


def test_many_graphs_have_separate_trees():
    graphs = [DCCGraph.factory_from_graph(Label, {"name": f"{n}"}, [({"name": "x"}, [])]) for n in range(5)]
    for graph in graphs:
        check_invariants(graph)
    trees = [backbone_tree(g) for g in graphs]
    assert [len(t.order) for t in trees] == [2] * 5
    assert len({pk for t in trees for pk in t.order}) == 10


def test_deep_chain_without_recursion():
    graph = DCCGraph.factory(Label, name="0")
    nodes = [graph.root]
    # build 5,000 deep through the public API's bulk path would hide the
    # per-node code; factory_from_graph builds it node by node, iteratively.
    depth = 5000
    nested: list = []
    current = nested
    for n in range(1, depth):
        child: list = []
        current.append(({"name": str(n)}, child))
        current = child
    graph = DCCGraph.factory_from_graph(Label, {"name": "0"}, nested)
    last = graph.find_nodes(name=str(depth - 1)).get()
    assert backbone_tree(graph).depth[last.pk] == depth
    assert len(last.ancestors()) == depth - 1
    assert len(graph.root.descendents()) == depth - 1
    last.connect_child(graph.root)
    middle = graph.find_nodes(name="2500").get()
    assert not middle.can_remove()
    assert len(middle.prune_list()) == depth - 2500
    removed = middle.prune()
    assert len(removed) == depth - 2500
    assert Node.objects.filter(graph=graph).count() == 2500
    del nodes


def test_can_remove_refuses_what_0_2_allowed():
    # R -> X -> Y, Y -> X: 0.2 said X was removable (its child loops back),
    # but removing it cuts Y off.
    graph = DCCGraph.factory(Label, name="R")
    x = graph.root.add_child(name="X")
    y = x.add_child(name="Y")
    y.connect_child(x)
    assert not x.can_remove()
    with pytest.raises(CannotRemove):
        x.remove()
    assert y.can_remove()
    check_invariants(graph)


def test_add_child_through_the_orm_when_save_receivers_listen():
    """With a ``pre_save``/``post_save`` receiver on Node or Edge, the node and
    its edge are saved through the ORM (the receivers see them); the graph is
    the same either way."""
    from django.db.models.signals import post_save

    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((sender.__name__, created))

    graph = DCCGraph.factory(Label, name="R")
    fast = graph.root.add_child(name="fast")
    post_save.connect(receiver, sender=Edge)
    try:
        slow = graph.root.add_child(name="slow")
    finally:
        post_save.disconnect(receiver, sender=Edge)
    assert seen == [("Edge", True)]
    tree = backbone_tree(graph)
    assert tree.order == [graph.root_id, fast.pk, slow.pk]
    assert tree.depth[fast.pk] == tree.depth[slow.pk] == 2
    check_invariants(graph)


def test_remove_and_prune_through_the_orm_when_delete_receivers_listen():
    """With a ``post_delete`` receiver on Node, edges and nodes are deleted
    through the ORM (the receiver sees each node); the graph is the same."""
    from django.db.models.signals import post_delete

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    graph = DCCGraph.factory(Label, name="R")
    a = graph.root.add_child(name="a")
    b = a.add_child(name="b")
    c = graph.root.add_child(name="c")
    post_delete.connect(receiver, sender=Node)
    try:
        a.prune()
        c.remove()
    finally:
        post_delete.disconnect(receiver, sender=Node)
    assert sorted(seen) == sorted([a.pk, b.pk, c.pk])
    assert shape(graph) == set()
    check_invariants(graph)
