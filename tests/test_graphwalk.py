"""The in-memory walks, on plain integers."""

from flowr.graphwalk import EdgeIndex, rehome_plan


def test_walks_on_a_cycle():
    index = EdgeIndex(1, [(1, 2), (2, 3), (3, 1), (2, 4)])
    assert index.descendents(2) == {1, 3, 4}
    assert index.descendents_root(2) == {3, 1, 4}
    assert index.descendents_root(3) == {1}
    assert index.ancestors(4) == {1, 2, 3}
    assert index.ancestors_root(4) == {2, 1}
    assert index.ancestors_root(1) == set()
    assert index.can_remove(4) and index.can_remove(3) and not index.can_remove(2) and not index.can_remove(1)
    assert index.prune_set(2) == [2, 3, 4]


def test_deep_chain_has_no_recursion_limit():
    n = 200_000
    index = EdgeIndex(0, [(i, i + 1) for i in range(n)])
    assert len(index.descendents(0)) == n
    assert len(index.ancestors(n)) == n


def test_rehome_plan_prefers_existing_backbone():
    # 1 -> 2 -> 3 -> 4 backbone; 1 -> 3 link. Remove 2: 3 moves under 1, 4 stays under 3.
    index = EdgeIndex(1, [(1, 2), (2, 3), (3, 4), (1, 3)])
    assert rehome_plan(index, {2: 1, 3: 2, 4: 3}, 2) == [(3, 1)]


def test_rehome_plan_through_own_subtree():
    # 1 -> 2 -> 3 -> 4 backbone; links 1 -> 4, 4 -> 3. Remove 2.
    index = EdgeIndex(1, [(1, 2), (2, 3), (3, 4), (1, 4), (4, 3)])
    assert rehome_plan(index, {2: 1, 3: 2, 4: 3}, 2) == [(4, 1), (3, 4)]


def test_rehome_plan_nothing_below():
    index = EdgeIndex(1, [(1, 2)])
    assert rehome_plan(index, {2: 1}, 2) == []


def test_edge_cut_rehome_link_plan_and_prune_above():
    from flowr.graphwalk import EdgeIndex, prune_above, rehome_link_plan

    # 1 -> 2 -> 3 -> 4 (backbone), 1 -> 3 (a join), 4 -> 2 (a loop)
    index = EdgeIndex(1, [(1, 2), (2, 3), (3, 4), (1, 3), (4, 2)])
    backbone = {2: 1, 3: 2, 4: 3}
    assert index.edge_cut(1, 2) == 0  # 2 stays reachable through 1 -> 3 -> 4 -> 2
    assert index.edge_cut(3, 4) == 1  # 4 only through 3
    assert index.edge_cut(1, 3) == 0
    assert rehome_link_plan(index, backbone, 1, 3) == []  # a link: nothing moves
    assert rehome_link_plan(index, backbone, 2, 3) == [(3, 1)]  # 3 goes under 1; 4 stays under 3
    # 2 is reached through 4 now; 3, under 2, would close a circle: it goes under 1 first
    assert rehome_link_plan(index, backbone, 1, 2) == [(3, 1), (2, 4)]
    assert prune_above(index, backbone, 3) == [(2, 4)]  # pruning 3 takes 2: 4 loops back to it
    # pruning 4 takes 3 (reached from 2, which goes too) and 2 (4 loops back to it)
    assert prune_above(index, backbone, 4) == [(3, 2), (2, 4)]
    assert prune_above(index, backbone, 1) == []


def test_prune_above_names_the_loop_below_the_chosen_node():
    from flowr.graphwalk import EdgeIndex, prune_above

    # the helpdesk: 1 Opened -> 2 InProgress -> 3 Waiting (loops back to 2),
    # 2 -> 4 Resolved -> 5 Reopened (loops back to 2); pruning Resolved takes
    # InProgress because Reopened loops back to it, not Waiting (a sibling's loop)
    index = EdgeIndex(1, [(1, 2), (2, 3), (3, 2), (2, 4), (4, 5), (5, 2)])
    backbone = {2: 1, 3: 2, 4: 2, 5: 4}
    assert prune_above(index, backbone, 4) == [(2, 5)]
