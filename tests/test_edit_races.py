"""Edits racing edits and starts, one database connection per thread: every
race ends in a flowr error with its code (never an IntegrityError), and the
graph invariants hold afterwards.

Each test holds one side's transaction open at a chosen point (a patched
step sleeps there) while the other side runs, so the overlap is certain, not
left to chance.  On SQLite a transaction holds the whole database, so the
second side simply waits; on PostgreSQL and MariaDB it is the graph row lock
that makes it wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowr import edits, signals
from flowr.exceptions import ConcurrentEdit, FlowFrozen, FlowrError, TooManyChildren
from flowr.integrity import check_integrity
from flowr.models import DCCGraph, Edge, Flow, Node, RuleSet, State
from tests.helpers import check_invariants
from tests.test_concurrency import run_workers, sqlite_wal  # noqa: F401  (fixture)
from tests.testapp.models import Label
from tests.testapp.rules import Chain, Wide

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

HOLD = 0.6  # seconds one side keeps its transaction open


def outcome(action: Callable[[], Any]) -> tuple[str, float]:
    """``("ok" | the flowr error's code, when it returned)``; anything else propagates."""
    try:
        action()
        result = "ok"
    except FlowrError as exc:
        result = exc.code
    return result, time.monotonic()


@pytest.fixture
def hold_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], threading.Event]]:
    """``hold_in(name, thread)``: make ``edits.<name>`` sleep after it runs,
    in the thread called ``thread`` only; the event is set once it got there."""

    def install(name: str, thread: str) -> threading.Event:
        original = getattr(edits, name)
        reached = threading.Event()

        def held(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if threading.current_thread().name == thread:
                reached.set()
                time.sleep(HOLD)
            return result

        monkeypatch.setattr(edits, name, held)
        return reached

    yield install


def chain_flow() -> tuple[Flow, list[Any]]:
    flow = Flow.factory("race", RuleSet.factory("chains", Chain))
    nodes = [flow.root_data]
    for _ in range(3):
        nodes.append(nodes[-1].add_child_rule(Chain))
    return flow, nodes


def named(index: int) -> str:
    return f"flowr-{index}"


def test_a_start_waits_for_a_prune_that_holds_the_graph(hold_in):
    flow, nodes = chain_flow()
    reached = hold_in("_delete", named(0))  # the prune holds its transaction after deleting

    def work(index: int) -> tuple[str, float]:
        if index == 0:
            return outcome(lambda: edits.prune(nodes[1].node))
        reached.wait(10)
        return outcome(lambda: State.start(flow))

    (pruned, pruned_at), (started, started_at) = run_workers(2, work)
    assert (pruned, started) == ("ok", "ok")
    assert started_at >= pruned_at, "the start committed while the prune still held the graph"
    assert State.objects.get().current_node_id == flow.root_data.pk
    check_invariants(flow.state_graph)
    assert check_integrity() == []


def test_a_prune_during_a_start_is_refused_as_frozen(monkeypatch):
    flow, nodes = chain_flow()
    reached = threading.Event()

    def slow_enter(sender: Any, state: State, **kwargs: Any) -> None:
        if threading.current_thread().name == named(0):
            reached.set()
            time.sleep(HOLD)  # the start's transaction stays open

    signals.pre_transition.connect(slow_enter, dispatch_uid="race-slow-enter")
    try:

        def work(index: int) -> tuple[str, float]:
            if index == 0:
                return outcome(lambda: State.start(flow))
            reached.wait(10)
            return outcome(lambda: edits.prune(nodes[1].node))

        (started, _), (pruned, _) = run_workers(2, work)
    finally:
        signals.pre_transition.disconnect(dispatch_uid="race-slow-enter")
    assert (started, pruned) == ("ok", FlowFrozen.code)
    assert Node.objects.filter(graph_id=flow.state_graph_id).count() == 4, "nothing was pruned"
    assert State.objects.get().next_state().current_node_id == nodes[1].pk
    assert check_integrity() == []


@pytest.mark.parametrize("edit", ["prune", "remove"])
def test_a_connect_to_a_node_removed_meanwhile_is_a_concurrent_edit(hold_in, edit):
    graph = DCCGraph.factory_from_graph(
        Label, {"name": "A"}, [({"name": "B"}, [({"name": "C"}, [])]), ({"name": "D"}, [])]
    )
    node = {label.name: label.node for label in Label.objects.filter(node__graph=graph)}
    reached = hold_in("_delete", named(0))

    def work(index: int) -> tuple[str, float]:
        if index == 0:
            return outcome(lambda: getattr(edits, edit)(node["C"]))
        reached.wait(10)
        return outcome(lambda: edits.connect(node["D"], node["C"]))

    (removed, _), (connected, _) = run_workers(2, work)
    assert (removed, connected) == ("ok", ConcurrentEdit.code)
    assert not Edge.objects.filter(target_id=node["C"].pk).exists()
    check_invariants(graph)


def test_two_adds_under_a_single_path_node_one_wins(hold_in):
    flow = Flow.factory("race", RuleSet.factory("wide", Wide))
    root = flow.root_data
    leaf = root.add_child_rule("tests.testapp.rules.Leaf")  # Leaf allows one child: Wide
    reached = hold_in("_insert_child", named(0))

    def work(index: int) -> tuple[str, float]:
        if index == 1:
            reached.wait(10)
        return outcome(lambda: edits.add_child_rule(leaf, Wide))

    results = sorted(code for code, _ in run_workers(2, work))
    assert results == sorted(["ok", TooManyChildren.code])
    assert len(leaf.children_data()) == 1
    check_invariants(flow.state_graph)
