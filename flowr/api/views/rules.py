"""``/rules/``: the Rule classes the project defines."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from flowr import rules as rule_registry
from flowr.api.serializers import RuleSerializer
from flowr.api.views.base import FlowrViewSet, document


class RuleViewSet(FlowrViewSet):
    """Every Rule class of the installed apps, sorted by label."""

    serializer_class = RuleSerializer
    action_permissions = {"list": ["flowr.view_ruleset"]}
    fallback_permissions = ["flowr.view_ruleset"]

    def get_queryset(self) -> Any:
        return rule_registry.all_rules()

    @document(responses=RuleSerializer(many=True))
    def list(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), RuleSerializer)
