"""``flowr.graphwalk``: removability from the dominator tree agrees with the
reachability walk the models use, on random graphs (no database)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowr.graphwalk import EdgeIndex, dominated_counts


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """Connected graphs: node i > 0 hangs under some j < i, plus random extra edges (cycles too)."""
    size = draw(st.integers(min_value=1, max_value=25))
    edges = {(draw(st.integers(0, i - 1)), i) for i in range(1, size)}
    extra = draw(st.lists(st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)), max_size=size * 2))
    edges |= {(s, t) for s, t in extra if s != t}
    return size, sorted(edges)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_dominators_match_reachability(graph: tuple[int, list[tuple[int, int]]]) -> None:
    size, edges = graph
    index = EdgeIndex(0, edges)
    counts = dominated_counts(0, index.children, range(size))
    for node in range(1, size):
        cut = size - 1 - len(index.reachable_without(node))
        assert counts[node] == cut
        assert (counts[node] == 0) == index.can_remove(node)


def test_a_join_is_not_dominated_by_either_branch() -> None:
    # 0 -> 1 -> 3, 0 -> 2 -> 3: neither 1 nor 2 cuts 3 off
    children = {0: [1, 2], 1: [3], 2: [3]}
    assert dominated_counts(0, children, range(4)) == {0: 3, 1: 0, 2: 0, 3: 0}
