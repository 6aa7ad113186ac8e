"""What every flowr API view shares, independent of the project's DRF settings.

Authentication, permissions, parsing, rendering, pagination and error
handling are set here, on flowr's own views, so that a project's
``REST_FRAMEWORK`` settings neither are needed nor change flowr's behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.encoding import smart_str
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.metadata import BaseMetadata, SimpleMetadata
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.utils import formatting
from rest_framework.versioning import BaseVersioning
from rest_framework.views import APIView

from flowr.api import authentication, params
from flowr.api.exceptions import flowr_exception_handler
from flowr.api.openapi import FlowrAutoSchema
from flowr.api.pagination import FlowrPagination
from flowr.api.parsers import FlowrJSONParser
from flowr.api.permissions import edit_permission_classes, state_permission_classes
from flowr.api.renderers import DotRenderer, FlowrBrowsableAPIRenderer, MermaidRenderer

_ROLE = re.compile(r":[a-z]+:`~?(?:[^`<]*<)?([^`>]+)>?`")
_LITERAL = re.compile(r"``(.+?)``", re.S)


def rest_to_text(text: str) -> str:
    """reST markup of a docstring as plain words: ````x```` -> ``x``,
    ``:class:`~a.B``` -> ``B``, ``:meth:`a.b``` -> ``a.b``."""

    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        return target.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))


if TYPE_CHECKING:
    from rest_framework.generics import BaseFilterProtocol

    # the mixins are typed as what they are mixed into, so their super() calls check
    _APIViewBase = APIView
    _ViewSetBase = viewsets.GenericViewSet
else:
    _APIViewBase = _ViewSetBase = object


def document(**kwargs: Any) -> Callable[[Any], Any]:
    """drf-spectacular's ``extend_schema`` for a view method.

    Without a project-wide ``DEFAULT_SCHEMA_CLASS`` setting, ``extend_schema``
    would extend DRF's own AutoSchema; flowr's views use drf-spectacular's
    (:class:`~flowr.api.openapi.FlowrAutoSchema`).
    """

    def decorator(method: Any) -> Any:
        method.schema = FlowrAutoSchema
        return extend_schema(**kwargs)(method)

    return decorator


class FlowrNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, except for diagrams: ``?format=`` picks the
    language (default ``dot``) and an unknown one is bad input, not a 404."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        view = request.parser_context.get("view") if request.parser_context else None
        if getattr(view, "action", None) != "diagram":
            return super().select_renderer(request, renderers, format_suffix)
        given = params.single(request.query_params, "format")  # given twice: a 400
        wanted = format_suffix or ("dot" if given is None else given)
        for renderer in renderers:
            if renderer.format == wanted:
                return renderer, renderer.media_type
        choices = ", ".join(r.format for r in renderers)
        raise ValidationError(
            {"format": [_("Choose one of %(choices)s, not %(wanted)r.") % {"choices": choices, "wanted": wanted}]}
        )


class FlowrAPIMixin(_APIViewBase):
    """Policies of every flowr API view."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, FlowrBrowsableAPIRenderer]
    parser_classes: Sequence[type[BaseParser]] = [FlowrJSONParser]
    content_negotiation_class: type[BaseContentNegotiation] = FlowrNegotiation
    metadata_class: str | type[BaseMetadata] | None = SimpleMetadata
    versioning_class: type[BaseVersioning] | None = None
    pagination_class: type[BasePagination] | None = FlowrPagination
    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol[Any]]] = []
    schema: ViewInspector | None = FlowrAutoSchema()

    #: which permission setting applies: "edit" or "state"
    permission_kind: ClassVar[str] = "edit"
    #: model permissions each action needs (the default permission classes read it)
    action_permissions: ClassVar[dict[str, list[str]]] = {}
    #: needed when the action is unknown (e.g. a method the URL does not allow)
    fallback_permissions: ClassVar[list[str]] = []

    def get_authenticators(self) -> list[BaseAuthentication]:
        return authentication.authenticators()

    def get_authenticate_header(self, request: Request) -> str | None:  # type: ignore[override]  # DRF allows None
        return authentication.authenticate_header(request)

    def get_permissions(self) -> list[BasePermission]:
        classes = state_permission_classes() if self.permission_kind == "state" else edit_permission_classes()
        return [cls() for cls in classes]

    def get_view_description(self, html: bool = False) -> str:
        """The view's (or action's) docstring as plain text: reST markup
        (````rule````, ``:class:`~x.Y```) becomes its words; as HTML, escaped
        paragraphs (the browsable API, whether or not Markdown is installed)."""
        description = getattr(self, "description", None) or self.__class__.__doc__ or ""
        text = rest_to_text(formatting.dedent(smart_str(description)))
        if not html:
            return text
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        return mark_safe("".join(format_html("<p>{}</p>", p) for p in paragraphs))  # noqa: S308 -- escaped by format_html

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return flowr_exception_handler

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        # refusals are JSON even where the success is text (diagrams, schema)
        renderer = getattr(request, "accepted_renderer", None)
        if getattr(response, "exception", False) and not isinstance(renderer, (JSONRenderer, BrowsableAPIRenderer)):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def required_permissions(self, request: Request) -> list[str]:
        """The model permissions of the current action (``app_label.codename``)."""
        action = getattr(self, "action", None)
        return self.action_permissions.get(action or "", self.fallback_permissions)


class FlowrViewSet(FlowrAPIMixin, viewsets.GenericViewSet):
    """Base of flowr's view sets.

    ``serializer_class`` describes what is answered; ``input_serializers``
    what each mutating action reads, so that the browsable API offers the
    right form for every method of a URL.
    """

    input_serializers: ClassVar[dict[str, type[Any]]] = {}

    def get_serializer_class(self) -> type[Any]:
        method = (getattr(getattr(self, "request", None), "method", None) or "GET").lower()
        if method not in ("get", "head", "options"):
            action = getattr(self, "action_map", {}).get(method, self.action)
            if action in self.input_serializers:
                return self.input_serializers[action]
        return super().get_serializer_class()

    def example_body(self, method: str) -> dict[str, Any] | None:
        """The body the browsable API's form of ``method`` starts with
        (:class:`~flowr.api.renderers.FlowrBrowsableAPIRenderer`): for a
        POST, the input serializer's required fields (optional ones left
        out: their empty values would be refused); None keeps DRF's."""
        if method != "POST":
            return None
        serializer = self.get_serializer()
        if not isinstance(serializer, serializers.Serializer):
            return None
        return {
            name: field.get_initial()
            for name, field in serializer.fields.items()
            if field.required and not field.read_only
        }

    def input(self, serializer_class: type[Any], **kwargs: Any) -> dict[str, Any]:
        """Validate the request body with ``serializer_class``; its data."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def paginated(self, items: Any, serializer_class: type[Any]) -> Response:
        page = self.paginate_queryset(items)
        serializer = serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)


class DiagramMixin(_ViewSetBase):
    """Serves the ``diagram`` action as DOT or Mermaid text."""

    def get_renderers(self) -> list[BaseRenderer]:
        if self.action == "diagram":
            return [DotRenderer(), MermaidRenderer()]
        return super().get_renderers()

    def diagram_format(self) -> str:
        return str(self.request.accepted_renderer.format)
