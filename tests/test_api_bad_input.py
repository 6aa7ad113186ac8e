"""Every refusal: the status, the stable ``code``, and a database left unchanged.

Each case names who calls (``admin`` unless said otherwise; ``session`` is an
admin logged in by session whose client enforces CSRF), the method, the URL
and the body.  ``<name>`` in a URL or as a body value is replaced by an id of
the world below.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from flowr import sample_rules
from flowr.models import DCCGraph, Flow, RuleSet, State
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    build_flow,
    chain_flow,
    client_for_fixture,
    node_of,
    snapshot,
    users_fixture,
)
from tests.testapp import rules as test_rules
from tests.testapp.models import Label

A, B, C, D, E = (f"flowr.sample_rules.{n}" for n in "ABCDE")
CHAIN = test_rules.Chain.class_label
LONG = "x" * 101
HUGE = "99999999999999999999"


@pytest.fixture(name="world")
def world_fixture(users: Any) -> dict[str, Any]:
    rule_set = RuleSet.factory("sample", sample_rules.A)
    flow = build_flow(rule_set)  # A -> C -> (D, E), E -> A
    partial = Flow.factory("partial", rule_set)  # A -> C -> E: C has room for D
    pc = partial.root_data.add_child_rule(sample_rules.C)
    pe = pc.add_child_rule(sample_rules.E)
    other = build_flow(rule_set, "other")
    frozen = build_flow(rule_set, "frozen")
    at_root = State.start(frozen)
    at_c = State.start(frozen)
    at_c.next_state()
    at_d = State.start(frozen)
    at_d.next_state()
    at_d.next_state(sample_rules.D)
    chains = chain_flow(RuleSet.factory("chains", test_rules.Chain), 2)
    gone = RuleSet.objects.create(name="gone", root_rule_label="nowhere.Gone")
    labels = DCCGraph.factory_from_graph(Label, {"name": "L"}, [({"name": "M"}, [])])
    return {
        "rs": rule_set.pk,
        "gone_rs": gone.pk,
        "flow": flow.pk,
        "root": flow.state_graph.root_id,
        "c": node_of(flow, sample_rules.C),
        "d": node_of(flow, sample_rules.D),
        "pc": pc.node_id,
        "pe": pe.node_id,
        "other_root": other.state_graph.root_id,
        "frozen": frozen.pk,
        "frozen_root": frozen.state_graph.root_id,
        "frozen_c": node_of(frozen, sample_rules.C),
        "frozen_d": node_of(frozen, sample_rules.D),
        "state": at_root.pk,
        "state_c": at_c.pk,
        "state_d": at_d.pk,
        "chain_root": chains.state_graph.root_id,
        "label_node": labels.find_nodes(name="M").get().pk,
    }


def fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return world[value[1:-1]]
    if isinstance(value, str):
        for key, replacement in world.items():
            value = value.replace(f"<{key}>", str(replacement))
    return value


DOCUMENT = {"format": 99, "nodes": []}
OK = object()  # no body

CASES: list[tuple[str, str, str, str, Any, int, str]] = [
    # (id, who, method, url, body, status, code)
    # -- flows ----------------------------------------------------------------
    ("flow-non-numeric", "admin", "get", "/flows/abc/", OK, 404, "not_found"),
    ("flow-unknown", "admin", "get", "/flows/999999/", OK, 404, "not_found"),
    ("flow-huge-id", "admin", "get", f"/flows/{HUGE}/", OK, 404, "not_found"),
    ("flow-negative-id", "admin", "get", "/flows/-1/", OK, 404, "not_found"),
    ("flow-create-empty", "admin", "post", "/flows/", {}, 400, "invalid"),
    ("flow-create-no-rule-set", "admin", "post", "/flows/", {"name": "x"}, 400, "invalid"),
    ("flow-create-name-int", "admin", "post", "/flows/", {"name": 5, "rule_set": "<rs>"}, 400, "invalid"),
    ("flow-create-name-long", "admin", "post", "/flows/", {"name": LONG, "rule_set": "<rs>"}, 400, "invalid"),
    ("flow-create-name-blank", "admin", "post", "/flows/", {"name": "", "rule_set": "<rs>"}, 400, "invalid"),
    ("flow-create-name-null", "admin", "post", "/flows/", {"name": None, "rule_set": "<rs>"}, 400, "invalid"),
    ("flow-create-rs-string", "admin", "post", "/flows/", {"name": "x", "rule_set": "1"}, 400, "invalid"),
    ("flow-create-rs-bool", "admin", "post", "/flows/", {"name": "x", "rule_set": True}, 400, "invalid"),
    ("flow-create-rs-unknown", "admin", "post", "/flows/", {"name": "x", "rule_set": 999999}, 400, "invalid"),
    ("flow-create-rs-huge", "admin", "post", "/flows/", {"name": "x", "rule_set": 10**20}, 400, "invalid"),
    ("flow-create-extra", "admin", "post", "/flows/", {"name": "x", "rule_set": "<rs>", "color": 1}, 400, "invalid"),
    ("flow-create-read-only", "admin", "post", "/flows/", {"name": "x", "rule_set": "<rs>", "id": 7}, 400, "invalid"),
    ("flow-create-list-body", "admin", "post", "/flows/", ["x"], 400, "invalid"),
    ("flow-create-string-body", "admin", "post", "/flows/", "x", 400, "invalid"),
    ("flow-create-bad-json", "admin", "post", "/flows/", "RAW:{", 400, "parse_error"),
    ("flow-create-form", "admin", "post", "/flows/", "FORM:name=x", 415, "unsupported_media_type"),
    (
        "flow-create-missing-rule",
        "admin",
        "post",
        "/flows/",
        {"name": "x", "rule_set": "<gone_rs>"},
        400,
        "missing_rule",
    ),
    ("flow-rename-frozen", "admin", "patch", "/flows/<frozen>/", {"name": "y"}, 409, "flow_frozen"),
    ("flow-rename-null", "admin", "patch", "/flows/<flow>/", {"name": None}, 400, "invalid"),
    ("flow-rename-long", "admin", "patch", "/flows/<flow>/", {"name": LONG}, 400, "invalid"),
    ("flow-rename-rule-set", "admin", "patch", "/flows/<flow>/", {"rule_set": "<rs>"}, 400, "invalid"),
    ("flow-put", "admin", "put", "/flows/<flow>/", {"name": "y"}, 405, "method_not_allowed"),
    ("flow-delete-in-use", "admin", "delete", "/flows/<frozen>/", OK, 409, "flow_in_use"),
    ("flow-delete-non-numeric", "admin", "delete", "/flows/abc/", OK, 404, "not_found"),
    ("flow-graph-unknown", "admin", "get", "/flows/999999/graph/", OK, 404, "not_found"),
    ("flow-graph-post", "admin", "post", "/flows/<flow>/graph/", {}, 405, "method_not_allowed"),
    ("flow-clone-get", "admin", "get", "/flows/<flow>/clone/", OK, 405, "method_not_allowed"),
    ("flow-clone-name-int", "admin", "post", "/flows/<flow>/clone/", {"name": 3}, 400, "invalid"),
    ("flow-clone-typo", "admin", "post", "/flows/<flow>/clone/", {"nam": "x"}, 400, "invalid"),
    ("flow-clone-unknown", "admin", "post", "/flows/999999/clone/", {}, 404, "not_found"),
    ("flow-import-empty", "admin", "post", "/flows/import/", {}, 400, "invalid"),
    ("flow-import-list", "admin", "post", "/flows/import/", {"document": []}, 400, "invalid"),
    ("flow-import-invalid", "admin", "post", "/flows/import/", {"document": DOCUMENT}, 400, "invalid_import"),
    ("flow-import-get", "admin", "get", "/flows/import/", OK, 405, "method_not_allowed"),
    ("flow-export-post", "admin", "post", "/flows/<flow>/export/", {}, 405, "method_not_allowed"),
    ("flow-diagram-format", "admin", "get", "/flows/<flow>/diagram/?format=png", OK, 400, "invalid"),
    ("flow-diagram-format-empty", "admin", "get", "/flows/<flow>/diagram/?format=", OK, 400, "invalid"),
    ("flow-diagram-format-twice", "admin", "get", "/flows/<flow>/diagram/?format=dot&format=x", OK, 400, "invalid"),
    ("unknown-url-post", "admin", "post", "/no/such/thing/", {}, 404, "not_found"),
    ("import-document-null", "admin", "post", "/flows/import/", {"document": None}, 400, "invalid"),
    # -- nodes ----------------------------------------------------------------
    ("node-non-numeric", "admin", "get", "/nodes/abc/", OK, 404, "not_found"),
    ("node-unknown", "admin", "get", "/nodes/999999/", OK, 404, "not_found"),
    ("node-huge-id", "admin", "delete", f"/nodes/{HUGE}/", OK, 404, "not_found"),
    ("node-not-of-a-flow", "admin", "get", "/nodes/<label_node>/", OK, 404, "not_found"),
    ("node-list", "admin", "get", "/nodes/", OK, 404, "not_found"),
    ("child-empty", "admin", "post", "/nodes/<pc>/children/", {}, 400, "invalid"),
    ("child-rule-int", "admin", "post", "/nodes/<pc>/children/", {"rule": 5}, 400, "invalid"),
    ("child-rule-list", "admin", "post", "/nodes/<pc>/children/", {"rule": [D]}, 400, "invalid"),
    ("child-rule-long", "admin", "post", "/nodes/<pc>/children/", {"rule": "x" * 300}, 400, "invalid"),
    ("child-rule-unknown", "admin", "post", "/nodes/<pc>/children/", {"rule": "no.such.Rule"}, 400, "missing_rule"),
    ("child-rule-not-allowed", "admin", "post", "/nodes/<pc>/children/", {"rule": B}, 400, "rule_not_allowed"),
    ("child-rule-other-set", "admin", "post", "/nodes/<pc>/children/", {"rule": CHAIN}, 400, "rule_not_allowed"),
    ("child-duplicate", "admin", "post", "/nodes/<pc>/children/", {"rule": E}, 400, "duplicate_child_rule"),
    ("child-full", "admin", "post", "/nodes/<root>/children/", {"rule": B}, 400, "too_many_children"),
    ("child-extra", "admin", "post", "/nodes/<pc>/children/", {"rule": D, "x": 1}, 400, "invalid"),
    ("child-frozen", "admin", "post", "/nodes/<frozen_d>/children/", {"rule": D}, 409, "flow_frozen"),
    ("child-get", "admin", "get", "/nodes/<pc>/children/", OK, 405, "method_not_allowed"),
    ("child-unknown-node", "admin", "post", "/nodes/abc/children/", {"rule": D}, 404, "not_found"),
    ("connect-empty", "admin", "post", "/nodes/<pe>/connect/", {}, 400, "invalid"),
    ("connect-string", "admin", "post", "/nodes/<pe>/connect/", {"target": "1"}, 400, "invalid"),
    ("connect-bool", "admin", "post", "/nodes/<pe>/connect/", {"target": True}, 400, "invalid"),
    ("connect-float", "admin", "post", "/nodes/<pe>/connect/", {"target": 1.5}, 400, "invalid"),
    ("connect-null", "admin", "post", "/nodes/<pe>/connect/", {"target": None}, 400, "invalid"),
    ("connect-unknown", "admin", "post", "/nodes/<pe>/connect/", {"target": 999999}, 400, "invalid"),
    (
        "connect-other-flow",
        "admin",
        "post",
        "/nodes/<pe>/connect/",
        {"target": "<other_root>"},
        400,
        "different_graphs",
    ),
    ("connect-other-set", "admin", "post", "/nodes/<pe>/connect/", {"target": "<chain_root>"}, 400, "different_graphs"),
    (
        "connect-label-graph",
        "admin",
        "post",
        "/nodes/<pe>/connect/",
        {"target": "<label_node>"},
        400,
        "different_graphs",
    ),
    ("connect-duplicate", "admin", "post", "/nodes/<pc>/connect/", {"target": "<pe>"}, 400, "duplicate_child_rule"),
    ("connect-not-allowed", "admin", "post", "/nodes/<pe>/connect/", {"target": "<pc>"}, 400, "rule_not_allowed"),
    ("connect-frozen", "admin", "post", "/nodes/<frozen_d>/connect/", {"target": "<frozen_root>"}, 409, "flow_frozen"),
    ("connect-get", "admin", "get", "/nodes/<pe>/connect/", OK, 405, "method_not_allowed"),
    ("remove-root", "admin", "delete", "/nodes/<root>/", OK, 400, "cannot_remove"),
    ("remove-dominator", "admin", "delete", "/nodes/<c>/", OK, 400, "cannot_remove"),
    ("remove-frozen", "admin", "delete", "/nodes/<frozen_d>/", OK, 409, "flow_frozen"),
    ("remove-unknown", "admin", "delete", "/nodes/999999/", OK, 404, "not_found"),
    ("prune-root", "admin", "post", "/nodes/<root>/prune/", OK, 400, "cannot_remove"),
    ("prune-frozen", "admin", "post", "/nodes/<frozen_c>/prune/", OK, 409, "flow_frozen"),
    ("prune-body", "admin", "post", "/nodes/<c>/prune/", {"all": True}, 400, "invalid"),
    ("prune-get", "admin", "get", "/nodes/<c>/prune/", OK, 405, "method_not_allowed"),
    # -- rules and rule sets -----------------------------------------------------
    ("rules-post", "admin", "post", "/rules/", {"label": A}, 405, "method_not_allowed"),
    (
        "rule-set-unknown-root",
        "admin",
        "post",
        "/rule-sets/",
        {"name": "x", "root_rule": "no.Such"},
        400,
        "missing_rule",
    ),
    ("rule-set-long-name", "admin", "post", "/rule-sets/", {"name": LONG, "root_rule": A}, 400, "invalid"),
    ("rule-set-root-int", "admin", "post", "/rule-sets/", {"name": "x", "root_rule": 7}, 400, "invalid"),
    ("rule-set-missing", "admin", "post", "/rule-sets/", {"root_rule": A}, 400, "invalid"),
    ("rule-set-non-numeric", "admin", "get", "/rule-sets/abc/", OK, 404, "not_found"),
    ("rule-set-delete", "admin", "delete", "/rule-sets/<rs>/", OK, 405, "method_not_allowed"),
    # -- states ---------------------------------------------------------------
    ("state-non-numeric", "admin", "get", "/states/abc/", OK, 404, "not_found"),
    ("state-unknown", "admin", "get", "/states/999999/", OK, 404, "not_found"),
    ("state-start-empty", "admin", "post", "/states/", {}, 400, "invalid"),
    ("state-start-flow-string", "admin", "post", "/states/", {"flow": "x"}, 400, "invalid"),
    ("state-start-flow-unknown", "admin", "post", "/states/", {"flow": 999999}, 400, "invalid"),
    (
        "state-start-half-subject",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.ticket"},
        400,
        "invalid",
    ),
    (
        "state-start-bad-model",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "no.model", "subject_id": "1"},
        400,
        "invalid",
    ),
    (
        "state-start-no-subject",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.ticket", "subject_id": "999"},
        400,
        "invalid",
    ),
    (
        "state-start-huge-subject",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.ticket", "subject_id": HUGE},
        400,
        "invalid",
    ),
    (
        "state-start-text-subject",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.ticket", "subject_id": "abc"},
        400,
        "invalid",
    ),
    (
        "state-start-bad-uuid",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.document", "subject_id": "zz"},
        400,
        "invalid",
    ),
    (
        "state-start-subject-int",
        "admin",
        "post",
        "/states/",
        {"flow": "<flow>", "subject_type": "testapp.ticket", "subject_id": 1},
        400,
        "invalid",
    ),
    ("state-start-extra", "admin", "post", "/states/", {"flow": "<flow>", "current_node": 1}, 400, "invalid"),
    ("advance-rule-int", "admin", "post", "/states/<state>/advance/", {"rule": 5}, 400, "invalid"),
    ("advance-expected-string", "admin", "post", "/states/<state>/advance/", {"expected_node": "x"}, 400, "invalid"),
    ("advance-version-string", "admin", "post", "/states/<state>/advance/", {"expected_version": "0"}, 400, "invalid"),
    ("advance-version-negative", "admin", "post", "/states/<state>/advance/", {"expected_version": -1}, 400, "invalid"),
    ("advance-version-bool", "admin", "post", "/states/<state>/advance/", {"expected_version": False}, 400, "invalid"),
    (
        "advance-moved",
        "admin",
        "post",
        "/states/<state>/advance/",
        {"expected_node": "<frozen_c>"},
        409,
        "concurrent_transition",
    ),
    ("advance-not-in-flow", "admin", "post", "/states/<state>/advance/", {"rule": B}, 400, "choice_not_in_flow"),
    ("advance-choice-required", "admin", "post", "/states/<state_c>/advance/", {}, 400, "choice_required"),
    ("advance-at-the-end", "admin", "post", "/states/<state_d>/advance/", {}, 400, "no_next_state"),
    ("advance-extra", "admin", "post", "/states/<state>/advance/", {"to": D}, 400, "invalid"),
    ("advance-get", "admin", "get", "/states/<state>/advance/", OK, 405, "method_not_allowed"),
    ("history-post", "admin", "post", "/states/<state>/history/", {}, 405, "method_not_allowed"),
    ("history-bad-page", "admin", "get", "/states/<state>/history/?page=99", OK, 404, "not_found"),
    ("states-filter-flow", "admin", "get", "/states/?flow=abc", OK, 400, "invalid"),
    ("states-filter-model", "admin", "get", "/states/?subject_type=no.model", OK, 400, "invalid"),
    ("states-filter-twice", "admin", "get", "/states/?flow=1&flow=2", OK, 400, "invalid"),
    ("states-filter-rule-twice", "admin", "get", "/states/?rule=a&rule=b", OK, 400, "invalid"),
    ("list-page-size-text", "admin", "get", "/flows/?page_size=null", OK, 400, "invalid"),
    ("list-page-size-twice", "admin", "get", "/flows/?page_size=1&page_size=2", OK, 400, "invalid"),
    ("list-page-size-zero", "admin", "get", "/rules/?page_size=0", OK, 400, "invalid"),
    ("list-page-text", "admin", "get", "/flows/?page=last", OK, 400, "invalid"),
    ("list-page-twice", "admin", "get", "/flows/?page=1&page=1", OK, 400, "invalid"),
    ("state-delete", "admin", "delete", "/states/<state>/", OK, 405, "method_not_allowed"),
    # -- who may ----------------------------------------------------------------
    ("anonymous-create-flow", None, "post", "/flows/", {"name": "x", "rule_set": "<rs>"}, 401, "not_authenticated"),
    ("anonymous-advance", None, "post", "/states/<state>/advance/", {}, 401, "not_authenticated"),
    ("nobody-add-child", "nobody", "post", "/nodes/<pc>/children/", {"rule": D}, 403, "permission_denied"),
    ("nobody-get-on-mutating-url", "nobody", "get", "/nodes/<pc>/prune/", OK, 403, "permission_denied"),
    ("runner-delete-flow", "runner", "delete", "/flows/<flow>/", OK, 403, "permission_denied"),
    ("runner-remove-node", "runner", "delete", "/nodes/<d>/", OK, 403, "permission_denied"),
    ("editor-advance", "editor", "post", "/states/<state>/advance/", {}, 403, "permission_denied"),
    ("staff-start-state", "staff", "post", "/states/", {"flow": "<flow>"}, 403, "permission_denied"),
    ("csrf-create-flow", "session", "post", "/flows/", {"name": "x", "rule_set": "<rs>"}, 403, "csrf_failed"),
    ("csrf-add-child", "session", "post", "/nodes/<pc>/children/", {"rule": D}, 403, "csrf_failed"),
    ("csrf-delete-flow", "session", "delete", "/flows/<flow>/", OK, 403, "csrf_failed"),
    ("csrf-advance", "session", "post", "/states/<state>/advance/", {}, 403, "csrf_failed"),
]


def _client(who: str | None, users: dict[str, Any]) -> Any:
    if who == "session":
        client = Client(enforce_csrf_checks=True)
        client.force_login(users["admin"])
        return client
    client = APIClient()
    if who is not None:
        client.force_authenticate(users[who])
    return client


def _call(client: Any, method: str, url: str, body: Any) -> Any:
    if body is OK:
        return getattr(client, method)(url)
    if isinstance(body, str) and body.startswith("RAW:"):
        return client.generic(method.upper(), url, body[4:], content_type="application/json")
    if isinstance(body, str) and body.startswith("FORM:"):
        return client.generic(method.upper(), url, body[5:], content_type="application/x-www-form-urlencoded")
    return client.generic(method.upper(), url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    "who, method, url, body, status, code", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_refusal(world, users, who, method, url, body, status, code):
    before = snapshot()
    response = _call(_client(who, users), method, API + fill(url, world), fill(body, world))
    assert response.status_code == status, response.content
    payload = response.json()
    assert payload["code"] == code, payload
    assert isinstance(payload["detail"], str) and payload["detail"]
    assert snapshot() == before


def test_enough_cases():
    assert len(CASES) >= 60
    assert len({case[0] for case in CASES}) == len(CASES)


def test_validation_errors_name_the_field(world, users):
    response = _call(_client("admin", users), "post", f"{API}/flows/", {"name": LONG, "rule_set": 999999, "x": 1})
    payload = response.json()
    assert set(payload["errors"]) == {"x"}  # unknown fields are reported first
    response = _call(_client("admin", users), "post", f"{API}/flows/", fill({"name": LONG, "rule_set": 999999}, world))
    payload = response.json()
    assert payload["error_codes"] == {"name": ["max_length"], "rule_set": ["does_not_exist"]}
    assert payload["detail"].startswith("name: ")


def test_import_problems_are_listed(world, users):
    response = _call(_client("admin", users), "post", f"{API}/flows/import/", {"document": DOCUMENT})
    problems = response.json()["problems"]
    assert problems and all(set(p) >= {"path", "message"} for p in problems)
