"""``/nodes/{id}/``: one node of a flow, and the graph edits made from it.

Ids are :class:`~flowr.models.Node` primary keys.  Every edit goes through
the model layer (one transaction, the graph's row locked, the flow's rules
and frozen state checked under the lock), so a refusal changes nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from flowr import edits
from flowr.api.serializers import (
    AddChildSerializer,
    ConnectSerializer,
    EmptySerializer,
    NodeDetailSerializer,
    PruneResultSerializer,
)
from flowr.api.views.base import FlowrViewSet, document
from flowr.api.views.flows import CHANGE, VIEW
from flowr.models import Flow, FlowNodeData, Node
from flowr.readmodel import FlowGraph


class NodeViewSet(FlowrViewSet):
    """Nodes of flows (nodes of other graphs are not found)."""

    serializer_class = NodeDetailSerializer
    input_serializers = {"children": AddChildSerializer, "connect": ConnectSerializer, "prune": EmptySerializer}
    action_permissions = {
        "retrieve": [VIEW],
        "destroy": [CHANGE],
        "children": [CHANGE],
        "connect": [CHANGE],
        "prune": [CHANGE],
    }
    fallback_permissions = [CHANGE]

    def get_queryset(self) -> QuerySet[Node]:
        return Node.objects.filter(graph__flow__isnull=False)

    def flow_of(self, node: Node) -> Flow:
        return Flow.objects.select_related("rule_set", "state_graph").get(state_graph_id=node.graph_id)

    def node_data(self, node: Node) -> FlowNodeData:
        data = FlowNodeData.objects.get(node_id=node.pk)
        data.node = node
        return data

    def respond(self, flow: Flow, pk: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(FlowGraph.load(flow).node_detail(pk), status=code)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        """The node: rule, children, parents, allowed child rules, removal, prune list."""
        node = self.get_object()
        return self.respond(self.flow_of(node), node.pk)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Remove the node (0.2's ``Node.remove``); its children are re-attached."""
        edits.remove(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @document(request=AddChildSerializer, responses={201: NodeDetailSerializer})
    @action(detail=True, methods=["post"])
    def children(self, request: Request, pk: str | None = None) -> Response:
        """Add a new node with ``rule`` under this one; answers the new node."""
        node = self.get_object()
        data = self.input(AddChildSerializer)
        added = edits.add_child_rule(self.node_data(node), data["rule"])
        return self.respond(self.flow_of(node), added.node.pk, status.HTTP_201_CREATED)

    @document(request=ConnectSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def connect(self, request: Request, pk: str | None = None) -> Response:
        """Add an edge from this node to ``target`` (a node of the same flow)."""
        node = self.get_object()
        target: Node = self.input(ConnectSerializer)["target"]
        edits.refuse_other_flow(node, target)  # before the target's data: a node outside flows has none
        edits.connect_child(self.node_data(node), self.node_data(target))
        return self.respond(self.flow_of(node), node.pk)

    @document(request=None, responses=PruneResultSerializer)
    @action(detail=True, methods=["post"])
    def prune(self, request: Request, pk: str | None = None) -> Response:
        """Remove the node and everything it reaches without passing the root."""
        node = self.get_object()
        self.input(EmptySerializer)
        pruned = edits.prune(node)
        return Response({"removed": [data.node_id for data in pruned.data]})
