"""Read-only admins for graphs, nodes and node data."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from flowr import rules as rule_registry
from flowr.admin.common import ReadOnlyAdmin, count_of, reverse_or_none
from flowr.forms import rule_display
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node


class FlowFilter(admin.SimpleListFilter):
    """Filter graph rows by the flow that owns their graph."""

    title = "flow"
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


@admin.register(FlowNodeData)
class FlowNodeDataAdmin(ReadOnlyAdmin):
    list_display = ["node_id", "tree_rule", "flow_name", "children"]
    list_filter = [FlowFilter]
    list_select_related = ["node", "node__graph__flow"]
    ordering = ["node__graph_id", "node__path"]
    fields = ["node", "rule_text", "flow_name", "edit_screen"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowNodeData]:
        edges = Edge.objects.filter(source_id=OuterRef("node_id"))
        return super().get_queryset(request).annotate(_children=count_of(edges, "source_id"))

    @admin.display(description="rule (tree order)")
    def tree_rule(self, obj: FlowNodeData) -> str:
        return format_html(
            '<span style="padding-left: {}em">{}</span>', (obj.node.depth - 1) * 2, rule_display(obj.rule_label)
        )

    @admin.display(description="rule")
    def rule_text(self, obj: FlowNodeData) -> str:
        return rule_display(obj.rule_label)

    @admin.display(description="flow")
    def flow_name(self, obj: FlowNodeData) -> str:
        flow = getattr(obj.node.graph, "flow", None)
        return str(flow) if flow else "—"

    @admin.display(description="children")
    def children(self, obj: FlowNodeData) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="edit screen")
    def edit_screen(self, obj: FlowNodeData) -> str:
        rule = rule_registry.get_rule(obj.rule_label)
        url = reverse_or_none("flowr:node_edit_screen", obj.node_id)
        if rule is None or not rule.has_edit_screen or url is None:
            return "—"
        return format_html('<a href="{}">{}</a>', url, f"{rule.name}'s edit screen")


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ["id", "tree_node", "graph", "depth", "children_count"]
    list_filter = [NodeFlowFilter]
    list_select_related = ["graph", "flownodedata"]
    ordering = ["graph_id", "path"]
    fields = ["graph", "depth", "data_text"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Node]:
        edges = Edge.objects.filter(source_id=OuterRef("pk"))
        return super().get_queryset(request).annotate(_children=count_of(edges, "source_id"))

    def _data_text(self, obj: Node) -> str:
        data = getattr(obj, "flownodedata", None)
        return rule_display(data.rule_label) if data is not None else f"node {obj.pk}"

    @admin.display(description="node (tree order)")
    def tree_node(self, obj: Node) -> str:
        return format_html('<span style="padding-left: {}em">{}</span>', (obj.depth - 1) * 2, self._data_text(obj))

    @admin.display(description="data")
    def data_text(self, obj: Node) -> str:
        try:
            return self._data_text(obj) if hasattr(obj, "flownodedata") else str(obj.data)
        except Exception:  # a data row of a model that is gone: still show the page
            return "—"

    @admin.display(description="children")
    def children_count(self, obj: Node) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]


@admin.register(DCCGraph)
class DCCGraphAdmin(ReadOnlyAdmin):
    list_display = ["id", "data_content_type", "root", "node_count", "flow_name"]
    list_select_related = ["data_content_type", "root", "flow"]
    fields = ["data_content_type", "root", "flow_name"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[DCCGraph]:
        nodes = Node.objects.filter(graph_id=OuterRef("pk"))
        return super().get_queryset(request).annotate(_node_count=count_of(nodes, "graph_id"))

    @admin.display(description="nodes")
    def node_count(self, obj: DCCGraph) -> int:
        return obj._node_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="flow")
    def flow_name(self, obj: DCCGraph) -> str:
        flow = getattr(obj, "flow", None)
        return str(flow) if flow else "—"
