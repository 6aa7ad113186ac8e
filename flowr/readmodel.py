"""The read model: one flow's graph as every surface shows it.

:class:`FlowGraph` loads a flow's nodes (with their rule labels and the
States standing on each) and edges in two queries whatever the graph's size
(three when the flow comes without its graph and rule set), then answers per
node, in memory: its rule, which rules may still be added (asked of
:mod:`flowr.policy`), whether it can be removed (and why not), what a prune
would take, and its place in the creation tree.  The editor's graph
document, the API's node detail, the admin's tree and the diagrams are views
of it; none of them works an answer out on its own.

Which nodes can be removed comes from the graph's dominator tree
(:func:`flowr.graphwalk.dominated_counts`), the one removability algorithm.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import F, ForeignKey, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.duration import duration_iso_string
from django.utils.translation import gettext, ngettext

from flowr import nodesettings, policy
from flowr.db import tricks
from flowr.db.reads import driver_rows
from flowr.edits import UNDOABLE
from flowr.graphwalk import EdgeIndex, Tree, dominated_counts, prune_above, tree_order
from flowr.models import Edge, Flow, FlowEdit, FlowNodeData, State
from flowr.models.graph import _collector_paused_in
from flowr.rules import Rule, get_rule, short_name

#: The fields of a node row in the graph document, in order.
NODE_COLUMNS = ("node", "backbone_parent", "children", "rule", "child_options", "removal", "state_count", "timer")


def delay_text(delay: datetime.timedelta) -> str:
    """A delay in words: "3 days", "1 day, 2 hours", "90 seconds" -> "1 minute, 30 seconds"."""
    seconds = int(delay.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [
        ngettext("%(n)d day", "%(n)d days", days) % {"n": days} if days else "",
        ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours} if hours else "",
        ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes} if minutes else "",
        ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds} if seconds else "",
    ]
    return ", ".join(part for part in parts if part)


def timer_facts(delay: datetime.timedelta, target: str) -> dict[str, Any]:
    """What the surfaces show of a node's timer: the ``timers`` entries of
    the graph document and a node's ``timer``."""
    rule = get_rule(target)
    name = str(rule.verbose_name) if rule is not None else short_name(target)
    return {
        "after": duration_iso_string(delay),
        "seconds": int(delay.total_seconds()),
        "rule": target,
        "rule_name": name,
        "text": gettext("times out after %(delay)s to %(rule)s") % {"delay": delay_text(delay), "rule": name},
    }


def overdue_states(states: QuerySet[State], overdue: bool = True, now: Any = None) -> QuerySet[State]:
    """``states`` whose timer is due (``overdue``) or not (no timer, or not
    yet due): the one definition the admin's and the API's ``overdue``
    filters ask (:func:`flowr.timers.due` fires the same States)."""
    due = Q(cancelled__isnull=True, due_at__lte=now or timezone.now())
    return states.filter(due) if overdue else states.exclude(due)


def rule_ref(rule: type[Rule]) -> dict[str, str]:
    return {"label": rule.class_label, "name": rule.name, "verbose_name": str(rule.verbose_name)}


def _edit_ref(edit: FlowEdit | None) -> dict[str, Any] | None:
    if edit is None:
        return None
    return {"seq": edit.seq, "operation": edit.operation, "description": edit.description}


def undo_redo(flow: Flow) -> dict[str, dict[str, Any] | None]:
    """The edit undo would revert and the one redo would re-apply (or None),
    as the graph document shows them (two queries)."""
    edits = FlowEdit.objects.filter(flow_id=flow.pk).only("seq", "operation", "description")
    return {
        "undo": _edit_ref(edits.filter(undone=False, operation__in=UNDOABLE).order_by("-seq").first()),
        "redo": _edit_ref(edits.filter(redoable=True).order_by("seq").first()),
    }


@dataclass
class FlowGraph:
    """One flow's graph, loaded once; every answer is computed in memory."""

    flow: Flow
    labels: dict[int, str]  # node pk -> rule label, in tree order
    edges: list[tuple[int, int, bool | int]]  # (source, target, backbone), creation order
    state_counts: dict[int, int]  # node pk -> States standing on it
    timers: dict[int, tuple[datetime.timedelta, str]] = field(default_factory=dict)  # node pk -> its timer
    index: EdgeIndex = field(init=False)
    tree: Tree = field(init=False)
    root: int = field(init=False)  # the root node's pk (0: the flow has no graph)
    _dominated: dict[int, int] | None = field(default=None, init=False)
    # label -> its Rule (None when missing)
    _rules: dict[str, type[Rule] | None] = field(default_factory=dict, init=False)
    # (label, the children's labels) -> the policy's answer
    _options: dict[tuple[str, tuple[str | None, ...]], policy.ChildOptions] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.root = (self.flow.state_graph.root_id or 0) if self.flow.state_graph_id else 0
        self.index = EdgeIndex(self.root, [(s, t) for s, t, _ in self.edges])
        self.tree = tree_order(self.root, [(s, t) for s, t, backbone in self.edges if backbone])
        labels = self.labels  # in tree order here, not sorted by the database
        ordered = {pk: labels[pk] for pk in self.tree.order if pk in labels}
        if len(ordered) != len(labels):
            ordered.update(labels)
        self.labels = ordered

    @classmethod
    @_collector_paused_in
    def load(cls, flow: Flow) -> FlowGraph:
        """Load ``flow``'s graph: two queries, three when ``flow`` comes
        without its graph and rule set (``select_related``) loaded."""
        fields = [cast("ForeignKey[Any, Any]", Flow._meta.get_field(name)) for name in ("state_graph", "rule_set")]
        if flow.state_graph_id and not all(f.is_cached(flow) for f in fields):
            found = Flow.objects.select_related("state_graph", "rule_set").get(pk=flow.pk)
            for f in fields:
                f.set_cached_value(flow, f.get_cached_value(found))
        states = (  # the States standing on the node (its index answers it)
            State.objects.running()
            .filter(current_node_id=OuterRef("pk"))
            .order_by()
            .annotate(n=Func(F("pk"), function="COUNT"))
            .values("n")
        )
        rows = (
            FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id)
            .annotate(
                state_count=Subquery(states, output_field=IntegerField()),
                # the timer as a transition reads it (nodesettings.timer_of), in the same query
                timeout_after=KeyTextTransform("timeout_after", "settings"),
                timeout_rule=KeyTextTransform("timeout_rule", "settings"),
            )
            .order_by()
            .values_list("node_id", "rule_label", "state_count", "timeout_after", "timeout_rule")
        )
        labels: dict[int, str] = {}
        counts: dict[int, int] = {}
        timers: dict[int, tuple[datetime.timedelta, str]] = {}
        for node, label, n, after, target in driver_rows(rows):
            labels[node] = label
            if n:
                counts[node] = n
            if after:
                timer = nodesettings.timer_of({"timeout_after": after, "timeout_rule": target})
                if timer is not None:
                    timers[node] = timer
        edges = driver_rows(
            Edge.objects.filter(graph_id=flow.state_graph_id)
            .order_by("pk")
            .values_list("source_id", "target_id", "backbone")
        )
        return cls(flow=flow, labels=labels, edges=edges, state_counts=counts, timers=timers)

    @property
    def frozen(self) -> bool:
        return sum(self.state_counts.values()) > 0

    def dominated(self) -> dict[int, int]:
        """How many other nodes each node strictly dominates."""
        if self._dominated is None:
            self._dominated = dominated_counts(self.root, self.index.children, self.labels)
        return self._dominated

    def rule(self, label: str) -> type[Rule] | None:
        """The Rule of ``label`` (None when missing), resolved once per label."""
        if label in self._rules:
            return self._rules[label]
        found = self._rules[label] = get_rule(label)
        return found

    # -- per node ---------------------------------------------------------
    def children(self, pk: int) -> list[int]:
        return list(self.index.children.get(pk, []))

    def parents(self, pk: int) -> list[int]:
        return list(self.index.parents.get(pk, []))

    def removal(self, pk: int) -> tuple[bool, str | None]:
        """``(can_remove, reason)`` for one node."""
        reason = policy.removal_reason(pk == self.root, self.dominated().get(pk, 0))
        return reason is None, reason

    def child_options(self, pk: int) -> policy.ChildOptions:
        """What may be added under one node (the policy's answer)."""
        return self._child_options(self.labels[pk], self.index.children.get(pk, ()))

    def _child_options(self, label: str, children: Iterable[int]) -> policy.ChildOptions:
        """Nodes of one rule with the same children's rules share the answer
        (most nodes of a big flow are full: one answer per rule)."""
        key = (label, tuple(map(self.labels.get, children)))
        found = self._options.get(key)
        if found is None:
            found = self._options[key] = policy.child_options(*key)
        return found

    def child_labels(self, pk: int) -> list[str]:
        return [self.labels[c] for c in self.index.children.get(pk, ())]

    def connect_targets(self, pk: int) -> list[int]:
        """Existing nodes an edge from ``pk`` may go to now (the policy's
        answer for each target's rule), in tree order."""
        options = self.child_options(pk)
        if not options.allowed:
            return []
        wanted = {r.class_label for r in options.allowed}
        mine = set(self.index.children.get(pk, ()))
        return [n for n, label in self.labels.items() if label in wanted and n not in mine]

    def rule_facts(self, label: str) -> dict[str, Any]:
        """What the editor shows of a rule: the ``rules`` entries of the graph document."""
        rule = self.rule(label)
        if rule is None:
            return {
                "label": label,
                "name": short_name(label),
                "verbose_name": short_name(label),
                "missing_rule": True,
                "multiple_paths": False,
                "has_edit_screen": False,
                "max_children": None,
            }
        return {
            "label": label,
            "name": rule.name,
            "verbose_name": str(rule.verbose_name),
            "missing_rule": False,
            "multiple_paths": bool(rule.multiple_paths),
            "has_edit_screen": bool(rule.has_edit_screen),
            "max_children": policy.max_children(rule),
        }

    def node_data(self, pk: int) -> dict[str, Any]:
        """Everything the editor knows of one node (see the API contract)."""
        label = self.labels[pk]
        facts = self.rule_facts(label)
        can_remove, reason = self.removal(pk)
        children = self.index.children.get(pk, ())
        options = self._child_options(label, children)
        return {
            "node": pk,
            "rule_label": label,
            "rule_name": facts["name"],
            "rule_verbose_name": facts["verbose_name"],
            "missing_rule": facts["missing_rule"],
            "is_root": pk == self.root,
            "can_remove": can_remove,
            "cannot_remove_reason": reason,
            "multiple_paths": facts["multiple_paths"],
            "has_edit_screen": facts["has_edit_screen"],
            "max_children": facts["max_children"],
            "allowed_child_rules": [rule_ref(r) for r in options.allowed],
            "full_reason": options.reason,
            "children": list(children),
            "state_count": self.state_counts.get(pk, 0),
            "timer": self.timer(pk),
        }

    def timer(self, pk: int) -> dict[str, Any] | None:
        """The node's timer (:func:`timer_facts`), or None."""
        found = self.timers.get(pk)
        return timer_facts(*found) if found else None

    def prune_list(self, pk: int) -> list[int]:
        """What pruning ``pk`` removes: itself and what it reaches without
        passing the root (nothing for the root)."""
        return [] if pk == self.root else self.index.prune_set(pk)

    def name(self, pk: int) -> str:
        """The rule name of a node, for people."""
        return policy.rule_name(self.labels.get(pk, ""))

    def links(self, pk: int) -> list[dict[str, Any]]:
        """One entry per child: whether the edge is the child's creation-tree
        edge and whether it may be deleted (and why not)."""
        found = []
        for child in self.index.children.get(pk, ()):
            cut = self.index.edge_cut(pk, child)
            reason = policy.disconnect_reason(
                cut, gettext("%(name)s (node %(id)s)") % {"name": self.name(child), "id": child}
            )
            found.append(
                {
                    "child": child,
                    "backbone": self.tree.parent.get(child) == pk,
                    "can_disconnect": not cut,
                    "reason": reason,
                }
            )
        return found

    def insert_options(self, pk: int) -> list[dict[str, Any]]:
        """Per child, the rules a new node between ``pk`` and it may have."""
        label = self.labels[pk]
        kids = self.index.children.get(pk, ())
        found = []
        for child in kids:
            siblings = [self.labels.get(k, "") for k in kids if k != child]
            rules = policy.insert_options(label, self.labels.get(child, ""), siblings)
            found.append({"child": child, "rules": [rule_ref(r) for r in rules]})
        return found

    def rule_options(self, pk: int) -> tuple[list[dict[str, str]], str | None]:
        """The rules ``pk`` may change to, and why none when none may."""
        candidates = policy.rule_graph(self.flow.rule_set.root_rule_label).rules
        parents = [
            (self.labels.get(p, ""), [self.labels.get(k, "") for k in self.index.children.get(p, ()) if k != pk])
            for p in self.index.parents.get(pk, ())
        ]
        rules, reason = policy.rule_options(
            self.labels[pk], candidates, parents, self.child_labels(pk), is_root=pk == self.root
        )
        return [rule_ref(r) for r in rules], reason

    def prune_above(self, pk: int) -> list[dict[str, Any]]:
        """The nodes above ``pk`` (creation-tree ancestors) a prune of it also
        removes, each with the reason."""
        if pk == self.root:
            return []
        found = []
        for ancestor, via in prune_above(self.index, self.tree.parent, pk):
            loops_back = not self.tree.contains(via, pk)  # not a node on the way down to ``pk``
            found.append(
                {
                    "node": ancestor,
                    "rule_name": self.name(ancestor),
                    "because": policy.prune_above_reason(self.name(via), loops_back),
                }
            )
        return found

    def node_detail(self, pk: int, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """Everything about one node: its graph data plus parents, prune list,
        links, the insert / rule-change options, its ``settings`` (as
        stored, given) and its rule's ``settings_schema``."""
        data = {"id": pk, "flow": self.flow.pk, **self.node_data(pk)}
        data["settings"] = settings or {}
        data["settings_schema"] = nodesettings.schema(nodesettings.form_of(self.rule(self.labels[pk])))
        data["parents"] = self.parents(pk)
        data["prune_list"] = self.prune_list(pk)
        data["prune_above"] = self.prune_above(pk)
        data["links"] = self.links(pk)
        data["insert_options"] = self.insert_options(pk)
        data["rule_options"], data["rule_reason"] = self.rule_options(pk)
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
            "revision": flow.revision,
            **undo_redo(flow),
        }

    @_collector_paused_in
    def as_json(self) -> dict[str, Any]:
        """The graph document of ``flows/<id>/graph/`` (see the API contract).

        What nodes share is listed once: the ``rules`` used, the distinct
        ``child_options`` answers and ``removals`` answers; each node is one
        row of ``NODE_COLUMNS`` pointing into those tables by index.  A 10k-node
        flow is about 0.4 MB instead of the 6 MB one object per node made.

        With the ``columnar_document`` trick off (benchmarks only: that is
        not the API's format) it is :meth:`as_node_objects`.
        """
        if not tricks.on.columnar_document:
            return self.as_node_objects()
        dominated = self.dominated()
        children = self.index.children
        counts = self.state_counts
        root = self.root
        label_of = self.labels.get
        parent_of = {target: source for source, target, backbone in self.edges if backbone}
        rules: dict[str, int] = {}
        # (label, the children's labels) -> index; the same answer for several keys is listed once
        option_of: dict[tuple[str, tuple[str | None, ...]], int] = {}
        options: dict[policy.ChildOptions, int] = {}
        removals: dict[int, int] = {}  # nodes cut off by removing it (-1: the root) -> index
        timer_of = self.timers.get
        timers: dict[tuple[datetime.timedelta, str], int] = {}  # (delay, target) -> index
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
                answer = policy.child_options(*key)
                option = option_of[key] = options.setdefault(answer, len(options))
            cut = -1 if pk == root else dominated.get(pk, 0)
            removal = removals.get(cut)
            if removal is None:
                removal = removals[cut] = len(removals)
            found = timer_of(pk)
            timer = None if found is None else timers.setdefault(found, len(timers))
            nodes.append([pk, parent_of.get(pk), kids, rule, option, removal, counts.get(pk, 0), timer])
        return {
            "flow": self.flow_summary(),
            "rules": [self.rule_facts(label) for label in rules],
            "child_options": [
                {"allowed_child_rules": [rule_ref(r) for r in answer.allowed], "full_reason": answer.reason}
                for answer in options
            ],
            "removals": [self._removal_entry(cut) for cut in removals],
            "timers": [timer_facts(*found) for found in timers],
            "node_columns": list(NODE_COLUMNS),
            "nodes": nodes,
        }

    def as_node_objects(self) -> dict[str, Any]:
        """The plain form the columnar document replaced (one object per
        node, as :meth:`node_data` spells it, in tree order): what the
        ``columnar_document`` trick is measured against."""
        return {"flow": self.flow_summary(), "nodes": [self.node_data(pk) for pk in self.labels]}

    def _removal_entry(self, cut: int) -> dict[str, Any]:
        reason = policy.removal_reason(cut < 0, max(cut, 0))
        return {"can_remove": reason is None, "reason": reason}
