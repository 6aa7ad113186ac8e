"""State.objects.advance_many, state.jump_to, state.cancel (flowr.models.moves)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import edits
from flowr.exceptions import (
    CannotRemove,
    ConcurrentTransition,
    FlowFrozen,
    MoveNotPermitted,
    NodeNotInFlow,
    StateCancelled,
)
from flowr.integrity import check_integrity
from flowr.models import Flow, FlowNodeData, State, StateHistory
from flowr.readmodel import FlowGraph
from flowr.signals import post_transition, state_cancelled, transition_committed
from tests.testapp.models import CallbackLog
from tests.testapp.rules import cycle_flow, probe_flow, probing

pytestmark = pytest.mark.django_db


def log(state: State) -> list[str]:
    return list(CallbackLog.objects.filter(state_id=state.pk).order_by("pk").values_list("message", flat=True))


def kinds(state: State) -> list[str]:
    return list(StateHistory.objects.filter(state_id=state.pk).order_by("seq").values_list("kind", flat=True))


def at(state: State) -> tuple[int, int]:
    fresh = State.objects.get(pk=state.pk)
    return fresh.current_node_id, fresh.version


def user_with(*codenames: str, name: str = "ann") -> User:
    user = User.objects.create_user(name, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flowr", codename__in=codenames))
    return User.objects.get(pk=user.pk)  # fresh permission cache


# -- advance_many ------------------------------------------------------------------


def test_advance_many_moves_each_state_and_returns_its_history_row():
    flow, nodes = cycle_flow()
    states = [State.start(flow) for _ in range(3)]
    results = State.objects.advance_many(states, actor="cron", note="batch")
    assert [(r.state_pk, r.ok, r.code) for r in results] == [(s.pk, True, "") for s in states]
    for state, result in zip(states, results, strict=True):
        assert (state.current_node_id, state.version) == (nodes[1].pk, 1)  # moved in place
        assert at(state) == (nodes[1].pk, 1)
        row = result.history
        assert row is not None and row.pk is not None
        assert (row.seq, row.kind, row.actor_repr, row.note) == (2, "transition", "cron", "batch")
        assert StateHistory.objects.get(pk=row.pk).note == "batch"
    assert check_integrity() == []


def test_advance_many_takes_pks_and_querysets_each_state_once_in_the_order_given():
    flow, nodes = cycle_flow()
    a, b, c = (State.start(flow) for _ in range(3))
    results = State.objects.advance_many([c.pk, a.pk, c.pk, b])
    assert [r.state_pk for r in results] == [c.pk, a.pk, b.pk]
    assert all(r.ok for r in results)
    assert {at(s) for s in (a, b, c)} == {(nodes[1].pk, 1)}
    results = State.objects.advance_many(State.objects.filter(pk__in=[a.pk, b.pk]).order_by("pk"))
    assert [(r.state_pk, r.ok) for r in results] == [(a.pk, True), (b.pk, True)]
    assert at(a) == (nodes[2].pk, 2) and at(c) == (nodes[1].pk, 1)


def test_advance_many_reports_an_unknown_pk_and_goes_on():
    flow, nodes = cycle_flow()
    state = State.start(flow)
    results = State.objects.advance_many([987654, "x", str(state.pk)])
    assert [(r.state_pk, r.ok, r.code) for r in results] == [
        (987654, False, "not_found"),
        ("x", False, "not_found"),
        (state.pk, True, ""),
    ]


def test_advance_many_one_refusal_or_concurrent_move_does_not_stop_the_others():
    flow, nodes = probe_flow()
    vetoed, ended, stale, fine = (State.start(flow) for _ in range(4))
    ended.next_state()
    ended.next_state("tests.testapp.rules.Probe3")
    stale_copy = State.objects.get(pk=stale.pk)
    stale.next_state()  # moves under stale_copy
    vetoed_pk = vetoed.pk
    with probing({"Probe1.can_leave": lambda s: "not this one" if s.pk == vetoed_pk else True}):
        results = State.objects.advance_many([vetoed, ended, stale_copy, fine])
    assert [(r.ok, r.code) for r in results] == [
        (False, "transition_refused"),
        (False, "no_next_state"),
        (False, "concurrent_transition"),
        (True, ""),
    ]
    assert "not this one" in results[0].message
    assert at(vetoed) == (nodes[0].pk, 0) and at(fine) == (nodes[1].pk, 1)
    assert (stale_copy.current_node_id, stale_copy.version) == (nodes[0].pk, 0)  # put back, as next_state does
    assert check_integrity() == []


def test_advance_many_atomic_rolls_all_back_when_one_fails():
    flow, nodes = probe_flow()
    first, vetoed, last = (State.start(flow) for _ in range(3))
    vetoed_pk = vetoed.pk
    with probing({"Probe1.can_leave": lambda s: s.pk != vetoed_pk}):
        results = State.objects.advance_many([first, vetoed, last], atomic=True)
    assert [(r.ok, r.code) for r in results] == [
        (False, "rolled_back"),
        (False, "transition_refused"),
        (False, "rolled_back"),
    ]
    assert all(r.history is None for r in results)
    for state in (first, vetoed, last):
        assert (state.current_node_id, state.version) == (nodes[0].pk, 0)  # the objects are put back too
        assert at(state) == (nodes[0].pk, 0)
        assert kinds(state) == ["start"]
    # nothing left over from the rolled-back moves: the callbacks' rows went too
    assert CallbackLog.objects.filter(message="enter Probe2").count() == 0
    assert check_integrity() == []


def test_advance_many_atomic_commits_when_all_succeed(django_capture_on_commit_callbacks):
    flow, nodes = cycle_flow()
    states = [State.start(flow) for _ in range(3)]
    seen: list[int] = []

    def receiver(state: State, from_node: Any, **kwargs: Any) -> None:
        if from_node is not None:
            seen.append(state.pk)

    transition_committed.connect(receiver, dispatch_uid="test-moves")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            results = State.objects.advance_many(states, atomic=True)
    finally:
        transition_committed.disconnect(dispatch_uid="test-moves")
    assert all(r.ok and r.history is not None for r in results)
    assert seen == [s.pk for s in states]
    assert {at(s) for s in states} == {(nodes[1].pk, 1)}


def test_advance_many_refuses_cancelled_states():
    flow, nodes = cycle_flow()
    cancelled, fine = State.start(flow), State.start(flow)
    cancelled.cancel()
    results = State.objects.advance_many([cancelled.pk, fine.pk])
    assert [(r.ok, r.code) for r in results] == [(False, "state_cancelled"), (True, "")]


def test_advance_many_reads_in_bulk_no_query_per_state_to_load(django_assert_num_queries):
    flow, _ = cycle_flow()
    states = [State.start(flow) for _ in range(6)]
    probe = State.objects.select_related("current_node").get(pk=states[0].pk)
    with CaptureQueriesContext(connection) as one:
        probe.next_state()
    per_state = len(one)
    pks = [s.pk for s in states[1:]]
    # one query loads the 5 States with their nodes, then each moves as next_state does
    with django_assert_num_queries(1 + per_state * len(pks)):
        results = State.objects.advance_many(pks)
    assert all(r.ok for r in results)
    # State objects without their nodes: one query for all the nodes
    objects = list(State.objects.filter(pk__in=pks).order_by("pk"))
    with django_assert_num_queries(1 + per_state * len(pks)):
        assert all(r.ok for r in State.objects.advance_many(objects))


# -- jump ---------------------------------------------------------------------------


def test_jump_moves_to_any_node_without_callbacks_or_guards():
    flow, nodes = probe_flow()
    state = State.start(flow)
    with probing({"Probe1.can_leave": lambda s: False, "Probe3.can_enter": lambda s: False}):
        state.jump_to(nodes[2], actor="admin", note="skip ahead")
    assert (state.current_node_id, state.version) == (nodes[2].pk, 1)
    assert at(state) == (nodes[2].pk, 1)
    row = state.history.last()
    assert row is not None
    assert (row.kind, row.from_node_id, row.to_node_id, row.note) == ("jump", nodes[0].pk, nodes[2].pk, "skip ahead")
    assert log(state) == ["enter Probe1"]  # no on_leave / on_enter
    assert check_integrity() == []


def test_jump_with_callbacks_runs_on_leave_and_on_enter_and_takes_a_node():
    flow, nodes = probe_flow()
    state = State.start(flow)
    state.jump_to(nodes[2].node, callbacks=True)
    assert log(state) == ["enter Probe1", "leave Probe1", "enter Probe3"]
    assert kinds(state) == ["start", "jump"]


def test_jump_sends_the_transition_signals():
    flow, nodes = probe_flow()
    state = State.start(flow)
    got: list[tuple[str, str]] = []

    def receiver(history: StateHistory, rule: Any, **kwargs: Any) -> None:
        got.append((history.kind, rule.name))

    post_transition.connect(receiver, dispatch_uid="test-moves-jump")
    try:
        state.jump_to(nodes[1])
    finally:
        post_transition.disconnect(dispatch_uid="test-moves-jump")
    assert got == [("jump", "Probe2")]


@pytest.mark.parametrize("wrong", ["node", "other_flow", "string", "int", "unsaved"])
def test_jump_to_something_not_a_node_of_the_flow_is_refused_and_writes_nothing(wrong):
    flow, nodes = probe_flow()
    other, other_nodes = cycle_flow()
    state = State.start(flow)
    target: Any = {
        "node": other_nodes[1].node,
        "other_flow": other_nodes[1],
        "string": "tests.testapp.rules.Probe3",
        "int": nodes[2].node_id,
        "unsaved": FlowNodeData(rule_label="x"),
    }[wrong]
    with pytest.raises(NodeNotInFlow) as caught:
        state.jump_to(target)
    assert caught.value.code == "node_not_in_flow"
    assert at(state) == (nodes[0].pk, 0) and kinds(state) == ["start"]


def test_jump_permission_is_checked_for_users_only():
    flow, nodes = probe_flow()
    state = State.start(flow)
    with pytest.raises(MoveNotPermitted):
        state.jump_to(nodes[1], actor=user_with("change_state", name="bob"))
    assert at(state) == (nodes[0].pk, 0)
    state.jump_to(nodes[1], actor=user_with("jump_state"))
    state.jump_to(nodes[0], actor="trusted code")
    state.jump_to(nodes[1])
    assert kinds(state) == ["start", "jump", "jump", "jump"]
    assert state.history.all()[1].actor is not None


def test_a_stale_jump_is_a_concurrent_transition():
    flow, nodes = probe_flow()
    state = State.start(flow)
    stale = State.objects.get(pk=state.pk)
    state.next_state()
    with pytest.raises(ConcurrentTransition):
        stale.jump_to(nodes[2])
    assert (stale.current_node_id, stale.version) == (nodes[0].pk, 0)
    assert at(state) == (nodes[1].pk, 1)


# -- cancel -------------------------------------------------------------------------


def test_cancel_marks_the_state_and_writes_a_cancel_row(django_capture_on_commit_callbacks):
    flow, nodes = probe_flow()
    state = State.start(flow)
    got: list[Any] = []
    state_cancelled.connect(lambda **kw: got.append(kw["history"].kind), dispatch_uid="test-moves-cancel", weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            state.cancel(actor="admin", note="duplicate")
    finally:
        state_cancelled.disconnect(dispatch_uid="test-moves-cancel")
    assert got == ["cancel"]
    assert state.is_cancelled and state.version == 1
    fresh = State.objects.get(pk=state.pk)
    assert fresh.cancelled is not None and (fresh.current_node_id, fresh.version) == (nodes[0].pk, 1)
    row = fresh.history.last()
    assert row is not None
    assert (row.kind, row.from_node_id, row.to_node_id, row.note) == ("cancel", nodes[0].pk, nodes[0].pk, "duplicate")
    assert log(state) == ["enter Probe1"]  # no callbacks
    assert fresh.allowed_next_rules() == []
    assert check_integrity() == []


def test_a_cancelled_state_takes_no_more_moves():
    flow, nodes = probe_flow()
    state = State.start(flow)
    stale = State.objects.get(pk=state.pk)
    state.cancel()
    for move in (state.next_state, lambda: state.jump_to(nodes[1]), state.cancel):
        with pytest.raises(StateCancelled) as caught:
            move()
        assert caught.value.code == "state_cancelled"
    # an object loaded before the cancel: its version is old, the compare-and-set refuses
    with pytest.raises(ConcurrentTransition):
        stale.next_state()
    with pytest.raises(StateCancelled):
        State.objects.get(pk=state.pk).next_state()
    assert kinds(state) == ["start", "cancel"]


def test_cancel_permission_is_checked_for_users():
    flow, nodes = probe_flow()
    state = State.start(flow)
    with pytest.raises(MoveNotPermitted):
        state.cancel(actor=user_with("change_state", "jump_state", name="bob"))
    assert State.objects.get(pk=state.pk).cancelled is None
    state.cancel(actor=user_with("cancel_state"))
    assert State.objects.get(pk=state.pk).cancelled is not None


def test_cancelled_states_do_not_freeze_the_flow():
    flow, nodes = probe_flow()
    state = State.start(flow)
    state.next_state()  # at Probe2
    assert flow.in_use() and edits.edit_refusal(flow) is not None
    with pytest.raises(FlowFrozen):
        edits.rename_flow(flow, "renamed")
    state.cancel()
    flow = Flow.objects.get(pk=flow.pk)
    assert not flow.in_use() and flow.state_count() == 0
    assert edits.edit_refusal(flow) is None
    assert not FlowGraph.load(flow).frozen
    edits.rename_flow(flow, "renamed")
    assert Flow.objects.get(pk=flow.pk).name == "renamed"


def test_a_node_a_cancelled_state_stands_on_cannot_be_pruned():
    flow, nodes = probe_flow()
    state = State.start(flow)
    state.next_state()
    state.cancel()
    with pytest.raises(CannotRemove) as caught:
        edits.prune(nodes[1].node)
    assert "cancelled" in str(caught.value)
    assert FlowNodeData.objects.filter(pk__in=[n.pk for n in nodes]).count() == 3
    assert at(state) == (nodes[1].pk, 2)


# -- per_transaction -----------------------------------------------------------------


def test_per_transaction_groups_states_and_a_refusal_undoes_only_its_own_move():
    flow, nodes = probe_flow()
    states = [State.start(flow) for _ in range(5)]
    vetoed_pk = states[2].pk
    with probing({"Probe1.can_leave": lambda s: s.pk != vetoed_pk}):
        results = State.objects.advance_many(states, per_transaction=2, note="grouped")
    assert [(r.ok, r.code) for r in results] == [(True, "")] * 2 + [(False, "transition_refused")] + [(True, "")] * 2
    assert [at(s)[1] for s in states] == [1, 1, 0, 1, 1]
    assert (states[2].current_node_id, states[2].version) == (nodes[0].pk, 0)
    assert check_integrity() == []


def test_per_transaction_an_error_commits_the_moves_before_it_then_propagates():
    flow, nodes = probe_flow()
    states = [State.start(flow) for _ in range(3)]
    broken_pk = states[1].pk

    def on_enter(state: State) -> None:
        if state.pk == broken_pk:
            raise RuntimeError("callback bug")

    with probing({"Probe2.on_enter": on_enter}), pytest.raises(RuntimeError, match="callback bug"):
        State.objects.advance_many(states, per_transaction=10)
    assert [at(s)[1] for s in states] == [1, 0, 0]  # the first committed, the second undone, the third never tried
    assert [s.version for s in states] == [1, 0, 0]
    assert check_integrity() == []


def test_per_transaction_must_be_positive():
    with pytest.raises(ValueError, match="per_transaction"):
        State.objects.advance_many([], per_transaction=0)
