"""The tree of a flow as its admin change page shows it, with the edit forms
of each node: a view of the read model (:class:`flowr.readmodel.FlowGraph`),
which asks the policy what each node allows."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.utils.translation import gettext as _

from flowr import policy
from flowr.forms import AddChildForm, ConnectForm, node_text
from flowr.models import Flow
from flowr.readmodel import FlowGraph


@dataclass
class TreeRow:
    """One node of a flow as the change page shows it."""

    node_id: int
    label: str
    depth: int
    missing: bool
    state_count: int
    links: list[tuple[str, str]] = field(default_factory=list)
    unused_rules: list[str] = field(default_factory=list)
    problem: str = ""
    full_reason: str = ""
    add_form: AddChildForm | None = None
    connect_form: ConnectForm | None = None
    connect_page: bool = False  # too many targets for a select here: the node's connect page offers them
    has_children: bool = False  # it has links to delete or insert into
    has_settings: bool = False  # its rule has a Settings form

    @property
    def indent(self) -> int:
        return (self.depth - 1) * 2

    @property
    def is_root(self) -> bool:
        return self.depth == 1


def _problem(graph: FlowGraph, label: str) -> str:
    rule = graph.rule(label)
    if rule is None:
        return ""
    return "; ".join(
        _("Rule %(rule)s names child rule %(entry)r, which does not resolve: it is not offered.")
        % {"rule": rule.verbose_name, "entry": b.entry}
        if b.missing
        else _("Rule %(rule)s: children[%(position)s] is %(entry)r, which is not a Rule.")
        % {"rule": rule.verbose_name, "position": b.position, "entry": b.entry}
        for b in policy.broken_children(rule)
    )


#: Rows per page of a flow's tree: a page's size stays bounded at any flow size.
PAGE_SIZE = 200
#: Up to this many connect targets a row offers them in a select; past it, a
#: link to the node's own connect page (a select per row of every node grows
#: with the square of the flow's size).
INLINE_TARGETS = 25


@dataclass
class Tree:
    """One page of a flow's tree."""

    rows: list[TreeRow]
    page: Page[int]


def build_tree(flow: Flow, editable: bool, page: int | str | None = 1) -> Tree:
    """The page ``page`` of the flow's nodes in tree order, with what can be
    done at each (two or three queries whatever the flow's size)."""
    graph = FlowGraph.load(flow)
    labels = graph.labels
    shown = Paginator(list(labels), PAGE_SIZE).get_page(page)
    links: dict[int, list[int]] = {}
    for source, target, backbone in graph.edges:
        if not backbone:
            links.setdefault(source, []).append(target)
    rows = []
    for pk in shown.object_list:
        label = labels[pk]
        rule = graph.rule(label)
        row = TreeRow(
            node_id=pk,
            label=node_text(pk, label),
            depth=graph.tree.depth.get(pk, 1),
            missing=rule is None,
            state_count=graph.state_counts.get(pk, 0),
            problem=_problem(graph, label),
            has_children=bool(graph.index.children.get(pk)),
            has_settings=policy.settings_form(label) is not None,
        )
        for target in links.get(pk, ()):
            kind = "loop" if graph.tree.contains(target, pk) else "join"
            row.links.append((node_text(target, labels[target]), kind))
        options = graph.child_options(pk)
        if rule is not None:
            row.unused_rules = [str(r.verbose_name) for r in policy.unused_child_rules(label, graph.child_labels(pk))]
            if not options.allowed:
                row.full_reason = options.reason or ""
        if editable and options.allowed:
            row.add_form = AddChildForm(allowed=list(options.allowed), auto_id=f"id_n{pk}_%s")
            targets = graph.connect_targets(pk)
            if 0 < len(targets) <= INLINE_TARGETS:
                choices = [(t, node_text(t, labels[t])) for t in targets]
                row.connect_form = ConnectForm(targets=choices, auto_id=f"id_c{pk}_%s")
            row.connect_page = len(targets) > INLINE_TARGETS
        rows.append(row)
    return Tree(rows, shown)
