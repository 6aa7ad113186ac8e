"""Every ``python`` block of the documentation runs.

Each page's blocks run in order in one namespace, seeded with the objects the
page's prose assumes (a flow, a State, a subject, a user...; see ``SETUPS``).
A block is either statements (run) or a configuration fragment such as
``path("flowr/", include("flowr.urls")),`` (evaluated).  A new page with
python blocks needs an entry here: the test says so.  The README's install
and quickstart run in a new project: tests/test_readme_quickstart.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.dispatch import Signal
from django.urls import include, path

from flowr import rules as rule_registry
from flowr import sample_rules as sr
from flowr import signals
from flowr.models import Flow, RuleSet, State
from tests.testapp.models import Ticket

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)

pytestmark = pytest.mark.django_db


def blocks(page: str) -> list[str]:
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def sample_flow() -> Flow:
    """flowr.sample_rules: A -> C -> {D, E}, E loops back to A."""
    rule_set = RuleSet.factory("Sample", sr.A)
    flow = Flow.factory_from_rules("Orders", rule_set, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])])
    nodes = {data.rule_name: data for data in flow.nodes_data()}
    nodes["E"].connect_child(nodes["A"])
    return flow


def setup_api() -> dict[str, Any]:
    return {"path": path, "include": include}


def setup_lifecycle() -> dict[str, Any]:
    flow = sample_flow()
    state = State.start(flow)
    return {"flow": flow, "old": flow, "rule_set": flow.rule_set, "s": state}


def setup_runtime() -> dict[str, Any]:
    user = User.objects.create_user("reader")
    supervisor = User.objects.create_user("supervisor")
    moves = Permission.objects.filter(content_type__app_label="flowr", codename__in=["jump_state", "cancel_state"])
    supervisor.user_permissions.add(*moves)
    return {
        "supervisor": User.objects.get(pk=supervisor.pk),  # fresh permission cache
        "flow": sample_flow(),
        "order": Ticket.objects.create(title="order 1"),
        "request": SimpleNamespace(user=user),
        "user": user,
        "ShipRule": sr.E,  # a branch of C; it loops back to the root
        "Rule": sr.Rule,
        "send_mail": lambda *args, **kwargs: None,
    }


def setup_testing() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_testing"}


SETUPS: dict[str, Callable[[], dict[str, Any]]] = {
    "api.md": setup_api,
    "lifecycle.md": setup_lifecycle,
    "runtime.md": setup_runtime,
    "testing.md": setup_testing,
}


def test_every_page_with_python_blocks_has_a_setup():
    pages = {page.name for page in DOCS.glob("*.md") if blocks(page.name)}
    assert pages == set(SETUPS), "add the new page to SETUPS (or remove it)"


@pytest.mark.parametrize("page", sorted(SETUPS))
def test_the_blocks_of_a_page_run(page):
    namespace = {"__name__": f"docs_{page[:-3]}", **SETUPS[page]()}
    all_signals = [value for value in vars(signals).values() if isinstance(value, Signal)]
    receivers = {signal: list(signal.receivers) for signal in all_signals}
    try:
        for number, block in enumerate(blocks(page), 1):
            try:
                code = compile(block, f"{page} block {number}", "exec")
            except SyntaxError:
                code = compile(block, f"{page} block {number}", "eval")  # a fragment: `path(...),`
            exec(code, namespace)  # noqa: S102 -- our own documentation
    finally:
        for signal, saved in receivers.items():  # a block's @receiver stays in the page
            signal.receivers = saved
            signal.sender_receivers_cache.clear()
        for label in [label for label in rule_registry._registry if label.startswith(namespace["__name__"] + ".")]:
            del rule_registry._registry[label]  # and so do its rules
    assert blocks(page)
