"""``/rule-sets/``: list, create, detail (with the rule graph), diagram."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from flowr import export
from flowr.api.openapi import DIAGRAM_RESPONSES
from flowr.api.serializers import RuleSetCreateSerializer, RuleSetDetailSerializer, RuleSetSerializer
from flowr.api.views.base import DiagramMixin, FlowrViewSet, document
from flowr.models import RuleSet

FORMAT_PARAMETER = OpenApiParameter(
    "format", str, OpenApiParameter.QUERY, enum=["dot", "mermaid"], description="Diagram language (default dot)."
)


class RuleSetViewSet(DiagramMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, FlowrViewSet):
    """Rule sets: a name and the root rule flows start from."""

    queryset = RuleSet.objects.all()
    serializer_class = RuleSetSerializer
    action_permissions = {
        "list": ["flowr.view_ruleset"],
        "retrieve": ["flowr.view_ruleset"],
        "diagram": ["flowr.view_ruleset"],
        "create": ["flowr.add_ruleset"],
    }
    fallback_permissions = ["flowr.change_ruleset"]

    input_serializers = {"create": RuleSetCreateSerializer}

    def get_serializer_class(self) -> type[Any]:
        if self.action == "retrieve":
            return RuleSetDetailSerializer
        return super().get_serializer_class()

    @document(request=RuleSetCreateSerializer, responses={201: RuleSetDetailSerializer})
    def create(self, request: Request) -> Response:
        data = self.input(RuleSetCreateSerializer)
        rule_set = RuleSet.factory(data["name"], data["root_rule"])
        return Response(RuleSetDetailSerializer(rule_set).data, status=status.HTTP_201_CREATED)

    @document(parameters=[FORMAT_PARAMETER], responses=DIAGRAM_RESPONSES)
    @action(detail=True, methods=["get"])
    def diagram(self, request: Request, pk: str | None = None) -> Response:
        """The rule graph as Graphviz DOT or Mermaid text."""
        rule_set = self.get_object()
        if self.diagram_format() == "mermaid":
            return Response(export.rule_set_to_mermaid(rule_set))
        return Response(export.rule_set_to_dot(rule_set))
