"""Read-only admins for graphs, nodes and node data."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import InvalidPage, Paginator
from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr import rules as rule_registry
from flowr.admin.common import ReadOnlyAdmin, count_of, reverse_or_none
from flowr.conf import settings as flowr_settings
from flowr.forms import rule_display
from flowr.graphwalk import Tree, backbone_root, tree_order
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node


class InternalTable:
    """An admin of flowr's internal tables: off the admin index unless
    ``FLOWR["ADMIN_SHOW_INTERNALS"]`` is true (the pages stay reachable)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        if not flowr_settings.ADMIN_SHOW_INTERNALS:
            return False
        return cast(bool, super().has_module_permission(request))  # type: ignore[misc]


def graph_text(graph: DCCGraph) -> str:
    """A graph as the admin names it: its id and its flow, if any."""
    flow = getattr(graph, "flow", None)
    return f"graph {graph.pk} (flow {flow})" if flow is not None else f"graph {graph.pk}"


class FlowFilter(admin.SimpleListFilter):
    """Filter graph rows by the flow that owns their graph."""

    title = gettext_lazy("flow")
    parameter_name = "flow"
    graph_lookup = "node__graph_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(graph), str(flow)) for graph, flow in ((f.state_graph_id, f) for f in Flow.objects.all())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{self.graph_lookup: int(value)})
        return queryset


class NodeFlowFilter(FlowFilter):
    graph_lookup = "graph_id"


def _trees(graph_ids: set[int]) -> dict[int, Tree]:
    """The backbone trees of these graphs, from their backbone edges (one query)."""
    edges: dict[int, list[tuple[int, int]]] = {g: [] for g in graph_ids}
    rows = Edge.objects.filter(graph_id__in=graph_ids, backbone=True).order_by("pk")
    for graph, source, target in rows.values_list("graph_id", "source_id", "target_id"):
        edges[graph].append((source, target))
    trees = {}
    for graph, backbone in edges.items():
        root = backbone_root((s for s, _ in backbone), backbone)
        if root is not None:
            trees[graph] = tree_order(root, backbone)
    return trees


class TreeChangeList(ChangeList):
    """Rows of graph nodes, indented by their depth in the backbone.

    Filtered by one flow, the rows are that flow's nodes in tree order (a
    page is a slice of the tree, worked out in memory from the backbone
    edges, which also count the rows); otherwise by graph and creation.
    Constant queries per page: the count, the backbone edges of the page's
    graphs, the page's rows (and the unfiltered count only when a filter is
    active).
    """

    def get_results(self, request: HttpRequest) -> None:
        # only TreeAdmin.get_changelist hands out this changelist
        admin_ = cast("TreeAdmin", self.model_admin)
        graph_id = admin_.filtered_graph(request)
        node_of, graph_of = admin_.node_of, admin_.graph_of
        if graph_id is None:
            trees: dict[int, Tree] = {}
            paginator = admin_.get_paginator(request, self.queryset, self.list_per_page)
        else:  # the flow filter is the only one: its tree is the rows, and counts them
            trees = _trees({graph_id})
            order = trees[graph_id].order if graph_id in trees else []
            paginator = Paginator(order, self.list_per_page)
        result_count = paginator.count
        if not admin_.show_full_result_count:
            full_result_count = None
        elif self.has_active_filters or self.query:
            full_result_count = self.root_queryset.count()
        else:  # nothing filters the rows: the same count
            full_result_count = result_count
        self.can_show_all = result_count <= self.list_max_show_all
        self.multi_page = result_count > self.list_per_page
        show_all = (self.show_all and self.can_show_all) or not self.multi_page
        try:
            page = paginator.object_list if show_all else paginator.page(self.page_num).object_list
        except InvalidPage as exc:
            raise IncorrectLookupParameters from exc
        if graph_id is None:
            rows = list(page)
            trees = _trees({graph_of(obj) for obj in rows})
        else:
            key = "pk" if self.model is Node else "node_id"
            found = {node_of(obj): obj for obj in self.queryset.order_by().filter(**{f"{key}__in": list(page)})}
            rows = [found[pk] for pk in page if pk in found]
        for obj in rows:
            tree = trees.get(graph_of(obj))
            obj._depth = tree.depth.get(node_of(obj), 1) if tree is not None else 1
        self.result_count = result_count
        self.show_full_result_count = admin_.show_full_result_count
        self.show_admin_actions = not self.show_full_result_count or bool(full_result_count)
        self.full_result_count = full_result_count
        self.result_list = rows
        self.paginator = paginator


class TreeAdmin(ReadOnlyAdmin):
    """A read-only admin of rows that stand for graph nodes, shown as a tree."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TreeChangeList

    def filtered_graph(self, request: HttpRequest) -> int | None:
        value = request.GET.get(FlowFilter.parameter_name, "")
        return int(value) if value.isdigit() else None

    @staticmethod
    def node_of(obj: Node | FlowNodeData) -> int:
        return obj.pk if isinstance(obj, Node) else obj.node_id

    @staticmethod
    def graph_of(obj: Node | FlowNodeData) -> int:
        return obj.graph_id if isinstance(obj, Node) else obj.node.graph_id

    @staticmethod
    def indent(obj: Any) -> int:
        return (getattr(obj, "_depth", 1) - 1) * 2


@admin.register(FlowNodeData)
class FlowNodeDataAdmin(InternalTable, TreeAdmin):
    list_display = ["node_id", "tree_rule", "flow_name", "children"]
    list_filter = [FlowFilter]
    list_select_related = ["node", "node__graph__flow"]
    ordering = ["node__graph_id", "node_id"]
    fields = readonly_fields = ("node", "rule_text", "flow_name", "settings", "edit_screen")

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowNodeData]:
        edges = Edge.objects.filter(source_id=OuterRef("node_id"))
        queryset: QuerySet[FlowNodeData] = super().get_queryset(request)
        return queryset.annotate(_children=count_of(edges, "source_id"))

    @admin.display(description=gettext_lazy("rule (tree order)"))
    def tree_rule(self, obj: FlowNodeData) -> str:
        return format_html('<span style="padding-left: {}em">{}</span>', self.indent(obj), rule_display(obj.rule_label))

    @admin.display(description=gettext_lazy("rule"))
    def rule_text(self, obj: FlowNodeData) -> str:
        return rule_display(obj.rule_label)

    @admin.display(description=gettext_lazy("flow"))
    def flow_name(self, obj: FlowNodeData) -> str:
        flow = getattr(obj.node.graph, "flow", None)
        return str(flow) if flow else "—"

    @admin.display(description=gettext_lazy("children"))
    def children(self, obj: FlowNodeData) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset

    @admin.display(description=gettext_lazy("edit screen"))
    def edit_screen(self, obj: FlowNodeData) -> str:
        rule = rule_registry.get_rule(obj.rule_label)
        url = reverse_or_none("flowr:node_edit_screen", obj.node_id)
        if rule is None or not rule.has_edit_screen or url is None:
            return "—"
        return format_html('<a href="{}">{}</a>', url, _("%(rule)s's edit screen") % {"rule": rule.verbose_name})


@admin.register(Node)
class NodeAdmin(InternalTable, TreeAdmin):
    list_display = ["id", "tree_node", "graph_text", "depth", "children_count"]
    list_filter = [NodeFlowFilter]
    list_select_related = ["graph__flow", "flownodedata"]
    ordering = ["graph_id", "id"]
    fields = readonly_fields = ("graph_text", "depth", "data_text")

    @admin.display(description="graph")
    def graph_text(self, obj: Node) -> str:
        """``graph 3 (flow Support tickets)``: readable, where the model's 0.2 ``str`` is ``DCCGraph(id=3)``."""
        return graph_text(obj.graph)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Node]:
        edges = Edge.objects.filter(source_id=OuterRef("pk"))
        queryset: QuerySet[Node] = super().get_queryset(request)
        return queryset.annotate(_children=count_of(edges, "source_id"))

    def _data_text(self, obj: Node) -> str:
        data = getattr(obj, "flownodedata", None)
        return rule_display(data.rule_label) if data is not None else _("node %(id)s") % {"id": obj.pk}

    @admin.display(description=gettext_lazy("node (tree order)"))
    def tree_node(self, obj: Node) -> str:
        return format_html('<span style="padding-left: {}em">{}</span>', self.indent(obj), self._data_text(obj))

    @admin.display(description=gettext_lazy("depth"))
    def depth(self, obj: Node) -> int:
        """In the backbone, from 1 at the root (worked out per page; one
        query on a single node's page)."""
        found = getattr(obj, "_depth", None)
        if found is None:
            found = _trees({obj.graph_id}).get(obj.graph_id, Tree(obj.pk, [])).depth.get(obj.pk, 1)
        return found

    @admin.display(description=gettext_lazy("data"))
    def data_text(self, obj: Node) -> str:
        try:
            return self._data_text(obj) if hasattr(obj, "flownodedata") else str(obj.data)
        except Exception:  # a data row of a model that is gone: still show the page
            return "—"

    @admin.display(description=gettext_lazy("children"))
    def children_count(self, obj: Node) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset


@admin.register(DCCGraph)
class DCCGraphAdmin(InternalTable, ReadOnlyAdmin):
    list_display = ["id", "data_content_type", "root_text", "node_count", "flow_name"]
    list_select_related = ["data_content_type", "root__flownodedata", "flow"]
    fields = readonly_fields = ("data_content_type", "root_text", "flow_name")

    @admin.display(description="root")
    def root_text(self, obj: DCCGraph) -> str:
        root = obj.root
        if root is None:
            return "—"
        data = getattr(root, "flownodedata", None)
        return f"#{root.pk} {rule_display(data.rule_label)}" if data is not None else f"node {root.pk}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[DCCGraph]:
        nodes = Node.objects.filter(graph_id=OuterRef("pk"))
        queryset: QuerySet[DCCGraph] = super().get_queryset(request)
        return queryset.annotate(_node_count=count_of(nodes, "graph_id"))

    @admin.display(description=gettext_lazy("nodes"))
    def node_count(self, obj: DCCGraph) -> int:
        return obj._node_count  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset

    @admin.display(description=gettext_lazy("flow"))
    def flow_name(self, obj: DCCGraph) -> str:
        flow = getattr(obj, "flow", None)
        return str(flow) if flow else "—"
