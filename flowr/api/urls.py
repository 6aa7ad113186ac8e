"""The API's URLs, included by ``flowr.urls`` at ``api/`` (names ``flowr:api:<name>``)."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from flowr.api.views.flows import FlowViewSet
from flowr.api.views.nodes import NodeViewSet
from flowr.api.views.rule_sets import RuleSetViewSet
from flowr.api.views.rules import RuleViewSet
from flowr.api.views.schema import RootView, SchemaView
from flowr.api.views.states import StateViewSet
from flowr.api.views.unknown import not_found

app_name = "api"

router = SimpleRouter()
router.register("rules", RuleViewSet, basename="rule")
router.register("rule-sets", RuleSetViewSet, basename="ruleset")
router.register("flows", FlowViewSet, basename="flow")
router.register("nodes", NodeViewSet, basename="node")
router.register("states", StateViewSet, basename="state")

urlpatterns = [
    path("", RootView.as_view(), name="root"),
    path("schema/", SchemaView.as_view(), name="schema"),
    *router.urls,
    # anything else under the API answers JSON, not the site's HTML 404 page
    re_path(r"^.*$", not_found, name="not-found"),
]
