"""In-memory walks over a graph's edge list.

The models load a graph's edges in one query and hand them here, so every
traversal costs a constant number of queries whatever the graph's size.  The
walks are iterative (no recursion limit at any depth).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from itertools import chain


def _adjacency(pairs: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """``{a: [b, ...]}`` from ``(a, b)`` pairs, keeping their order."""
    lists: defaultdict[int, list[int]] = defaultdict(list)
    for a, b in pairs:
        lists[a].append(b)
    return dict(lists)


class EdgeIndex:
    """Adjacency lists of one graph, built from ``(source, target)`` pairs.

    ``children``, ``parents`` and ``nodes`` are built on first use: a walk
    down needs only ``children``, a walk up only ``parents``.
    """

    def __init__(self, root: int, edges: Iterable[tuple[int, int]]) -> None:
        self.root = root
        self._edges = edges if isinstance(edges, list) else list(edges)
        self._children: dict[int, list[int]] | None = None
        self._parents: dict[int, list[int]] | None = None
        self._nodes: set[int] | None = None

    @property
    def children(self) -> dict[int, list[int]]:
        if self._children is None:
            self._children = _adjacency(self._edges)
        return self._children

    @property
    def parents(self) -> dict[int, list[int]]:
        if self._parents is None:
            self._parents = _adjacency((t, s) for s, t in self._edges)
        return self._parents

    @property
    def nodes(self) -> set[int]:
        if self._nodes is None:
            self._nodes = {self.root, *chain.from_iterable(self._edges)}
        return self._nodes

    def _walk(self, start: int, step: dict[int, list[int]], stop_at_root: bool, skip: int | None = None) -> set[int]:
        """Nodes reached from ``start`` (excluded unless reached again)."""
        seen: set[int] = set()
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for nxt in step.get(current, ()):
                if nxt == skip or nxt in seen:
                    continue
                seen.add(nxt)
                if stop_at_root and nxt == self.root:
                    continue  # the root is listed but never passed through
                queue.append(nxt)
        return seen

    def descendents(self, node: int) -> set[int]:
        found = self._walk(node, self.children, False)
        found.discard(node)
        return found

    def descendents_root(self, node: int) -> set[int]:
        found = self._walk(node, self.children, True)
        found.discard(node)
        return found

    def ancestors(self, node: int) -> set[int]:
        found = self._walk(node, self.parents, False)
        found.discard(node)
        return found

    def ancestors_root(self, node: int) -> set[int]:
        if node == self.root:
            return set()
        found = self._walk(node, self.parents, True)
        found.discard(node)
        return found

    def reachable_without(self, removed: int) -> set[int]:
        """Nodes reachable from the root when ``removed`` is gone."""
        if removed == self.root:
            return set()
        found = self._walk(self.root, self.children, False, skip=removed)
        found.add(self.root)
        return found

    def cut(self, node: int) -> int:
        """How many other nodes lose their way from the root without ``node``
        (the nodes it strictly dominates)."""
        return dominated_counts(self.root, self.children, ()).get(node, 0)

    def can_remove(self, node: int) -> bool:
        """True when the graph stays connected without ``node``."""
        if node == self.root or node not in self.nodes:
            return False
        return self.cut(node) == 0

    def prune_set(self, node: int) -> list[int]:
        """``node`` plus what it reaches without passing the root, no root."""
        found = self.descendents_root(node)
        found.discard(self.root)
        return [node, *sorted(found)]

    def reachable_without_edge(self, source: int, target: int) -> set[int]:
        """Nodes reachable from the root when the edge ``source -> target`` is gone."""
        found = {self.root}
        queue = deque([self.root])
        children = self.children
        while queue:
            current = queue.popleft()
            for nxt in children.get(current, ()):
                if nxt in found or (current == source and nxt == target):
                    continue
                found.add(nxt)
                queue.append(nxt)
        return found

    def edge_cut(self, source: int, target: int) -> int:
        """How many nodes lose their way from the root without the edge
        ``source -> target`` (0: ``target`` stays reachable another way)."""
        after = self.reachable_without_edge(source, target)
        if target in after:
            return 0
        return len(self.reachable_without(-1) - after)

    def bfs_order(self, skip: int | None = None) -> tuple[list[int], dict[int, int]]:
        """Breadth-first order from the root and each node's BFS parent."""
        order = [self.root]
        via: dict[int, int] = {}
        seen = {self.root}
        queue = deque([self.root])
        while queue:
            current = queue.popleft()
            for nxt in self.children.get(current, ()):
                if nxt == skip or nxt in seen:
                    continue
                seen.add(nxt)
                via[nxt] = current
                order.append(nxt)
                queue.append(nxt)
        return order, via


# -- dominators: the one removability algorithm ------------------------------------
#
# Removing a node disconnects exactly the nodes it strictly dominates (Cooper,
# Harvey & Kennedy, "A Simple, Fast Dominance Algorithm"), so one pass answers
# "can it be removed, and what would it cut off" for every node at once.


def _postorder_idoms(root: int, children: dict[int, list[int]]) -> tuple[list[int], list[int]]:
    """The nodes reachable from ``root`` in postorder, and the postorder
    number of each one's immediate dominator (the root's is its own).

    The iteration runs on postorder numbers (lists, not dicts): the root has
    the highest, and a node's dominators all have higher numbers than it.
    """
    order: list[int] = []  # postorder
    seen = {root}
    stack = [(root, iter(children.get(root, ())))]
    while stack:
        node, kids = stack[-1]
        for nxt in kids:
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, iter(children.get(nxt, ()))))
                break
        else:
            stack.pop()
            order.append(node)
    number = {node: i for i, node in enumerate(order)}
    preds: list[list[int]] = [[] for _ in order]
    for source, targets in children.items():
        i = number.get(source)
        if i is not None:
            for target in targets:
                preds[number[target]].append(i)
    top = len(order) - 1  # the root
    idom = [-1] * len(order)
    idom[top] = top
    changed = True
    while changed:
        changed = False
        for node in range(top - 1, -1, -1):  # reverse postorder, the root skipped
            new = -1
            for pred in preds[node]:
                if idom[pred] < 0:
                    continue
                if new < 0:
                    new = pred
                    continue
                a, b = pred, new  # intersect: climb until the two paths meet
                while a != b:
                    while a < b:
                        a = idom[a]
                    while b < a:
                        b = idom[b]
                new = a
            if new >= 0 and idom[node] != new:
                idom[node] = new
                changed = True
    return order, idom


def dominator_tree(root: int, children: dict[int, list[int]]) -> dict[int, int]:
    """Immediate dominator of every node reachable from ``root`` (root -> root)."""
    order, idom = _postorder_idoms(root, children)
    return {node: order[idom[i]] for i, node in enumerate(order)}


def dominated_counts(root: int, children: dict[int, list[int]], nodes: Iterable[int]) -> dict[int, int]:
    """For each node, how many other nodes become unreachable without it."""
    order, idom = _postorder_idoms(root, children)
    size = [1] * len(order)
    for i in range(len(order) - 1):  # a node's dominators come later: sizes are final when passed on
        size[idom[i]] += size[i]
    counts = dict.fromkeys(nodes, 0)
    for node, n in zip(order, size, strict=True):
        counts[node] = n - 1
    return counts


def rehome_plan(index: EdgeIndex, backbone_parent: dict[int, int], removed: int) -> list[tuple[int, int]]:
    """New backbone parents for the creation-tree subtree of ``removed``.

    Every node that the backbone hangs under ``removed`` needs a parent that
    survives.  Walking breadth first from the root (without ``removed``), a
    node keeps its backbone parent when that parent is already re-attached,
    otherwise it takes its BFS parent.  Each assigned parent is attached
    before its child, so the result is a tree and every move is valid.
    Returns ``(node, new_parent)`` pairs in the order to apply them.
    """
    below: set[int] = set()
    kids: dict[int, list[int]] = {}
    for child, parent in backbone_parent.items():
        kids.setdefault(parent, []).append(child)
    stack = list(kids.get(removed, ()))
    while stack:
        current = stack.pop()
        below.add(current)
        stack.extend(kids.get(current, ()))
    if not below:
        return []
    order, via = index.bfs_order(skip=removed)
    attached: set[int] = set(index.nodes) - below - {removed}
    moves: list[tuple[int, int]] = []
    for node in order:
        if node not in below:
            continue
        kept = backbone_parent.get(node)
        if kept in attached and kept != removed:
            attached.add(node)
            continue
        moves.append((node, via[node]))
        attached.add(node)
    return moves


def rehome_link_plan(
    index: EdgeIndex, backbone_parent: dict[int, int], source: int, child: int
) -> list[tuple[int, int]]:
    """New backbone parents when the edge ``source -> child`` goes.

    When it is ``child``'s backbone edge, ``child`` and its creation-tree
    subtree are re-attached as :func:`rehome_plan` does for a removed node
    (walking breadth first from the root without that edge, a node keeps its
    backbone parent when it is already attached, otherwise it takes its BFS
    parent).  ``[]`` for a link edge.  The caller has checked that ``child``
    stays reachable.
    """
    if backbone_parent.get(child) != source:
        return []
    kids: dict[int, list[int]] = {}
    for node, parent in backbone_parent.items():
        kids.setdefault(parent, []).append(node)
    below = {child}
    stack = [child]
    while stack:
        current = stack.pop()
        for nxt in kids.get(current, ()):
            if nxt not in below:
                below.add(nxt)
                stack.append(nxt)
    order = [index.root]
    via: dict[int, int] = {}
    seen = {index.root}
    queue = deque([index.root])
    while queue:
        current = queue.popleft()
        for nxt in index.children.get(current, ()):
            if nxt in seen or (current == source and nxt == child):
                continue
            seen.add(nxt)
            via[nxt] = current
            order.append(nxt)
            queue.append(nxt)
    attached = set(index.nodes) - below
    moves: list[tuple[int, int]] = []
    for node in order:
        if node not in below:
            continue
        kept = backbone_parent.get(node)
        if node != child and kept in attached:
            attached.add(node)
            continue
        moves.append((node, via[node]))
        attached.add(node)
    return moves


def prune_above(index: EdgeIndex, backbone_parent: dict[int, int], node: int) -> list[tuple[int, int]]:
    """The creation-tree ancestors of ``node`` that pruning it also removes,
    nearest first, each with the pruned node whose edge reaches it
    ``(ancestor, via)``: preferably one below the chosen node (a loop back),
    else its backbone parent, which goes too."""
    if node == index.root:
        return []
    pruned = set(index.prune_set(node))
    chain: list[int] = []
    current = backbone_parent.get(node)
    while current is not None and current != index.root and current not in chain:
        chain.append(current)
        current = backbone_parent.get(current)
    on_chain = set(chain)

    def under_node(candidate: int) -> bool:  # in the chosen node's creation subtree
        seen: set[int] = set()
        while candidate is not None and candidate not in seen:
            if candidate == node:
                return True
            seen.add(candidate)
            candidate = backbone_parent.get(candidate)  # type: ignore[assignment]
        return False

    found = []
    for ancestor in chain:
        if ancestor not in pruned:
            continue
        parents = [p for p in index.parents.get(ancestor, ()) if p in pruned]
        # the loop that takes the ancestor starts below the chosen node; another
        # pruned node off the chain (a sibling's loop) only goes with it
        below = [p for p in parents if under_node(p)] or [p for p in parents if p not in on_chain]
        via = below[0] if below else parents[0]
        found.append((ancestor, via))
    return found


class Tree:
    """The creation tree ("backbone") of a graph, laid out in memory.

    ``order`` is the preorder from the root, children in the order their
    backbone edges were given (creation order: edge pk order); ``depth``
    counts from 1 at the root; ``parent`` maps each non-root node to its
    backbone parent.  Nodes the backbone does not reach from the root are
    left out.  Built iteratively in O(n): no recursion limit at any depth.
    """

    def __init__(self, root: int, backbone: Iterable[tuple[int, int]]) -> None:
        kids = _adjacency(backbone)
        self.root = root
        self.order: list[int] = []
        self.depth: dict[int, int] = {root: 1}
        self.parent: dict[int, int] = {}
        stack = [root]
        while stack:
            current = stack.pop()
            self.order.append(current)
            below = kids.get(current, ())
            level = self.depth[current] + 1
            for child in below:
                if child in self.depth:  # not a tree (corrupt data): never loop
                    continue
                self.depth[child] = level
                self.parent[child] = current
            stack.extend(c for c in reversed(below) if self.parent.get(c) == current)
        self._position: dict[int, int] | None = None
        self._size: dict[int, int] | None = None

    @property
    def position(self) -> dict[int, int]:
        """Each node's index in :attr:`order`."""
        if self._position is None:
            self._position = {node: i for i, node in enumerate(self.order)}
        return self._position

    def contains(self, ancestor: int, node: int) -> bool:
        """Whether ``node`` is ``ancestor`` or in its backbone subtree
        (preorder interval numbers: constant time after one O(n) pass)."""
        if self._size is None:
            size = dict.fromkeys(self.order, 1)
            for current in reversed(self.order):
                up = self.parent.get(current)
                if up is not None:
                    size[up] += size[current]
            self._size = size
        position = self.position
        start, at = position.get(ancestor), position.get(node)
        if start is None or at is None:
            return False
        return start <= at < start + self._size[ancestor]


def tree_order(root: int, backbone: Iterable[tuple[int, int]]) -> Tree:
    """The backbone tree of ``root`` from ``(parent, child)`` edges in creation order."""
    return Tree(root, backbone)


def backbone_root(nodes: Iterable[int], backbone: Iterable[tuple[int, int]]) -> int | None:
    """The node no backbone edge points at (the root), or None."""
    targets = {t for _, t in backbone}
    return next((n for n in nodes if n not in targets), None)
