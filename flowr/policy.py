"""The flow rules, answered once: what may go under a node, be connected to
it, or be removed from it -- and why not.

Every surface (the 0.2 model methods, the admin tree, the editor's graph
document, the REST API, the import checker, the system checks) asks these
functions; none of them works a rule out on its own.  The functions take
rule labels and plain counts, never model instances, so the edit service
can ask them with what it read under the graph lock and the read model with
what it loaded in bulk.

How a rule's ``children`` are read (decided here, once):

* an entry that is a Rule class, or a label that resolves to one, is an
  allowed child rule;
* an entry that does not resolve (a renamed or deleted class) or is not a
  Rule at all is **not offered, does not count toward the limit, and is
  reported** by ``manage.py check`` (flowr.E003 / flowr.E004); the node's
  other child rules stay allowed;
* a node may have one child, or with ``multiple_paths`` one per allowed
  child rule (never two children with the same rule).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from flowr import nodesettings
from flowr.exceptions import (
    CannotDisconnect,
    CannotRemove,
    DuplicateChildRule,
    FlowFrozen,
    FlowNotPublished,
    FlowrError,
    MissingRule,
    PublishNotPermitted,
    RuleNotAllowed,
    StatusChangeNotAllowed,
    TooManyChildren,
)
from flowr.rules import (
    Rule,
    all_rules,
    child_rules,
    get_rule,
    is_rule_class,
    resolve,
    rules_reachable_from,
    short_name,
)

ROOT_REASON = gettext_lazy("The root node cannot be removed.")


# -- a rule's children -----------------------------------------------------------


@dataclass(frozen=True)
class BrokenChild:
    """An entry of a rule's ``children`` that names no Rule."""

    position: int
    entry: Any
    missing: bool  # True: a label that does not resolve; False: not a Rule at all


def broken_children(rule: type[Rule]) -> list[BrokenChild]:
    """The entries of ``rule.children`` that :func:`child_rules` leaves out."""
    broken = []
    for position, child in enumerate(rule.children):
        if isinstance(child, str):
            if get_rule(child) is None:
                broken.append(BrokenChild(position, child, missing=True))
        elif not is_rule_class(child):
            broken.append(BrokenChild(position, child, missing=False))
    return broken


def max_children(rule: type[Rule]) -> int:
    """How many children a node of ``rule`` may have."""
    return len(child_rules(rule)) if rule.multiple_paths else 1


def rule_name(label: str) -> str:
    """The display name of a stored label (the class-name part when missing)."""
    found = get_rule(label)
    return found.name if found is not None else short_name(label)


# -- what may go under a node ------------------------------------------------------


def _node_ref(node_id: int | None) -> str:
    return _("node %(id)s") % {"id": node_id} if node_id is not None else _("this node")


def _node_ref_start(node_id: int | None) -> str:
    """:func:`_node_ref` starting a sentence."""
    return _("Node %(id)s") % {"id": node_id} if node_id is not None else _("This node")


def _allows(parent: type[Rule], limit: int) -> str:
    if not parent.multiple_paths:
        return _("Rule %(rule)s allows only one child") % {"rule": parent.verbose_name}
    text = ngettext(
        "Rule %(rule)s allows at most %(limit)s child", "Rule %(rule)s allows at most %(limit)s children", limit
    )
    return text % {"rule": parent.verbose_name, "limit": limit}


def child_refusal(
    parent_label: str,
    child: type[Rule] | str,
    count: int,
    existing: Container[str],
    *,
    node_id: int | None = None,
    node: Any = None,
) -> FlowrError | None:
    """Why a node of rule ``parent_label`` with ``count`` children, whose
    children's labels are in ``existing``, cannot take a (new or connected)
    child of rule ``child``; None when it can.

    The refusal is the exception the edit would raise: MissingRule (either
    rule does not resolve), InvalidRule, RuleNotAllowed, TooManyChildren,
    DuplicateChildRule.
    """
    parent = get_rule(parent_label)
    if parent is None:
        return MissingRule(
            _("%(node)s: rule %(label)r does not resolve") % {"node": _node_ref_start(node_id), "label": parent_label},
            label=parent_label,
            node=node,
        )
    try:
        rule = resolve(child)
    except FlowrError as exc:
        return exc
    allowed = child_rules(parent)
    if rule not in allowed:
        return RuleNotAllowed(
            _("Rule %(rule)s is not a valid child of rule %(parent)s (%(node)s)")
            % {"rule": rule.verbose_name, "parent": parent.verbose_name, "node": _node_ref(node_id)},
            rule=rule,
            node=node,
        )
    limit = len(allowed) if parent.multiple_paths else 1
    if count >= limit:
        full = _("%(allows)s; %(node)s is full") % {"allows": _allows(parent, limit), "node": _node_ref(node_id)}
        return TooManyChildren(full, rule=rule, node=node)
    if rule.class_label in existing:
        return DuplicateChildRule(
            _("%(node)s (%(parent)s) already has a child with rule %(rule)s")
            % {"node": _node_ref_start(node_id), "parent": parent.verbose_name, "rule": rule.verbose_name},
            rule=rule,
            node=node,
        )
    return None


@dataclass(frozen=True)
class ChildOptions:
    """What may be added under one node: the rules, the limit, and when
    nothing may, why (a sentence for people)."""

    allowed: tuple[type[Rule], ...]
    limit: int | None  # None: the node's rule is missing
    reason: str | None


def child_options(parent_label: str, child_labels: Sequence[str | None]) -> ChildOptions:
    """:class:`ChildOptions` of a node of rule ``parent_label`` whose
    children have these labels (``None`` for a child without data)."""
    parent = get_rule(parent_label)
    if parent is None:
        return ChildOptions((), None, _("Rule %(label)r is missing: no such Rule class.") % {"label": parent_label})
    rules = child_rules(parent)
    limit = len(rules) if parent.multiple_paths else 1
    if not rules:
        reason = _("Rule %(rule)s has no child rules: the flow ends here.") % {"rule": parent.verbose_name}
        return ChildOptions((), limit, reason)
    if len(child_labels) >= limit:
        return ChildOptions((), limit, _("%(allows)s; this node is full.") % {"allows": _allows(parent, limit)})
    existing = set(child_labels)
    allowed = tuple(r for r in rules if r.class_label not in existing)
    if not allowed:
        reason = _("Every rule allowed after %(rule)s is already a child.") % {"rule": parent.verbose_name}
        return ChildOptions((), limit, reason)
    return ChildOptions(allowed, limit, None)


def unused_child_rules(parent_label: str, child_labels: Sequence[str | None]) -> tuple[type[Rule], ...]:
    """The allowed child rules a node of ``parent_label`` has no child of yet
    (whether or not it is full)."""
    parent = get_rule(parent_label)
    if parent is None:
        return ()
    existing = set(child_labels)
    return tuple(r for r in child_rules(parent) if r.class_label not in existing)


@dataclass(frozen=True)
class ChildProblem:
    """One child of a stored node that its rules no longer allow."""

    child: int  # position in the children given
    kind: str  # "not_allowed" | "duplicate" | "too_many"
    message: str


def stored_children_problems(parent_label: str, child_labels: Sequence[str]) -> list[ChildProblem]:
    """What is wrong with the children a stored node has, against the rules
    in code now (import validation and system checks).  A node whose rule,
    or a child whose rule, does not resolve is reported elsewhere (missing
    rule) and not judged here."""
    parent = get_rule(parent_label)
    if parent is None:
        return []
    allowed = {r.class_label for r in child_rules(parent)}
    limit = len(allowed) if parent.multiple_paths else 1
    problems = []
    if len(child_labels) > limit:
        problems.append(
            ChildProblem(-1, "too_many", f"{len(child_labels)} children; rule {parent.name} allows {limit}")
        )
    seen: dict[str, int] = {}
    for position, label in enumerate(child_labels):
        if get_rule(label) is None:
            continue
        if label not in allowed:
            problems.append(
                ChildProblem(
                    position,
                    "not_allowed",
                    _("rule %(rule)s may not follow rule %(parent)s")
                    % {"rule": short_name(label), "parent": parent.verbose_name},
                )
            )
        elif label in seen:
            problems.append(
                ChildProblem(
                    position, "duplicate", _("already has a child with rule %(rule)s") % {"rule": short_name(label)}
                )
            )
        else:
            seen[label] = position
    return problems


# -- removal and freezing ------------------------------------------------------------


def cut_reason(cut: int) -> str:
    text = ngettext(
        "Removing it would disconnect %(count)s other node from the root; prune it instead.",
        "Removing it would disconnect %(count)s other nodes from the root; prune it instead.",
        cut,
    )
    return text % {"count": cut}


def removal_reason(is_root: bool, cut: int) -> str | None:
    """Why a node cannot be removed (it is the root, or ``cut`` other nodes
    would lose their way from the root), None when it can."""
    if is_root:
        return str(ROOT_REASON)
    if cut:
        return cut_reason(cut)
    return None


def removal_refusal(node: Any, is_root: bool, cut: int) -> CannotRemove | None:
    reason = removal_reason(is_root, cut)
    return None if reason is None else CannotRemove(f"{node}: {reason}", node=node)


def prune_above_reason(via: str, loops_back: bool) -> str:
    """Why a prune also removes a node above the chosen one: ``via`` (a name
    for people), which the prune removes, leads to it."""
    if loops_back:
        return _("%(via)s loops back to it") % {"via": via}
    return _("%(via)s, which goes too, leads to it") % {"via": via}


def settings_form(label: str) -> type[nodesettings.NodeSettings] | None:
    """The ``Settings`` form of the rule ``label`` (None: none, or the rule is missing)."""
    return nodesettings.form_of(get_rule(label))


def checked_settings(label: str, values: Any, node_id: int | None = None) -> dict[str, Any]:
    """The settings to store for a node of the rule ``label`` given
    ``values`` (JSON, by field name): cleaned by the rule's ``Settings``
    form; raises :class:`~flowr.exceptions.InvalidSettings` with every
    problem by field, or :class:`~flowr.exceptions.MissingRule`."""
    rule = get_rule(label)
    if rule is None:
        raise MissingRule(
            _("Node %(node)s: rule %(label)r does not resolve") % {"node": node_id, "label": label}, label=label
        )
    return nodesettings.checked(nodesettings.form_of(rule), values, str(rule.verbose_name))


def frozen_refusal(flow: Any, count: int) -> FlowFrozen | None:
    """The refusal of any edit of ``flow`` while ``count`` States use it."""
    if not count:
        return None
    return FlowFrozen(
        ngettext(
            "Flow %(name)r is frozen: %(count)s state uses it. Clone it to make an editable version.",
            "Flow %(name)r is frozen: %(count)s states use it. Clone it to make an editable version.",
            count,
        )
        % {"name": flow.name, "count": count},
        flow=flow,
        count=count,
    )


# -- links, inserts and rule changes --------------------------------------------------


def disconnect_reason(cut: int, child: str) -> str | None:
    """Why the link to ``child`` (a name for people) cannot be deleted:
    ``cut`` nodes (the child among them) would lose their way from the
    root.  None when it can (the child stays reachable another way)."""
    if not cut:
        return None
    others = cut - 1
    if others:
        text = _(
            "Deleting this link would cut %(child)s and %(others)d other node(s) off from the root; "
            "delete or re-route the other links first."
        )
        return text % {"child": child, "others": others}
    return _("Deleting this link would cut %(child)s off from the root; delete or re-route the other links first.") % {
        "child": child
    }


def disconnect_refusal(cut: int, child: str, node: Any = None) -> CannotDisconnect | None:
    reason = disconnect_reason(cut, child)
    return None if reason is None else CannotDisconnect(reason, node=node, reason=reason)


def _as_not_allowed(refusal: FlowrError) -> FlowrError:
    """An insert or a rule change the rules refuse is ``rule_not_allowed``
    (the reason kept), whatever the child check found (a full node, a second
    child of the rule); a rule that does not resolve stays what it is."""
    if isinstance(refusal, (TooManyChildren, DuplicateChildRule)):
        return RuleNotAllowed(refusal.message, rule=refusal.rule, node=refusal.node, reason=refusal.message)
    return refusal


def insert_refusal(
    parent_label: str,
    rule: type[Rule] | str,
    child_label: str,
    sibling_labels: Sequence[str],
    *,
    node_id: int | None = None,
    node: Any = None,
) -> FlowrError | None:
    """Why a new node of ``rule`` cannot go between a node of
    ``parent_label`` and its child of ``child_label`` (``sibling_labels``:
    the node's other children); None when it can.  The new node takes the
    child's place under the parent (the count does not change) and has the
    child as its only child."""
    refusal = child_refusal(parent_label, rule, len(sibling_labels), set(sibling_labels), node_id=node_id, node=node)
    if refusal is not None:
        return _as_not_allowed(refusal)
    inserted = resolve(rule)
    if get_rule(child_label) is None:
        return MissingRule(
            _("The child's rule %(label)r does not resolve") % {"label": child_label}, label=child_label, node=node
        )
    if resolve(child_label) not in child_rules(inserted):
        return RuleNotAllowed(
            _("Rule %(child)s is not a valid child of rule %(rule)s: %(rule)s cannot go before it")
            % {"child": rule_name(child_label), "rule": inserted.name},
            rule=inserted,
            node=node,
        )
    return None


def insert_options(parent_label: str, child_label: str, sibling_labels: Sequence[str]) -> tuple[type[Rule], ...]:
    """The rules a new node between a node of ``parent_label`` and its child
    of ``child_label`` may have (see :func:`insert_refusal`)."""
    parent = get_rule(parent_label)
    if parent is None:
        return ()
    return tuple(r for r in child_rules(parent) if insert_refusal(parent_label, r, child_label, sibling_labels) is None)


ROOT_RULE_REASON = gettext_lazy("The root's rule is the rule set's root rule; it cannot be changed.")


def rule_change_refusal(
    current_label: str,
    new: type[Rule] | str,
    parents: Sequence[tuple[str, Sequence[str]]],
    child_labels: Sequence[str],
    *,
    is_root: bool = False,
    node_id: int | None = None,
    node: Any = None,
) -> FlowrError | None:
    """Why a node of ``current_label`` cannot take the rule ``new``; None
    when it can.  ``parents``: each parent's label and its other children's
    labels; ``child_labels``: the node's children.  The new rule must follow
    every parent's rule (without a second child of that rule there) and
    allow every current child (as many of them as there are)."""
    try:
        rule = resolve(new)
    except FlowrError as exc:
        return exc
    if is_root:
        return RuleNotAllowed(str(ROOT_RULE_REASON), rule=rule, node=node, reason=str(ROOT_RULE_REASON))
    if rule.class_label == current_label:
        return RuleNotAllowed(
            _("%(node)s already has rule %(rule)s") % {"node": _node_ref(node_id).capitalize(), "rule": rule.name},
            rule=rule,
            node=node,
        )
    for parent_label, others in parents:
        refusal = child_refusal(parent_label, rule, len(others), set(others), node_id=node_id, node=node)
        if refusal is not None:
            return _as_not_allowed(refusal)
    allowed = child_rules(rule)
    for label in child_labels:
        child = get_rule(label)
        if child is None or child not in allowed:
            return RuleNotAllowed(
                _("Rule %(rule)s does not allow the child rule %(child)s that %(node)s has")
                % {"rule": rule.name, "child": rule_name(label), "node": _node_ref(node_id)},
                rule=rule,
                node=node,
            )
    if len(child_labels) > max_children(rule):
        return RuleNotAllowed(
            _("Rule %(rule)s allows %(limit)d child(ren); %(node)s has %(count)d")
            % {"rule": rule.name, "limit": max_children(rule), "node": _node_ref(node_id), "count": len(child_labels)},
            rule=rule,
            node=node,
        )
    return None


def rule_options(
    current_label: str,
    candidates: Sequence[type[Rule]],
    parents: Sequence[tuple[str, Sequence[str]]],
    child_labels: Sequence[str],
    *,
    is_root: bool = False,
) -> tuple[tuple[type[Rule], ...], str | None]:
    """The rules among ``candidates`` (the rule set's) a node may change to,
    and when there are none, why (see :func:`rule_change_refusal`)."""
    if is_root:
        return (), str(ROOT_RULE_REASON)
    found = tuple(
        r
        for r in candidates
        if r.class_label != current_label and rule_change_refusal(current_label, r, parents, child_labels) is None
    )
    if found:
        return found, None
    return (), _("No other rule of the rule set may follow its parents and allow its children.")


# -- the rule graph ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleGraph:
    """The rules reachable from a rule set's root (root first, breadth
    first) and the rule edges; ``missing`` lists child labels that do not
    resolve (each once), ``root_missing`` says the root itself is gone."""

    rules: tuple[type[Rule], ...]
    edges: tuple[tuple[type[Rule], type[Rule]], ...]
    missing: tuple[tuple[type[Rule], str], ...]  # (rule, child label that does not resolve)
    root_label: str
    root_missing: bool


def rule_graph(root_label: str) -> RuleGraph:
    root = get_rule(root_label)
    if root is None:
        return RuleGraph((), (), (), root_label, True)
    seen: dict[str, type[Rule]] = {root.class_label: root}
    queue = [root]
    edges: list[tuple[type[Rule], type[Rule]]] = []
    missing: list[tuple[type[Rule], str]] = []
    for current in queue:  # grows while walked: breadth first
        for child in child_rules(current):
            edges.append((current, child))
            if child.class_label not in seen:
                seen[child.class_label] = child
                queue.append(child)
        missing.extend((current, b.entry) for b in broken_children(current) if b.missing)
    return RuleGraph(tuple(seen.values()), tuple(edges), tuple(missing), root_label, False)


@dataclass(frozen=True)
class RuleSetProblem:
    """One design problem of a rule set (:func:`rule_set_problems`)."""

    kind: str  # "unreachable" | "no_end" | "single_branch"
    rule: type[Rule]
    message: str

    def __str__(self) -> str:
        return self.message


def rule_set_problems(root_label: str, candidates: Iterable[type[Rule]] | None = None) -> list[RuleSetProblem]:
    """What is wrong with the design of the rule set rooted at ``root_label``
    (a lint for rule authors; a flow built from it is still valid).

    * ``unreachable`` -- a rule among ``candidates`` that no chain of
      ``children`` leads to from the root.  ``candidates`` defaults to every
      resolvable rule defined in the root rule's module;
    * ``no_end`` -- a reachable rule from which no chain of ``children``
      leads to a rule without child rules: every flow path through it loops
      (a State there can never reach an end node of the rule graph);
    * ``single_branch`` -- a reachable rule with ``multiple_paths`` that
      allows fewer than two child rules, so it can never branch.

    Children that do not resolve are left out, as everywhere (they are
    reported by ``manage.py check``).  Reachable rules come first, in the
    rule graph's breadth-first order; an empty list when the root label
    does not resolve.
    """
    graph = rule_graph(root_label)
    if graph.root_missing:
        return []
    root = graph.rules[0]
    reachable = {r.class_label for r in graph.rules}
    problems: list[RuleSetProblem] = []
    # no_end: walk the reversed rule edges from the rules without children
    parents: dict[str, set[str]] = {}
    for source, target in graph.edges:
        parents.setdefault(target.class_label, set()).add(source.class_label)
    ending = [r.class_label for r in graph.rules if not child_rules(r)]
    can_end = set(ending)
    queue = list(ending)
    for label in queue:  # grows while walked
        for parent in parents.get(label, ()):
            if parent not in can_end:
                can_end.add(parent)
                queue.append(parent)
    for rule in graph.rules:
        if rule.class_label not in can_end:
            problems.append(
                RuleSetProblem("no_end", rule, f"Rule {rule.name} has no way to an end: every path from it loops")
            )
        count = len(child_rules(rule))
        if rule.multiple_paths and count < 2:
            problems.append(
                RuleSetProblem(
                    "single_branch",
                    rule,
                    f"Rule {rule.name} has multiple_paths but allows {count} child rule(s): it never branches",
                )
            )
    if candidates is None:
        candidates = [r for r in all_rules() if r.__module__ == root.__module__]
    seen: set[str] = set()
    for rule in candidates:
        label = resolve(rule).class_label
        if label not in reachable and label not in seen:
            seen.add(label)
            problems.append(
                RuleSetProblem("unreachable", rule, f"Rule {rule.name} is not reachable from the root rule {root.name}")
            )
    return problems


__all__ = [
    "ROOT_REASON",
    "ROOT_RULE_REASON",
    "BrokenChild",
    "ChildOptions",
    "ChildProblem",
    "RuleGraph",
    "RuleSetProblem",
    "broken_children",
    "child_options",
    "child_refusal",
    "child_rules",
    "cut_reason",
    "disconnect_reason",
    "disconnect_refusal",
    "insert_options",
    "insert_refusal",
    "frozen_refusal",
    "max_children",
    "prune_above_reason",
    "removal_reason",
    "removal_refusal",
    "resolve",
    "rule_graph",
    "rule_change_refusal",
    "rule_graph_elements",
    "rule_name",
    "rule_options",
    "rule_set_problems",
    "rules_reachable_from",
]


def rule_graph_elements(root_label: str, *, ids: str = "label") -> dict[str, list[dict[str, Any]]]:
    """The rule graph of :func:`rule_graph` as cytoscape.js elements.

    ``ids="label"`` (the editor's rule-set page): nodes keyed by label, and
    children that do not resolve shown as missing-rule nodes.  ``ids="name"``
    (0.2's ``RuleSet.cytoscape_json`` and the API): nodes keyed by class
    name, resolvable rules only.
    """
    graph = rule_graph(root_label)
    by_label = ids == "label"

    def key(label: str) -> str:
        return label if by_label else rule_name(label)

    def node(label: str, rule: type[Rule] | None, is_root: bool) -> dict[str, Any]:
        name = rule.name if rule is not None else short_name(label)
        verbose = str(rule.verbose_name) if rule is not None else name
        return {
            "data": {
                "id": key(label),
                "label": verbose,
                "rule_label": label,
                "rule_name": name,
                "verbose_name": verbose,
                "missing_rule": rule is None,
                "is_root": is_root,
                "multiple_paths": bool(rule and rule.multiple_paths),
                "has_edit_screen": bool(rule and rule.has_edit_screen),
                "children": rule.child_labels() if rule is not None else [],
            }
        }

    def edge(source: str, target: str) -> dict[str, Any]:
        joint = "->" if by_label else "_"
        return {"data": {"id": f"{key(source)}{joint}{key(target)}", "source": key(source), "target": key(target)}}

    if graph.root_missing:
        return {"nodes": [node(root_label, None, True)] if by_label else [], "edges": []}
    nodes = [node(r.class_label, r, i == 0) for i, r in enumerate(graph.rules)]
    edges = [edge(s.class_label, t.class_label) for s, t in graph.edges]
    if by_label:
        missing = dict.fromkeys(label for _, label in graph.missing)
        nodes += [node(label, None, False) for label in missing]
        edges += [edge(s.class_label, label) for s, label in graph.missing]
    return {"nodes": nodes, "edges": edges}


# -- a flow's status (governed change) ----------------------------------------------

DRAFT, IN_REVIEW, PUBLISHED, RETIRED = "draft", "in_review", "published", "retired"
STATUS_CHOICES = (
    (DRAFT, gettext_lazy("draft")),
    (IN_REVIEW, gettext_lazy("in review")),
    (PUBLISHED, gettext_lazy("published")),
    (RETIRED, gettext_lazy("retired")),
)
#: transition -> (the statuses it may leave, the status it gives)
STATUS_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit_for_review": ((DRAFT,), IN_REVIEW),
    "publish": ((DRAFT, IN_REVIEW, RETIRED), PUBLISHED),
    "retire": ((PUBLISHED,), RETIRED),
    "back_to_draft": ((IN_REVIEW, PUBLISHED, RETIRED), DRAFT),
}
#: the status a transition gives -> the transition (one each)
TRANSITION_TO = {target: name for name, (_sources, target) in STATUS_TRANSITIONS.items()}


def status_label(status: str) -> str:
    """The status in words, in the active language."""
    return str(dict(STATUS_CHOICES).get(status, status))


def status_options(status: str) -> tuple[str, ...]:
    """The transitions a flow in ``status`` may take now (in table order)."""
    return tuple(name for name, (sources, _target) in STATUS_TRANSITIONS.items() if status in sources)


def status_refusal(flow: Any, transition: str, status: str) -> StatusChangeNotAllowed | None:
    """Why ``flow`` (now in ``status``) cannot take ``transition``, None when it can."""
    if transition not in STATUS_TRANSITIONS:
        names = ", ".join(STATUS_TRANSITIONS)
        return StatusChangeNotAllowed(
            _("Unknown status change %(name)r (one of: %(names)s).") % {"name": transition, "names": names},
            flow=flow,
            value=transition,
        )
    sources, target = STATUS_TRANSITIONS[transition]
    if status in sources:
        return None
    return StatusChangeNotAllowed(
        _("Flow %(name)r is %(status)s: it cannot become %(target)s.")
        % {"name": flow.name, "status": status_label(status), "target": status_label(target)},
        flow=flow,
        value=transition,
    )


def publish_refusal(flow: Any, *, may_publish: bool, is_last_editor: bool) -> PublishNotPermitted | None:
    """Four-eyes publishing: why the actor may not publish ``flow``, None when they may.

    :param may_publish: the actor is a user with ``flowr.publish_flow``
    :param is_last_editor: the actor made the flow's last edit
    """
    if not may_publish:
        return PublishNotPermitted(
            _("Publishing flow %(name)r needs a user with the permission to publish flows.") % {"name": flow.name},
            flow=flow,
        )
    if is_last_editor:
        return PublishNotPermitted(
            _("Flow %(name)r must be published by someone other than its last editor (four eyes).")
            % {"name": flow.name},
            flow=flow,
        )
    return None


def start_refusal(flow: Any, status: str, only_published: bool) -> FlowNotPublished | None:
    """Why no State may start on ``flow`` (in ``status``), None when one may."""
    if not only_published or status == PUBLISHED:
        return None
    return FlowNotPublished(
        _("Flow %(name)r is %(status)s: only published flows may start.")
        % {"name": flow.name, "status": status_label(status)},
        flow=flow,
    )
