"""``/nodes/{id}/``: one node of a flow, and the graph edits made from it.

Ids are :class:`~flowr.models.Node` primary keys.  Every edit goes through
the edit service (one transaction, the graph's row locked, the flow's rules
and frozen state checked under the lock, the edit logged with the request's
user), so a refusal changes nothing.  Each edit takes an optional
``revision``: the graph document's revision it was made on (see
:func:`flowr.edits.acting`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from flowr import edits
from flowr.api.serializers import (
    AddChildSerializer,
    ChangeRuleSerializer,
    ConnectSerializer,
    DisconnectSerializer,
    InsertSerializer,
    NodeDetailSerializer,
    PruneResultSerializer,
    RevisionSerializer,
    SettingsSerializer,
)
from flowr.api.views.base import FlowrViewSet, document
from flowr.api.views.flows import CHANGE, VIEW
from flowr.exceptions import NotAChild
from flowr.models import Flow, FlowNodeData, Node
from flowr.readmodel import FlowGraph

REVISION_PARAMETER = OpenApiParameter(
    "revision",
    OpenApiTypes.INT,
    description="The flow revision the removal was made on (409 concurrent_edit when it conflicts).",
)


class NodeViewSet(FlowrViewSet):
    """Nodes of flows (nodes of other graphs are not found)."""

    serializer_class = NodeDetailSerializer
    input_serializers = {
        "children": AddChildSerializer,
        "connect": ConnectSerializer,
        "prune": RevisionSerializer,
        "disconnect": DisconnectSerializer,
        "insert": InsertSerializer,
        "rule": ChangeRuleSerializer,
        "node_settings": SettingsSerializer,
    }
    action_permissions = {
        "retrieve": [VIEW],
        "destroy": [CHANGE],
        "children": [CHANGE],
        "connect": [CHANGE],
        "prune": [CHANGE],
        "disconnect": [CHANGE],
        "insert": [CHANGE],
        "rule": [CHANGE],
        "node_settings": [CHANGE],
    }
    fallback_permissions = [CHANGE]

    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.filter(graph__flow__isnull=False)

    def given_revision(self) -> int | None:
        """The ``revision`` the request names (body, or the query for DELETE), if a valid one."""
        data = self.request.data if isinstance(self.request.data, dict) else {}
        value: Any = data.get("revision")
        if value is None and self.request.method == "DELETE":
            raw = self.request.query_params.get("revision")
            if raw is not None:
                if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
                    raise ValidationError({"revision": ["A valid integer is required."]})
                value = int(raw)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    def get_object(self) -> Node:
        try:
            node: Node = super().get_object()
            return node
        except Http404:
            pk = self.kwargs.get("pk", "")
            if str(pk).isascii() and str(pk).isdigit() and len(str(pk)) < 19:  # "²".isdigit() too
                conflict = edits.removed_by_edit(int(pk), self.given_revision())
                if conflict is not None:
                    raise conflict from None
            raise

    @contextmanager
    def editing(self) -> Iterator[None]:
        """Edits made inside are logged with the request's user and checked against its revision."""
        with edits.acting(self.request.user, revision=self.given_revision()):
            yield

    def flow_of(self, node: Node) -> Flow:
        return Flow.objects.select_related("rule_set", "state_graph").get(state_graph_id=node.graph_id)

    def node_data(self, node: Node) -> FlowNodeData:
        data = FlowNodeData.objects.get(node_id=node.pk)
        data.node = node
        return data

    def other_node(self, node: Node, pk: int) -> FlowNodeData:
        """The flow node ``pk`` of ``node``'s flow: when it is gone, 409 if an
        edit newer than the request's revision removed it, else 400 (not a child)."""
        data = FlowNodeData.objects.select_related("node").filter(node_id=pk, node__graph_id=node.graph_id).first()
        if data is None:
            conflict = edits.removed_by_edit(pk, self.given_revision())
            if conflict is not None:
                raise conflict
            raise NotAChild(f"Node {pk} is not a child of node {node.pk}.", node=node.pk, target=pk)
        return data

    def respond(self, flow: Flow, pk: int, code: int = status.HTTP_200_OK) -> Response:
        stored = FlowNodeData.objects.filter(node_id=pk).values_list("settings", flat=True).first()
        return Response(FlowGraph.load(flow).node_detail(pk, stored or {}), status=code)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        """The node: rule, children, parents, allowed child rules, removal, prune list, links and options."""
        node = self.get_object()
        return self.respond(self.flow_of(node), node.pk)

    @document(parameters=[REVISION_PARAMETER])
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Remove the node (0.2's ``Node.remove``); its children are re-attached."""
        node = self.get_object()
        with self.editing():
            edits.remove(node)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @document(request=AddChildSerializer, responses={201: NodeDetailSerializer})
    @action(detail=True, methods=["post"])
    def children(self, request: Request, pk: str | None = None) -> Response:
        """Add a new node with ``rule`` under this one; answers the new node."""
        node = self.get_object()
        data = self.input(AddChildSerializer)
        with self.editing():
            added = edits.add_child_rule(self.node_data(node), data["rule"])
        return self.respond(self.flow_of(node), added.node.pk, status.HTTP_201_CREATED)

    @document(request=ConnectSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, pk: str | None = None) -> Response:
        """Add an edge from this node to ``target`` (a node of the same flow)."""
        node = self.get_object()
        target: Node = self.input(ConnectSerializer)["target"]
        edits.refuse_other_flow(node, target)  # before the target's data: a node outside flows has none
        with self.editing():
            edits.connect_child(self.node_data(node), self.node_data(target))
        return self.respond(self.flow_of(node), node.pk)

    @document(request=RevisionSerializer, responses=PruneResultSerializer)
    @action(detail=True, methods=["post"])
    def prune(self, request: Request, pk: str | None = None) -> Response:
        """Remove the node and everything it reaches without passing the root."""
        node = self.get_object()
        self.input(RevisionSerializer)
        with self.editing():
            pruned = edits.prune(node)
        return Response({"removed": [data.node_id for data in pruned.data]})

    @document(request=DisconnectSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, pk: str | None = None) -> Response:
        """Delete the edge from this node to ``child`` (400 ``cannot_disconnect`` when a node would be cut off)."""
        node = self.get_object()
        data = self.input(DisconnectSerializer)
        with self.editing():
            child = self.other_node(node, data["child"])
            edits.disconnect(node, child.node)
        return self.respond(self.flow_of(node), node.pk)

    @document(request=InsertSerializer, responses={201: NodeDetailSerializer})
    @action(detail=True, methods=["post"])
    def insert(self, request: Request, pk: str | None = None) -> Response:
        """Put a new node of ``rule`` between this node and its child ``child``; answers the new node."""
        node = self.get_object()
        data = self.input(InsertSerializer)
        with self.editing():
            child = self.other_node(node, data["child"])
            added = edits.insert(self.node_data(node), child, data["rule"])
        return self.respond(self.flow_of(node), added.node.pk, status.HTTP_201_CREATED)

    @document(request=ChangeRuleSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def rule(self, request: Request, pk: str | None = None) -> Response:
        """Give the node the rule ``rule`` (it must follow every parent and allow every child)."""
        node = self.get_object()
        data = self.input(ChangeRuleSerializer)
        with self.editing():
            edits.change_rule(self.node_data(node), data["rule"])
        return self.respond(self.flow_of(node), node.pk)

    @document(request=SettingsSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["patch"], url_path="settings", url_name="settings")
    def node_settings(self, request: Request, pk: str | None = None) -> Response:
        """Change some of the node's settings (merged into the stored ones), validated
        by its rule's Settings form: 400 ``invalid_settings`` with ``problems`` by field."""
        node = self.get_object()
        data = self.input(SettingsSerializer)
        with self.editing():
            edits.set_settings(self.node_data(node), data["settings"], partial=True)
        return self.respond(self.flow_of(node), node.pk)
