"""Fixtures and helpers of the API tests.

A test module imports the fixtures it uses (``*_fixture``; pytest knows them
by the name without the suffix) -- tests/conftest.py is shared, so they are
not there.

Users: ``admin`` (superuser), ``staff`` (staff, no permissions), ``editor``
(not staff; add/change/delete/view flow and rule set), ``runner`` (not staff;
view/add/change state), ``nobody`` (no permissions).  ``api`` is an
``APIClient`` authenticated as ``admin``; ``client_for(user)`` any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from flowr import sample_rules
from flowr.models import DCCGraph, Edge, Flow, FlowEdit, FlowNodeData, Node, RuleSet, State, StateHistory
from tests.testapp import rules as test_rules

API = "/flowr/api"
FLOWR_MODELS = [RuleSet, Flow, DCCGraph, Node, Edge, FlowNodeData, State, StateHistory, FlowEdit]


def make_user(username: str, *perms: str, **flags: Any) -> User:
    user = User.objects.create_user(username, password="pw", **flags)
    if perms:
        codenames = [p.split(".", 1)[1] for p in perms]
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="flowr", codename__in=codenames))
    return user


EDIT_PERMS = [f"flowr.{a}_{m}" for a in ("view", "add", "change", "delete") for m in ("flow", "ruleset")]
STATE_PERMS = ["flowr.view_state", "flowr.add_state", "flowr.change_state"]


@pytest.fixture(name="users")
def users_fixture(db: Any) -> dict[str, User]:
    return {
        "admin": make_user("admin", is_staff=True, is_superuser=True),
        "staff": make_user("staff", is_staff=True),
        "editor": make_user("editor", *EDIT_PERMS),
        "runner": make_user("runner", *STATE_PERMS),
        "nobody": make_user("nobody"),
    }


@pytest.fixture(name="client_for")
def client_for_fixture(users: dict[str, User]) -> Callable[[str | None], APIClient]:
    def make(name: str | None) -> APIClient:
        client = APIClient()
        if name is not None:
            client.force_authenticate(users[name])
        return client

    return make


@pytest.fixture(name="api")
def api_fixture(client_for: Callable[[str | None], APIClient]) -> APIClient:
    return client_for("admin")


@pytest.fixture(name="rule_set")
def rule_set_fixture(db: Any) -> RuleSet:
    return RuleSet.factory("sample", sample_rules.A)


@pytest.fixture(name="chain_set")
def chain_set_fixture(db: Any) -> RuleSet:
    return RuleSet.factory("chains", test_rules.Chain)


def build_flow(rule_set: RuleSet, name: str = "flow") -> Flow:
    """A -> C, C -> D, C -> E, E -> A (a loop back to the root)."""
    flow = Flow.factory(name, rule_set)
    root = flow.root_data
    c = root.add_child_rule(sample_rules.C)
    c.add_child_rule(sample_rules.D)
    e = c.add_child_rule(sample_rules.E)
    e.connect_child(root)
    return flow


@pytest.fixture(name="wide_set")
def wide_set_fixture(db: Any) -> RuleSet:
    return RuleSet.factory("wide", test_rules.Wide)


@pytest.fixture(name="flow")
def flow_fixture(rule_set: RuleSet) -> Flow:
    return build_flow(rule_set)


def node_of(flow: Flow, rule: type) -> int:
    """The Node pk of ``flow``'s (first) node with ``rule``."""
    return (
        FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id, rule_label=rule.class_label)
        .order_by("node_id")  # the first made
        .values_list("node_id", flat=True)[0]
    )


def flow_shape(flow: Flow) -> set[tuple[str, str]]:
    """The flow's edges as (rule name, rule name) pairs."""
    names = {d.node_id: d.rule_name for d in FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id)}
    return {
        (names[s], names[t])
        for s, t in Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id")
    }


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of flowr's tables (and users' tokens), to prove nothing changed."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in FLOWR_MODELS}


def chain_flow(rule_set: RuleSet, length: int, name: str = "chain") -> Flow:
    """A flow of ``length`` Chain nodes in a row (built in one go)."""
    flow = Flow.factory(name, rule_set)
    data = flow.root_data
    for _ in range(length - 1):
        data = data.add_child_rule(test_rules.Chain)
    return flow


def _doc(root_rule: str, nodes: list[tuple[str, int | None]], links: list[tuple[int, int]]) -> dict[str, Any]:
    """An export document: ``nodes`` are (rule label, backbone parent index)."""
    return {
        "format": 1,
        "flow": {"name": "big", "version": 1, "family": "00000000-0000-0000-0000-000000000000"},
        "rule_set": {"name": "big", "root_rule": root_rule},
        "nodes": [{"id": f"n{i}", "rule": label, "data": {}} for i, (label, _) in enumerate(nodes)],
        "edges": [
            *(
                {"source": f"n{p}", "target": f"n{i}", "kind": "backbone"}
                for i, (_, p) in enumerate(nodes)
                if p is not None
            ),
            *({"source": f"n{s}", "target": f"n{t}", "kind": "link"} for s, t in links),
        ],
    }


def big_chain_flow(rule_set: RuleSet, length: int) -> Flow:
    """``length`` Chain nodes in a row, the last linked back to the root (bulk import)."""
    from flowr.export import import_flow

    label = test_rules.Chain.class_label
    nodes = [(label, None if i == 0 else i - 1) for i in range(length)]
    return import_flow(_doc(label, nodes, [(length - 1, 0)]), name=f"chain{length}", rule_set=rule_set)


def big_wide_flow(rule_set: RuleSet, levels: int) -> Flow:
    """A tree of Wide -> (Leaf -> Wide..., Leaf2 -> Wide..., Chain) ``levels`` deep (bulk import)."""
    from flowr.export import import_flow

    wide, leaf, leaf2, chain = (
        r.class_label for r in (test_rules.Wide, test_rules.Leaf, test_rules.Leaf2, test_rules.Chain)
    )
    nodes: list[tuple[str, int | None]] = [(wide, None)]
    pending = [(0, levels)]
    while pending:
        parent, level = pending.pop()
        if level == 0:
            continue
        for label in (leaf, leaf2):
            nodes.append((label, parent))
            nodes.append((wide, len(nodes) - 1))
            pending.append((len(nodes) - 1, level - 1))
        nodes.append((chain, parent))
    return import_flow(_doc(wide, nodes, []), name=f"wide{levels}", rule_set=rule_set)
