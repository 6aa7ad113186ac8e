"""Who may do what, on every surface: roles × every API endpoint, editor page and admin page.

One answer everywhere, the admin's: Django's model permissions (view to read,
add/change/delete to edit, the State permissions to run; a superuser has all).
Being staff is needed for the pages that live in the admin, never sufficient.
A refused request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from flowr import edits
from flowr import sample_rules as S
from flowr.export import export_flow
from flowr.models import Flow, RuleSet, State
from tests.api_fixtures import API, EDIT_PERMS, STATE_PERMS, build_flow, make_user, node_of, snapshot
from tests.testapp import rules as T
from tests.testapp.settings_rules import ticket_flow

pytestmark = pytest.mark.django_db

VIEW_PERMS = ["flowr.view_flow", "flowr.view_ruleset", "flowr.view_state"]

#: role -> (is_staff, permissions); None is anonymous; "superuser" has them all
ROLES: dict[str, tuple[bool, list[str]] | None] = {
    "anonymous": None,
    "authenticated": (False, []),
    "viewer": (False, VIEW_PERMS),
    "staff": (True, []),
    "staff_viewer": (True, VIEW_PERMS),
    "editor": (True, EDIT_PERMS),
    "runner": (False, STATE_PERMS),
    "mover": (True, ["flowr.view_state", "flowr.jump_state", "flowr.cancel_state"]),
    "superuser": (True, []),
}

VIEW_FLOW, ADD_FLOW, CHANGE_FLOW, DELETE_FLOW = (f"flowr.{a}_flow" for a in ("view", "add", "change", "delete"))
VIEW_SET, ADD_SET = "flowr.view_ruleset", "flowr.add_ruleset"
VIEW_STATE, ADD_STATE, CHANGE_STATE = "flowr.view_state", "flowr.add_state", "flowr.change_state"
JUMP_STATE, CANCEL_STATE = "flowr.jump_state", "flowr.cancel_state"


@dataclass(frozen=True)
class Endpoint:
    surface: str  # "api", "editor" (flowr's pages) or "admin"
    method: str
    url: str  # placeholders: the keys of the world fixture
    perms: tuple[str, ...]
    success: int
    body: Any = None
    changes: bool = True  # False: a POST that changes nothing (a simulation)

    def __str__(self) -> str:
        return f"{self.surface} {self.method} {self.url}"


def api(
    method: str, url: str, perms: tuple[str, ...], success: int, body: Any = None, *, changes: bool = True
) -> Endpoint:
    return Endpoint("api", method, API + url, perms, success, body, changes)


def admin(method: str, name: str, args: str, perms: tuple[str, ...], success: int, body: Any = None) -> Endpoint:
    return Endpoint("admin", method, f"admin:{name}|{args}", perms, success, body)


def editor(name: str, arg: str, perms: tuple[str, ...]) -> Endpoint:
    return Endpoint("editor", "get", f"flowr:{name}|{arg}", perms, 200)


ENDPOINTS = [
    api("get", "/", (), 200),
    api("get", "/schema/", (), 200),
    api("get", "/rules/", (VIEW_SET,), 200),
    api("get", "/rule-sets/", (VIEW_SET,), 200),
    api("get", "/rule-sets/{set}/", (VIEW_SET,), 200),
    api("get", "/rule-sets/{set}/diagram/", (VIEW_SET,), 200),
    api("post", "/rule-sets/", (ADD_SET,), 201, {"name": "new", "root_rule": S.A.class_label}),
    api("get", "/flows/", (VIEW_FLOW,), 200),
    api("get", "/flows/{flow}/", (VIEW_FLOW,), 200),
    api("get", "/flows/{flow}/graph/", (VIEW_FLOW,), 200),
    api("get", "/flows/{flow}/export/", (VIEW_FLOW,), 200),
    api("get", "/flows/{flow}/diagram/", (VIEW_FLOW,), 200),
    api("post", "/flows/", (ADD_FLOW,), 201, {"name": "new", "rule_set": "{set}"}),
    api("post", "/flows/{flow}/clone/", (VIEW_FLOW, ADD_FLOW), 201, {}),
    api("post", "/flows/import/", (ADD_FLOW,), 201, {"document": "{document}", "name": "imported"}),
    api("patch", "/flows/{flow}/", (CHANGE_FLOW,), 200, {"name": "renamed"}),
    api("delete", "/flows/{flow}/", (DELETE_FLOW,), 204),
    api("get", "/nodes/{C}/", (VIEW_FLOW,), 200),
    api("post", "/nodes/{partial_C}/children/", (CHANGE_FLOW,), 201, {"rule": S.D.class_label}),
    api("post", "/nodes/{partial_E}/connect/", (CHANGE_FLOW,), 200, {"target": "{partial_A}"}),
    api("post", "/nodes/{C}/prune/", (CHANGE_FLOW,), 200, {}),
    api("delete", "/nodes/{D}/", (CHANGE_FLOW,), 204),
    api("post", "/nodes/{E}/disconnect/", (CHANGE_FLOW,), 200, {"child": "{A}"}),
    api(
        "post", "/nodes/{chain_root}/insert/", (CHANGE_FLOW,), 201, {"rule": T.Chain.class_label, "child": "{chain_1}"}
    ),
    api("post", "/nodes/{partial_E}/rule/", (CHANGE_FLOW,), 200, {"rule": S.D.class_label}),
    api("patch", "/nodes/{closed}/settings/", (CHANGE_FLOW,), 200, {"settings": {"reason": "done"}}),
    api("get", "/flows/{flow}/edits/", (VIEW_FLOW,), 200),
    api("post", "/flows/{partial}/undo/", (CHANGE_FLOW,), 200, {}),
    api("post", "/flows/{undone}/redo/", (CHANGE_FLOW,), 200, {}),
    api("post", "/flows/{flow}/simulate/", (VIEW_FLOW,), 200, {"explore": True}, changes=False),
    api("post", "/flows/{flow}/status/", (CHANGE_FLOW,), 200, {"status": "in_review"}),
    api("get", "/flows/{flow}/diff/{running}/", (VIEW_FLOW,), 200),
    api("post", "/flows/{running}/migrate/", (CHANGE_FLOW, CHANGE_STATE), 200, {"target": "{running_v2}"}),
    api("get", "/states/", (VIEW_STATE,), 200),
    api("get", "/states/{state}/", (VIEW_STATE,), 200),
    api("get", "/states/{state}/history/", (VIEW_STATE,), 200),
    api("get", "/states/{state}/diagram/", (VIEW_STATE,), 200),
    api("post", "/states/", (ADD_STATE,), 201, {"flow": "{flow}"}),
    api("post", "/states/{state}/advance/", (CHANGE_STATE,), 200, {}),
    api("post", "/states/advance/", (CHANGE_STATE,), 200, {"states": ["{state}"]}),
    api("post", "/states/{state}/jump/", (JUMP_STATE,), 200, {"node": "{running_D}"}),
    api("post", "/states/{state}/cancel/", (CANCEL_STATE,), 200, {}),
    editor("flow_editor", "{flow}", (CHANGE_FLOW,)),
    editor("rule_set_graph", "{set}", (VIEW_SET,)),
    editor("node_edit_screen", "{C}", (CHANGE_FLOW,)),
    editor("flow_compare", "{flow}", (VIEW_FLOW,)),
    editor("flow_migrate", "{running}", (CHANGE_FLOW, CHANGE_STATE)),
    admin("get", "flowr_ruleset_changelist", "", (VIEW_SET,), 200),
    admin("get", "flowr_ruleset_add", "", (ADD_SET,), 200),
    admin("get", "flowr_ruleset_change", "{set}", (VIEW_SET,), 200),
    admin("get", "flowr_flow_changelist", "", (VIEW_FLOW,), 200),
    admin("get", "flowr_flow_add", "", (ADD_FLOW,), 200),
    admin("get", "flowr_flow_change", "{flow}", (VIEW_FLOW,), 200),
    admin("get", "flowr_flow_delete", "{flow}", (DELETE_FLOW,), 200),
    admin("get", "flowr_flow_export", "{flow}", (VIEW_FLOW,), 200),
    admin("get", "flowr_flow_remove", "{flow},{D}", (CHANGE_FLOW,), 200),
    admin("get", "flowr_flow_prune", "{flow},{C}", (CHANGE_FLOW,), 200),
    admin("post", "flowr_flow_add_child", "{partial},{partial_C}", (CHANGE_FLOW,), 302, {"rule": S.D.class_label}),
    admin("post", "flowr_flow_connect", "{partial},{partial_E}", (CHANGE_FLOW,), 302, {"target": "{partial_A}"}),
    admin("post", "flowr_flow_remove", "{flow},{D}", (CHANGE_FLOW,), 302, {}),
    admin("post", "flowr_flow_prune", "{flow},{C}", (CHANGE_FLOW,), 302, {}),
    admin("get", "flowr_flow_settings", "{tickets},{closed}", (CHANGE_FLOW,), 200),
    admin("post", "flowr_flow_settings", "{tickets},{closed}", (CHANGE_FLOW,), 302, {"reason": "done"}),
    admin("post", "flowr_flow_clone", "{flow}", (ADD_FLOW,), 302, {}),
    admin("post", "flowr_flow_status", "{flow}", (CHANGE_FLOW,), 302, {"transition": "submit_for_review"}),
    admin("get", "flowr_flow_compare", "{flow}", (VIEW_FLOW,), 200),
    admin("get", "flowr_flow_migrate", "{running}", (CHANGE_FLOW, CHANGE_STATE), 200),
    admin(
        "post",
        "flowr_flow_migrate",
        "{running}",
        (CHANGE_FLOW, CHANGE_STATE),
        302,
        {"target": "{running_v2}", "move": "1"},
    ),
    admin("get", "flowr_state_changelist", "", (VIEW_STATE,), 200),
    admin("get", "flowr_state_add", "", (ADD_STATE,), 200),
    admin("get", "flowr_state_change", "{state}", (VIEW_STATE,), 200),
    admin("get", "flowr_state_advance", "{state}", (CHANGE_STATE,), 200),
    admin("post", "flowr_state_add", "", (ADD_STATE,), 302, {"flow": "{flow}"}),
    admin("get", "flowr_state_advance_many", "", (CHANGE_STATE,), 200),
    admin("post", "flowr_state_advance_many", "", (CHANGE_STATE,), 302, {"ids": "{state}"}),
    admin("get", "flowr_state_jump", "{state}", (JUMP_STATE,), 200),
    admin("post", "flowr_state_jump", "{state}", (JUMP_STATE,), 302, {"node": "{running_D}", "expected_version": 0}),
    admin("get", "flowr_state_cancel", "{state}", (CANCEL_STATE,), 200),
    admin("post", "flowr_state_cancel", "{state}", (CANCEL_STATE,), 302, {"expected_version": 0}),
]

LOGIN = "login"  # a redirect to the admin's login page


def expected(role: str, endpoint: Endpoint) -> int | str:
    """The admin's answer, written out."""
    spec = ROLES[role]
    if spec is None:
        return 401 if endpoint.surface == "api" else LOGIN
    is_staff, perms = spec
    if endpoint.surface == "admin" and not is_staff:
        return LOGIN
    if endpoint.surface == "editor" and not is_staff:
        return 403
    if role != "superuser" and not set(endpoint.perms) <= set(perms):
        return 403
    return endpoint.success


@pytest.fixture(name="world")
def world_fixture() -> dict[str, Any]:
    rule_set = RuleSet.factory("sample", S.A)
    flow = build_flow(rule_set)  # editable: no State on it
    running = build_flow(rule_set, "running")
    state = State.start(running)
    running_v2 = running.clone()
    partial = Flow.factory("partial", rule_set)  # A -> C -> E, room for D under C and E -> A
    partial.root_data.add_child_rule(S.C).add_child_rule(S.E)
    undone = Flow.factory("undone", rule_set)  # an add undone: redo may re-apply it
    undone.root_data.add_child_rule(S.C)
    edits.undo(undone)
    chain = Flow.factory("chain", RuleSet.factory("chains", T.Chain))  # Chain -> Chain: room to insert one
    chain_1 = chain.root_data.add_child_rule(T.Chain)
    tickets, _, _, closed = ticket_flow("matrix tickets")  # Closed: a rule with optional settings
    return {
        "tickets": tickets.pk,
        "closed": closed.node_id,
        "undone": undone.pk,
        "chain_root": chain.state_graph.root_id,
        "chain_1": chain_1.node_id,
        "partial": partial.pk,
        "partial_A": node_of(partial, S.A),
        "partial_C": node_of(partial, S.C),
        "partial_E": node_of(partial, S.E),
        "set": rule_set.pk,
        "flow": flow.pk,
        "running": running.pk,
        "running_v2": running_v2.pk,
        "state": state.pk,
        "running_D": node_of(running, S.D),
        "A": node_of(flow, S.A),
        "C": node_of(flow, S.C),
        "D": node_of(flow, S.D),
        "E": node_of(flow, S.E),
        "document": export_flow(flow),
    }


def fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {key: fill(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, world) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in world:
        return world[value[1:-1]]
    if isinstance(value, str):
        return value.format(**{key: item for key, item in world.items() if key != "document"})
    return value


def url_of(endpoint: Endpoint, world: dict[str, Any]) -> str:
    if endpoint.surface == "api":
        return str(fill(endpoint.url, world))
    name, _, args = endpoint.url.partition("|")
    filled = [fill(arg, world) for arg in args.split(",") if arg]
    if endpoint.surface == "editor":
        return reverse(name, kwargs={"pk": filled[0]})
    return reverse(name, args=filled)


def client_as(role: str) -> APIClient:
    client = APIClient()
    spec = ROLES[role]
    if spec is not None:
        is_staff, perms = spec
        user: User = make_user(role, *perms, is_staff=is_staff, is_superuser=role == "superuser")
        client.force_login(user)
    return client


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("role", list(ROLES))
def test_authorization_matrix(world: dict[str, Any], role: str, endpoint: Endpoint) -> None:
    client = client_as(role)
    before = snapshot()
    url = url_of(endpoint, world)
    body = fill(endpoint.body, world)
    if endpoint.surface == "api":
        response = getattr(client, endpoint.method)(url, body, format="json", HTTP_ACCEPT="application/json")
    else:
        response = getattr(client, endpoint.method)(url, body or {})
    answer: int | str = response.status_code
    if answer == 302 and response["Location"].startswith(reverse("admin:login")):
        answer = LOGIN
    assert answer == expected(role, endpoint), getattr(response, "content", b"")[:300]
    if answer in (401, 403, LOGIN) or not endpoint.changes:
        assert snapshot() == before
    elif endpoint.method != "get":
        assert snapshot() != before  # the allowed edit was done, not refused with a message


def test_the_matrix_covers_every_api_route() -> None:
    """A new API endpoint must be added to the matrix."""
    from flowr.api.urls import router

    covered = {(e.method, e.url) for e in ENDPOINTS if e.surface == "api"}
    for prefix, viewset, _ in router.registry:
        for route in router.get_routes(viewset):
            for method in router.get_method_map(viewset, route.mapping):
                url = route.url.replace("^", "").replace("$", "").replace("{prefix}", prefix)
                url = url.replace("{trailing_slash}", "/").replace("{lookup}", "<pk>")
                assert any(m == method and _shape(u) == _shape("/" + url) for m, u in covered), (method, url)


def _shape(url: str) -> str:
    """``/flows/{flow}/graph/`` and ``/flows/(?P<pk>[^/.]+)/graph/`` -> ``/flows/*/graph/``."""
    parts = url.removeprefix(API).strip("/").split("/")
    return "/" + "/".join("*" if p.startswith(("{", "(", "<")) else p for p in parts) + "/"
