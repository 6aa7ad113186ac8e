"""A failure at every step of a transition leaves no trace.

After each injected failure: the exception propagates unchanged, the State
(in the database and in memory) is where it was, no history row was written,
the callbacks' own database writes are gone, ``transition_committed`` never
fires, the integrity checker finds nothing, and a retry works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from flowr.exceptions import ConcurrentTransition
from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from flowr.signals import post_transition, pre_transition, transition_committed
from tests.testapp.models import CallbackLog
from tests.testapp.rules import probe_flow, probing


class Boom(Exception):
    """The injected failure."""


@contextmanager
def receiver_raising(signal: Any, error: Exception) -> Iterator[None]:
    def receiver(**kwargs: Any) -> None:
        raise error

    signal.connect(receiver, dispatch_uid="test-failure-injection")
    try:
        yield
    finally:
        signal.disconnect(dispatch_uid="test-failure-injection")


@contextmanager
def failing_after(error: Exception, table: str) -> Iterator[None]:
    """Raise ``error`` right after the database ran the transition's write to
    ``table`` (on PostgreSQL the State update and the history insert are one
    statement, or one call of the ``flowr_move_v1`` function: both steps fail
    after it)."""
    marker = {"update": 'UPDATE "flowr_state"', "insert": 'INSERT INTO "flowr_statehistory"'}[table]

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if marker in sql.replace("`", '"') or "flowr_move_v3(" in sql:
            raise error
        return result

    with connection.execute_wrapper(wrapper):
        yield


def raiser(error: Exception) -> Callable[[Any], Any]:
    def hook(state: Any) -> Any:
        raise error

    return hook


def injection(step: str, error: Exception) -> Any:
    """A context manager that makes ``step`` of a transition fail with ``error``."""
    hooks = {
        "can_leave": "Probe1.can_leave",
        "can_enter": "Probe2.can_enter",
        "on_leave": "Probe1.on_leave",
        "on_enter": "Probe2.on_enter",
    }
    if step in hooks:
        return probing({hooks[step]: raiser(error)})
    if step in ("pre_transition", "post_transition"):
        return receiver_raising(pre_transition if step == "pre_transition" else post_transition, error)
    return failing_after(error, "insert" if step == "after_history_insert" else "update")


STEPS = [
    "can_leave",
    "can_enter",
    "pre_transition",
    "on_leave",
    "on_enter",
    "after_update",
    "after_history_insert",
    "post_transition",
]


@pytest.fixture
def committed() -> Iterator[list[Any]]:
    sent: list[Any] = []
    transition_committed.connect(lambda **kw: sent.append(kw), weak=False, dispatch_uid="test-fi-committed")
    yield sent
    transition_committed.disconnect(dispatch_uid="test-fi-committed")


def messages(state_pk: int) -> list[str]:
    return list(CallbackLog.objects.filter(state_id=state_pk).order_by("pk").values_list("message", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("step", STEPS)
def test_a_failing_transition_leaves_no_trace(step, committed, django_capture_on_commit_callbacks):
    flow, (first, second, _) = probe_flow()
    state = State.start(flow)
    error = Boom(step)
    with django_capture_on_commit_callbacks() as callbacks, injection(step, error):
        with pytest.raises(Boom) as caught:
            state.next_state()
    assert caught.value is error
    assert callbacks == []
    assert (state.current_node_id, state.version) == (first.pk, 0)
    assert State.objects.filter(pk=state.pk, current_node=first, version=0).exists()
    assert list(state.history.values_list("seq", "to_node")) == [(1, first.pk)]
    assert messages(state.pk) == ["enter Probe1"]
    assert check_integrity() == []
    state.next_state()
    assert (State.objects.get(pk=state.pk).current_node_id, state.history.count()) == (second.pk, 2)
    assert check_integrity() == []


START_STEPS = ["can_enter_root", "pre_transition", "on_enter_root", "after_history_insert", "post_transition"]


@pytest.mark.django_db
@pytest.mark.parametrize("step", START_STEPS)
def test_a_failing_start_creates_nothing(step):
    flow, _ = probe_flow()
    error = Boom(step)
    hooks = {"can_enter_root": "Probe1.can_enter", "on_enter_root": "Probe1.on_enter"}
    inject = probing({hooks[step]: raiser(error)}) if step in hooks else injection(step, error)
    with inject, pytest.raises(Boom) as caught:
        State.start(flow)
    assert caught.value is error
    assert (State.objects.count(), StateHistory.objects.count(), CallbackLog.objects.count()) == (0, 0, 0)
    assert State.start(flow).history.count() == 1
    assert check_integrity() == []


@pytest.mark.django_db
def test_the_unique_history_sequence_backs_up_the_compare_and_set(django_capture_on_commit_callbacks, committed):
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    stale = State.objects.get(pk=state.pk)
    state.next_state()
    # put the row back as it was: lock re-check and compare-and-set now pass,
    # but history row 2 exists, so the insert fails and everything rolls back
    State.objects.filter(pk=state.pk).update(current_node=first, version=0)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ConcurrentTransition) as caught:
        stale.next_state()
    assert isinstance(caught.value.__cause__, IntegrityError)
    assert callbacks == []
    assert State.objects.filter(pk=state.pk, current_node=first, version=0).exists()
    assert state.history.count() == 2
    assert messages(state.pk) == ["enter Probe1", "leave Probe1", "enter Probe2"]


@pytest.mark.django_db(transaction=True)
def test_an_outer_transaction_rolled_back_after_return_takes_the_transition_with_it(committed):
    flow, (first, second, _) = probe_flow()
    state = State.start(flow)
    committed.clear()
    with transaction.atomic():
        state.next_state()
        assert State.objects.get(pk=state.pk).current_node_id == second.pk
        transaction.set_rollback(True)
    assert committed == []
    assert State.objects.get(pk=state.pk).current_node_id == first.pk
    assert (state.history.count(), messages(state.pk)) == (1, ["enter Probe1"])
    assert check_integrity() == []
    state.refresh_from_db()  # the object still says "moved": refresh it, then retry
    state.next_state()
    assert [kw["to_node"] for kw in committed] == [second]
    assert check_integrity() == []


@pytest.mark.django_db(transaction=True)
def test_a_raising_committed_receiver_is_logged_and_the_transition_stands(committed, caplog):
    flow, (_, second, _) = probe_flow()
    state = State.start(flow)
    committed.clear()
    with receiver_raising(transition_committed, Boom("webhook down")), caplog.at_level(logging.ERROR, "flowr"):
        assert state.next_state() is state
    assert [kw["to_node"] for kw in committed] == [second]  # the other receiver still ran
    assert "transition_committed receiver" in caplog.text and "webhook down" in caplog.text
    assert State.objects.get(pk=state.pk).current_node_id == second.pk
    assert state.history.count() == 2
    assert check_integrity() == []


# -- the compare-and-set and the history row's uniqueness, behind the lock -------------


@pytest.mark.django_db
def test_a_state_changed_behind_the_lock_refuses_at_the_compare_and_set(committed):
    """A callback that moves the row itself (not through next_state) makes the
    compare-and-set miss: ConcurrentTransition, and nothing of it stays."""
    flow, (first, second, _) = probe_flow()
    state = State.start(flow)

    def bump(state: Any) -> None:
        State.objects.filter(pk=state.pk).update(version=F("version") + 1)

    with probing({"Probe2.on_enter": bump}), pytest.raises(ConcurrentTransition, match="moved during the transition"):
        state.next_state()
    assert (state.current_node_id, state.version) == (first.pk, 0)
    assert State.objects.filter(pk=state.pk, current_node=first, version=0).exists()
    assert state.history.count() == 1 and committed == []
    assert messages(state.pk) == ["enter Probe1"]
    state.next_state()
    assert State.objects.filter(pk=state.pk, current_node=second, version=1).exists()


@pytest.mark.django_db
def test_a_history_row_already_there_refuses_the_transition(committed):
    """The unique (state, seq) backs the compare-and-set up."""
    flow, (first, second, _) = probe_flow()
    state = State.start(flow)
    StateHistory.record(state, 2, first, second, None)
    with pytest.raises(ConcurrentTransition, match="history row 2 already exists"):
        state.next_state()
    assert (state.current_node_id, state.version) == (first.pk, 0)
    assert State.objects.filter(pk=state.pk, current_node=first, version=0).exists()
    assert list(state.history.values_list("seq", flat=True)) == [1, 2] and committed == []
    assert messages(state.pk) == ["enter Probe1"]
