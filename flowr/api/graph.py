"""A flow's graph as the editor needs it, in a constant number of queries.

:class:`FlowGraph` loads a flow's nodes (with their rule labels and the
States standing on each) and edges in two queries whatever the graph's size
(three when the flow comes without its graph and rule set),
then answers per node: which rules may still be added, whether it can be
removed (and why not), what a prune would take.

Which nodes can be removed comes from the graph's dominator tree (Cooper,
Harvey & Kennedy, "A Simple, Fast Dominance Algorithm"): removing a node
disconnects exactly the nodes it strictly dominates, so a node can be removed
when it dominates nothing but itself.  That is one pass for the whole graph
instead of one reachability walk per node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import F, Func, IntegerField, OuterRef, QuerySet, Subquery

from flowr import rules as rule_registry
from flowr.graphwalk import EdgeIndex, tree_order
from flowr.models import Edge, Flow, FlowNodeData, State
from flowr.models.graph import _collector_paused_in
from flowr.rules import Rule


def driver_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list()`` queryset as the database driver gives
    them, without Django's per-value converters (for a big graph they cost
    as much as the query): only for columns that need none -- integers and
    text; a boolean may come as 0/1."""
    sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def child_rules(rule: type[Rule]) -> list[type[Rule]]:
    """``rule.children`` resolved, skipping labels that no longer resolve."""
    found = []
    for child in rule.children:
        resolved = rule_registry.get_rule(child) if isinstance(child, str) else child
        if rule_registry.is_rule_class(resolved):
            found.append(resolved)
    return found


#: The fields of a node row in the graph document, in order.
NODE_COLUMNS = ("node", "backbone_parent", "children", "rule", "child_options", "removal", "state_count")
ROOT_REASON = "The root node cannot be removed."


def cut_reason(cut: int) -> str:
    return f"Removing it would disconnect {cut} other node(s) from the root; prune it instead."


def rule_ref(rule: type[Rule]) -> dict[str, str]:
    return {"label": rule.class_label, "name": rule.name}


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


@dataclass
class FlowGraph:
    """One flow's graph, loaded once; every answer is computed in memory."""

    flow: Flow
    labels: dict[int, str]  # node pk -> rule label, in tree order
    edges: list[tuple[int, int, bool | int]]  # (source, target, backbone), creation order
    state_counts: dict[int, int]  # node pk -> States standing on it
    index: EdgeIndex = field(init=False)
    root: int = field(init=False)  # the root node's pk (0: the flow has no graph)
    _dominated: dict[int, int] | None = field(default=None, init=False)
    # label -> (its Rule or None, the Rule's resolvable child rules)
    _rules: dict[str, tuple[type[Rule] | None, list[type[Rule]]]] = field(default_factory=dict, init=False)
    # (label, the children's labels) -> child_options' answer
    _options: dict[tuple[str, tuple[str | None, ...]], tuple[tuple[type[Rule], ...], int | None, str | None]] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        self.root = self.flow.state_graph.root_id if self.flow.state_graph_id else 0
        self.index = EdgeIndex(self.root, [(s, t) for s, t, _ in self.edges])

    @classmethod
    @_collector_paused_in
    def load(cls, flow: Flow) -> FlowGraph:
        """Load ``flow``'s graph: two queries, three when ``flow`` comes
        without its graph and rule set (``select_related``) loaded."""
        fields = [Flow._meta.get_field(name) for name in ("state_graph", "rule_set")]
        if flow.state_graph_id and not all(f.is_cached(flow) for f in fields):
            found = Flow.objects.select_related("state_graph", "rule_set").get(pk=flow.pk)
            for f in fields:
                f.set_cached_value(flow, f.get_cached_value(found))
        states = (  # the States standing on the node (its index answers it)
            State.objects.filter(current_node_id=OuterRef("pk"))
            .order_by()
            .annotate(n=Func(F("pk"), function="COUNT"))
            .values("n")
        )
        rows = (
            FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id)
            .annotate(state_count=Subquery(states, output_field=IntegerField()))
            .order_by()
            .values_list("node_id", "rule_label", "state_count")
        )
        labels: dict[int, str] = {}
        counts: dict[int, int] = {}
        for node, label, n in driver_rows(rows):
            labels[node] = label
            if n:
                counts[node] = n
        edges = driver_rows(
            Edge.objects.filter(graph_id=flow.state_graph_id)
            .order_by("pk")
            .values_list("source_id", "target_id", "backbone")
        )
        tree = tree_order(flow.state_graph.root_id if flow.state_graph_id else 0, [(s, t) for s, t, b in edges if b])
        labels = {pk: labels[pk] for pk in tree.order if pk in labels}  # tree order
        return cls(flow=flow, labels=labels, edges=edges, state_counts=counts)

    @property
    def frozen(self) -> bool:
        return sum(self.state_counts.values()) > 0

    def dominated(self) -> dict[int, int]:
        """How many other nodes each node strictly dominates."""
        if self._dominated is None:
            self._dominated = dominated_counts(self.root, self.index.children, self.labels)
        return self._dominated

    def rule(self, label: str) -> tuple[type[Rule] | None, list[type[Rule]]]:
        """The Rule of ``label`` (None when missing) and its child rules, once per label."""
        found = self._rules.get(label)
        if found is None:
            rule = rule_registry.get_rule(label)
            found = self._rules[label] = (rule, [] if rule is None else child_rules(rule))
        return found

    # -- per node ---------------------------------------------------------
    def children(self, pk: int) -> list[int]:
        return list(self.index.children.get(pk, []))

    def parents(self, pk: int) -> list[int]:
        return list(self.index.parents.get(pk, []))

    def removal(self, pk: int) -> tuple[bool, str | None]:
        """``(can_remove, reason)`` for one node."""
        if pk == self.root:
            return False, ROOT_REASON
        cut = self.dominated().get(pk, 0)
        if cut:
            return False, cut_reason(cut)
        return True, None

    def child_options(self, pk: int) -> tuple[list[type[Rule]], int | None, str | None]:
        """``(allowed child rules, max children, why none)`` for one node."""
        allowed, limit, why = self._child_options(self.labels[pk], self.index.children.get(pk, ()))
        return list(allowed), limit, why

    def _child_options(
        self, label: str, children: Iterable[int]
    ) -> tuple[tuple[type[Rule], ...], int | None, str | None]:
        """:meth:`child_options` of a node of rule ``label`` with these
        children; nodes of one rule with the same children's rules share it
        (most nodes of a big flow are full: one answer per rule)."""
        existing = tuple(map(self.labels.get, children))
        key = (label, existing)
        found = self._options.get(key)
        if found is None:
            found = self._options[key] = self._options_of(label, existing)
        return found

    def _options_of(
        self, label: str, existing: tuple[str | None, ...]
    ) -> tuple[tuple[type[Rule], ...], int | None, str | None]:
        rule, children = self.rule(label)
        if rule is None:
            return (), None, f"Rule {label!r} is missing: no such Rule class."
        limit = rule_registry.max_children(rule)
        if not rule.children:
            return (), limit, f"Rule {rule.name} has no child rules: the flow ends here."
        if len(existing) >= limit:
            many = "only one child" if not rule.multiple_paths else f"at most {limit} children"
            return (), limit, f"Rule {rule.name} allows {many}; this node is full."
        allowed = tuple(r for r in children if r.class_label not in existing)
        if not allowed:
            return (), limit, f"Every rule allowed after {rule.name} is already a child."
        return allowed, limit, None

    def rule_facts(self, label: str) -> dict[str, Any]:
        """What the editor shows of a rule: the ``rules`` entries of the graph document."""
        rule = self.rule(label)[0]
        if rule is None:
            return {
                "label": label,
                "name": rule_registry.short_name(label),
                "missing_rule": True,
                "multiple_paths": False,
                "has_edit_screen": False,
                "max_children": None,
            }
        return {
            "label": label,
            "name": rule.name,
            "missing_rule": False,
            "multiple_paths": bool(rule.multiple_paths),
            "has_edit_screen": bool(rule.has_edit_screen),
            "max_children": rule_registry.max_children(rule),
        }

    def node_data(self, pk: int) -> dict[str, Any]:
        """Everything the editor knows of one node (see the API contract)."""
        label = self.labels[pk]
        facts = self.rule_facts(label)
        can_remove, reason = self.removal(pk)
        children = self.index.children.get(pk, ())
        allowed, _, full = self._child_options(label, children)
        return {
            "node": pk,
            "rule_label": label,
            "rule_name": facts["name"],
            "missing_rule": facts["missing_rule"],
            "is_root": pk == self.root,
            "can_remove": can_remove,
            "cannot_remove_reason": reason,
            "multiple_paths": facts["multiple_paths"],
            "has_edit_screen": facts["has_edit_screen"],
            "max_children": facts["max_children"],
            "allowed_child_rules": [rule_ref(r) for r in allowed],
            "full_reason": full,
            "children": list(children),
            "state_count": self.state_counts.get(pk, 0),
        }

    def node_detail(self, pk: int) -> dict[str, Any]:
        """Everything about one node: its graph data plus parents and prune list."""
        data = {"id": pk, "flow": self.flow.pk, **self.node_data(pk)}
        data["parents"] = self.parents(pk)
        data["prune_list"] = [] if pk == self.root else self.index.prune_set(pk)
        return data

    # -- whole graph ----------------------------------------------------------
    def flow_summary(self) -> dict[str, Any]:
        flow = self.flow
        return {
            "id": flow.pk,
            "name": flow.name,
            "version": flow.version,
            "family": str(flow.family),
            "frozen": self.frozen,
            "state_count": sum(self.state_counts.values()),
            "rule_set": flow.rule_set_id,
            "rule_set_name": flow.rule_set.name,
            "root_node": self.root,
        }

    @_collector_paused_in
    def as_json(self) -> dict[str, Any]:
        """The graph document of ``flows/<id>/graph/`` (see the API contract).

        What nodes share is listed once: the ``rules`` used, the distinct
        ``child_options`` answers and ``removals`` answers; each node is one
        row of ``NODE_COLUMNS`` pointing into those tables by index.  A 10k-node
        flow is about 0.4 MB instead of the 6 MB one object per node made.
        """
        dominated = self.dominated()
        children = self.index.children
        counts = self.state_counts
        root = self.root
        label_of = self.labels.get
        parent_of = {target: source for source, target, backbone in self.edges if backbone}
        rules: dict[str, int] = {}
        # (label, the children's labels) -> index; the same answer for several keys is listed once
        option_of: dict[tuple[str, tuple[str | None, ...]], int] = {}
        options: dict[tuple[tuple[type[Rule], ...], int | None, str | None], int] = {}
        removals: dict[int, int] = {}  # nodes cut off by removing it (-1: the root) -> index
        no_children: list[int] = []
        nodes = []
        for pk, label in self.labels.items():
            kids = children.get(pk, no_children)
            rule = rules.get(label)
            if rule is None:
                rule = rules[label] = len(rules)
            key = (label, tuple(map(label_of, kids)))
            option = option_of.get(key)
            if option is None:
                answer = self._options_of(*key)
                option = option_of[key] = options.setdefault(answer, len(options))
            cut = -1 if pk == root else dominated.get(pk, 0)
            removal = removals.get(cut)
            if removal is None:
                removal = removals[cut] = len(removals)
            nodes.append([pk, parent_of.get(pk), kids, rule, option, removal, counts.get(pk, 0)])
        return {
            "flow": self.flow_summary(),
            "rules": [self.rule_facts(label) for label in rules],
            "child_options": [
                {"allowed_child_rules": [rule_ref(r) for r in allowed], "full_reason": why}
                for allowed, _, why in options
            ],
            "removals": [self._removal_entry(cut) for cut in removals],
            "node_columns": list(NODE_COLUMNS),
            "nodes": nodes,
        }

    def _removal_entry(self, cut: int) -> dict[str, Any]:
        if cut < 0:
            return {"can_remove": False, "reason": ROOT_REASON}
        if cut:
            return {"can_remove": False, "reason": cut_reason(cut)}
        return {"can_remove": True, "reason": None}
