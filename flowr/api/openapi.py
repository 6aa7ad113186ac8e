"""What the OpenAPI schema says beyond what drf-spectacular infers.

* every operation lists each error status it can answer, with the one error
  body ``{"detail", "code", "errors"?, "error_codes"?, "problems"?}``;
* request bodies of strict serializers refuse unknown fields
  (``additionalProperties: false``);
* integer parameters are ids or page numbers: ``1 .. 2**63-1``;
* a body or filter naming a rule or a subject model lists the values the
  project accepts (``enum``), read when the schema is generated;
* what a POST creates (its ``201`` body's ``id``) links to the operations on
  that object (OpenAPI links), for clients and stateful testing.

The diagram endpoints declare their real content types where they are
defined (:data:`DIAGRAM_RESPONSES`).
"""

from __future__ import annotations

import os
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes

from flowr import rules
from flowr.api.params import MAX_ID
from flowr.api.renderers import DotRenderer, MermaidRenderer
from flowr.api.serializers import StrictSerializer
from flowr.conf import settings as flowr_settings

#: The 200 of a diagram action: DOT or Mermaid source, as ``?format=`` picks.
DIAGRAM_RESPONSES = {
    (200, DotRenderer.media_type): OpenApiTypes.STR,
    (200, MermaidRenderer.media_type): OpenApiTypes.STR,
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal: a message and a stable machine code.",
    "properties": {
        "detail": {"type": "string", "description": "What was refused and why, for people."},
        "code": {"type": "string", "description": "A stable code, e.g. invalid, not_found, flow_frozen."},
        "errors": {
            "type": "object",
            "description": "Validation errors (code invalid): the messages of each field.",
            "additionalProperties": True,
        },
        "error_codes": {
            "type": "object",
            "description": "Validation errors (code invalid): the codes of each field.",
            "additionalProperties": True,
        },
        "problems": {
            "type": "array",
            "description": "An import's or an edit's problems, when there are several.",
            "items": {},
        },
    },
    "required": ["detail", "code"],
}

_DESCRIPTIONS = {
    400: "Bad input: a malformed body or parameter, or an edit or move the rules refuse.",
    401: "Not authenticated (the token scheme answers 401, the session scheme 403).",
    403: "Not authenticated, or without the model permission the operation needs.",
    404: "No such object (or page).",
    406: "The Accept header asks for a format the operation does not answer.",
    409: "The object is in a state that forbids it: a frozen flow, a flow in use, a concurrent edit or move.",
    413: "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.",
    415: "The body is not application/json.",
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_WRITES = {"post", "put", "patch", "delete"}
_HAS_BODY = {"post", "put", "patch"}


class FlowrAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema; a strict serializer's request body
    declares that it takes no other fields."""

    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema


def error_statuses(method: str, path: str, parameters: list[dict[str, Any]]) -> list[int]:
    """The error statuses an operation can answer."""
    found = {401, 403, 406}
    query = [p for p in parameters if p.get("in") == "query"]
    if method in _WRITES or query:
        found.add(400)
    if "{" in path or any(p.get("name") == "page" for p in query):
        found.add(404)
    if method in _WRITES:
        found.add(409)
    if method in _HAS_BODY:
        found |= {413, 415}
    return sorted(found)


def _constrain(parameter: dict[str, Any]) -> None:
    schema = parameter.get("schema", {})
    if schema.get("type") == "integer":
        schema.setdefault("minimum", 1)
        schema.setdefault("maximum", MAX_ID)


def _enums(components: dict[str, Any], paths: dict[str, Any]) -> None:
    labels = [rule.class_label for rule in rules.all_rules()]
    subjects = sorted({label.lower() for label in flowr_settings.SUBJECT_MODELS})
    for name, schema in components.items():
        properties = schema.get("properties", {}) if name.endswith("Request") else {}
        for field in ("root_rule", "rule"):  # advance's (nullable) rule takes class names too: no enum
            if field in properties and labels and not properties[field].get("nullable"):
                properties[field]["enum"] = labels
        if "subject_type" in properties and subjects:
            properties["subject_type"]["enum"] = subjects
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("name") == "subject_type" and subjects:
                    parameter["schema"]["enum"] = subjects


def _prefix(paths: dict[str, Any]) -> str:
    """The path every operation shares up to its first noun (``/flowr/api/``)."""
    common = os.path.commonprefix(list(paths))
    return common[: common.rfind("/") + 1]


def _links_to(paths: dict[str, Any], prefix: str, noun: str, field: str, removals: bool = True) -> dict[str, Any]:
    """Links to every operation on ``{prefix}{noun}/{id}/...``, the id read
    from the body's ``field``; without the removals (DELETE, ``.../prune/``)
    unless ``removals``."""
    detail = f"{prefix}{noun}/{{id}}/"
    return {
        f"{method}_{target[len(prefix) :].strip('/').replace('/', '_').replace('{id}', field)}": {
            "operationId": operation["operationId"],
            "parameters": {"id": f"$response.body#/{field}"},
        }
        for target, target_item in paths.items()
        if target.startswith(detail)
        for method, operation in target_item.items()
        if isinstance(operation, dict) and "operationId" in operation
        if removals or (method != "delete" and not target.endswith("/prune/"))
    }


def _links(paths: dict[str, Any], components: dict[str, Any]) -> None:
    prefix = _prefix(paths)
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        links = _links_to(paths, prefix, path[len(prefix) :].split("/", 1)[0], "id")
        body = created.get("content", {}).get("application/json", {}).get("schema", {})
        component = components.get(body.get("$ref", "").rsplit("/", 1)[-1], {})
        if "root_node" in component.get("properties", {}):  # a new flow: what its root node can do
            links.update(_links_to(paths, prefix, "nodes", "root_node", removals=False))
        if links:
            created["links"] = links


def declare_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the error body and statuses,
    integer bounds and the project's enums (see the module docstring)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                _constrain(parameter)
            responses = operation.setdefault("responses", {})
            for status in error_statuses(method, path, parameters):
                responses.setdefault(
                    str(status),
                    {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": _ERROR_REF}}},
                )
    _enums(components, result.get("paths", {}))
    _links(result.get("paths", {}), components)
    return result
