"""The API's root and its OpenAPI schema.

The schema is served as YAML (default) or JSON (``?format=json``); DRF's
browsable API (any endpoint opened in a browser) is the interactive view, so
nothing is loaded from a CDN.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from flowr import __version__
from flowr.api.views.base import FlowrAPIMixin

ROOT_LINKS = {
    "rules": "rule-list",
    "rule-sets": "ruleset-list",
    "flows": "flow-list",
    "states": "state-list",
    "schema": "schema",
}


def only_flowr_endpoints(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: keep the endpoints of flowr's API."""
    return [
        endpoint
        for endpoint in endpoints
        if getattr(endpoint[3], "__module__", "").startswith("flowr.api.")
        and getattr(endpoint[3], "cls", None) not in (SchemaView, RootView)
    ]


SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "django-flowr API",
    "DESCRIPTION": (
        "Rules, rule sets, flows and their graphs, running States. Every error answers the Error schema: "
        '{"detail": str, "code": str}, with "errors" and "error_codes" per field when the code is invalid.'
    ),
    "VERSION": __version__,
    "PREPROCESSING_HOOKS": ["flowr.api.views.schema.only_flowr_endpoints"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "flowr.api.openapi.declare_errors"],
    "COMPONENT_SPLIT_REQUEST": True,
}


class FlowrPermissionless(FlowrAPIMixin):
    """Root and schema: any authenticated user."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()]


class SchemaView(FlowrPermissionless, SpectacularAPIView):
    """The OpenAPI 3 schema of flowr's API (YAML; JSON with ``?format=json``)."""

    renderer_classes = SpectacularAPIView.renderer_classes
    custom_settings = SCHEMA_SETTINGS


class RootView(FlowrPermissionless, APIView):
    """django-flowr's REST API."""

    schema = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        prefix = f"{namespace}:" if namespace else ""
        return Response(
            {key: reverse(prefix + name, request=request, kwargs=kwargs) for key, name in ROOT_LINKS.items()}
        )
