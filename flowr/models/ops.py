"""Every write to a graph, in one place.

This is the only module that talks to treebeard's manager API.  Each
mutation runs in one ``transaction.atomic()`` and first locks the graph's
row, so the edits of one graph serialize (materialized-path inserts race
otherwise) and every check is re-done under the lock.  Registered *edit
guards* (the flow layer registers "a flow with States is frozen") run under
the same lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router, transaction
from django.db.models import F, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Concat, Right, Substr
from django.db.models.signals import post_save, pre_save
from treebeard.exceptions import PathOverflow

from flowr.exceptions import CannotRemove
from flowr.graphwalk import EdgeIndex, rehome_plan
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
        # treebeard's add_root() reads the last root without a lock; a root
        # step derived from the graph's primary key cannot collide.
        root = Node(graph=graph, depth=1, numchild=0, path=Node._get_path(None, 1, graph.pk))
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
    """The parent's tree fields and its last child's path, read under the lock."""
    parent = Node.objects.filter(pk=parent_pk)
    first, last = Node.alphabet[0] * Node.steplen, Node.alphabet[-1] * Node.steplen
    children = Node.objects.filter(  # treebeard's get_children(), within the graph
        graph_id=OuterRef("graph_id"),
        depth=OuterRef("depth") + 1,
        path__gte=Concat(OuterRef("path"), Value(first), output_field=TextField()),
        path__lte=Concat(OuterRef("path"), Value(last), output_field=TextField()),
    )
    # Ordered by the last step only: all children share the parent's path,
    # and MariaDB/MySQL compare only the first ``max_sort_length`` bytes
    # (1,024 by default) of a text column, which a node deeper than 256 has.
    last_child = Subquery(children.order_by(Right("path", Node.steplen).desc()).values("path")[:1])
    return {
        "_parent_path": Subquery(parent.values("path")),
        "_parent_depth": Subquery(parent.values("depth")),
        "_parent_numchild": Subquery(parent.values("numchild")),
        "_parent_last_child": Subquery(parent.annotate(last=last_child).values("last")),
    }


def _child_path(graph: DCCGraph, parent: Node) -> tuple[str, int]:
    """The new child's path and depth, from :func:`_parent_reads` (treebeard's
    ``add_child`` arithmetic); updates ``parent`` in memory as treebeard does."""
    path, depth, numchild = graph._parent_path, graph._parent_depth, graph._parent_numchild
    if path is None:
        raise Node.DoesNotExist(f"{parent} does not exist any more")
    last = graph._parent_last_child
    if numchild and last is not None:
        child_path = Node(path=last)._inc_path()
    else:
        child_path = Node._get_path(path, depth + 1, 1)
        if len(child_path) > Node._meta.get_field("path").max_length:
            raise PathOverflow(f"The new node is too deep in the tree: {len(child_path)} characters")
    parent.path, parent.depth, parent.numchild = path, depth, numchild + 1
    parent._clear_cached_attributes()
    return child_path, depth + 1


@cache
def _insert_child_statement(db: str) -> str | None:
    """The node, its parent's ``numchild`` and the backbone edge in one
    statement where the database can (PostgreSQL: data-modifying WITH)."""
    connection = connections[db]
    if connection.vendor != "postgresql":
        return None
    q = connection.ops.quote_name
    node, edge = q(Node._meta.db_table), q(Edge._meta.db_table)
    return (
        f"WITH child AS (INSERT INTO {node} ({q('graph_id')}, {q('path')}, {q('depth')}, {q('numchild')}) "
        f"VALUES (%s, %s, %s, 0) RETURNING {q('id')}), "
        f"parent AS (UPDATE {node} SET {q('numchild')} = {q('numchild')} + 1 WHERE {q('id')} = %s), "
        f"edge AS (INSERT INTO {edge} ({q('graph_id')}, {q('source_id')}, {q('target_id')}, {q('backbone')}) "
        f"SELECT %s, %s, child.{q('id')}, TRUE FROM child) "
        f"SELECT {q('id')} FROM child"
    )


def _add_child(
    graph: DCCGraph, parent: Node, data_kwargs: dict[str, Any], place: tuple[str, int] | None = None
) -> Node:
    """Insert a child of ``parent`` at ``place`` (path, depth): the node, the
    parent's ``numchild``, the backbone edge and the data (four statements;
    two on PostgreSQL, see :func:`_insert_child_statement`).
    Without ``place``, ``parent`` is this transaction's own up-to-date object
    whose children were all added in order (as in :func:`create_graph`)."""
    if place is None:
        place = (Node._get_path(parent.path, parent.depth + 1, parent.numchild + 1), parent.depth + 1)
        parent.numchild += 1
        parent._clear_cached_attributes()
    child = Node(graph=graph, path=place[0], depth=place[1], numchild=0)
    child._cached_parent_obj = parent
    db = router.db_for_write(Node, instance=parent)
    sql = _insert_child_statement(db)
    if sql is None or any(s.has_listeners(m) for s in (pre_save, post_save) for m in (Node, Edge)):
        Node.objects.filter(pk=parent.pk).update(numchild=F("numchild") + 1)
        child.save(force_insert=True)
        Edge.objects.create(graph=graph, source=parent, target=child, backbone=True)
    else:
        with connections[db].cursor() as cursor:
            cursor.execute(sql, [graph.pk, place[0], place[1], parent.pk, graph.pk, parent.pk])
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
    and set on the graph ``check`` gets.  Five statements where the lock
    reads too (SQLite), four on PostgreSQL (whose writes are two), six on
    MariaDB, plus what ``check`` queries.
    """
    with transaction.atomic():
        graph = _lock_for_edit(parent.graph_id, **_parent_reads(parent.pk), **(reads or {}))
        if check is not None:
            check(graph)
        return _add_child(graph, parent, data_kwargs, _child_path(graph, parent))


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


def _load(graph: DCCGraph) -> tuple[EdgeIndex, dict[int, int]]:
    rows = list(Edge.objects.filter(graph_id=graph.pk).values_list("source_id", "target_id", "backbone"))
    index = EdgeIndex(graph.root_id, ((s, t) for s, t, _ in rows))
    backbone_parent = {t: s for s, t, b in rows if b}
    return index, backbone_parent


def _move_to_last_child(graph: DCCGraph, node_id: int, parent_id: int) -> None:
    """Move ``node`` and its creation subtree to be ``parent``'s last child.

    treebeard's ``move`` finds the last child by ordering whole paths, which
    MariaDB/MySQL compare only up to ``max_sort_length``; this reads the
    target path as :func:`add_child` does, then rewrites the subtree's paths
    and depths in one statement (four in all)."""
    node = Node.objects.filter(pk=node_id).values("path", "depth").get()
    reads = Node.objects.filter(pk=parent_id).values(**_parent_reads(parent_id)).get()
    for name, value in reads.items():
        setattr(graph, name, value)
    parent = Node(pk=parent_id, graph_id=graph.pk)
    new_path, new_depth = _child_path(graph, parent)
    old_path = node["path"]
    if graph._parent_path.startswith(old_path):
        raise CannotRemove(f"Node {parent_id} is inside the subtree of node {node_id}")
    Node.objects.filter(graph_id=graph.pk, path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1), output_field=TextField()),
        depth=F("depth") + (new_depth - node["depth"]),
    )
    old_parent_path = old_path[: -Node.steplen]
    Node.objects.filter(graph_id=graph.pk, path=old_parent_path).update(numchild=F("numchild") - 1)
    Node.objects.filter(pk=parent_id).update(numchild=F("numchild") + 1)


def remove(node: Node) -> BaseNodeData:
    with transaction.atomic():
        graph = _lock_for_edit(node.graph_id)
        if node.pk == graph.root_id:
            raise CannotRemove(f"{node} is the root of its graph and cannot be removed", node=node)
        index, backbone_parent = _load(graph)
        if not index.can_remove(node.pk):
            raise CannotRemove(f"Removing {node} would disconnect part of the graph from its root", node=node)
        data = graph.data_class.objects.get(node_id=node.pk)
        for child_id, new_parent_id in rehome_plan(index, backbone_parent, node.pk):
            old_parent_id = backbone_parent[child_id]
            _move_to_last_child(graph, child_id, new_parent_id)
            Edge.objects.filter(source_id=old_parent_id, target_id=child_id).update(backbone=False)
            Edge.objects.filter(source_id=new_parent_id, target_id=child_id).update(backbone=True)
        Node.objects.filter(pk=node.pk).delete()
        return data


def prune(node: Node) -> list[BaseNodeData]:
    with transaction.atomic():
        graph = _lock_for_edit(node.graph_id)
        if node.pk == graph.root_id:
            raise CannotRemove(f"{node} is the root of its graph and cannot be pruned", node=node)
        index, _ = _load(graph)
        if node.pk not in index.nodes:
            raise CannotRemove(f"{node} is not in its graph any more", node=node)
        ids = index.prune_set(node.pk)
        found = {d.node_id: d for d in graph.data_class.objects.filter(node__graph_id=graph.pk, node_id__in=ids)}
        Node.objects.filter(graph_id=graph.pk, pk__in=ids).delete()
        return [found[i] for i in ids if i in found]


# -- bulk construction (clone, import) -----------------------------------
#
# A whole graph is written in a constant number of queries whatever its size:
# the materialized paths are computed here (the new graph's root path derives
# from its primary key, like create_graph), rows go in with one executemany()
# per table, and the node primary keys are read back by path in one query --
# MariaDB's bulk inserts do not return primary keys, so nothing relies on it.


def _insert_many(model: type[Any], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """One ``INSERT`` statement executed for every row (one logged query)."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table), ", ".join(quote(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


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
        graph = cls.objects.create(data_content_type=ContentType.objects.get_for_model(data_class))
        paths = [Node._get_path(None, 1, graph.pk)]
        depths = [1]
        numchild = [0] * len(parents)
        for index, parent in enumerate(parents[1:], start=1):
            if parent is None or parent >= index:
                raise ValueError(f"node {index}: its parent must come before it")
            numchild[parent] += 1
            paths.append(Node._get_path(paths[parent], depths[parent] + 1, numchild[parent]))
            depths.append(depths[parent] + 1)
        _insert_many(
            Node,
            ["graph_id", "path", "depth", "numchild"],
            [(graph.pk, path, depth, count) for path, depth, count in zip(paths, depths, numchild, strict=True)],
        )
        by_path = dict(Node.objects.filter(graph_id=graph.pk).order_by().values_list("path", "pk"))
        pks = [by_path[path] for path in paths]
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
    # Sorted here: the database may compare only a prefix of long paths.
    nodes = sorted(Node.objects.filter(graph_id=source.pk).order_by().values_list("pk", "path"), key=lambda n: n[1])
    skip = {"id", "node"}
    fields = [f.attname for f in data_class._meta.concrete_fields if not f.primary_key and f.name not in skip]
    values = {
        row["node_id"]: row for row in data_class.objects.filter(node__graph_id=source.pk).values("node_id", *fields)
    }
    rows = list(
        Edge.objects.filter(graph_id=source.pk).order_by("pk").values_list("source_id", "target_id", "backbone")
    )
    index = {pk: i for i, (pk, _) in enumerate(nodes)}
    by_path = {path: i for i, (_, path) in enumerate(nodes)}
    parents: list[int | None] = [
        None if i == 0 else by_path[path[: -Node.steplen]] for i, (_, path) in enumerate(nodes)
    ]
    data = [{f: values[pk][f] for f in fields} for pk, _ in nodes]
    links = [(index[s], index[t]) for s, t, backbone in rows if not backbone]
    graph, pks = bulk_create_graph(data_class, parents, data, links, cls=type(source))
    return graph, {pk: pks[i] for i, (pk, _) in enumerate(nodes)}
