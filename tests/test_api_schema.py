"""``/flowr/api/schema/``: the OpenAPI schema, and the browsable API."""

from __future__ import annotations

import json

import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    flow_fixture,
    rule_set_fixture,
    users_fixture,
)


def test_schema_json_is_valid_and_complete(api):
    GENERATOR_STATS.reset()
    response = api.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {
        "/flowr/api/rules/",
        "/flowr/api/rule-sets/",
        "/flowr/api/rule-sets/{id}/",
        "/flowr/api/rule-sets/{id}/diagram/",
        "/flowr/api/flows/",
        "/flowr/api/flows/{id}/",
        "/flowr/api/flows/{id}/graph/",
        "/flowr/api/flows/{id}/clone/",
        "/flowr/api/flows/{id}/export/",
        "/flowr/api/flows/import/",
        "/flowr/api/flows/{id}/diagram/",
        "/flowr/api/flows/{id}/undo/",
        "/flowr/api/flows/{id}/redo/",
        "/flowr/api/flows/{id}/edits/",
        "/flowr/api/nodes/{id}/disconnect/",
        "/flowr/api/nodes/{id}/insert/",
        "/flowr/api/nodes/{id}/rule/",
        "/flowr/api/nodes/{id}/",
        "/flowr/api/nodes/{id}/children/",
        "/flowr/api/nodes/{id}/connect/",
        "/flowr/api/nodes/{id}/prune/",
        "/flowr/api/states/",
        "/flowr/api/states/{id}/",
        "/flowr/api/states/{id}/advance/",
        "/flowr/api/states/advance/",
        "/flowr/api/states/{id}/jump/",
        "/flowr/api/states/{id}/cancel/",
        "/flowr/api/states/{id}/history/",
        "/flowr/api/states/{id}/diagram/",
    } == paths
    assert (
        set(schema["paths"]["/flowr/api/flows/{id}/"]) == {"get", "patch", "delete", "parameters"} - {"parameters"}
        or "get" in schema["paths"]["/flowr/api/flows/{id}/"]
    )
    graph = schema["paths"]["/flowr/api/flows/{id}/graph/"]["get"]["responses"]["200"]
    assert graph["content"]["application/json"]["schema"]["$ref"].endswith("/FlowGraph")
    # basic authentication only when FLOWR["API_AUTHENTICATION_CLASSES"] lists it
    assert set(schema["components"]["securitySchemes"]) == {"cookieAuth", "tokenAuth"}
    # the generator had nothing to warn about
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))


def test_schema_yaml_by_default(api):
    response = api.get(f"{API}/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "django-flowr API"


def test_schema_needs_a_user(client_for, db):
    assert client_for(None).get(f"{API}/schema/").status_code == 401


def test_browsable_api(api, flow):
    response = api.get(f"{API}/flows/{flow.pk}/graph/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html") and b"Flow" in response.content


def test_browsable_api_offers_the_input_forms(api, flow):
    page = api.get(f"{API}/flows/", HTTP_ACCEPT="text/html").content.decode()
    # the POST form is the create serializer's, not the answer's
    assert "{\n    &quot;name&quot;: &quot;&quot;,\n    &quot;rule_set&quot;: null\n}</textarea>" in page
    page = api.get(f"{API}/states/", HTTP_ACCEPT="text/html").content.decode()
    assert "&quot;flow&quot;: null," in page and "&quot;subject_type&quot;: &quot;&quot;," in page


def test_root_lists_the_endpoints(api):
    body = api.get(f"{API}/").json()
    assert body["flows"] == "http://testserver/flowr/api/flows/"
    assert body["schema"] == "http://testserver/flowr/api/schema/"


def test_unknown_url_is_json_404(api):
    response = api.get(f"{API}/no-such-thing/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}
