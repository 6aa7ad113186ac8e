"""The edit service: every write to a graph, in one place.

Each edit runs in one ``transaction.atomic()`` and goes the same way: lock
the graph's row (reading, under the lock, what the checks need), refuse
edits of a flow that States use (:func:`flowr.policy.frozen_refusal`), ask
the policy, write, and return a typed result.  The edits of one graph
serialize on its row, and so does :meth:`State.start <flowr.models.State.start>`,
so an edit never races a start: one of them waits, then sees the other.
Every write is scoped by the graph (it touches only that graph's rows and
uses its indexes).

The 0.2 model methods (``Node.add_child``, ``FlowNodeData.add_child_rule``,
``Node.remove``...) are one-line delegations to the functions here; the
admin, the editor and the API call them directly.  This module imports no
model: the models import it, and it finds them through Django's app
registry, so there is no import circle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import cache, reduce
from operator import itemgetter, or_
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router, transaction
from django.db.models import Case, Exists, F, Func, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.deletion import PROTECT, SET_NULL, Collector, ProtectedError, get_candidate_relations_to_delete
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from flowr import nodesettings, policy
from flowr.db import graph as sql
from flowr.db import tricks
from flowr.db.transitions import plain
from flowr.exceptions import (
    CannotDisconnect,
    CannotRemove,
    ConcurrentEdit,
    DifferentGraphs,
    FlowrError,
    NotAChild,
    NothingToRedo,
    NothingToUndo,
    RuleNotAllowed,
)
from flowr.graphwalk import EdgeIndex, rehome_link_plan, rehome_plan, tree_order
from flowr.rules import Rule, resolve

if TYPE_CHECKING:
    from django.db.models.fields.reverse_related import ForeignObjectRel
    from django.db.models.options import Options

    from flowr.models import BaseNodeData, DCCGraph, Edge, Flow, FlowEdit, FlowNodeData, Node, RuleSet, State


@dataclass(frozen=True)
class _Models:
    graph: type[DCCGraph]
    node: type[Node]
    edge: type[Edge]
    flow: type[Flow]
    state: type[State]
    flow_data: type[FlowNodeData]
    edit: type[FlowEdit]


@cache
def _models() -> _Models:
    """flowr's models, by name (importing them would make a circle)."""

    def get(name: str) -> Any:
        return apps.get_model("flowr", name)

    return _Models(
        get("DCCGraph"), get("Node"), get("Edge"), get("Flow"), get("State"), get("FlowNodeData"), get("FlowEdit")
    )


# -- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Locked:
    """The graph row, locked, and what was read under the lock."""

    graph: DCCGraph
    in_use: bool  # States run on the graph's flow (it is frozen)
    node_exists: bool = True  # the node the edit starts from is still in the graph
    target_exists: bool = True  # the node it goes to (connect) is still in the graph
    child_count: int = 0  # children of the node
    has_child_rule: bool = False  # the node has a child of the rule asked about
    flow_id: int | None = None  # the graph's flow (None: a graph without a flow, nothing is logged)
    revision: int = 0  # the flow's revision
    flow_name: str = ""
    redoable: bool = False  # the flow's edit log has undone edits that redo may re-apply


D = TypeVar("D")
Row = tuple[Any, ...]  # a row of the edge read (see _lock_with_edges)


@dataclass(frozen=True)
class Added(Generic[D]):
    """A node added under another: the new node and its data object."""

    node: Node
    data: D


@dataclass(frozen=True)
class Connected:
    """An edge between existing nodes; ``created`` is False when it existed (0.2: no-op)."""

    source: int
    target: int
    created: bool


@dataclass(frozen=True)
class Removed:
    """A node removed; ``rehomed`` lists ``(node, new backbone parent)``."""

    data: BaseNodeData
    rehomed: list[tuple[int, int]]


@dataclass(frozen=True)
class Pruned:
    """The nodes a prune removed (their data objects, in prune-list order)."""

    data: list[BaseNodeData]


# -- the lock -------------------------------------------------------------------------


def _reads(node_id: int | None, target_id: int | None, child_label: str | None) -> dict[str, Any]:
    m = _models()
    reads: dict[str, Any] = {"in_use": Exists(m.state.objects.running().filter(flow__state_graph_id=OuterRef("pk")))}
    flows = m.flow.objects.filter(state_graph_id=OuterRef("pk")).order_by()
    reads["flow_id"] = Subquery(flows.values("pk")[:1], output_field=IntegerField())
    reads["revision"] = Subquery(flows.values("revision")[:1], output_field=IntegerField())
    reads["flow_name"] = Subquery(flows.values("name")[:1], output_field=models.CharField())
    reads["redoable"] = Exists(m.edit.objects.filter(flow__state_graph_id=OuterRef("pk"), redoable=True))
    if node_id is not None:
        reads["node_exists"] = Exists(m.node.objects.filter(pk=node_id, graph_id=OuterRef("pk")))
    if target_id is not None:
        reads["target_exists"] = Exists(m.node.objects.filter(pk=target_id, graph_id=OuterRef("pk")))
    if child_label is not None:
        edges = m.edge.objects.filter(source_id=node_id)
        reads["child_count"] = Subquery(
            edges.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n"), output_field=IntegerField()
        )
        reads["has_child_rule"] = Exists(edges.filter(target__flownodedata__rule_label=child_label))
    return reads


def lock(
    graph_id: int, *, node_id: int | None = None, target_id: int | None = None, child_label: str | None = None
) -> Locked:
    """Lock the graph row (inside the caller's transaction) and read what
    the edit's checks need under the lock.

    Where the lock statement can wait for another transaction's lock
    (PostgreSQL, MariaDB) the reads are a second statement: a ``SELECT ...
    FOR UPDATE`` that waited still reads every other row as of the moment it
    began, and would miss what the previous lock holder wrote.  Where it
    cannot wait (SQLite: a transaction holds the whole database), the lock
    statement reads them itself.
    """
    m = _models()
    reads = _reads(node_id, target_id, child_label)
    query = m.graph.objects.select_for_update()
    values: dict[str, Any]
    if not connections[query.db].features.has_select_for_update:
        graph = query.annotate(**reads).get(pk=graph_id)
        values = {name: getattr(graph, name) for name in reads}
        for name in reads:  # nothing is left on the model instance
            delattr(graph, name)
    else:
        graph = query.get(pk=graph_id)
        values = dict(m.graph.objects.filter(pk=graph_id).values(**reads).get())
    return Locked(
        graph=graph,
        in_use=bool(values["in_use"]),
        node_exists=bool(values.get("node_exists", True)),
        target_exists=bool(values.get("target_exists", True)),
        child_count=int(values.get("child_count") or 0),
        has_child_rule=bool(values.get("has_child_rule", False)),
        flow_id=values["flow_id"],
        revision=int(values["revision"] or 0),
        flow_name=values["flow_name"] or "",
        redoable=bool(values["redoable"]),
    )


def root_for_start(flow: Flow, using: str) -> FlowNodeData:
    """The flow's root data, read with the graph row's lock held, so that a
    start and the flow's edits serialize (``State.start``).

    The lock costs no statement of its own where the read can lock the
    graph row alone (PostgreSQL: ``FOR UPDATE OF``) or where the writing
    transaction holds the whole database (SQLite); MariaDB, which cannot
    say ``OF``, locks the graph row with one statement first (locking the
    joined data row too would hold up transitions' foreign-key checks).
    """
    m = _models()
    features = connections[using].features
    query = m.flow_data.objects.using(using).select_related("node")
    if features.has_select_for_update:
        if features.has_select_for_update_of:
            query = query.select_related("node__graph").select_for_update(of=("node__graph",))
        else:
            list(m.graph.objects.using(using).select_for_update().filter(pk=flow.state_graph_id).values_list("pk"))
    data = query.get(node__graph_id=flow.state_graph_id, node__graph__root=F("node_id"))
    data._flow_cache = flow
    return data


def _refuse_if_frozen(locked: Locked) -> None:
    if not locked.in_use:
        return
    m = _models()
    gid = locked.graph.pk
    flow = m.flow.objects.get(state_graph_id=gid)
    refusal = policy.frozen_refusal(flow, m.state.objects.running().filter(flow__state_graph_id=gid).count())
    if refusal is not None:
        raise refusal


def lock_for_edit(graph_id: int, **reads: Any) -> Locked:
    """:func:`lock`, then refuse edits of a frozen flow."""
    locked = lock(graph_id, **reads)
    _refuse_if_frozen(locked)
    return locked


def edit_refusal(flow: Flow) -> FlowrError | None:
    """Why ``flow`` cannot be edited now (frozen), None when it can; for
    forms that validate before they save.  The edit itself checks again
    under the lock."""
    return policy.frozen_refusal(flow, _models().state.objects.running().filter(flow_id=flow.pk).count())


# words put into the messages below, translated where they are used
_WORDS = (gettext_noop("node"), gettext_noop("graphs"), gettext_noop("flows"))


def _gone(node: Any, what: str = "node") -> ConcurrentEdit:
    text = gettext("The %(what)s %(node)s was removed by another edit; reload the flow.")
    return ConcurrentEdit(text % {"what": gettext(what), "node": node}, node=node)


# -- the edit log, the actor and the revision an edit was made on -------------------------


@dataclass(frozen=True)
class EditContext:
    """Who edits (a user, or None) and the flow revision the edit was made on (None: not said)."""

    actor: Any = None
    revision: int | None = None


_NOBODY = EditContext()  # frozen: safe to share as the default
_context: ContextVar[EditContext] = ContextVar("flowr_edit_context", default=_NOBODY)
_quiet: ContextVar[bool] = ContextVar("flowr_edit_quiet", default=False)


@contextmanager
def acting(actor: Any = None, *, revision: int | None = None) -> Iterator[None]:
    """Edits made inside are logged with ``actor`` (a user; anonymous users
    count as None), and when ``revision`` is given, refused with
    :class:`ConcurrentEdit` when edits applied since that revision touched a
    node they need.  Surfaces (admin, API) wrap their edits in it."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    token = _context.set(EditContext(actor, revision))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def _unlogged() -> Iterator[None]:
    """Edits of a flow being built (``Flow.factory_from_rules``): its one
    ``create`` row stands for them."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


#: operations undo may revert (the others: create, undo, redo)
UNDOABLE = ("add", "connect", "disconnect", "insert", "change_rule", "remove", "prune", "rename_flow", "settings")


def _with_flow(locked: Locked) -> Locked:
    """``locked`` with the flow's revision read (one statement; for the
    edits whose lock statement does not read it; none for a graph that is
    not a flow's)."""
    m = _models()
    if locked.graph.data_class is not m.flow_data:  # not a flow's graph: nothing to read
        return locked
    row = (
        m.flow.objects.filter(state_graph_id=locked.graph.pk)
        .annotate(redoable=Exists(m.edit.objects.filter(flow_id=OuterRef("pk"), redoable=True)))
        .values_list("pk", "revision", "name", "redoable")
        .first()
    )
    if row is None:
        return locked
    return replace(locked, flow_id=row[0], revision=row[1], flow_name=row[2], redoable=bool(row[3]))


def _who(edit: FlowEdit) -> str:
    when = timezone.localtime(edit.created).strftime("%H:%M") if edit.created else ""
    who = edit.actor_repr or _("someone")
    return f"{who}, {when}" if when else who


def _conflict(edit: FlowEdit, node: int | None) -> ConcurrentEdit:
    removed = (edit.change or {}).get("removed") or {}
    facts = {"node": node, "who": _who(edit), "what": edit.description}
    if node is not None and str(node) in removed:
        facts["name"] = removed[str(node)]
        text = _("Node %(node)s (%(name)s) was removed by another edit (%(who)s); reload the flow.") % facts
    elif node is not None:
        text = _("Node %(node)s was changed by another edit (%(what)s; %(who)s); reload the flow.") % facts
    else:
        text = _("The flow was changed by another edit (%(what)s; %(who)s); reload the flow.") % facts
    return ConcurrentEdit(text, node=node)


def _check_stale(locked: Locked, needed: Iterable[int], *, whole_flow: bool = False) -> None:
    """Refuse (:class:`ConcurrentEdit`) an edit made on a revision older than
    the flow's when an edit applied since touched a node it needs (or, with
    ``whole_flow``, when any edit was applied since).  No statement unless
    the revision is stale."""
    given = _context.get().revision
    if given is None or locked.flow_id is None or given >= locked.revision:
        return
    wanted = set(needed)
    for edit in _models().edit.objects.filter(flow_id=locked.flow_id, seq__gt=given).order_by("seq"):
        touched = wanted.intersection(edit.nodes or [])
        if whole_flow or touched or (not wanted and edit.operation == "rename_flow"):
            raise _conflict(edit, min(touched) if touched else None)


def removed_by_edit(node_id: int, revision: int | None) -> ConcurrentEdit | None:
    """The :class:`ConcurrentEdit` to answer for a node that is gone, when an
    edit newer than ``revision`` (given) removed it; None otherwise (a node
    that never existed is not found)."""
    if revision is None:
        return None
    edit = _models().edit.objects.filter(change__removed__has_key=str(node_id)).order_by("-pk").first()
    if edit is None or edit.seq <= revision:
        return None
    return _conflict(edit, node_id)


def _log(
    locked: Locked,
    operation: str,
    description: str,
    change: dict[str, Any],
    nodes: Iterable[int],
    *,
    clears_redo: bool = True,
) -> FlowEdit | None:
    """Write the edit's log row and move the flow's revision and updated
    time (two statements; three when a redo chain is cleared).  Nothing for
    a graph without a flow, or while a flow is being built."""
    if locked.flow_id is None or _quiet.get():
        return None
    m = _models()
    seq = locked.revision + 1
    now = timezone.now()
    m.flow.objects.filter(pk=locked.flow_id).update(revision=seq, updated=now)
    if clears_redo and locked.redoable:
        m.edit.objects.filter(flow_id=locked.flow_id, redoable=True).update(redoable=False)
    actor = _context.get().actor
    return m.edit.objects.create(
        flow_id=locked.flow_id,
        seq=seq,
        actor=actor,
        actor_repr=actor.get_username() if actor is not None else "",
        operation=operation,
        description=description[:500],
        change=change,
        nodes=sorted(set(nodes)),
        created=now,
    )


def log_operation(locked: Locked, operation: str, description: str, change: dict[str, Any]) -> FlowEdit | None:
    """The log row of an operation another core module makes on a locked
    flow (a status change, a migration of States): the actor comes from
    :func:`acting`; the redo chain stays (no graph changed)."""
    return _log(locked, operation, description, change, [], clears_redo=False)


def log_created(flow: Flow, description: str) -> None:
    """The ``create`` row of a new flow (factory, clone, import): revision 1."""
    if _quiet.get():
        return
    locked = Locked(graph=cast("DCCGraph", None), in_use=False, flow_id=flow.pk, revision=flow.revision)
    edit = _log(locked, "create", description, {}, [])
    if edit is not None:
        flow.revision = edit.seq


def _name(label: str | None) -> str:
    return policy.rule_name(label) if label else "a node"


def _labels(ids: Iterable[int]) -> dict[int, str]:
    return dict(_models().flow_data.objects.filter(node_id__in=list(ids)).values_list("node_id", "rule_label"))


def _fields(data: BaseNodeData) -> dict[str, Any]:
    """A data object's field values (not its pk and node), for restoring it."""
    return {
        f.attname: f.value_from_object(data)
        for f in type(data)._meta.concrete_fields
        if not f.primary_key and f.name != "node"
    }


def _data_row(data: BaseNodeData) -> list[Any]:
    return [data.pk, data.node_id, _fields(data)]


def _removed_names(data: Iterable[BaseNodeData]) -> dict[str, str]:
    return {str(d.node_id): _name(getattr(d, "rule_label", None)) for d in data}


# -- creating graphs ----------------------------------------------------------------------


def create_graph(
    cls: type[DCCGraph], data_class: type[BaseNodeData], root_kwargs: dict[str, Any], children: Iterable[Any]
) -> DCCGraph:
    """A new graph, its root and the nodes of 0.2's nested ``(kwargs, children)``."""
    m = _models()
    with transaction.atomic():
        graph = cls.objects.create(data_content_type=ContentType.objects.get_for_model(data_class))
        root = m.node(graph=graph)
        root.save(force_insert=True)
        root._graph_cache = graph
        root._data_cache = data_class._default_manager.create(node=root, **root_kwargs)
        graph.root = root
        graph.save(update_fields=["root"])
        _nested(root, children, lambda parent, kwargs: _insert_child(graph, parent, kwargs))
    return graph


T = TypeVar("T")


def _nested(root: T, children: Iterable[Any], add: Callable[[T, dict[str, Any]], T]) -> None:
    """Add 0.2's nested ``(kwargs, children)`` pairs under ``root``: depth
    first, in the given order, like 0.2 -- but without recursion."""
    stack: list[tuple[T, Any]] = [(root, iter(children))]
    while stack:
        parent, pending = stack[-1]
        item = next(pending, None)
        if item is None:
            stack.pop()
            continue
        kwargs, grandchildren = item
        stack.append((add(parent, kwargs), iter(grandchildren)))


@cache
def _insert_child_statement(db: str) -> str | None:
    m = _models()
    return sql.insert_child_statement(connections[db], m.node._meta.db_table, m.edge._meta.db_table)


def _insert_child(graph: DCCGraph, parent: Node, data_kwargs: dict[str, Any]) -> Node:
    """Insert a child of ``parent``: the node, the backbone edge and the
    data (three statements; two on PostgreSQL, see
    :func:`flowr.db.graph.insert_child_statement`).  Nothing else changes:
    the parent's row holds no counter or path."""
    m = _models()
    child = m.node(graph=graph)
    db = router.db_for_write(m.node, instance=parent)
    statement = _insert_child_statement(db)
    if (
        statement is None
        or not tricks.on.hand_statements
        or any(s.has_listeners(x) for s in (pre_save, post_save) for x in (m.node, m.edge))
    ):
        child.save(force_insert=True)
        m.edge.objects.create(graph=graph, source=parent, target=child, backbone=True)
    else:
        with connections[db].cursor() as cursor:
            cursor.execute(statement, [graph.pk, graph.pk, parent.pk])
            child.pk = cursor.fetchone()[0]
        child._state.adding, child._state.db = False, db
    child._graph_cache = graph
    data = graph.data_class._default_manager.create(node=child, **data_kwargs)
    child._data_cache = data
    return child


# -- adding and connecting ------------------------------------------------------------------


def add_child(parent: Node, data_kwargs: dict[str, Any]) -> Added[BaseNodeData]:
    """A new node (and its data object) under ``parent`` (0.2's
    ``Node.add_child``: no rule is checked; a frozen flow refuses)."""
    with transaction.atomic():
        locked = lock_for_edit(parent.graph_id, node_id=parent.pk)
        _check_stale(locked, [parent.pk])
        if not locked.node_exists:
            raise _gone(parent)
        child = _insert_child(locked.graph, parent, data_kwargs)
        label = data_kwargs.get("rule_label")
        change = {"parent": parent.pk, "node": child.pk}
        _log(locked, "add", f"add {_name(label)} under node {parent.pk}", change, [parent.pk, child.pk])
        return Added(child, cast("BaseNodeData", child._data_cache))


def add_child_rule(parent: FlowNodeData, rule: type[Rule] | str) -> Added[FlowNodeData]:
    """A new node of ``rule`` under the flow node ``parent``, as the policy
    allows it (four statements on SQLite and PostgreSQL, five on MariaDB;
    two more for the edit log row and the flow's revision)."""
    label = resolve(rule).class_label
    node = parent.node
    with transaction.atomic():
        locked = lock_for_edit(node.graph_id, node_id=node.pk, child_label=label)
        _check_stale(locked, [node.pk])
        if not locked.node_exists:
            raise _gone(node)
        existing = {label} if locked.has_child_rule else set()
        refusal = policy.child_refusal(
            parent.rule_label, rule, locked.child_count, existing, node_id=parent.node_id, node=parent
        )
        if refusal is not None:
            raise refusal
        child = _insert_child(locked.graph, node, {"rule_label": label})
        data = cast("FlowNodeData", child._data_cache)
        flow = getattr(parent, "_flow_cache", None)
        if flow is not None:
            data._flow_cache = flow
        change = {"parent": node.pk, "node": child.pk, "rule": label}
        description = f"add {_name(label)} under {_name(parent.rule_label)}"
        _log(locked, "add", description, change, [node.pk, child.pk])
        return Added(child, data)


def _connect(locked: Locked, source: Node, target: Node, description: str | None = None) -> Connected:
    m = _models()
    _check_stale(locked, [source.pk, target.pk])
    if not locked.node_exists:
        raise _gone(source)
    if not locked.target_exists:
        raise _gone(target)
    if m.edge.objects.filter(source_id=source.pk, target_id=target.pk).exists():
        return Connected(source.pk, target.pk, created=False)
    edge = m.edge.objects.create(graph=locked.graph, source_id=source.pk, target_id=target.pk, backbone=False)
    change = {"source": source.pk, "target": target.pk, "edge": [edge.pk, source.pk, target.pk, False]}
    text = description or f"connect node {source.pk} to node {target.pk}"
    _log(locked, "connect", text, change, [source.pk, target.pk])
    return Connected(source.pk, target.pk, created=True)


def _same_graph(source: Any, target: Any, source_node: Node, target_node: Node, what: str = "graphs") -> None:
    if source_node.graph_id != target_node.graph_id:
        raise DifferentGraphs(
            gettext("Cannot connect %(source)s to %(target)s: they belong to different %(what)s")
            % {"source": source, "target": target, "what": gettext(what)},
            node=source,
            target=target,
        )


def refuse_other_flow(source: Node, target: Node) -> None:
    """Refuse an edge between nodes of two flows (or graphs)."""
    _same_graph(
        gettext("node %(id)s") % {"id": source.pk}, gettext("node %(id)s") % {"id": target.pk}, source, target, "flows"
    )


def connect(source: Node, target: Node) -> Connected:
    """An edge from ``source`` to an existing node of its graph (0.2's
    ``Node.connect_child``: no rule is checked; a frozen flow refuses)."""
    _same_graph(source, target, source, target)
    with transaction.atomic():
        locked = lock_for_edit(source.graph_id, node_id=source.pk, target_id=target.pk)
        return _connect(locked, source, target)


def connect_child(source: FlowNodeData, target: FlowNodeData) -> Connected:
    """An edge from the flow node ``source`` to the existing node ``target``,
    as the policy allows it (the target's rule must be allowed there)."""
    source_node, target_node = source.node, target.node
    node_of = gettext("node %(id)s")
    _same_graph(node_of % {"id": source.node_id}, node_of % {"id": target.node_id}, source_node, target_node, "flows")
    label = target.rule_label
    with transaction.atomic():
        locked = lock_for_edit(
            source_node.graph_id, node_id=source_node.pk, target_id=target_node.pk, child_label=label
        )
        _check_stale(locked, [source_node.pk, target_node.pk])
        existing = {label} if locked.has_child_rule else set()
        refusal = policy.child_refusal(
            source.rule_label, label, locked.child_count, existing, node_id=source.node_id, node=source
        )
        if not locked.node_exists:
            raise _gone(source_node)
        if refusal is not None:
            raise refusal
        description = f"connect {_name(source.rule_label)} to {_name(label)}"
        return _connect(locked, source_node, target_node, description)


# -- disconnecting, inserting, changing a rule ------------------------------------------------


@dataclass(frozen=True)
class Disconnected:
    """A link deleted; ``rehomed`` lists ``(node, new backbone parent)``."""

    source: int
    target: int
    rehomed: list[tuple[int, int]]


def _delete_edges(graph: DCCGraph, pks: list[int]) -> None:
    m = _models()
    edges = m.edge.objects.filter(graph_id=graph.pk, pk__in=pks)
    if any(s.has_listeners(m.edge) for s in (pre_delete, post_delete)):
        edges.delete()
    else:
        edges._raw_delete(router.db_for_write(m.edge))


def _not_a_child(source: int, target: int) -> NotAChild:
    text = _("Node %(target)s is not a child of node %(source)s.") % {"target": target, "source": source}
    return NotAChild(text, node=source, target=target)


def _disconnect_core(locked: Locked, rows: list[Row], source: int, target: int) -> tuple[Disconnected, dict[str, Any]]:
    graph = locked.graph
    index, backbone_parent, edges = _index(graph, rows)
    for pk in (source, target):
        if pk not in index.nodes:
            raise _gone(f"node {pk}", "")
    if (source, target) not in edges:
        raise _not_a_child(source, target)
    labels = _labels([source, target])
    refusal = policy.disconnect_refusal(
        index.edge_cut(source, target),
        gettext("%(name)s (node %(id)s)") % {"name": _name(labels.get(target)), "id": target},
    )
    if refusal is not None:
        raise refusal
    moves = rehome_link_plan(index, backbone_parent, source, target)
    flips = [[edges[(parent, child)], edges[(backbone_parent[child], child)]] for child, parent in moves]
    was_backbone = backbone_parent.get(target) == source
    _rehome(graph, moves, backbone_parent, edges)
    _delete_edges(graph, [edges[(source, target)]])
    change = {"source": source, "target": target, "edge": [edges[(source, target)], source, target, was_backbone]}
    change["flips"] = flips
    change["description"] = f"disconnect {_name(labels.get(target))} from {_name(labels.get(source))}"
    change["touched"] = [source, target, *(child for child, _ in moves)]
    return Disconnected(source, target, moves), change


def disconnect(source: Node, target: Node) -> Disconnected:
    """Delete the edge ``source -> target`` (``FlowNodeData.disconnect_child``),
    refused (:class:`CannotDisconnect`) when a node would lose its way from
    the root; a creation-tree edge re-homes the child (as :func:`remove`
    does)."""
    with tricks.collector_paused(), transaction.atomic():
        locked, rows = _lock_with_edges(source.graph_id)
        locked = _with_flow(locked)
        _check_stale(locked, [source.pk, target.pk])
        result, change = _disconnect_core(locked, rows, source.pk, target.pk)
        _log(locked, "disconnect", change.pop("description"), change, change.pop("touched"))
        return result


def insert(parent: FlowNodeData, child: FlowNodeData, rule: type[Rule] | str) -> Added[FlowNodeData]:
    """A new node of ``rule`` between ``parent`` and its child ``child``
    (``FlowNodeData.insert_between``): the edge ``parent -> child`` becomes
    ``parent -> new -> child``, as the policy allows it (``rule`` may follow
    the parent's rule and the child's rule may follow ``rule``)."""
    label = resolve(rule).class_label
    p, c = parent.node_id, child.node_id
    with tricks.collector_paused(), transaction.atomic():
        locked, rows = _lock_with_edges(parent.node.graph_id)
        locked = _with_flow(locked)
        _check_stale(locked, [p, c])
        graph = locked.graph
        index, backbone_parent, edges = _index(graph, rows)
        for pk in (p, c):
            if pk not in index.nodes:
                raise _gone(f"node {pk}", "")
        if (p, c) not in edges:
            raise _not_a_child(p, c)
        kids = index.children.get(p, [])
        labels = _labels([p, *kids])
        siblings = [labels.get(k, "") for k in kids if k != c]
        refusal = policy.insert_refusal(labels.get(p, ""), label, labels.get(c, ""), siblings, node_id=p, node=parent)
        if refusal is not None:
            raise refusal
        was_backbone = backbone_parent.get(c) == p
        old = edges[(p, c)]
        _delete_edges(graph, [old])
        new = _insert_child(graph, parent.node, {"rule_label": label})
        _models().edge.objects.create(graph=graph, source_id=new.pk, target_id=c, backbone=was_backbone)
        data = cast("FlowNodeData", new._data_cache)
        change = {"parent": p, "child": c, "node": new.pk, "rule": label, "edge": [old, p, c, was_backbone]}
        text = f"insert {_name(label)} between {_name(labels.get(p))} and {_name(labels.get(c))}"
        _log(locked, "insert", text, change, [p, new.pk, c])
        return Added(new, data)


@dataclass(frozen=True)
class RuleChanged:
    """A node's rule replaced."""

    node: int
    old: str
    new: str
    # the node's settings, cleared because the new rule's form refuses them (None: kept)
    cleared: dict[str, Any] | None = None


def _cleared_settings(node: int, old: str, new: str) -> dict[str, Any] | None:
    """The node's stored settings when the rule ``new``'s form refuses them
    (they are then cleared with the rule change), else None.  No statement
    unless the two rules have different forms and the old one has one."""
    old_form, new_form = policy.settings_form(old), policy.settings_form(new)
    if old_form is None or old_form is new_form:
        return None
    stored = _models().flow_data.objects.filter(node_id=node).values_list("settings", flat=True).first()
    if not stored or not nodesettings.stored_problems(new_form, stored):
        return None
    return dict(stored)


def _rule_change_core(locked: Locked, node: int, rule: type[Rule] | str, data: Any = None) -> RuleChanged:
    m = _models()
    label = resolve(rule).class_label
    if not locked.node_exists:
        raise _gone(f"node {node}", "")
    parents = list(m.edge.objects.filter(target_id=node).values_list("source_id", flat=True))
    rows = m.edge.objects.filter(source_id__in=[*parents, node]).values_list(
        "source_id", "target_id", "target__flownodedata__rule_label"
    )
    labels = _labels([node, *parents])
    current = labels.get(node, "")
    children: dict[int, list[tuple[int, str]]] = {}
    for source, target, child_label in rows:
        children.setdefault(source, []).append((target, child_label or ""))
    parent_info = [(labels.get(s, ""), [lab for t, lab in children.get(s, []) if t != node]) for s in parents]
    child_labels = [lab for _, lab in children.get(node, [])]
    refusal = policy.rule_change_refusal(
        current, label, parent_info, child_labels, is_root=node == locked.graph.root_id, node_id=node, node=data
    )
    if refusal is not None:
        raise refusal
    cleared = _cleared_settings(node, current, label)
    if cleared is None:
        m.flow_data.objects.filter(node_id=node).update(rule_label=label)
    else:
        m.flow_data.objects.filter(node_id=node).update(rule_label=label, settings={})
    if data is not None:
        data.rule_label = label
        if cleared is not None:
            data.settings = {}
    return RuleChanged(node, current, label, cleared)


def change_rule(data: FlowNodeData, rule: type[Rule] | str) -> RuleChanged:
    """Give the flow node ``data`` the rule ``rule`` (``FlowNodeData.change_rule``),
    as the policy allows it: ``rule`` may follow every parent's rule and
    allows every current child; the root's rule is the rule set's.  Settings
    the new rule's form refuses are cleared (undo puts them back)."""
    with transaction.atomic():
        locked = lock_for_edit(data.node.graph_id, node_id=data.node_id)
        _check_stale(locked, [data.node_id])
        result = _rule_change_core(locked, data.node_id, rule, data)
        change: dict[str, Any] = {"node": result.node, "old": result.old, "new": result.new}
        if result.cleared is not None:  # what undo puts back
            change["settings"] = result.cleared
        text = f"change {_name(result.old)} to {_name(result.new)} (node {result.node})"
        _log(locked, "change_rule", text, change, [result.node])
        return result


# -- node settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsChanged:
    """A node's settings written: the node, the values before and after."""

    node: int
    old: dict[str, Any]
    new: dict[str, Any]


def set_settings(data: FlowNodeData, values: Any, *, partial: bool = False) -> SettingsChanged:
    """Store ``values`` as the settings of the flow node ``data``, cleaned by
    its rule's ``Settings`` form (:func:`flowr.policy.checked_settings`;
    ``partial``: merged into the stored ones first).  Under the graph lock,
    refused on a frozen flow, one ``settings`` edit-log row (before and
    after, for undo); nothing is written when the form refuses."""
    m = _models()
    with transaction.atomic():
        locked = lock_for_edit(data.node.graph_id, node_id=data.node_id)
        _check_stale(locked, [data.node_id])
        row = m.flow_data.objects.filter(node_id=data.node_id).values_list("rule_label", "settings").first()
        if not locked.node_exists or row is None:
            raise _gone(data.node_id)
        label, old = row[0], dict(row[1] or {})
        given = {**old, **values} if partial and isinstance(values, dict) else values
        new = policy.checked_settings(label, given, node_id=data.node_id)
        data.settings = new
        if new == old:
            return SettingsChanged(data.node_id, old, new)
        m.flow_data.objects.filter(node_id=data.node_id).update(settings=new)
        changed = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
        text = f"change settings of {_name(label)} (node {data.node_id}): {', '.join(changed)}"
        _log(locked, "settings", text, {"node": data.node_id, "old": old, "new": new}, [data.node_id])
        return SettingsChanged(data.node_id, old, new)


def _write_settings(locked: Locked, node: int, values: dict[str, Any]) -> None:
    if not _models().flow_data.objects.filter(node_id=node, node__graph_id=locked.graph.pk).update(settings=values):
        raise _gone(f"node {node}", "")


def _undo_settings(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _write_settings(locked, change["node"], change["old"])
    return {}


def _redo_settings(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _write_settings(locked, change["node"], change["new"])
    return {}


# -- removing ------------------------------------------------------------------------------


def _rehome(
    graph: DCCGraph, moves: list[tuple[int, int]], backbone_parent: dict[int, int], edges: dict[tuple[int, int], int]
) -> None:
    """Give each moved node its new backbone parent: the link edge from
    that parent becomes the backbone edge, the old one a link (one
    statement, scoped by the graph; no other row changes)."""
    if not moves:
        return
    new = [edges[(parent, child)] for child, parent in moves]
    old = [edges[(backbone_parent[child], child)] for child, _ in moves]
    _set_backbone(graph, new, old)


def _set_backbone(graph: DCCGraph, true: list[int], false: list[int]) -> None:
    if not true and not false:
        return
    _models().edge.objects.filter(graph_id=graph.pk, pk__in=true + false).update(
        backbone=Case(When(pk__in=true, then=Value(True)), default=Value(False))
    )


class _protected_as_refusal:  # noqa: N801 -- used like a function
    """A node that cancelled States stand on (they no longer freeze the
    flow) cannot be deleted: ``ProtectedError`` becomes ``CannotRemove``
    when only cancelled States protect it (anything else stays a
    ``ProtectedError``)."""

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, ProtectedError):
            return
        objs = list(exc.protected_objects)
        state = _models().state
        if objs and all(isinstance(o, state) and o.cancelled is not None for o in objs):
            raise CannotRemove(
                f"{len(objs)} cancelled state(s) stand on the node(s) to remove: "
                f"delete them first ({', '.join(str(o) for o in objs[:5])})",
                count=len(objs),
            ) from exc


def _delete(graph: DCCGraph, ids: list[int], data: list[BaseNodeData]) -> None:
    """Delete the nodes ``ids`` of ``graph``, their data and their edges.

    The data objects go through Django's collector (whatever points at
    them -- States, history rows -- is protected or updated as declared);
    edges and nodes are deleted by graph and pk, so the statements use the
    graph's indexes and never scan other graphs' rows.
    """
    m = _models()
    db = router.db_for_write(m.node)
    if data:
        pks = [d.pk for d in data]
        collector = Collector(using=db, origin=data[0])
        with _protected_as_refusal():
            collector.collect(data)
        collector.delete()
        for d, pk in zip(data, pks, strict=True):  # 0.2 returned them with their pks
            d.pk = pk
    # Plain DELETEs (Django's ``_raw_delete``: no collector, which would
    # first select the nodes and visit every relation again) unless a
    # delete receiver listens, which then sees every row through the ORM.
    raw = not any(s.has_listeners(x) for s in (pre_delete, post_delete) for x in (m.node, m.edge))
    for start in range(0, len(ids), 5000):  # bounded parameter lists
        chunk = ids[start : start + 5000]
        edges = m.edge.objects.filter(Q(source_id__in=chunk) | Q(target_id__in=chunk), graph_id=graph.pk)
        nodes = m.node.objects.filter(graph_id=graph.pk, pk__in=chunk)
        if raw:
            edges._raw_delete(db)
            nodes._raw_delete(db)
        else:
            edges.delete()
            nodes.delete()


def _edge_rows(rows: list[Row], ids: Iterable[int]) -> list[list[Any]]:
    """``[pk, source, target, backbone]`` of the edges touching ``ids``."""
    touching = set(ids)
    return [[pk, s, t, bool(b)] for _, pk, s, t, b in rows if s in touching or t in touching]


def _remove_core(locked: Locked, rows: list[Row], node: Node) -> tuple[Removed, dict[str, Any]]:
    graph = locked.graph
    pk, is_root = node.pk, node.pk == graph.root_id
    leaf = not is_root and pk not in map(itemgetter(2), rows)
    moves: list[tuple[int, int]] = []
    flips: list[list[int]] = []
    if leaf:
        # a node without children strictly dominates nothing: nothing is
        # cut off and nothing re-homed (no walk of the whole graph)
        if pk not in map(itemgetter(3), rows):
            raise _gone(node)
        cut = 0
    else:
        index, backbone_parent, edges = _index(graph, rows)
        if pk not in index.nodes:
            raise _gone(node)
        cut = index.cut(pk)
    refusal = policy.removal_refusal(node, is_root, cut)
    if refusal is not None:
        raise refusal
    plan = _delete_plan(graph)
    data = None if plan else graph.data_class._default_manager.get(node_id=node.pk)
    if not leaf:
        moves = rehome_plan(index, backbone_parent, pk)
        flips = [[edges[(parent, child)], edges[(backbone_parent[child], child)]] for child, parent in moves]
        _rehome(graph, moves, backbone_parent, edges)
    if plan:
        found = _delete_returning(graph, plan, [node.pk])
        if not found:
            raise graph.data_class.DoesNotExist(f"{node} has no data object")
        _delete(graph, [node.pk], [])
        data = found[0]
    else:
        assert data is not None
        _delete(graph, [node.pk], [data])
    edge_rows = _edge_rows(rows, [pk])
    change = {"node": pk, "data": [_data_row(data)], "edges": edge_rows, "flips": flips}
    change["removed"] = _removed_names([data])
    change["touched"] = [pk, *(s for _, s, _, _ in edge_rows), *(t for _, _, t, _ in edge_rows)]
    change["description"] = f"remove {_name(getattr(data, 'rule_label', None))} (node {pk})"
    return Removed(data, moves), change


def remove(node: Node) -> Removed:
    """Remove ``node`` and its data, re-homing the creation-tree children it
    had; refused unless every other node stays reachable from the root."""
    with tricks.collector_paused(), transaction.atomic():
        locked, rows = _lock_with_edges(node.graph_id)
        locked = _with_flow(locked)
        _check_stale(locked, [node.pk])
        result, change = _remove_core(locked, rows, node)
        _log(locked, "remove", change.pop("description"), change, change.pop("touched"))
        return result


def _prune_core(locked: Locked, rows: list[Row], node: Node) -> tuple[Pruned, dict[str, Any]]:
    graph = locked.graph
    if node.pk == graph.root_id:
        raise CannotRemove(f"{node} is the root of its graph and cannot be pruned", node=node)
    index = EdgeIndex(graph.root_id or 0, list(map(itemgetter(2, 3), rows)))
    if node.pk not in index.nodes:
        raise _gone(node)
    ids = index.prune_set(node.pk)
    plan = _delete_plan(graph)
    if plan:
        data = _delete_returning(graph, plan, ids)
        _delete(graph, ids, [])
    else:
        found = {
            d.node_id: d for d in graph.data_class._default_manager.filter(node__graph_id=graph.pk, node_id__in=ids)
        }
        data = [found[i] for i in ids if i in found]
        _delete(graph, ids, data)
    edge_rows = _edge_rows(rows, ids)
    change: dict[str, Any] = {"node": node.pk, "nodes": ids, "data": [_data_row(d) for d in data]}
    change["edges"] = edge_rows
    change["removed"] = _removed_names(data)
    change["touched"] = [*ids, *(s for _, s, _, _ in edge_rows)]
    first = data[0] if data and data[0].node_id == node.pk else None
    change["description"] = f"prune {_name(getattr(first, 'rule_label', None))} (node {node.pk}, {len(ids)} node(s))"
    return Pruned(data), change


def prune(node: Node) -> Pruned:
    """Remove ``node`` and everything it reaches without passing the root."""
    with tricks.collector_paused(), transaction.atomic():
        locked, rows = _lock_with_edges(node.graph_id)
        locked = _with_flow(locked)
        _check_stale(locked, [node.pk])
        result, change = _prune_core(locked, rows, node)
        _log(locked, "prune", change.pop("description"), change, change.pop("touched"))
        return result


# -- undo and redo ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Undone:
    """An edit undone (or redone): the edit's row and the flow's new revision."""

    edit: FlowEdit
    revision: int


def _restore(
    locked: Locked, data_rows: list[list[Any]], edges: list[list[Any]], backbone: Iterable[tuple[int, bool]] = ()
) -> None:
    """Put rows back as they were (same primary keys): nodes with their data,
    edges, then each edge's ``backbone`` flag."""
    m = _models()
    graph = locked.graph
    node_ids = [row[1] for row in data_rows]
    ends = {x for _, s, t, _ in edges for x in (s, t)}
    existing = set(m.node.objects.filter(graph_id=graph.pk, pk__in=[*ends, *node_ids]).values_list("pk", flat=True))
    again = [n for n in node_ids if n in existing]
    if again:
        raise ConcurrentEdit(f"Node {again[0]} exists already; reload the flow.", node=again[0])
    missing = sorted(ends - existing - set(node_ids))
    if missing:
        raise _gone(f"node {missing[0]}", "")
    if node_ids:
        m.node.objects.bulk_create([m.node(pk=n, graph_id=graph.pk) for n in node_ids])
        data_class = graph.data_class
        pk_name = data_class._meta.pk.attname
        data_class._default_manager.bulk_create(
            [data_class(**{pk_name: pk, "node_id": node, **fields}) for pk, node, fields in data_rows]
        )
    if edges:
        pairs = [(s, t) for _, s, t, _ in edges]
        if (
            m.edge.objects.filter(graph_id=graph.pk)
            .filter(reduce(or_, (Q(source_id=s, target_id=t) for s, t in pairs)))
            .exists()
        ):
            raise ConcurrentEdit("A link to restore exists already; reload the flow.")
        m.edge.objects.bulk_create(
            [m.edge(pk=pk, graph_id=graph.pk, source_id=s, target_id=t, backbone=b) for pk, s, t, b in edges]
        )
    flags = list(backbone)
    _set_backbone(graph, [pk for pk, b in flags if b], [pk for pk, b in flags if not b])


def _check_rules(locked: Locked, sources: Iterable[int]) -> None:
    """Refuse (the transaction rolls back) when a node among ``sources`` has
    children its rule no longer allows (the policy's answer for stored nodes)."""
    wanted = sorted(set(sources))
    if not wanted:
        return
    rows = (
        _models()
        .edge.objects.filter(graph_id=locked.graph.pk, source_id__in=wanted)
        .order_by("pk")
        .values_list("source_id", "target__flownodedata__rule_label")
    )
    children: dict[int, list[str]] = {}
    for source, label in rows:
        children.setdefault(source, []).append(label or "")
    labels = _labels(wanted)
    for source in wanted:
        problems = policy.stored_children_problems(labels.get(source, ""), children.get(source, []))
        if problems:
            text = f"node {source} ({_name(labels.get(source))}): {problems[0].message}"
            raise RuleNotAllowed(text, node=source, reason=problems[0].message)


def _leaf_snapshot(locked: Locked, node: int, allowed: set[tuple[int, int]]) -> dict[str, Any]:
    """Delete the node ``node`` whose only edges are ``allowed``; what
    restores it."""
    m = _models()
    edges = [
        [pk, s, t, b]
        for pk, s, t, b in m.edge.objects.filter(graph_id=locked.graph.pk)
        .filter(Q(source_id=node) | Q(target_id=node))
        .order_by("pk")
        .values_list("pk", "source_id", "target_id", "backbone")
    ]
    data = list(locked.graph.data_class._default_manager.filter(node_id=node))
    if not data:
        raise _gone(f"node {node}", "")
    others = [e for e in edges if (e[1], e[2]) not in allowed]
    if others:
        raise CannotRemove(f"node {node} has other links now (node {others[0][1]} -> node {others[0][2]})", node=node)
    _delete(locked.graph, [node], data)
    return {"data": [_data_row(data[0])], "edges": edges}


def _undo_add(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    node, parent = change["node"], change["parent"]
    return _leaf_snapshot(locked, node, {(parent, node)})


def _redo_add(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    snapshot: dict[str, Any] = change["snapshot"]
    _restore(locked, snapshot["data"], snapshot["edges"])
    _check_rules(locked, [change["parent"]])
    return snapshot


def _undo_connect(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    pk, s, t, _ = change["edge"]
    index, backbone_parent, edges = _index(locked.graph, rows)
    if edges.get((s, t)) is None:
        raise _not_a_child(s, t)
    if backbone_parent.get(t) == s:
        raise CannotDisconnect(f"the link from node {s} to node {t} is a creation-tree link now", node=s)
    refusal = policy.disconnect_refusal(index.edge_cut(s, t), f"node {t}")
    if refusal is not None:
        raise refusal
    _delete_edges(locked.graph, [edges[(s, t)]])
    return {"edge": [edges[(s, t)], s, t, False]}


def _redo_connect(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    snapshot: dict[str, Any] = change["snapshot"]
    _restore(locked, [], [snapshot["edge"]])
    _check_rules(locked, [change["source"]])
    return snapshot


def _undo_disconnect(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    flags = [(new, False) for new, _ in change["flips"]] + [(old, True) for _, old in change["flips"]]
    edge = change["edge"]
    if edge[3]:  # the deleted edge was the child's creation-tree edge: it is again
        flags = [(pk, b) for pk, b in flags if pk != edge[0]]
    _restore(locked, [], [edge], flags)
    _check_rules(locked, [change["source"]])
    return {}


def _redo_disconnect(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _done, new = _disconnect_core(locked, rows, change["source"], change["target"])
    return {"flips": new["flips"], "edge": new["edge"]}


def _undo_insert(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    node, parent, child = change["node"], change["parent"], change["child"]
    snapshot = _leaf_snapshot(locked, node, {(parent, node), (node, child)})
    _restore(locked, [], [change["edge"]])
    _check_rules(locked, [parent])
    return snapshot


def _redo_insert(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    snapshot: dict[str, Any] = change["snapshot"]
    edges = _index(locked.graph, rows)[2]
    old = edges.get((change["parent"], change["child"]))
    if old is None:
        raise _not_a_child(change["parent"], change["child"])
    _delete_edges(locked.graph, [old])
    _restore(locked, snapshot["data"], snapshot["edges"])
    _check_rules(locked, [change["parent"], change["node"]])
    return snapshot


def _undo_change_rule(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _rule_change_core(replace(locked, node_exists=True), change["node"], change["old"])
    if "settings" in change:  # cleared by the change: back with the old rule
        _write_settings(locked, change["node"], change["settings"])
    return {}


def _redo_change_rule(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _rule_change_core(replace(locked, node_exists=True), change["node"], change["new"])
    return {}


def _undo_removal(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    flips = change.get("flips", [])
    flags = [(new, False) for new, _ in flips] + [(old, True) for _, old in flips]
    restored = {pk for pk, *_ in change["edges"]}
    flags = [(pk, b) for pk, b in flags if pk not in restored]  # restored edges come back as they were
    _restore(locked, change["data"], change["edges"], flags)
    _check_rules(locked, [s for _, s, _, _ in change["edges"]])
    return {}


def _redo_remove(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    node = _models().node(pk=change["node"], graph_id=locked.graph.pk)
    node._graph_cache = locked.graph
    _done, new = _remove_core(locked, rows, node)
    return {k: new[k] for k in ("data", "edges", "flips")}


def _redo_prune(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    node = _models().node(pk=change["node"], graph_id=locked.graph.pk)
    node._graph_cache = locked.graph
    _done, new = _prune_core(locked, rows, node)
    return {k: new[k] for k in ("nodes", "data", "edges")}


def _rename(locked: Locked, name: str) -> None:
    assert locked.flow_id is not None
    _models().flow.objects.filter(pk=locked.flow_id).update(name=name)


def _undo_rename(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _rename(locked, change["old"])
    return {}


def _redo_rename(locked: Locked, rows: list[Row], change: dict[str, Any]) -> dict[str, Any]:
    _rename(locked, change["new"])
    return {}


Step = Callable[[Locked, list[Row], dict[str, Any]], dict[str, Any]]

#: operation -> (its inverse, its re-application); each returns what to keep in the row's ``change``
_STEPS: dict[str, tuple[Step, Step]] = {
    "add": (_undo_add, _redo_add),
    "connect": (_undo_connect, _redo_connect),
    "disconnect": (_undo_disconnect, _redo_disconnect),
    "insert": (_undo_insert, _redo_insert),
    "change_rule": (_undo_change_rule, _redo_change_rule),
    "remove": (_undo_removal, _redo_remove),
    "prune": (_undo_removal, _redo_prune),
    "rename_flow": (_undo_rename, _redo_rename),
    "settings": (_undo_settings, _redo_settings),
}


def _prefixed(exc: FlowrError, prefix: str) -> FlowrError:
    exc.message = f"{prefix}: {exc.message}"
    exc.args = (exc.message,)
    return exc


def _undo_or_redo(flow: Flow, actor: Any, redo: bool) -> Undone:
    m = _models()
    given = _context.get().revision
    with acting(actor if actor is not None else _context.get().actor, revision=given):
        with tricks.collector_paused(), transaction.atomic():
            locked, rows = _lock_with_edges(flow.state_graph_id)
            locked = _with_flow(locked)
            _check_stale(locked, [], whole_flow=True)
            edits = m.edit.objects.filter(flow_id=flow.pk)
            if redo:
                edit = edits.filter(redoable=True).order_by("seq").first()
            else:
                edit = edits.filter(undone=False, operation__in=UNDOABLE).order_by("-seq").first()
            if edit is None:
                if redo:
                    raise NothingToRedo(_("Nothing to redo in flow %(name)r.") % {"name": flow.name}, flow=flow)
                raise NothingToUndo(_("Nothing to undo in flow %(name)r.") % {"name": flow.name}, flow=flow)
            step = _STEPS[edit.operation][1 if redo else 0]
            change = dict(edit.change)
            try:
                kept = step(locked, rows, change)
            except FlowrError as exc:
                text = _("Cannot redo %(what)s") if redo else _("Cannot undo %(what)s")
                raise _prefixed(exc, text % {"what": edit.description}) from None
            if redo and edit.operation in ("disconnect", "remove", "prune"):
                change.update(kept)  # re-applied: what undoing it again needs
            elif not redo and kept:
                change["snapshot"] = kept
            edit.change = change
            edit.undone = not redo
            edit.redoable = not redo
            edit.save(update_fields=["change", "undone", "redoable"])
            removed: dict[str, str] = {}
            if not redo and edit.operation in ("add", "insert"):
                removed = {str(change["node"]): _name(change.get("rule"))}
            elif redo and edit.operation in ("remove", "prune"):
                removed = change.get("removed", {})
            verb = "redo" if redo else "undo"
            change_of = {"of": edit.seq, "removed": removed}
            log = _log(locked, verb, f"{verb} {edit.description}", change_of, edit.nodes, clears_redo=False)
            assert log is not None
            flow.revision = log.seq
            return Undone(edit, log.seq)


def undo(flow: Flow, actor: Any = None) -> Undone:
    """Revert the flow's latest edit not undone yet, through the same rules
    (refused with the rule's reason when they refuse the inverse now)."""
    return _undo_or_redo(flow, actor, redo=False)


def redo(flow: Flow, actor: Any = None) -> Undone:
    """Re-apply the edit undo reverted last (none once a new edit was made)."""
    return _undo_or_redo(flow, actor, redo=True)


# The remove/prune path in few statements (the ``hand_statements`` trick):
# the graph, whether it is in use and its edges in one read (the lock itself
# on SQLite); what points at the data rows through SET_NULL foreign keys set
# to null in one UPDATE per model (history rows of States migrated to
# another version of the flow); the data rows deleted with ``DELETE ...
# RETURNING`` (sparing rows a PROTECT foreign key points at: none can, since
# a flow with States is frozen, but if one did the collector is asked and
# raises ProtectedError as before); then edges and nodes by graph and pk.
# The ORM's way (the collector) whenever it could differ: a delete receiver,
# other kinds of foreign keys to the data class, columns that need converting.


@dataclass(frozen=True)
class _DeletePlan:
    columns: list[str]  # the data class's columns, returned by the DELETE
    attnames: list[str]
    pk_at: int  # where the pk is in them
    protected_by: list[tuple[str, str, str]]  # (table, column, the data column it points at)
    set_null: list[tuple[type[models.Model], list[str]]]  # model, its fields pointing at the data
    json_at: list[int]  # where JSON columns are (returned as the driver's text)


@cache
def _delete_plan_of(data_class: type[BaseNodeData], db: str) -> _DeletePlan | None:
    meta = data_class._meta
    if meta.parents or meta.private_fields or not connections[db].features.can_return_columns_from_insert:
        return None
    fields = list(meta.concrete_fields)
    if not all(plain(f) or isinstance(f, (models.AutoField, models.JSONField)) for f in fields):
        return None
    protected_by: list[tuple[str, str, str]] = []
    set_null: dict[type[models.Model], list[str]] = {}
    candidates = get_candidate_relations_to_delete(cast("Options[models.Model]", meta))
    for rel in cast("list[ForeignObjectRel]", candidates):  # what the collector visits, hidden ones too
        field = rel.field
        related = rel.related_model
        if rel.many_to_many or related is data_class or field.target_field != meta.pk:
            return None
        if rel.on_delete is PROTECT:
            protected_by.append((related._meta.db_table, cast(str, field.column), cast(str, meta.pk.column)))
        elif rel.on_delete is SET_NULL:
            set_null.setdefault(related, []).append(field.name)
        else:
            return None
    return _DeletePlan(
        [cast(str, f.column) for f in fields],
        [f.attname for f in fields],
        fields.index(meta.pk),
        protected_by,
        list(set_null.items()),
        [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)],
    )


def _delete_plan(graph: DCCGraph) -> _DeletePlan | None:
    """How to delete the graph's data rows in few statements, or None: the
    collector's way (the trick is off, or a delete receiver listens)."""
    if not tricks.on.hand_statements:
        return None
    m = _models()
    data_class = graph.data_class
    if any(s.has_listeners(x) for s in (pre_delete, post_delete) for x in (data_class, m.node, m.edge)):
        return None
    return _delete_plan_of(data_class, router.db_for_write(m.node))


def _lock_with_edges(graph_id: int) -> tuple[Locked, list[Row]]:
    """Lock the graph row and read, under the lock, whether States run on
    it and its edges ``(1, pk, source, target, backbone)`` (backbone may be 0/1); refuse a frozen flow.

    One statement on SQLite (the read is the lock); a lock statement first
    where it can wait.  With the ``hand_statements`` trick off: :func:`lock`
    and an edge query.
    """
    m = _models()
    if not tricks.on.hand_statements:
        locked = lock_for_edit(graph_id)
        edges = m.edge.objects.filter(graph_id=graph_id).values_list("pk", "source_id", "target_id", "backbone")
        return locked, [(1, *edge) for edge in edges]
    db = router.db_for_write(m.graph)
    connection = connections[db]
    if connection.features.has_select_for_update:
        list(m.graph.objects.using(db).select_for_update().filter(pk=graph_id).values_list("pk"))
    in_use = m.state.objects.using(db).running().filter(flow__state_graph_id=graph_id).values("pk")
    in_use_sql, in_use_params = in_use.query.get_compiler(db).as_sql()
    names = [f.attname for f in m.graph._meta.concrete_fields]
    statement = sql.graph_with_edges_statement(
        connection,
        m.graph._meta.db_table,
        [cast(str, f.column) for f in m.graph._meta.concrete_fields],
        m.edge._meta.db_table,
        in_use_sql,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*in_use_params, graph_id, graph_id])
        rows = list(cursor.fetchall())  # a tuple from some drivers (PyMySQL)
    at = 0 if rows and rows[0][0] == 0 else next((i for i, row in enumerate(rows) if row[0] == 0), None)
    head = [] if at is None else [rows.pop(at)]  # the rest are the edges
    if not head:
        raise m.graph.DoesNotExist(f"No graph {graph_id}")
    graph = m.graph.from_db(db, names, head[0][1 : 1 + len(names)])
    locked = Locked(graph=graph, in_use=bool(head[0][4]))
    _refuse_if_frozen(locked)
    return locked, rows


def _index(graph: DCCGraph, rows: list[Row]) -> tuple[EdgeIndex, dict[int, int], dict[tuple[int, int], int]]:
    """The graph's adjacency, backbone parents and edge pks."""
    index = EdgeIndex(graph.root_id or 0, list(map(itemgetter(2, 3), rows)))
    backbone_parent = {t: s for _, _, s, t, b in rows if b}
    return index, backbone_parent, {(s, t): pk for _, pk, s, t, _ in rows}


def _delete_returning(graph: DCCGraph, plan: _DeletePlan, ids: list[int]) -> list[BaseNodeData]:
    """Delete the data rows of the nodes ``ids`` (see :class:`_DeletePlan`);
    the data objects, in the order of ``ids``, with their pks."""
    m = _models()
    data_class = graph.data_class
    db = router.db_for_write(m.node)
    connection = connections[db]
    by_node: dict[int, BaseNodeData] = {}
    node_at = plan.attnames.index("node_id")
    for start in range(0, len(ids), 2000):  # bounded parameter lists (the history UPDATE repeats them)
        chunk = ids[start : start + 2000]
        data_pks = data_class._default_manager.using(db).filter(node_id__in=chunk).values("pk")
        for model, names in plan.set_null:
            rows = model._default_manager.using(db)
            if len(names) == 1:
                rows.filter(**{f"{names[0]}__in": data_pks}).update(**{names[0]: None})
            else:
                rows.filter(reduce(or_, (Q(**{f"{n}__in": data_pks}) for n in names))).update(
                    **{n: Case(When(**{f"{n}__in": data_pks}, then=Value(None)), default=F(n)) for n in names}
                )
        statement = sql.delete_returning_statement(
            connection, data_class._meta.db_table, "node_id", len(chunk), plan.columns, plan.protected_by
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, chunk)
            deleted = cursor.fetchall()
        if len(deleted) < len(chunk) and plan.protected_by:
            spared = list(
                data_class._default_manager.using(db)
                .filter(node_id__in=chunk)
                .exclude(pk__in=[row[plan.pk_at] for row in deleted])
            )
            if spared:  # the collector says what protects them (ProtectedError)
                with _protected_as_refusal():
                    Collector(using=db, origin=spared[0]).collect(spared)
                raise ConcurrentEdit(f"The data of nodes {[d.node_id for d in spared]} could not be deleted.")
        for row in deleted:
            values = list(row)
            for at in plan.json_at:
                if isinstance(values[at], str):
                    values[at] = json.loads(values[at])
            by_node[row[node_at]] = data_class.from_db(db, plan.attnames, values)
    return [by_node[i] for i in ids if i in by_node]


# -- flows ---------------------------------------------------------------------------------


def rename_flow(flow: Flow, name: str) -> Flow:
    """Give ``flow`` a new name; refused while States use it (frozen).
    Logged (``rename_flow``) when the name changes."""
    with transaction.atomic():
        locked = lock_for_edit(flow.state_graph_id)
        _check_stale(locked, [])
        old = locked.flow_name
        flow.name = name
        flow.save(update_fields=["name", "updated"])
        if old != name:
            edit = _log(locked, "rename_flow", f"rename flow {old!r} to {name!r}", {"old": old, "new": name}, [])
            if edit is not None:
                flow.revision = edit.seq
    return flow


def clone_flow(flow: Flow, name: str | None = None) -> Flow:
    """Copy ``flow`` as the next version of its family (``Flow.clone``).

    The family's rows are locked while the version number is chosen, so two
    concurrent clones get different versions; the source graph is locked so
    the copy is a consistent snapshot.  A constant number of queries.
    """
    m = _models()
    db = router.db_for_write(m.flow)
    with transaction.atomic(using=db):
        versions = list(
            m.flow.objects.using(db).select_for_update().filter(family=flow.family).values_list("version", flat=True)
        )
        source = lock(flow.state_graph_id).graph
        graph, _copied = bulk_copy_graph(source)
        copy = m.flow.objects.using(db).create(
            name=flow.name if name is None else name,
            rule_set_id=flow.rule_set_id,
            state_graph=graph,
            family=flow.family,
            version=max(versions, default=0) + 1,
        )
        log_created(copy, f"clone {flow} as version {copy.version}")
        return copy


def build_from_rules(cls: type[Flow], name: str, rule_set: RuleSet, children: Iterable[Any]) -> Flow:
    """``Flow.factory_from_rules``: every node added as the policy allows."""
    with transaction.atomic(using=router.db_for_write(cls)):
        flow = cls.factory(name, rule_set)

        def add(parent: FlowNodeData, kwargs: dict[str, Any]) -> FlowNodeData:
            if set(kwargs) != {"rule"}:
                raise TypeError(f"each node's kwargs must be exactly {{'rule': ...}}, not {kwargs!r}")
            return add_child_rule(parent, kwargs["rule"]).data

        with _unlogged():  # the flow's "create" row stands for them
            _nested(flow.root_data, children, add)
    return flow


# -- bulk construction (clone, import) -----------------------------------
#
# A whole graph is written in a constant number of queries whatever its size:
# rows go in with one executemany() per table, and the node primary keys are
# read back in pk order -- MariaDB's bulk inserts do not return primary keys,
# so nothing relies on it.


def _insert_many(model: type[Any], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """One ``executemany()``; with the ``hand_statements`` trick off,
    ``bulk_create`` (the columns are then the fields' attnames)."""
    db = router.db_for_write(model)
    if not tricks.on.hand_statements:
        model._default_manager.using(db).bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return
    sql.insert_many(connections[db], model._meta.db_table, columns, rows)


def _data_rows(
    data_class: type[BaseNodeData], node_pks: list[int], data: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    connection = connections[router.db_for_write(data_class)]
    fields = [f for f in data_class._meta.concrete_fields if not f.primary_key]
    columns = [f.column or f.attname for f in fields]
    rows = []
    for node_pk, values in zip(node_pks, data, strict=True):
        obj = data_class(node_id=node_pk, **values)
        rows.append(tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields))
    return columns, rows


def bulk_create_graph(
    data_class: type[BaseNodeData],
    parents: list[int | None],
    data: list[dict[str, Any]],
    links: Iterable[tuple[int, int]] = (),
    cls: type[DCCGraph] | None = None,
) -> tuple[DCCGraph, list[int]]:
    """Create a whole graph in a constant number of queries.

    :param data_class: the graph's concrete :class:`BaseNodeData` subclass
    :param parents: for each node (by index), the index of its creation-tree
        ("backbone") parent; index 0 is the root (``None``), and every parent
        comes before its children.  Children keep the order given.
    :param data: for each node, the field values of its data object
    :param links: ``(source index, target index)`` of the link edges
    :returns: the graph and the primary key of each node, by index
    """
    m = _models()
    cls = cls or m.graph
    if not parents or parents[0] is not None or any(p is None for p in parents[1:]):
        raise ValueError("parents must start with the root (None) and give every other node a parent")
    with transaction.atomic(using=router.db_for_write(m.node)):
        for index, parent in enumerate(parents[1:], start=1):
            if parent is None or parent >= index:
                raise ValueError(f"node {index}: its parent must come before it")
        graph = cls.objects.create(data_content_type=ContentType.objects.get_for_model(data_class))
        _insert_many(m.node, ["graph_id"], [(graph.pk,)] * len(parents))
        # The graph is new and nobody else writes to it, and auto-increment
        # keys grow in insertion order on every supported database, so the
        # n-th smallest pk of the graph is the n-th node inserted.
        pks = list(m.node.objects.filter(graph_id=graph.pk).order_by("pk").values_list("pk", flat=True))
        if tricks.on.hand_statements:
            columns, rows = _data_rows(data_class, pks, data)
            _insert_many(data_class, columns, rows)
        else:
            objects = [data_class(node_id=pk, **values) for pk, values in zip(pks, data, strict=True)]
            data_class._default_manager.using(router.db_for_write(data_class)).bulk_create(objects)
        edges = [(graph.pk, pks[p], pks[i], True) for i, p in enumerate(parents) if p is not None]
        edges += [(graph.pk, pks[s], pks[t], False) for s, t in links]
        _insert_many(m.edge, ["graph_id", "source_id", "target_id", "backbone"], edges)
        graph.root_id = pks[0]
        graph.save(update_fields=["root"])
    return graph, pks


def bulk_copy_graph(source: DCCGraph) -> tuple[DCCGraph, dict[int, int]]:
    """Copy a graph (shape and node data) in a constant number of queries.

    :returns: the new graph and the map of old node pk to new node pk
    """
    data_class = source.data_class
    skip = {"id", "node"}
    fields = [f.attname for f in data_class._meta.concrete_fields if not f.primary_key and f.name not in skip]
    values = {
        row["node_id"]: row
        for row in data_class._default_manager.filter(node__graph_id=source.pk).values("node_id", *fields)
    }
    edges = _models().edge.objects.filter(graph_id=source.pk).order_by("pk")
    rows = list(edges.values_list("source_id", "target_id", "backbone"))
    tree = tree_order(source.root_id or 0, [(s, t) for s, t, backbone in rows if backbone])
    nodes = tree.order  # parents before children, children in creation order
    index = {pk: i for i, pk in enumerate(nodes)}
    parents: list[int | None] = [None if pk == tree.root else index[tree.parent[pk]] for pk in nodes]
    data = [{f: values[pk][f] for f in fields} for pk in nodes]
    links = [(index[s], index[t]) for s, t, backbone in rows if not backbone]
    graph, pks = bulk_create_graph(data_class, parents, data, links, cls=type(source))
    return graph, {pk: pks[i] for i, pk in enumerate(nodes)}
