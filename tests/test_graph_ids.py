"""Graph ids past 36^4 = 1,679,616: every edit stays inside its own graph.

treebeard's materialized paths derived a root's path from the graph id; from
36^4 on a root had 5 characters while its children were built from a
4-character prefix, so two flows shared child paths: a leaf removed in one
flow changed another's ``numchild``, a prune took another flow from 3 nodes
to 1 and clone raised ``KeyError`` (a 500).  Now nothing depends on the id.
"""

from typing import Any

import pytest
from django.db import connection

from flowr import sample_rules as rules
from flowr.edits import bulk_copy_graph
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, RuleSet
from tests.helpers import build_graph_c, check_invariants, nodes_by_name, shape
from tests.testapp.models import Label

# MariaDB's ALTER TABLE commits: the test cannot run inside a rolled-back transaction.
pytestmark = pytest.mark.django_db(transaction=True)

PAST = 36**4


def move_id_sequence(model: type[Any], last: int) -> None:
    """Make ``model``'s next automatic id ``last + 1``, on each database."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, last])
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last])
        else:
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(table)} AUTO_INCREMENT = {last + 1:d}")


def rows(graph_id: int) -> tuple[Any, ...]:
    """Everything stored for one graph."""
    return (
        sorted(Node.objects.filter(graph_id=graph_id).values_list("pk", flat=True)),
        sorted(Edge.objects.filter(graph_id=graph_id).values_list("pk", "source_id", "target_id", "backbone")),
        sorted(Label.objects.filter(node__graph_id=graph_id).values_list("pk", "name")),
        sorted(FlowNodeData.objects.filter(node__graph_id=graph_id).values_list("pk", "rule_label")),
    )


def test_edits_clone_and_prune_stay_inside_their_graph_past_36_to_the_4th():
    move_id_sequence(DCCGraph, PAST - 2)
    graphs = [build_graph_c() for _ in range(4)]
    assert [g.pk for g in graphs] == [PAST - 1, PAST, PAST + 1, PAST + 2]
    flows = [Flow.factory(f"f{i}", RuleSet.factory(f"rs{i}", rules.A)) for i in range(2)]
    for flow in flows:
        flow.root_data.add_child_rule(rules.C).add_child_rule(rules.D)
    assert all(f.state_graph_id > PAST for f in flows)
    everything = [g.pk for g in graphs] + [f.state_graph_id for f in flows]

    def others_unchanged(edited: int, before: dict[int, tuple[Any, ...]]) -> None:
        for graph_id in everything:
            if graph_id != edited:
                assert rows(graph_id) == before[graph_id], f"editing graph {edited} changed graph {graph_id}"
            check_invariants(DCCGraph.objects.get(pk=graph_id))

    for graph in graphs[1:3]:  # across the 36^4 boundary
        before = {g: rows(g) for g in everything}
        a, b, c, d, e, f, g, h, i = nodes_by_name(graph, *(f"C.{x}" for x in "ABCDEFGHI"))
        new = b.add_child(name="new")
        c.connect_child(new)
        e.connect_child(d)
        b.remove()  # a node with a backbone child, which is re-homed
        others_unchanged(graph.pk, before)
        assert [x.name for x in h.prune()] == ["C.H"]
        assert {x.name for x in d.prune()} == {"C.D", "C.G", "C.I"}
        assert Node.objects.filter(graph=graph).count() == 5  # A, C, E, F, new (and nothing of another graph)
        others_unchanged(graph.pk, before)
        copy, mapping = bulk_copy_graph(DCCGraph.objects.get(pk=graph.pk))
        assert shape(copy) == shape(graph) and len(mapping) == Node.objects.filter(graph=graph).count()
        others_unchanged(graph.pk, before | {copy.pk: rows(copy.pk)})
        everything.append(copy.pk)

    for flow in flows:
        before = {g: rows(g) for g in everything}
        copy = flow.clone()  # on treebeard paths: KeyError, a 500
        assert copy.state_graph_id > PAST
        labels = FlowNodeData.objects.order_by("rule_label").values_list("rule_label", flat=True)
        assert list(labels.filter(node__graph_id=copy.state_graph_id)) == list(
            labels.filter(node__graph_id=flow.state_graph_id)
        )
        others_unchanged(copy.state_graph_id, before | {copy.state_graph_id: rows(copy.state_graph_id)})
        everything.append(copy.state_graph_id)
        leaf = FlowNodeData.objects.get(node__graph_id=copy.state_graph_id, rule_label=rules.D.class_label)
        before = {g: rows(g) for g in everything}
        leaf.node.remove()
        others_unchanged(copy.state_graph_id, before)
