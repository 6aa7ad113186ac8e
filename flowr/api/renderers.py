"""Plain-text renderers of the diagram endpoints (``?format=dot|mermaid``),
and the browsable API's renderer (forms pre-filled with a body that works)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer
from rest_framework.request import override_method


class _TextRenderer(BaseRenderer):
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        text = data if isinstance(data, str) else json.dumps(data)
        return text.encode(self.charset)


class DotRenderer(_TextRenderer):
    """Graphviz DOT source."""

    media_type = "text/vnd.graphviz"
    format = "dot"


class MermaidRenderer(_TextRenderer):
    """Mermaid flowchart source."""

    media_type = "text/vnd.mermaid"
    format = "mermaid"


class FlowrBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's browsable API; the raw-data form of a POST starts with the
    view's ``example_body(method)`` when it gives one (a body that works,
    e.g. a State's advance with a rule it may take), not with every field's
    empty value."""

    def get_raw_data_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        form = super().get_raw_data_form(data, view, method, request)
        example = getattr(view, "example_body", None)
        if not isinstance(form, forms.Form) or example is None or "_content" not in form.fields:
            return form
        with override_method(view, request, method):
            body = example(method)
        if body is not None:
            form.fields["_content"].initial = json.dumps(body, indent=4)
        return form
