"""The directed, connected, cyclic graph (0.2's ``DCCGraph``).

Storage: every edge is an :class:`Edge` row -- creation-tree ("backbone":
each non-root node has exactly one, from the node it was created under) or
made by :meth:`Node.connect_child` ("link": loops and joins).  The backbone
is those rows, nothing else: tree order and depth are worked out in memory
(:class:`flowr.graphwalk.Tree`), so a node row is two integers at any depth;
``Node.children`` / ``Node.parents`` are the many-to-many managers through
it.  Traversals load a graph's edges in one query and walk them in memory
(:mod:`flowr.graphwalk`).  All writes go through the edit service, :mod:`flowr.edits`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from django.contrib.contenttypes.models import ContentType
from django.db import models, router
from django.db.models import FilteredRelation, Q
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flowr import edits
from flowr.db import tricks
from flowr.exceptions import InvalidDataClass
from flowr.graphwalk import EdgeIndex, Tree, backbone_root, tree_order

M = TypeVar("M", bound=models.Model)
P = ParamSpec("P")
R = TypeVar("R")


#: Pause Python's cyclic garbage collector while a big graph is loaded (see
#: :func:`flowr.db.tricks.collector_paused`, the ``pause_collector`` trick).
_collector_paused = tricks.collector_paused


def _collector_paused_in(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` with :func:`_collector_paused`."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _collector_paused():
            return method(*args, **kwargs)

    return wrapper


def _rows_as_instances(model: type[M], db: str, names: list[str], rows: Iterable[tuple[Any, ...]]) -> list[M]:
    """Rows (values of ``names``, the model's concrete fields) as instances,
    as ``model.from_db()`` makes them -- but fast.

    Instances are made the way unpickling makes them (``__new__`` and the
    field values), not through ``Model.__init__``, which is most of the cost
    of a large graph's load.  The result is the same: every concrete field
    set, ``_state`` saying "from this database".  When a ``pre_init`` or
    ``post_init`` receiver listens for the model, ``from_db()`` is used.
    """
    if not tricks.on.no_model_init or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return [model.from_db(db, names, values) for values in rows]
    new = model.__new__
    result = []
    for values in rows:
        obj = new(model)
        obj.__dict__.update(zip(names, values, strict=True))
        state = obj._state = ModelState()
        state.adding = False
        state.db = db
        result.append(obj)
    return result


def _instances(queryset: models.QuerySet[M]) -> list[M]:
    """The queryset's rows as model instances, loaded fast (see
    :func:`_rows_as_instances`)."""
    model = queryset.model
    names = [field.attname for field in model._meta.concrete_fields]
    return _rows_as_instances(model, queryset.db, names, queryset.values_list(*names))


def tree_rows(graph: DCCGraph, names: tuple[str, ...] = ()) -> tuple[Tree, dict[int, tuple[Any, ...]]]:
    """The graph's backbone tree and each node's ``names`` values, in one query.

    Each node row comes with the backbone edge that points at it (a LEFT
    JOIN: the root has none), which is all the tree needs.
    """
    rows = (
        Node.objects.filter(graph_id=graph.pk)
        .annotate(_up=FilteredRelation("in_edges", condition=Q(in_edges__backbone=True)))
        .order_by()
        .values_list("pk", "_up__pk", "_up__source_id", *names)
    )
    values: dict[int, tuple[Any, ...]] = {}
    backbone = []
    for pk, edge, parent, *rest in rows:
        values[pk] = tuple(rest)
        if edge is not None:
            backbone.append((edge, parent, pk))
    backbone.sort()
    pairs = [(parent, pk) for _, parent, pk in backbone]
    root = graph.root_id if graph.root_id is not None else backbone_root(values, pairs)
    tree = tree_order(root if root in values else 0, pairs)
    if tree.order == [0]:  # no nodes (yet)
        tree.order = []
    return tree, values


class DCCGraph(models.Model):
    """A directed, connected, cyclic graph with one root.

    Every node is reachable from the root; each node carries one data object
    of the graph's data class (a :class:`BaseNodeData` subclass).
    """

    data_content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    root = models.ForeignKey("flowr.Node", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("graph")
        verbose_name_plural = _("graphs")

    def __str__(self) -> str:
        return gettext("graph %(id)s") % {"id": self.pk}

    @property
    def data_class(self) -> type[BaseNodeData]:
        return ContentType.objects.get_for_id(self.data_content_type_id).model_class()  # type: ignore[return-value]

    @classmethod
    def factory(cls, data_class: type[BaseNodeData], **root_kwargs: Any) -> DCCGraph:
        """Create a graph, its root node and the root's data object.

        :param data_class: a concrete :class:`BaseNodeData` subclass
        :param root_kwargs: fields of the root's data object
        :raises InvalidDataClass: when ``data_class`` is not one
        """
        check_data_class(data_class)
        return edits.create_graph(cls, data_class, root_kwargs, [])

    @classmethod
    def factory_from_graph(
        cls, data_class: type[BaseNodeData], root_kwargs: dict[str, Any], children: Iterable[Any]
    ) -> DCCGraph:
        """Create a graph from nested ``(kwargs, children)`` pairs.

        Example: ``factory_from_graph(Label, {"name": "A"}, [({"name": "B"},
        []), ({"name": "C"}, [])])`` creates A with children B and C.
        """
        check_data_class(data_class)
        return edits.create_graph(cls, data_class, root_kwargs, children)

    @_collector_paused_in
    def edge_index(self) -> EdgeIndex:
        """The graph's adjacency, loaded in one query."""
        return EdgeIndex(
            self.root_id or 0, list(Edge.objects.filter(graph_id=self.pk).values_list("source_id", "target_id"))
        )

    def find_nodes(self, **data_filters: Any) -> models.QuerySet[Node]:
        """Nodes of this graph whose data object matches ``data_filters``.

        0.2 searched every graph; this is scoped to this one.
        """
        data_class = self.data_class
        link = cast("models.OneToOneField[Any, Any]", data_class._meta.get_field("node"))
        prefix = link.related_query_name()
        lookups = {f"{prefix}__{key}": value for key, value in data_filters.items()}
        return Node.objects.filter(graph_id=self.pk, **lookups)

    @_collector_paused_in
    def load_nodes(self, with_data: bool = True) -> list[Node]:
        """All nodes in tree order, their ``data`` filled in (two queries)."""
        names = [field.attname for field in Node._meta.concrete_fields]
        tree, values = tree_rows(self, tuple(names[1:]))
        db = router.db_for_read(Node)
        nodes = _rows_as_instances(Node, db, names, [(pk, *values[pk]) for pk in tree.order])
        for node in nodes:
            node._graph_cache = self
        if with_data:
            data_class = self.data_class
            link = data_class._meta.get_field("node")
            rows = _instances(data_class._default_manager.filter(node__graph_id=self.pk).order_by())
            by_node = {data.node_id: data for data in rows}
            for node in nodes:
                data = by_node.get(node.pk)
                if data is not None:  # what ``data.node = node`` caches, without the setter's checks
                    link.set_cached_value(data, node)
                    link.remote_field.set_cached_value(node, data)
                node._data_cache = data
        return nodes

    @_collector_paused_in
    def cytoscape_json(self, extra_fields: Callable[[Node], dict[str, Any]] | None = None) -> str:
        """The graph as cytoscape.js elements (0.2's format), as a string.

        Each node's ``data`` holds ``id`` (``n<pk>``) plus what
        ``extra_fields(node)`` returns; each edge's holds ``id``
        (``e<src>_<dst>``), ``source`` and ``target``.  Three queries; two
        without ``extra_fields`` (no node objects are made then).
        """
        elements: dict[str, list[dict[str, Any]]] = {"nodes": [], "edges": []}
        if extra_fields is None:  # the ids are all it needs: no node objects
            elements["nodes"] = [{"data": {"id": f"n{pk}"}} for pk in tree_rows(self)[0].order]
        else:
            elements["nodes"] = [{"data": {"id": f"n{node.pk}", **extra_fields(node)}} for node in self.load_nodes()]
        for source, target in (
            Edge.objects.filter(graph_id=self.pk).order_by("pk").values_list("source_id", "target_id")
        ):
            elements["edges"].append(
                {"data": {"id": f"e{source}_{target}", "source": f"n{source}", "target": f"n{target}"}}
            )
        return json.dumps(elements)


def check_data_class(data_class: object) -> None:
    if not (isinstance(data_class, type) and issubclass(data_class, BaseNodeData) and not data_class._meta.abstract):
        raise InvalidDataClass(f"{data_class!r} is not a concrete BaseNodeData subclass", data_class=data_class)


class Node(models.Model):
    """One node of a :class:`DCCGraph`.

    ``children`` and ``parents`` are related managers over every edge.  The
    node row holds nothing about its place in the tree: that is its backbone
    edge (see :func:`tree_rows`), so the row's size does not grow with depth.
    """

    graph = models.ForeignKey(DCCGraph, on_delete=models.CASCADE, related_name="nodes")
    # set by graph loads and edits (not fields): the node's data object and graph
    _data_cache: BaseNodeData | None
    _graph_cache: DCCGraph
    children = models.ManyToManyField(
        "self",
        through="flowr.Edge",
        through_fields=("source", "target"),
        symmetrical=False,
        related_name="parents",
        blank=True,
    )

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("nodes")

    def __str__(self) -> str:
        return gettext("node #%(id)s") % {"id": self.pk}

    # -- graph and data -------------------------------------------------
    def _get_graph(self) -> DCCGraph:
        cached = getattr(self, "_graph_cache", None)
        if cached is None or cached.pk != self.graph_id:
            cached = self.graph
            self._graph_cache = cached
        return cached

    @property
    def data(self) -> BaseNodeData:
        """The data object of this node (cached after the first read)."""
        cached = getattr(self, "_data_cache", None)
        if cached is None:
            data_class = self._get_graph().data_class
            cached = data_class._default_manager.get(node_id=self.pk)
            cached.node = self
            self._data_cache = cached
        return cast(BaseNodeData, cached)

    def is_root(self) -> bool:
        """Whether this is its graph's root: no query when the graph is cached."""
        return self.pk is not None and self.pk == self._get_graph().root_id

    def _index(self) -> EdgeIndex:
        return self._get_graph().edge_index()

    def _nodes(self, ids: Iterable[int]) -> list[Node]:
        """The nodes with these pks, in this order (one query, no sort in SQL)."""
        ids = list(ids)
        if not ids:
            return []
        if len(ids) <= 500:
            query = Node.objects.filter(pk__in=ids)
        else:  # one scan of the graph beats a huge IN list
            query = Node.objects.filter(graph_id=self.graph_id)
        by_id = {node.pk: node for node in _instances(query.order_by())}
        result = [by_id[i] for i in ids if i in by_id]
        graph = getattr(self, "_graph_cache", None)
        if graph is not None:
            for node in result:
                node._graph_cache = graph
        return result

    # -- 0.2 traversals (constant queries, no recursion) -----------------
    @_collector_paused_in
    def ancestors(self) -> list[Node]:
        """Every node from which this one can be reached (not itself)."""
        return self._nodes(sorted(self._index().ancestors(self.pk)))

    @_collector_paused_in
    def ancestors_root(self) -> list[Node]:
        """Like :meth:`ancestors`, but never passing through the root."""
        return self._nodes(sorted(self._index().ancestors_root(self.pk)))

    @_collector_paused_in
    def descendents(self) -> list[Node]:
        """Every node reachable from this one (not itself)."""
        return self._nodes(sorted(self._index().descendents(self.pk)))

    @_collector_paused_in
    def descendents_root(self) -> list[Node]:
        """Like :meth:`descendents`; the root is listed, never passed."""
        return self._nodes(sorted(self._index().descendents_root(self.pk)))

    @_collector_paused_in
    def can_remove(self) -> bool:
        """True exactly when the graph stays connected without this node."""
        if self.is_root():
            return False
        return self._index().can_remove(self.pk)

    @_collector_paused_in
    def prune_list(self) -> list[Node]:
        """This node plus what it reaches without passing the root."""
        if self.is_root():
            return []
        return self._nodes(self._index().prune_set(self.pk))

    # -- 0.2 mutations -----------------------------------------------------
    def add_child(self, **data_kwargs: Any) -> Node:
        """Create a node (and its data object) as a child of this one."""
        return edits.add_child(self, data_kwargs).node

    def connect_child(self, node: Node) -> None:
        """Add an edge from this node to an existing node of its graph."""
        edits.connect(self, node)

    def remove(self) -> BaseNodeData:
        """Remove this node (and its data); return the data object.

        :raises CannotRemove: unless :meth:`can_remove`
        """
        return edits.remove(self).data

    def prune(self) -> list[BaseNodeData]:
        """Remove :meth:`prune_list`; return their data objects."""
        return edits.prune(self).data


class Edge(models.Model):
    """One edge of a graph: creation tree ("backbone") or link."""

    graph = models.ForeignKey(DCCGraph, on_delete=models.CASCADE, related_name="edges")
    # No index of its own: the unique (source, target) starts with it.
    source = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="out_edges", db_index=False)
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="in_edges")
    backbone = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("edge")
        verbose_name_plural = _("edges")
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="flowr_edge_unique")]

    def __str__(self) -> str:
        kind = gettext("backbone") if self.backbone else gettext("link")
        return f"#{self.source_id} -> #{self.target_id} ({kind})"


class BaseNodeData(models.Model):
    """Abstract model: the data carried by one node of a graph."""

    node = models.OneToOneField(Node, on_delete=models.CASCADE)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__}(id={self.pk})"

    @property
    def graph(self) -> DCCGraph:
        return self.node._get_graph()
