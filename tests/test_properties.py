"""Property tests: random edit sequences keep every graph invariant.

Each example builds a fresh graph, applies random ``add_child`` /
``connect_child`` / ``remove`` / ``prune`` calls and compares the result
with a brute-force reference model after every step.
"""

from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowr.exceptions import CannotRemove
from flowr.models import DCCGraph, Node
from tests.helpers import check_invariants
from tests.testapp.models import Label

pytestmark = pytest.mark.django_db

OPS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "connect", "remove", "prune"]), st.integers(0, 30), st.integers(0, 30)),
    min_size=1,
    max_size=18,
)


class Reference:
    """The graph as plain Python sets."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.nodes = [root]
        self.edges: set[tuple[str, str]] = set()

    def reach(self, start: str, skip: str | None = None, stop_at_root: bool = False) -> set[str]:
        seen, queue = set(), deque([start])
        while queue:
            cur = queue.popleft()
            for s, t in self.edges:
                if s == cur and t != skip and t not in seen:
                    seen.add(t)
                    if not (stop_at_root and t == self.root):
                        queue.append(t)
        return seen

    def connected_without(self, node: str) -> bool:
        return (self.reach(self.root, skip=node) | {self.root}) == set(self.nodes) - {node}

    def drop(self, gone: set[str]) -> None:
        self.nodes = [n for n in self.nodes if n not in gone]
        self.edges = {(s, t) for s, t in self.edges if s not in gone and t not in gone}


def db_edges(graph: DCCGraph) -> set[tuple[str, str]]:
    names = dict(Label.objects.filter(node__graph=graph).values_list("node_id", "name"))
    result = set()
    for node in Node.objects.filter(graph=graph):
        for child in node.children.all():
            result.add((names[node.pk], names[child.pk]))
    return result


def apply(op: str, a: int, b: int, graph: DCCGraph, ref: Reference, counter: list[int]) -> None:
    pick = lambda i: ref.nodes[i % len(ref.nodes)]  # noqa: E731
    node = lambda name: graph.find_nodes(name=name).get()  # noqa: E731
    if op == "add":
        counter[0] += 1
        name = f"n{counter[0]}"
        parent = pick(a)
        node(parent).add_child(name=name)
        ref.nodes.append(name)
        ref.edges.add((parent, name))
    elif op == "connect":
        node(pick(a)).connect_child(node(pick(b)))
        ref.edges.add((pick(a), pick(b)))
    elif op == "remove":
        target = pick(a)
        expected = target != ref.root and ref.connected_without(target)
        assert node(target).can_remove() == expected
        if expected:
            assert node(target).remove().name == target
            ref.drop({target})
        else:
            with pytest.raises(CannotRemove):
                node(target).remove()
    elif op == "prune":
        target = pick(a)
        if target == ref.root:
            with pytest.raises(CannotRemove):
                node(target).prune()
            return
        gone = ({target} | ref.reach(target, stop_at_root=True)) - {ref.root}
        assert {n.data.name for n in node(target).prune_list()} == gone
        assert {d.name for d in node(target).prune()} == gone
        ref.drop(gone)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_edits_keep_invariants(ops):
    graph = DCCGraph.factory(Label, name="root")
    ref = Reference("root")
    counter = [0]
    for op, a, b in ops:
        apply(op, a, b, graph, ref, counter)
        assert db_edges(graph) == ref.edges
        assert set(Label.objects.filter(node__graph=graph).values_list("name", flat=True)) == set(ref.nodes)
        check_invariants(graph)
