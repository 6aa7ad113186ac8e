"""Plain-text renderers of the diagram endpoints (``?format=dot|mermaid``)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BaseRenderer


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
