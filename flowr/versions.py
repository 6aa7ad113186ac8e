"""Flow versions: cloning a flow, and moving running States between versions.

A flow that States use is frozen (see :class:`~flowr.exceptions.FlowFrozen`).
To change it, ``Flow.clone()`` (:func:`flowr.edits.clone_flow`) makes an editable copy,
recorded as the next version of the same *family*; :func:`migrate_states`
later moves the running States onto the new version, all or nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from flowr import edits
from flowr.db.history import HistoryWriter, next_seq
from flowr.exceptions import FlowrError, MappingIncomplete
from flowr.graphwalk import tree_order

if TYPE_CHECKING:
    from flowr.models import Flow, FlowNodeData


class IncompatibleFlows(FlowrError):
    """States can only move between two different flows of one rule set."""

    code = "incompatible_flows"


class InvalidMapping(FlowrError):
    """An explicit mapping names a node outside the source or target flow."""

    code = "invalid_mapping"


# -- migrating running States -----------------------------------------------


@dataclass
class Move:
    """One State that moves (or would move, in a dry run)."""

    state: int
    source_node: int
    target_node: int
    rule_label: str


@dataclass
class Unmapped:
    """A source node that holds States and has no target node."""

    node: int
    rule_label: str
    rule_name: str
    states: list[int]
    path: list[str]


@dataclass
class MigrationReport:
    """What :func:`migrate_states` did (or, for a dry run, would do).

    Node numbers are :class:`~flowr.models.Node` primary keys.  ``mapping``
    is the full node map used (automatic and explicit); ``moves`` lists the
    States moved; ``unmapped`` lists the source nodes holding States that
    have no target (when not empty, nothing moved).
    """

    source: int
    target: int
    dry_run: bool
    mapping: dict[int, int] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unmapped

    @property
    def moved(self) -> int:
        """How many States moved (0 for a dry run or a refusal)."""
        return 0 if self.dry_run or self.unmapped else len(self.moves)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for the API and the command)."""
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "moved": self.moved,
            "moves": [vars(m) for m in self.moves],
            "unmapped": [vars(u) for u in self.unmapped],
        }

    def summary(self) -> str:
        """Human-readable lines."""
        verb = "would move" if self.dry_run else "moved"
        lines = [f"Flow {self.source} -> flow {self.target}: {verb} {len(self.moves)} state(s)"]
        if self.unmapped:
            lines[0] = f"Flow {self.source} -> flow {self.target}: nothing can move, unmapped nodes hold states"
        for m in self.moves:
            lines.append(f"  state {m.state}: node {m.source_node} -> node {m.target_node}")
        for u in self.unmapped:
            via = " > ".join(u.path) or "(not reachable)"
            lines.append(
                f"  UNMAPPED node {u.node} ({u.rule_name}, path {via}): {len(u.states)} state(s) {u.states}; "
                f"map it explicitly"
            )
        return "\n".join(lines)


def graph_rows(graph_id: int, db: str) -> tuple[int, dict[int, str], dict[int, list[int]]]:
    """Root, node labels and ordered children of a graph (two queries)."""
    from flowr.models import Edge, FlowNodeData

    rows = list(
        FlowNodeData.objects.using(db)
        .filter(node__graph_id=graph_id)
        .order_by()
        .values_list("node_id", "rule_label", "node__graph__root_id")
    )
    labels = {node: label for node, label, _ in rows}
    root = rows[0][2]
    edges = list(
        Edge.objects.using(db)
        .filter(graph_id=graph_id)
        .order_by("pk")
        .values_list("source_id", "target_id", "backbone")
    )
    order = tree_order(root, [(s, t) for s, t, b in edges if b]).position
    children: dict[int, list[int]] = {}
    for source, target, _ in edges:
        children.setdefault(source, []).append(target)
    for kids in children.values():
        kids.sort(key=lambda n: order.get(n, 0))
    return root, labels, children


def auto_mapping(
    source: tuple[int, dict[int, str], dict[int, list[int]]],
    target: tuple[int, dict[int, str], dict[int, list[int]]],
) -> tuple[dict[int, int], dict[int, list[str]]]:
    """Map source nodes to target nodes by their path of rules from the root.

    Walking both graphs breadth first together: the roots match when their
    rules do, and a child matches the target child with the same rule (a
    node never has two children with one rule).  A node reached by several
    paths takes the shortest (first found).  Returns the mapping and each
    source node's rule path (for reports).
    """
    s_root, s_labels, s_children = source
    t_root, t_labels, t_children = target
    paths: dict[int, list[str]] = {s_root: [s_labels[s_root]]}
    queue = deque([s_root])
    while queue:  # every reachable source node, with its shortest rule path
        node = queue.popleft()
        for child in s_children.get(node, ()):
            if child not in paths:
                paths[child] = [*paths[node], s_labels[child]]
                queue.append(child)
    mapping: dict[int, int] = {}
    if s_labels[s_root] == t_labels[t_root]:
        mapping[s_root] = t_root
        queue = deque([s_root])
        seen = {s_root}
        while queue:
            node = queue.popleft()
            by_rule = {t_labels[c]: c for c in t_children.get(mapping[node], ())}
            for child in s_children.get(node, ()):
                if child in seen:
                    continue
                seen.add(child)
                match = by_rule.get(s_labels[child])
                if match is not None:
                    mapping[child] = match
                    queue.append(child)
    return mapping, paths


def _node_pk(value: Any) -> int:
    """A Node pk from a FlowNodeData, a Node or an int (a Node pk)."""
    from flowr.models import FlowNodeData, Node

    if isinstance(value, FlowNodeData):
        return int(value.node_id)
    if isinstance(value, Node):
        return int(value.pk)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise InvalidMapping(f"{value!r} is not a node (FlowNodeData, Node or Node pk)", value=value)


def migrate_states(
    source_flow: Flow,
    target_flow: Flow,
    mapping: Mapping[Any, Any] | None = None,
    dry_run: bool = False,
    actor: Any = None,
) -> MigrationReport:
    """Move every State of ``source_flow`` onto ``target_flow``.

    :param mapping: explicit ``{source node: target node}`` entries (each a
        :class:`FlowNodeData`, a :class:`Node` or a Node pk); they override
        the automatic mapping by rule path from the root
    :param dry_run: report what would move (and what is unmapped, without
        raising), change nothing
    :param actor: recorded on the history rows
    :raises IncompatibleFlows: same flow, or different rule sets
    :raises InvalidMapping: a mapping entry outside the two flows
    :raises MappingIncomplete: (not in a dry run) a node holding States has
        no target; nothing moved (``exc.report`` lists the nodes)
    :raises ConcurrentTransition: a State moved meanwhile; nothing moved

    All or nothing, in one transaction.  Each moved State gets a
    ``StateHistory`` row of kind ``migration`` and its ``version`` is bumped,
    so a transition prepared before the migration fails instead of applying
    to the old flow.  The mapping costs a constant number of queries.
    """
    from flowr.models import FlowNodeData, State

    if source_flow.pk == target_flow.pk:
        raise IncompatibleFlows("Source and target are the same flow", source=source_flow, target=target_flow)
    if source_flow.rule_set_id != target_flow.rule_set_id:
        raise IncompatibleFlows(
            f"Flow {source_flow} and flow {target_flow} use different rule sets: States cannot move between them",
            source=source_flow,
            target=target_flow,
        )
    db = router.db_for_write(State)
    with transaction.atomic(using=db):
        locks: dict[int, edits.Locked] = {}
        if not dry_run:  # both flows' edits, starts and status changes wait; once States arrive the target is frozen
            for graph_id in sorted({source_flow.state_graph_id, target_flow.state_graph_id}):
                locks[graph_id] = edits.lock(graph_id)
        src = graph_rows(source_flow.state_graph_id, db)
        tgt = graph_rows(target_flow.state_graph_id, db)
        node_map, paths = auto_mapping(src, tgt)
        for key, value in (mapping or {}).items():
            s_node, t_node = _node_pk(key), _node_pk(value)
            if s_node not in src[1]:
                raise InvalidMapping(f"Node {s_node} is not a node of flow {source_flow}", node=s_node)
            if t_node not in tgt[1]:
                raise InvalidMapping(f"Node {t_node} is not a node of flow {target_flow}", node=t_node)
            node_map[s_node] = t_node
        query = State.objects.using(db).filter(flow_id=source_flow.pk).order_by("pk")
        if connections[db].features.has_select_for_update and not dry_run:
            query = query.select_for_update()
        node_of = dict(
            FlowNodeData.objects.using(db)
            .filter(node__graph_id=source_flow.state_graph_id)
            .values_list("pk", "node_id")
        )
        states = [
            (pk, node_of[data], version) for pk, data, version in query.values_list("pk", "current_node_id", "version")
        ]
        report = MigrationReport(source=source_flow.pk, target=target_flow.pk, dry_run=dry_run, mapping=node_map)
        waiting: dict[int, list[int]] = {}
        for pk, node, _ in states:
            if node in node_map:
                report.moves.append(Move(pk, node, node_map[node], tgt[1][node_map[node]]))
            else:
                waiting.setdefault(node, []).append(pk)
        for node, pks in sorted(waiting.items()):
            label = src[1][node]
            report.unmapped.append(
                Unmapped(
                    node, label, label.rsplit(".", 1)[-1], pks, [p.rsplit(".", 1)[-1] for p in paths.get(node, [])]
                )
            )
        if report.unmapped and not dry_run:
            raise MappingIncomplete(
                f"{sum(len(u.states) for u in report.unmapped)} state(s) sit on nodes with no target in flow "
                f"{target_flow}: map node(s) {[u.node for u in report.unmapped]} explicitly; nothing moved",
                report=report,
            )
        if dry_run or not states:
            return report  # a dry run reports unmapped nodes instead of raising
        data = {
            d.node_id: d
            for d in FlowNodeData.objects.using(db).filter(
                node_id__in={m.source_node for m in report.moves} | {m.target_node for m in report.moves}
            )
        }
        _apply(report, states, data, source_flow, target_flow, actor, db)
        _log_migration(report, locks, source_flow, target_flow, actor)
    return report


def _log_migration(
    report: MigrationReport, locks: dict[int, edits.Locked], source: Flow, target: Flow, actor: Any
) -> None:
    """One ``migrate`` row in each flow's edit log, with the actor."""
    count = len(report.moves)
    change = {"source": source.pk, "target": target.pk, "states": count}
    with edits.acting(actor):
        text = f"migrate {count} state(s) to flow {target.pk} ({target})"
        edits.log_operation(locks[source.state_graph_id], "migrate", text, change)
        text = f"migrate {count} state(s) from flow {source.pk} ({source})"
        edits.log_operation(locks[target.state_graph_id], "migrate", text, change)


def _apply(
    report: MigrationReport,
    states: list[tuple[int, int, int]],
    data: dict[int, FlowNodeData],
    source_flow: Flow,
    target_flow: Flow,
    actor: Any,
    db: str,
) -> None:
    """Move the States (one UPDATE per target node) and write history."""
    from flowr.exceptions import ConcurrentTransition
    from flowr.models import State, StateHistory

    versions = {pk: version for pk, _, version in states}
    by_target: dict[int, list[int]] = {}
    for move in report.moves:
        by_target.setdefault(move.target_node, []).append(move.state)
    for target_node, pks in by_target.items():
        updated = 0
        # compare-and-set per version group: a State moved since it was read
        # (possible on SQLite, which has no row locks) is not updated
        groups: dict[int, list[int]] = {}
        for pk in pks:
            groups.setdefault(versions[pk], []).append(pk)
        for version, group in groups.items():
            updated += (
                State.objects.using(db)
                .filter(pk__in=group, flow_id=source_flow.pk, version=version)
                .update(flow_id=target_flow.pk, current_node_id=data[target_node].pk, version=F("version") + 1)
            )
        if updated != len(pks):
            raise ConcurrentTransition(
                f"A State of flow {source_flow} moved during the migration; nothing migrated, try again",
                flow=source_flow,
            )
    note = f"migrated from flow {source_flow.pk} ({source_flow}) to flow {target_flow.pk} ({target_flow})"
    now = timezone.now()
    writer = HistoryWriter(StateHistory)
    rows = [
        writer.build(
            move.state,
            next_seq(versions[move.state]),
            data[move.source_node],
            data[move.target_node],
            actor,
            StateHistory.MIGRATION,
            note=note,
            created=now,
        )
        for move in report.moves
    ]
    writer.write_many(db, rows)
