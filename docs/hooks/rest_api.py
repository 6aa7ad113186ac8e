"""MkDocs hook: the REST API reference page, generated from the OpenAPI
schema at build time (never written by hand, never committed).

The schema is the one ``/flowr/api/schema/`` serves, made with the test
project's settings (``tests.settings``: SQLite, no database access).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PAGE = "reference/rest-api.md"
METHODS = ("get", "post", "put", "patch", "delete")


def _schema() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    from flowr.api.views.schema import SCHEMA_SETTINGS

    with patched_settings(SCHEMA_SETTINGS):
        generator = SchemaGenerator(urlconf="tests.urls")
        return generator.get_schema(request=None, public=True)


def _cell(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    kind = schema.get("type", "any")
    values = schema.get("enum")
    if values:
        kind += f" (one of {len(values)})" if len(values) > 6 else " (" + ", ".join(map(str, values)) + ")"
    return kind


def _operation(lines: list[str], path: str, method: str, operation: dict[str, Any]) -> None:
    lines += [f"### `{method.upper()} {path}`", "", operation.get("description", "").strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | description |", "|---|---|---|---|"]
        lines += [
            f"| `{p['name']}` | {p['in']} | {_cell(_type(p.get('schema', {})))} | {_cell(p.get('description'))} |"
            for p in parameters
        ]
        lines.append("")
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        lines += [f"Body ({media}): {_type(content.get('schema', {}))}", ""]
    lines += ["| status | answer |", "|---|---|"]
    for status, response in operation.get("responses", {}).items():
        kinds = ", ".join(f"{_type(c.get('schema', {}))} ({media})" for media, c in response.get("content", {}).items())
        lines.append(f"| {status} | {_cell(response.get('description'))} {kinds} |")
    lines.append("")


def _component(lines: list[str], name: str, schema: dict[str, Any]) -> None:
    lines += [f"### {name}", "", _cell(schema.get("description")), ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        lines += ["| field | type | required | description |", "|---|---|---|---|"]
        for field, spec in properties.items():
            needed = "yes" if field in required else ""
            lines.append(f"| `{field}` | {_cell(_type(spec))} | {needed} | {_cell(spec.get('description'))} |")
        lines.append("")
    if schema.get("additionalProperties") is False:
        lines += ["Unknown fields are refused.", ""]


def render(schema: dict[str, Any]) -> str:
    lines = [
        "# REST API reference",
        "",
        "Generated from the OpenAPI schema (`/flowr/api/schema/`) when the site is built; see",
        "[REST API](../api.md) for authentication, permissions and errors.",
        "",
        "## Operations",
        "",
    ]
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                _operation(lines, path, method, item[method])
    lines += ["## Schemas", ""]
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        _component(lines, name, component)
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, PAGE, content=render(_schema())))
    return files
