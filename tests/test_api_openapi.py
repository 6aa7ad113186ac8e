"""The schema says what the API does: every error status an operation answers,
the one error body, the real content types, closed request bodies, bounded
integers, the project's enums and links from what a POST creates.

schemathesis checks the running API against it in CI (.ci/schemathesis.sh);
these tests hold the schema's side of the contract on every database.
"""

from __future__ import annotations

import json

import pytest
from drf_spectacular.validation import validate_schema

from flowr import rules
from flowr.api.openapi import error_statuses
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    flow_fixture,
    rule_set_fixture,
    users_fixture,
)

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(api):
    response = api.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    document = json.loads(response.content)
    validate_schema(document)
    return document


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_error_status_has_the_error_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    assert {"detail", "code", "errors", "error_codes"} <= set(error["properties"])
    seen = 0
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                seen += 1
                assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        assert {"401", "403", "406"} <= set(operation["responses"]), (method, path)
    assert seen > 100


def test_statuses_follow_what_an_operation_can_do(schema):
    paths = schema["paths"]
    assert set(paths[f"{API}/rules/"]["get"]["responses"]) == {"200", "400", "401", "403", "404", "406"}
    advance = set(paths[f"{API}/states/{{id}}/advance/"]["post"]["responses"])
    assert advance == {"200", "400", "401", "403", "404", "406", "409", "413", "415"}
    detail = set(paths[f"{API}/flows/{{id}}/graph/"]["get"]["responses"])
    assert detail == {"200", "401", "403", "404", "406"}  # no query parameter, no body: no 400
    assert error_statuses("delete", "/x/{id}/", []) == [400, 401, 403, 404, 406, 409]


def test_diagrams_declare_their_real_content_types(schema):
    for noun in ("rule-sets", "flows", "states"):
        content = schema["paths"][f"{API}/{noun}/{{id}}/diagram/"]["get"]["responses"]["200"]["content"]
        assert set(content) == {"text/vnd.graphviz", "text/vnd.mermaid"}


def test_request_bodies_are_closed_and_integers_bounded(schema):
    components = schema["components"]["schemas"]
    requests = [name for name in components if name.endswith("Request")]
    assert len(requests) >= 6
    for name in requests:
        assert components[name]["additionalProperties"] is False, name
    rule_set = components["FlowCreateRequest"]["properties"]["rule_set"]
    assert (rule_set["minimum"], rule_set["maximum"]) == (1, 2**63 - 1)
    assert components["FlowImportRequest"]["properties"]["document"]["type"] == "object"
    for path, _method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["minimum"] == 1, (path, parameter["name"])


def test_rules_and_subject_types_are_enumerated(schema, settings):
    components = schema["components"]["schemas"]
    labels = [rule.class_label for rule in rules.all_rules()]
    assert components["RuleSetCreateRequest"]["properties"]["root_rule"]["enum"] == labels
    assert components["AddChildRequest"]["properties"]["rule"]["enum"] == labels
    assert "enum" not in components["AdvanceRequest"]["properties"]["rule"]  # class names are taken too
    states = schema["paths"][f"{API}/states/"]["get"]["parameters"]
    subject_type = next(p for p in states if p["name"] == "subject_type")
    assert subject_type["schema"]["enum"] == sorted(label.lower() for label in settings.FLOWR["SUBJECT_MODELS"])


def test_what_a_post_creates_links_to_its_operations(schema):
    created = schema["paths"][f"{API}/flows/"]["post"]["responses"]["201"]["links"]
    assert created["get_flows_id"] == {"operationId": "flows_retrieve", "parameters": {"id": "$response.body#/id"}}
    assert created["post_nodes_root_node_children"]["parameters"] == {"id": "$response.body#/root_node"}
    assert "delete_nodes_root_node" not in created and "post_nodes_root_node_prune" not in created  # never the root
    child = schema["paths"][f"{API}/nodes/{{id}}/children/"]["post"]["responses"]["201"]["links"]
    assert child["delete_nodes_id"]["operationId"] == "nodes_destroy"
