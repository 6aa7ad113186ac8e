"""Every ``python`` block of the documentation runs.

Each page's blocks run in order in one namespace, seeded with the objects the
page's prose assumes (a flow, a State, a subject, a user...; see ``SETUPS``).
A block is either statements (run) or a configuration fragment such as
``path("flowr/", include("flowr.urls")),`` (evaluated).  A new page with
python blocks needs an entry here: the test says so.  A python block whose
next fenced block is a ``text`` block prints exactly that text.  The
tutorial's pages run in order: a page's setup runs the pages before it, as
a reader following it has.  The README's install and quickstart run in a
new project: tests/test_readme_quickstart.py.
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
from django.db import transaction
from django.dispatch import Signal
from django.urls import include, path

from flowr import rules as rule_registry
from flowr import sample_rules as sr
from flowr import signals
from flowr.models import Flow, RuleSet, State
from tests.testapp.models import Ticket

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
ANY_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

pytestmark = pytest.mark.django_db


def blocks(page: str) -> list[str]:
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def printed_outputs(page: str) -> list[str | None]:
    """Per python block of the page, the ``text`` block right after it (what
    it prints), or None."""
    fences = ANY_FENCE.findall((DOCS / page).read_text(encoding="utf-8"))
    following = [*fences[1:], ("", "")]
    return [
        text if kind == "text" else None
        for (lang, _), (kind, text) in zip(fences, following, strict=True)
        if lang == "python"
    ]


def pages_with_blocks() -> set[str]:
    return {
        page.relative_to(DOCS).as_posix() for page in DOCS.rglob("*.md") if blocks(page.relative_to(DOCS).as_posix())
    }


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


def setup_governance() -> dict[str, Any]:
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    return {"flow": sample_flow(), "alice": alice, "bob": bob}


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


def setup_concurrency() -> dict[str, Any]:
    """A flow nobody runs yet (editable) and a State on another one."""
    user = User.objects.create_user("worker", is_staff=True)
    return {"flow": sample_flow(), "state": State.start(sample_flow()), "user": user}


def setup_import_export() -> dict[str, Any]:
    return {"flow": sample_flow()}


TUTORIAL = ["tutorial/rules.md", "tutorial/flows.md", "tutorial/states.md", "tutorial/admin.md", "tutorial/testing.md"]


def tutorial_setup(page: str) -> Callable[[], Iterator[dict[str, Any]]]:
    """The tutorial's rules are ``myapp/rules.py`` and its tickets
    ``myapp.models.Ticket`` (the test app's); a page starts where the pages
    before it left the reader: their blocks run first, in one namespace."""

    def setup() -> Iterator[dict[str, Any]]:
        # the rules must live in an installed app's module to resolve
        namespace: dict[str, Any] = {"__name__": "tests.docs_tutorial"}
        rules = ModuleType("myapp.rules")

        def rule(name: str) -> Any:
            try:
                return namespace[name]
            except KeyError:
                raise AttributeError(name) from None

        rules.__getattr__ = rule  # type: ignore[method-assign]  # PEP 562: myapp.rules is the page's namespace
        modules = {
            "myapp": ModuleType("myapp"),
            "myapp.models": sys.modules["tests.testapp.models"],
            "myapp.rules": rules,
        }
        with mock.patch.object(django.contrib.admin, "site", AdminSite()), mock.patch.dict(sys.modules, modules):
            for before in TUTORIAL[: TUTORIAL.index(page)]:
                for number, block in enumerate(blocks(before), 1):
                    exec(compile(block, f"{before} block {number}", "exec"), namespace)  # noqa: S102
            yield namespace

    return setup


def setup_simulator() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_simulator"}


def setup_node_settings() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_node_settings"}


def setup_timers() -> dict[str, Any]:
    # the page's rules must live in an installed app's module to resolve
    return {"__name__": "tests.docs_timers"}


SETUPS: dict[str, Callable[[], Any]] = {
    "api.md": setup_api,
    "commands.md": setup_lifecycle,
    "core.md": setup_core,
    "governance.md": setup_governance,
    "howto/concurrency.md": setup_concurrency,
    "howto/import-export.md": setup_import_export,
    "howto/timers.md": setup_timers,
    "howto/versions.md": setup_lifecycle,
    "node-settings.md": setup_node_settings,
    "runtime.md": setup_runtime,
    "simulator.md": setup_simulator,
    "testing.md": setup_testing,
    **{page: tutorial_setup(page) for page in TUTORIAL},
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


def call_the_tests(namespace: dict[str, Any], block: str, printed: str) -> None:
    """The tutorial's test module: pytest would run its tests; so do we."""
    fixtures = {"django_user_model": User}
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert len(tests) == 3
    for test in tests:
        with transaction.atomic():  # each test in its own database, as pytest-django gives it
            test(**{name: fixtures[name] for name in inspect.signature(test).parameters})
            transaction.set_rollback(True)


def after_printed(namespace: dict[str, Any], block: str, printed: str) -> None:
    """The block prints what its ``# `` comment lines say."""
    documented = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# ")]
    assert printed.splitlines() == documented


def after_settings_run(namespace: dict[str, Any], block: str, printed: str) -> None:
    """Node settings: ``on_enter`` printed what it read in ``state.settings``."""
    assert printed == "assigned to Support, due in 2 days, 0:00:00\n"


#: Per page, ``(text in the block, before(namespace, block), after(namespace,
#: block, printed))``: a section that needs its own objects, and checks of
#: what its blocks print.
def after_current(namespace: dict[str, Any], block: str, printed: str) -> None:
    flow, new = namespace["flow"], namespace["new"]
    assert Flow.objects.current(flow.family) == new and Flow.objects.current(flow) == new
    assert Flow.objects.get(pk=flow.pk).status == "retired"


def after_four_eyes(namespace: dict[str, Any], block: str, printed: str) -> None:
    assert "permission to publish" in printed
    assert namespace["draft"].status == "draft"


def after_diff(namespace: dict[str, Any], block: str, printed: str) -> None:
    flow, copy, diff = namespace["flow"], namespace["copy"], namespace["diff"]
    old = {d.rule_name: d.node_id for d in flow.nodes_data()}
    new = {d.rule_name: d.node_id for d in copy.nodes_data()}
    assert diff["removed_links"] == [
        {"source": old["E"], "target": old["A"], "other_source": new["E"], "other_target": new["A"]}
    ]


HOOKS: dict[str, list[tuple[str, Callable[..., None] | None, Callable[..., None] | None]]] = {
    "governance.md": [
        ("Flow.objects.current(flow.family)", None, after_current),
        ("PublishNotPermitted as refusal", None, after_four_eyes),
        ("diff_flows(flow, copy)", None, after_diff),
    ],
    "runtime.md": [
        ("state.transition_options(actor=request.user)", before_permission_options, after_permission_options),
        ('note="Duplicate of #12"', None, after_notes),
    ],
    "tutorial/testing.md": [("def test_a_reopened_ticket_goes_back_to_work", None, call_the_tests)],
    "simulator.md": [("print(child.node.rule_name, child.allowed, child.reason)", None, after_printed)],
    "node-settings.md": [("state = State.start(flow)", None, after_settings_run)],
}


def test_every_page_with_python_blocks_has_a_setup():
    assert pages_with_blocks() == set(SETUPS), "add the new page to SETUPS (or remove it)"


def test_the_tutorial_is_in_order():
    assert sorted(page for page in pages_with_blocks() if page.startswith("tutorial/")) == sorted(TUTORIAL)


@pytest.mark.parametrize("page", sorted(SETUPS))
def test_the_blocks_of_a_page_run(page, capsys):
    setup = SETUPS[page]
    # a generator setup is a context: the blocks run inside it
    with contextmanager(setup)() if inspect.isgeneratorfunction(setup) else nullcontext(setup()) as seeded:
        _run_blocks(page, {"__name__": f"docs_{page[:-3].replace('/', '_')}", **seeded}, capsys)
    assert blocks(page)


def _run_blocks(page: str, namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    all_signals = [value for value in vars(signals).values() if isinstance(value, Signal)]
    receivers = {signal: list(signal.receivers) for signal in all_signals}
    try:
        for number, (block, output) in enumerate(zip(blocks(page), printed_outputs(page), strict=True), 1):
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
            if output is not None:
                assert printed == output, f"{page} block {number} prints what the page says"
    finally:
        for signal, saved in receivers.items():  # a block's @receiver stays in the page
            signal.receivers = saved
            signal.sender_receivers_cache.clear()
        for label in [label for label in rule_registry._registry if label.startswith(namespace["__name__"] + ".")]:
            del rule_registry._registry[label]  # and so do its rules


def test_the_readme_links_into_the_docs_exist():
    """The README is read on GitHub too, outside the site's strict build."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) > 10
    assert [link for link in links if not (DOCS.parent / link).is_file()] == []
