"""The tree of a flow as its admin change page shows it, with the edit forms of each node."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from flowr import rules as rule_registry
from flowr.exceptions import FlowrError
from flowr.forms import AddChildForm, ConnectForm, node_label
from flowr.graphwalk import tree_order
from flowr.models import Edge, Flow, FlowNodeData, State
from flowr.rules import Rule


@dataclass
class TreeRow:
    """One node of a flow as the change page shows it."""

    data: FlowNodeData
    label: str
    depth: int
    missing: bool
    state_count: int
    links: list[tuple[str, str]] = field(default_factory=list)
    unused_rules: list[str] = field(default_factory=list)
    problem: str = ""
    full: bool = False
    add_form: AddChildForm | None = None
    connect_form: ConnectForm | None = None

    @property
    def indent(self) -> int:
        return (self.depth - 1) * 2

    @property
    def is_root(self) -> bool:
        return self.depth == 1


def _child_rules(rule: type[Rule]) -> tuple[list[type[Rule]], str]:
    try:
        return rule.child_rules(), ""
    except FlowrError as exc:
        return [], str(exc)


def build_tree(flow: Flow, editable: bool) -> list[TreeRow]:
    """The flow's nodes in tree order with what can be done at each (4 queries)."""
    nodes = flow.nodes_data()
    by_node = {data.node_id: data for data in nodes}
    children: dict[int, list[int]] = {}
    links: dict[int, list[int]] = {}
    backbone_edges = []
    for source, target, backbone in (
        Edge.objects.filter(graph_id=flow.state_graph_id)
        .order_by("pk")
        .values_list("source_id", "target_id", "backbone")
    ):
        children.setdefault(source, []).append(target)
        if not backbone:
            links.setdefault(source, []).append(target)
        else:
            backbone_edges.append((source, target))
    tree = tree_order(flow.state_graph.root_id, backbone_edges)
    counts = dict(
        State.objects.filter(flow=flow)
        .order_by()
        .values_list("current_node__node_id")
        .annotate(n=Count("pk"))
        .values_list("current_node__node_id", "n")
    )
    by_label: dict[str, list[FlowNodeData]] = {}
    for data in nodes:
        by_label.setdefault(data.rule_label, []).append(data)
    rows = []
    for data in nodes:
        row = TreeRow(
            data=data,
            label=node_label(data),
            depth=tree.depth.get(data.node_id, 1),
            missing=data.rule_missing,
            state_count=counts.get(data.node_id, 0),
        )
        for target_id in links.get(data.node_id, []):
            target = by_node[target_id]
            kind = "loop" if tree.contains(target_id, data.node_id) else "join"
            row.links.append((node_label(target), kind))
        rule = rule_registry.get_rule(data.rule_label)
        if rule is not None:
            existing = [by_node[c].rule_label for c in children.get(data.node_id, [])]
            allowed_rules, row.problem = _child_rules(rule)
            row.unused_rules = [r.name for r in allowed_rules if r.class_label not in existing]
            row.full = len(existing) >= (len(allowed_rules) if rule.multiple_paths else 1)
            if editable:
                allowed = [r for r in allowed_rules if data.child_refusal(r, existing) is None]
                if allowed:
                    row.add_form = AddChildForm(allowed=allowed, auto_id=f"id_n{data.node_id}_%s")
                    mine = set(children.get(data.node_id, []))
                    targets = [t for r in allowed for t in by_label.get(r.class_label, []) if t.node_id not in mine]
                    if targets:
                        row.connect_form = ConnectForm(targets=targets, auto_id=f"id_c{data.node_id}_%s")
        rows.append(row)
    return rows
