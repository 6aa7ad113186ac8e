"""``/flowr/api/schema/``: the OpenAPI schema, and the browsable API."""

from __future__ import annotations

import html
import json
import re

import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema

from flowr.models import State
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
        "/flowr/api/flows/{id}/simulate/",
        "/flowr/api/flows/{id}/status/",
        "/flowr/api/flows/{id}/diff/{other}/",
        "/flowr/api/flows/{id}/migrate/",
        "/flowr/api/nodes/{id}/disconnect/",
        "/flowr/api/nodes/{id}/insert/",
        "/flowr/api/nodes/{id}/rule/",
        "/flowr/api/nodes/{id}/settings/",
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
    # a start's form names a flow and leaves the optional subject out: posted as it is, it works
    body = form_body(api, f"{API}/states/")
    assert body == {"flow": flow.pk}
    assert api.post(f"{API}/states/", body, format="json").status_code == 201


def form_body(client, url):
    """The JSON body the browsable API's raw-data form at ``url`` starts with."""
    page = client.get(url, HTTP_ACCEPT="text/html").content.decode()
    found = re.search(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, page
    return json.loads(html.unescape(found.group(1)))


def test_browsable_advance_form_body_works(api, flow):
    """The advance form starts with a body that advances: at a single child
    no rule; where the flow branches a rule this user may take."""
    state = State.start(flow)
    url = f"{API}/states/{state.pk}/advance/"
    body = form_body(api, url)
    assert body == {"note": "", "expected_node": state.current_node.node_id, "expected_version": 0}
    assert api.post(url, body, format="json").status_code == 200  # A -> C
    body = form_body(api, url)  # C branches: D or E
    assert body["rule"] == "flowr.sample_rules.D" and body["expected_version"] == 1
    response = api.post(url, body, format="json")
    assert response.status_code == 200 and response.json()["current_rule_name"] == "D"
    assert form_body(api, f"{API}/states/{state.pk + 1000}/advance/") == {}  # no such State: an empty body, no error


def test_descriptions_are_plain_text(api, flow):
    """Docstrings' reST markup (``rule``, :class:`...`) is not shown raw."""
    state = State.start(flow)
    page = api.get(f"{API}/states/{state.pk}/advance/", HTTP_ACCEPT="text/html").content.decode()
    assert "Move to the next node." in page and "<p>rule picks a branch" in page
    assert "``" not in page and ":class:" not in page
    options = api.options(f"{API}/states/{state.pk}/advance/").json()
    assert options["description"].startswith("Move to the next node.") and "``" not in options["description"]


def test_root_lists_the_endpoints(api):
    body = api.get(f"{API}/").json()
    assert body["flows"] == "http://testserver/flowr/api/flows/"
    assert body["schema"] == "http://testserver/flowr/api/schema/"


def test_unknown_url_is_json_404(api):
    response = api.get(f"{API}/no-such-thing/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found.", "code": "not_found"}
