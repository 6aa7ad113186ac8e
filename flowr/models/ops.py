"""Every write to a graph, in one place.

Each mutation runs in one ``transaction.atomic()`` and first locks the
graph's row, so the edits of one graph serialize (a removal's re-homing
reads the whole backbone) and every check is re-done under the lock.  Every
write is scoped by the graph, so it touches only that graph's rows.  Registered *edit
guards* (the flow layer registers "a flow with States is frozen") run under
the same lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router, transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from flowr.db import graph as sql
from flowr.exceptions import CannotRemove
from flowr.graphwalk import EdgeIndex, Tree, rehome_plan, tree_order
from flowr.models.graph import DCCGraph, Edge, Node

if TYPE_CHECKING:
    from flowr.models.graph import BaseNodeData

EditGuard = Callable[[DCCGraph], None]
edit_guards: list[EditGuard] = []
# What the guards read, as expressions over the graph row (``OuterRef("pk")``
# is the graph): name -> a function making the expression.  The edits here
# read them with the lock (see :func:`lock_graph`) and set them on the graph
# as attributes; a guard finding its attribute need not query (and must
# query when it is absent: ``check_editable`` may get a bare locked graph).
edit_reads: dict[str, Callable[[], Any]] = {}


def lock_graph(graph_id: int, **reads: Any) -> DCCGraph:
    """Lock and return the graph row (inside the caller's transaction).

    The given ``reads`` (name -> expression over the graph row) are read
    under the lock and set on the returned graph.  Where the lock statement
    can wait for another transaction's lock (PostgreSQL, MariaDB), they are
    read by a second statement: a ``SELECT ... FOR UPDATE`` that waited still
    reads every other row as of the moment it began, and would miss what the
    previous lock holder wrote.  Where it cannot wait (SQLite: a transaction
    holds the whole database), the lock statement reads them itself.
    """
    query = DCCGraph.objects.select_for_update()
    if not reads:
        return query.get(pk=graph_id)
    if not connections[query.db].features.has_select_for_update:
        return query.annotate(**reads).get(pk=graph_id)
    graph = query.get(pk=graph_id)
    for name, value in DCCGraph.objects.filter(pk=graph_id).values(**reads).get().items():
        setattr(graph, name, value)
    return graph


def check_editable(graph: DCCGraph) -> None:
    for guard in edit_guards:
        guard(graph)


def _lock_for_edit(graph_id: int, **reads: Any) -> DCCGraph:
    """:func:`lock_graph` with the guards' reads, then :func:`check_editable`."""
    graph = lock_graph(graph_id, **{name: make() for name, make in edit_reads.items()}, **reads)
    check_editable(graph)
    return graph


def create_graph(
    cls: type[DCCGraph], data_class: type[BaseNodeData], root_kwargs: dict[str, Any], children: Iterable[Any]
) -> DCCGraph:
    with transaction.atomic():
        graph = cls.objects.create(data_content_type=ContentType.objects.get_for_model(data_class))
        root = Node(graph=graph)
        root.save(force_insert=True)
        root._graph_cache = graph
        root._data_cache = data_class.objects.create(node=root, **root_kwargs)
        graph.root = root
        graph.save(update_fields=["root"])
        # depth first, in the given order, like 0.2 -- but without recursion
        stack: list[tuple[Node, Any]] = [(root, iter(children))]
        while stack:
            parent, pending = stack[-1]
            item = next(pending, None)
            if item is None:
                stack.pop()
                continue
            kwargs, grandchildren = item
            child = _add_child(graph, parent, kwargs)
            stack.append((child, iter(grandchildren)))
    return graph


def _parent_reads(parent_pk: int) -> dict[str, Any]:
    """Whether the parent is still in the graph, read under the lock."""
    return {"_parent_exists": Exists(Node.objects.filter(pk=parent_pk, graph_id=OuterRef("pk")))}


@cache
def _insert_child_statement(db: str) -> str | None:
    return sql.insert_child_statement(connections[db], Node._meta.db_table, Edge._meta.db_table)


def _add_child(graph: DCCGraph, parent: Node, data_kwargs: dict[str, Any]) -> Node:
    """Insert a child of ``parent``: the node, the backbone edge and the
    data (three statements; two on PostgreSQL, see
    :func:`flowr.db.graph.insert_child_statement`).  Nothing else changes:
    the parent's row holds no counter or path."""
    child = Node(graph=graph)
    db = router.db_for_write(Node, instance=parent)
    statement = _insert_child_statement(db)
    if statement is None or any(s.has_listeners(m) for s in (pre_save, post_save) for m in (Node, Edge)):
        child.save(force_insert=True)
        Edge.objects.create(graph=graph, source=parent, target=child, backbone=True)
    else:
        with connections[db].cursor() as cursor:
            cursor.execute(statement, [graph.pk, graph.pk, parent.pk])
            child.pk = cursor.fetchone()[0]
        child._state.adding, child._state.db = False, db
    child._graph_cache = graph
    data = graph.data_class.objects.create(node=child, **data_kwargs)
    child._data_cache = data
    return child


def add_child(
    parent: Node,
    data_kwargs: dict[str, Any],
    check: Callable[[DCCGraph], None] | None = None,
    reads: dict[str, Any] | None = None,
) -> Node:
    """Create a child of ``parent``; ``check`` runs under the graph lock.

    ``reads`` (name -> expression over the graph row) are read with the lock
    and set on the graph ``check`` gets.  Four statements where the lock
    reads too (SQLite), four on PostgreSQL (whose writes are two), five on
    MariaDB, plus what ``check`` queries.
    """
    with transaction.atomic():
        graph = _lock_for_edit(parent.graph_id, **_parent_reads(parent.pk), **(reads or {}))
        if check is not None:
            check(graph)
        if not graph._parent_exists:
            raise Node.DoesNotExist(f"{parent} does not exist any more")
        return _add_child(graph, parent, data_kwargs)


def connect(
    source: Node, target: Node, check: Callable[[DCCGraph], None] | None = None, reads: dict[str, Any] | None = None
) -> bool:
    """Add a link edge; False when the edge already existed (0.2: no-op).

    ``reads`` as for :func:`add_child`."""
    with transaction.atomic():
        graph = _lock_for_edit(source.graph_id, **(reads or {}))
        if check is not None:
            check(graph)
        if Edge.objects.filter(source_id=source.pk, target_id=target.pk).exists():
            return False
        Edge.objects.create(graph=graph, source_id=source.pk, target_id=target.pk, backbone=False)
        return True


def _load(graph: DCCGraph) -> tuple[EdgeIndex, dict[int, int], dict[tuple[int, int], int]]:
    """The graph's adjacency, backbone parents and edge pks (one query)."""
    rows = list(Edge.objects.filter(graph_id=graph.pk).values_list("pk", "source_id", "target_id", "backbone"))
    index = EdgeIndex(graph.root_id, [(s, t) for _, s, t, _ in rows])
    backbone_parent = {t: s for _, s, t, b in rows if b}
    return index, backbone_parent, {(s, t): pk for pk, s, t, _ in rows}


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
    Edge.objects.filter(graph_id=graph.pk, pk__in=new + old).update(
        backbone=Case(When(pk__in=new, then=Value(True)), default=Value(False))
    )


def _delete(graph: DCCGraph, ids: list[int], data: list[BaseNodeData]) -> None:
    """Delete the nodes ``ids`` of ``graph``, their data and their edges.

    The data objects go through Django's collector (whatever points at
    them -- States, history rows -- is protected or updated as declared);
    edges and nodes are deleted by graph and pk, so the statements use the
    graph's indexes and never scan other graphs' rows.
    """
    db = router.db_for_write(Node)
    if data:
        pks = [d.pk for d in data]
        collector = Collector(using=db, origin=data[0])
        collector.collect(data)
        collector.delete()
        for d, pk in zip(data, pks, strict=True):  # 0.2 returned them with their pks
            d.pk = pk
    # Plain DELETEs (Django's ``_raw_delete``: no collector, which would
    # first select the nodes and visit every relation again) unless a
    # delete receiver listens, which then sees every row through the ORM.
    raw = not any(s.has_listeners(m) for s in (pre_delete, post_delete) for m in (Node, Edge))
    for start in range(0, len(ids), 5000):  # bounded parameter lists
        chunk = ids[start : start + 5000]
        edges = Edge.objects.filter(Q(source_id__in=chunk) | Q(target_id__in=chunk), graph_id=graph.pk)
        nodes = Node.objects.filter(graph_id=graph.pk, pk__in=chunk)
        if raw:
            edges._raw_delete(db)
            nodes._raw_delete(db)
        else:
            edges.delete()
            nodes.delete()


def remove(node: Node) -> BaseNodeData:
    with transaction.atomic():
        graph = _lock_for_edit(node.graph_id)
        if node.pk == graph.root_id:
            raise CannotRemove(f"{node} is the root of its graph and cannot be removed", node=node)
        index, backbone_parent, edges = _load(graph)
        if not index.can_remove(node.pk):
            raise CannotRemove(f"Removing {node} would disconnect part of the graph from its root", node=node)
        data = graph.data_class.objects.get(node_id=node.pk)
        _rehome(graph, rehome_plan(index, backbone_parent, node.pk), backbone_parent, edges)
        _delete(graph, [node.pk], [data])
        return data


def prune(node: Node) -> list[BaseNodeData]:
    with transaction.atomic():
        graph = _lock_for_edit(node.graph_id)
        if node.pk == graph.root_id:
            raise CannotRemove(f"{node} is the root of its graph and cannot be pruned", node=node)
        index = EdgeIndex(
            graph.root_id, list(Edge.objects.filter(graph_id=graph.pk).values_list("source_id", "target_id"))
        )
        if node.pk not in index.nodes:
            raise CannotRemove(f"{node} is not in its graph any more", node=node)
        ids = index.prune_set(node.pk)
        found = {d.node_id: d for d in graph.data_class.objects.filter(node__graph_id=graph.pk, node_id__in=ids)}
        data = [found[i] for i in ids if i in found]
        _delete(graph, ids, data)
        return data


# -- bulk construction (clone, import) -----------------------------------
#
# A whole graph is written in a constant number of queries whatever its size:
# rows go in with one executemany() per table, and the node primary keys are
# read back in pk order -- MariaDB's bulk inserts do not return primary keys,
# so nothing relies on it.


def _insert_many(model: type[Any], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    connection = connections[router.db_for_write(model)]
    sql.insert_many(connection, model._meta.db_table, columns, rows)


def _data_rows(
    data_class: type[BaseNodeData], node_pks: list[int], data: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    connection = connections[router.db_for_write(data_class)]
    fields = [f for f in data_class._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
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
    cls: type[DCCGraph] = DCCGraph,
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
    if not parents or parents[0] is not None or any(p is None for p in parents[1:]):
        raise ValueError("parents must start with the root (None) and give every other node a parent")
    with transaction.atomic(using=router.db_for_write(Node)):
        for index, parent in enumerate(parents[1:], start=1):
            if parent is None or parent >= index:
                raise ValueError(f"node {index}: its parent must come before it")
        graph = cls.objects.create(data_content_type=ContentType.objects.get_for_model(data_class))
        _insert_many(Node, ["graph_id"], [(graph.pk,)] * len(parents))
        # The graph is new and nobody else writes to it, and auto-increment
        # keys grow in insertion order on every supported database, so the
        # n-th smallest pk of the graph is the n-th node inserted.
        pks = list(Node.objects.filter(graph_id=graph.pk).order_by("pk").values_list("pk", flat=True))
        columns, rows = _data_rows(data_class, pks, data)
        _insert_many(data_class, columns, rows)
        edges = [(graph.pk, pks[p], pks[i], True) for i, p in enumerate(parents) if p is not None]
        edges += [(graph.pk, pks[s], pks[t], False) for s, t in links]
        _insert_many(Edge, ["graph_id", "source_id", "target_id", "backbone"], edges)
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
        row["node_id"]: row for row in data_class.objects.filter(node__graph_id=source.pk).values("node_id", *fields)
    }
    rows = list(
        Edge.objects.filter(graph_id=source.pk).order_by("pk").values_list("source_id", "target_id", "backbone")
    )
    tree: Tree = tree_order(source.root_id, [(s, t) for s, t, backbone in rows if backbone])
    nodes = tree.order  # parents before children, children in creation order
    index = {pk: i for i, pk in enumerate(nodes)}
    parents: list[int | None] = [None if pk == tree.root else index[tree.parent[pk]] for pk in nodes]
    data = [{f: values[pk][f] for f in fields} for pk in nodes]
    links = [(index[s], index[t]) for s, t, backbone in rows if not backbone]
    graph, pks = bulk_create_graph(data_class, parents, data, links, cls=type(source))
    return graph, {pk: pks[i] for i, pk in enumerate(nodes)}
