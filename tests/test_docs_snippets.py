"""Every ``python`` block of the documentation runs.

Each page's blocks run in order in one namespace, seeded with the objects the
page's prose assumes (a flow, a State, a subject, a user...; see ``SETUPS``).
A block is either statements (run) or a configuration fragment such as
``path("flowr/", include("flowr.urls")),`` (evaluated).  A new page with
python blocks needs an entry here: the test says so.  The README's install
and quickstart run in a new project: tests/test_readme_quickstart.py.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest import mock

import django.contrib.admin
import pytest
from django.contrib.admin import AdminSite
from django.contrib.auth.models import Group, Permission, User
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


def setup_admin() -> Iterator[dict[str, Any]]:
    """The page's ModelAdmin registers on a fresh admin site (the test app's
    Ticket has one on the real site), importing Ticket from ``myapp.models``."""
    site = AdminSite()
    myapp = ModuleType("myapp")
    with (
        mock.patch.object(django.contrib.admin, "site", site),
        mock.patch.dict(sys.modules, {"myapp": myapp, "myapp.models": sys.modules["tests.testapp.models"]}),
    ):
        yield {}
    assert Ticket in site._registry


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
        "__name__": "tests.docs_runtime",  # the page's rules must live in an installed app's module to resolve
        "supervisor": User.objects.get(pk=supervisor.pk),  # fresh permission cache
        "flow": sample_flow(),
        "order": Ticket.objects.create(title="order 1"),
        "request": SimpleNamespace(user=user),
        "user": user,
        "ShipRule": sr.E,  # a branch of C; it loops back to the root
        "Rule": sr.Rule,
        "send_mail": lambda *args, **kwargs: None,
    }


def setup_core() -> dict[str, Any]:
    """Readable names: the block defines rules; nothing to seed."""
    return {}


def setup_testing() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_testing"}


def setup_node_settings() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_node_settings"}


SETUPS: dict[str, Callable[[], Any]] = {
    "admin.md": setup_admin,
    "api.md": setup_api,
    "core.md": setup_core,
    "lifecycle.md": setup_lifecycle,
    "node-settings.md": setup_node_settings,
    "runtime.md": setup_runtime,
    "testing.md": setup_testing,
}


def before_permission_options(namespace: dict[str, Any], block: str) -> None:
    """ "Who may take which transition": the State the page's options block
    shows, on a flow of the rules the block before defined, for a staff
    reviewer (the page's other blocks get their own objects back after the
    notes block)."""
    namespace["_saved"] = {name: namespace[name] for name in ("state", "request", "user")}
    review, approve, reject = namespace["Review"], namespace["Approve"], namespace["Reject"]
    assert approve.class_label == "tests.docs_runtime.Approve"
    flow = Flow.factory("Tickets", RuleSet.factory("Tickets", review))
    flow.root_data.add_child_rule(approve)
    flow.root_data.add_child_rule(reject)
    user = User.objects.create_user("reviewer", is_staff=True)
    user.groups.add(Group.objects.create(name="reviewers"))
    namespace.update(state=State.start(flow, actor=user), request=SimpleNamespace(user=user), user=user)


def after_permission_options(namespace: dict[str, Any], block: str, printed: str) -> None:
    documented = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# ")]
    assert printed.splitlines() == documented
    assert namespace["state"].allowed_next_rules(actor=namespace["user"]) == [namespace["Reject"]]
    stranger = User.objects.create_user("stranger", is_staff=True)
    fresh = State.start(namespace["state"].flow)
    assert [(o.allowed, o.code) for o in fresh.transition_options(actor=stranger)] == [
        (False, "permission_denied"),
        (False, "permission_denied"),
    ]
    clerk = User.objects.create_user("clerk")
    clerk.groups.add(Group.objects.get(name="reviewers"))
    assert [o.reason for o in fresh.transition_options(actor=clerk)][1] == "Only staff may reject a new ticket."


def after_notes(namespace: dict[str, Any], block: str, printed: str) -> None:
    row = namespace["row"]
    assert (row.note, row.data) == ("Duplicate of #12", {"duplicate_of": 12})
    assert '("Duplicate of #12", {"duplicate_of": 12})' in block
    namespace.update(namespace.pop("_saved"))


def after_settings_run(namespace: dict[str, Any], block: str, printed: str) -> None:
    """Node settings: ``on_enter`` printed what it read in ``state.settings``."""
    assert printed == "assigned to Support, due in 2 days, 0:00:00\n"


#: Per page, ``(text in the block, before(namespace, block), after(namespace,
#: block, printed))``: a section that needs its own objects, and checks of
#: what its blocks print.
HOOKS: dict[str, list[tuple[str, Callable[..., None] | None, Callable[..., None] | None]]] = {
    "runtime.md": [
        ("state.transition_options(actor=request.user)", before_permission_options, after_permission_options),
        ('note="Duplicate of #12"', None, after_notes),
    ],
    "node-settings.md": [("state = State.start(flow)", None, after_settings_run)],
}


def test_every_page_with_python_blocks_has_a_setup():
    pages = {page.name for page in DOCS.glob("*.md") if blocks(page.name)}
    assert pages == set(SETUPS), "add the new page to SETUPS (or remove it)"


@pytest.mark.parametrize("page", sorted(SETUPS))
def test_the_blocks_of_a_page_run(page, capsys):
    setup = SETUPS[page]
    # a generator setup is a context: the blocks run inside it
    with contextmanager(setup)() if inspect.isgeneratorfunction(setup) else nullcontext(setup()) as seeded:
        _run_blocks(page, {"__name__": f"docs_{page[:-3]}", **seeded}, capsys)
    assert blocks(page)


def _run_blocks(page: str, namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    all_signals = [value for value in vars(signals).values() if isinstance(value, Signal)]
    receivers = {signal: list(signal.receivers) for signal in all_signals}
    try:
        for number, block in enumerate(blocks(page), 1):
            try:
                code = compile(block, f"{page} block {number}", "exec")
            except SyntaxError:
                code = compile(block, f"{page} block {number}", "eval")  # a fragment: `path(...),`
            hooks = [(before, after) for text, before, after in HOOKS.get(page, []) if text in block]
            for before, _ in hooks:
                if before is not None:
                    before(namespace, block)
            capsys.readouterr()
            exec(code, namespace)  # noqa: S102 -- our own documentation
            printed = capsys.readouterr().out
            for _, after in hooks:
                if after is not None:
                    after(namespace, block, printed)
    finally:
        for signal, saved in receivers.items():  # a block's @receiver stays in the page
            signal.receivers = saved
            signal.sender_receivers_cache.clear()
        for label in [label for label in rule_registry._registry if label.startswith(namespace["__name__"] + ".")]:
            del rule_registry._registry[label]  # and so do its rules
