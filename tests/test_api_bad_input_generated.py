"""Bad input on every endpoint, generated: bad ids in URLs, bad bodies (raw
bytes, wrong JSON types, deep nesting, NUL, lone surrogates, big bodies, other
content types) and bad query parameters.  No answer is a 5xx, every refusal
is ``{"detail", "code"}`` and no flowr row changes (tests/test_api_bad_input.py
names the exact status and code of each refusal it lists)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api_fixtures import API, snapshot, users_fixture  # noqa: F401  (fixtures)
from tests.test_api_bad_input import fill, world_fixture  # noqa: F401  (fixtures)

A = "flowr.sample_rules.A"
LONG = "x" * 10_000
BAD_IDS = ["²", "-1", "0", "99999999999999999999", "1.5", "null", "a%00b", "%ED%A0%80", LONG, "1e3"]
BAD_VALUES: dict[str, Any] = {
    "nul": "a\x00b",
    "surrogate": "a\ud800b",
    "long": LONG,
    "int": -5,
    "float": 1.5,
    "huge": 10**30,
    "null": None,
    "true": True,
    "list": ["x"],
    "object": {"x": 1},
    "empty": "",
}

# (name, method, url of a world object, body with "V" where the bad value goes)
MUTATIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("flow-create", "post", "/flows/", {"name": "V", "rule_set": "<rs>"}),
    ("flow-rename", "patch", "/flows/<flow>/", {"name": "V"}),
    ("flow-clone", "post", "/flows/<flow>/clone/", {"name": "V"}),
    ("flow-import", "post", "/flows/import/", {"document": "V"}),
    ("node-child", "post", "/nodes/<pc>/children/", {"rule": "V"}),
    ("node-connect", "post", "/nodes/<pe>/connect/", {"target": "V"}),
    ("state-start", "post", "/states/", {"flow": "<flow>", "subject_type": "testapp.ticket", "subject_id": "V"}),
    ("state-advance", "post", "/states/<state>/advance/", {"rule": "V"}),
    ("rule-set-create", "post", "/rule-sets/", {"name": "V", "root_rule": A}),
    ("flow-simulate-subject", "post", "/flows/<flow>/simulate/", {"subject_type": "testapp.ticket", "subject_id": "V"}),
    ("flow-simulate-steps", "post", "/flows/<flow>/simulate/", {"max_steps": "V"}),
]
# detail URLs with an id: (name, method, url with {id})
BY_ID: list[tuple[str, str, str]] = [
    ("flow", "get", "/flows/{id}/"),
    ("flow-graph", "get", "/flows/{id}/graph/"),
    ("flow-export", "get", "/flows/{id}/export/"),
    ("flow-diagram", "get", "/flows/{id}/diagram/"),
    ("flow-delete", "delete", "/flows/{id}/"),
    ("flow-clone", "post", "/flows/{id}/clone/"),
    ("flow-simulate", "post", "/flows/{id}/simulate/"),
    ("node", "get", "/nodes/{id}/"),
    ("node-delete", "delete", "/nodes/{id}/"),
    ("node-prune", "post", "/nodes/{id}/prune/"),
    ("node-child", "post", "/nodes/{id}/children/"),
    ("node-connect", "post", "/nodes/<pe>/connect/|{id}"),
    ("rule-set", "get", "/rule-sets/{id}/"),
    ("state", "get", "/states/{id}/"),
    ("state-history", "get", "/states/{id}/history/"),
    ("state-advance", "post", "/states/{id}/advance/"),
    ("states-flow", "get", "/states/?flow={id}"),
    ("states-node", "get", "/states/?node={id}"),
    ("history-page", "get", "/states/<state>/history/?page={id}"),
]
QUERY_TEXTS = ["a%00b", "%ED%A0%80", "%FF", LONG, ""]
QUERIES = ["rule", "subject_type", "subject_id_with_type"]


def _raw_bodies() -> dict[str, tuple[bytes, str, int, str]]:
    """(body, content type, status, code) of bodies refused whatever the URL."""
    deep = b"[" * 3000 + b"]" * 3000
    json_type = "application/json"
    return {
        "deep-3000": (deep, json_type, 400, "parse_error"),
        "deep-150-objects": (b'{"a":' * 150 + b"1" + b"}" * 150, json_type, 400, "parse_error"),
        "invalid-utf8": (b'{"name": "\xff\xfe"}', json_type, 400, "parse_error"),
        "utf16": ('{"name": "x"}'.encode("utf-16"), json_type, 400, "parse_error"),
        "nul-escape": (b'{"name": "a\\u0000b"}', json_type, 400, "parse_error"),
        "surrogate-escape": (b'{"name": "a\\ud800b"}', json_type, 400, "parse_error"),
        "surrogate-key": (b'{"\\udfff": 1}', json_type, 400, "parse_error"),
        "nan": (b'{"name": NaN}', json_type, 400, "parse_error"),
        "truncated": (b'{"name": ', json_type, 400, "parse_error"),
        "text-plain": (b'{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
        "xml": (b"<name>x</name>", "application/xml", 415, "unsupported_media_type"),
        "multipart": (b"--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b", 415, "unsupported_media_type"),
        "too-large": (b'{"name": "' + b"x" * 3_000_000 + b'"}', json_type, 413, "too_large"),
    }


def _check(response: Any, before: Any, status: int | None = None, code: str | None = None) -> None:
    assert response.status_code < 500, response.content[:300]
    assert 400 <= response.status_code < 500, response.content[:300]
    payload = response.json()
    assert isinstance(payload["detail"], str) and payload["detail"], payload
    assert isinstance(payload["code"], str) and payload["code"], payload
    if status is not None:
        assert (response.status_code, payload["code"]) == (status, code), payload
    assert snapshot() == before


@pytest.fixture(name="admin_api")
def admin_api_fixture(users: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(users["admin"])
    return client


@pytest.mark.parametrize("body", list(_raw_bodies()))
@pytest.mark.parametrize("mutation", [m[0] for m in MUTATIONS])
def test_raw_body(world, admin_api, mutation, body):
    _, method, url, _ = next(m for m in MUTATIONS if m[0] == mutation)
    raw, content_type, status, code = _raw_bodies()[body]
    before = snapshot()
    response = admin_api.generic(method.upper(), API + fill(url, world), raw, content_type=content_type)
    _check(response, before, status, code)


@pytest.mark.parametrize("value", list(BAD_VALUES))
@pytest.mark.parametrize("mutation", [m[0] for m in MUTATIONS])
def test_bad_value(world, admin_api, mutation, value):
    if (mutation, value) == ("state-advance", "null"):
        pytest.skip("rule: null is valid (no choice)")
    _, method, url, template = next(m for m in MUTATIONS if m[0] == mutation)
    body = {k: (BAD_VALUES[value] if v == "V" else fill(v, world)) for k, v in template.items()}
    before = snapshot()
    # ensure_ascii: the lone surrogate travels as an escape, as a client would send it
    raw = json.dumps(body, ensure_ascii=True)
    response = admin_api.generic(method.upper(), API + fill(url, world), raw, content_type="application/json")
    _check(response, before)


@pytest.mark.parametrize("mutation", [m[0] for m in MUTATIONS])
@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "true", "1.5"])
def test_wrong_json_type(world, admin_api, mutation, body):
    _, method, url, _ = next(m for m in MUTATIONS if m[0] == mutation)
    before = snapshot()
    response = admin_api.generic(method.upper(), API + fill(url, world), body, content_type="application/json")
    _check(response, before)


@pytest.mark.parametrize("bad", BAD_IDS, ids=[f"id{i}" for i in range(len(BAD_IDS))])
@pytest.mark.parametrize("endpoint", [e[0] for e in BY_ID])
def test_bad_id(world, admin_api, endpoint, bad):
    _, method, url = next(e for e in BY_ID if e[0] == endpoint)
    body: Any = None
    if "|" in url:  # the id goes in the body
        url, _ = url.split("|")
        body = json.dumps({"target": bad})
    before = snapshot()
    path = API + fill(url, world).replace("{id}", bad)
    response = admin_api.generic(method.upper(), path, body or "", content_type="application/json")
    _check(response, before)


@pytest.mark.parametrize("value", QUERY_TEXTS, ids=[f"text{i}" for i in range(len(QUERY_TEXTS))])
@pytest.mark.parametrize("name", QUERIES)
def test_bad_query_text(world, admin_api, name, value):
    before = snapshot()
    query = f"subject_type=testapp.ticket&subject_id={value}" if name == "subject_id_with_type" else f"{name}={value}"
    response = admin_api.get(f"{API}/states/?{query}")
    if response.status_code == 200:  # a text that no State has: an empty list, not an error
        assert response.json()["results"] == [] and snapshot() == before
        assert value != "a%00b"  # invalid UTF-8 is decoded to U+FFFD by Django: no surrogate arrives
        return
    _check(response, before, 400, "invalid")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_too_large_follows_the_setting(world, admin_api):
    before = snapshot()
    response = admin_api.post(f"{API}/flows/", {"name": "x" * 200, "rule_set": world["rs"]}, format="json")
    _check(response, before, 413, "too_large")


def test_enough_cases():
    from tests.test_api_bad_input import CASES

    generated = (
        len(MUTATIONS) * (len(_raw_bodies()) + len(BAD_VALUES) + 6)
        + len(BY_ID) * len(BAD_IDS)
        + len(QUERIES) * len(QUERY_TEXTS)
    )
    assert generated + len(CASES) >= 300
