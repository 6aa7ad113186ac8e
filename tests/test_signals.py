"""pre_transition / post_transition inside the transaction, transition_committed after it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal

from flowr.exceptions import ReentrantTransition
from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from flowr.signals import post_transition, pre_transition, transition_committed
from tests.testapp.models import CallbackLog
from tests.testapp.rules import Probe1, Probe2, Probe3, probe_flow, probing

pytestmark = pytest.mark.django_db


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every signal sent, in order, with its arguments."""
    seen: list[tuple[str, dict[str, Any]]] = []
    receivers = {}
    for name, signal in [("pre", pre_transition), ("post", post_transition), ("committed", transition_committed)]:

        def receiver(signal: Signal, sender: Any, _name: str = name, **kwargs: Any) -> None:
            seen.append((_name, {"sender": sender, **kwargs}))

        receivers[name] = receiver
        signal.connect(receiver)
    yield seen
    pre_transition.disconnect(receivers["pre"])
    post_transition.disconnect(receivers["post"])
    transition_committed.disconnect(receivers["committed"])


def test_signals_and_callbacks_run_in_order(events, django_capture_on_commit_callbacks):
    flow, _ = probe_flow()
    state = State.start(flow)
    order: list[str] = []
    hooks = {
        "Probe1.on_leave": lambda s: order.append("on_leave"),
        "Probe2.on_enter": lambda s: order.append("on_enter"),
    }
    pre_transition.connect(lambda **kw: order.append("pre"), weak=False, dispatch_uid="order-pre")
    post_transition.connect(lambda **kw: order.append("post"), weak=False, dispatch_uid="order-post")
    try:
        with django_capture_on_commit_callbacks(execute=True), probing(hooks):
            state.next_state()
            assert "committed" not in [name for name, _ in events[-3:]]
    finally:
        pre_transition.disconnect(dispatch_uid="order-pre")
        post_transition.disconnect(dispatch_uid="order-post")
    assert order == ["pre", "on_leave", "on_enter", "post"]
    assert [name for name, _ in events] == ["pre", "post", "pre", "post", "committed"]


def test_the_arguments_of_a_start(events, django_capture_on_commit_callbacks):
    flow, (first, _, _) = probe_flow()
    with django_capture_on_commit_callbacks(execute=True):
        state = State.start(flow, actor="api")
    (_, pre), (_, post), (_, committed) = events
    expected = {"sender": State, "state": state, "from_node": None, "to_node": first, "rule": Probe1, "actor": "api"}
    assert pre == expected
    row = StateHistory.objects.get(state=state)
    assert post == committed == {**expected, "history": row}


def test_the_arguments_of_a_transition(events, django_capture_on_commit_callbacks):
    flow, (first, second, third) = probe_flow()
    state = State.start(flow)
    state.next_state()
    events.clear()
    nodes_seen = []
    pre_transition.connect(lambda state, **kw: nodes_seen.append(state.current_node_id), weak=False, dispatch_uid="n")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            state.next_state(Probe3, actor="bob")
    finally:
        pre_transition.disconnect(dispatch_uid="n")
    (_, pre), (_, post), (_, committed) = events
    assert pre == {
        "sender": State,
        "state": state,
        "from_node": second,
        "to_node": third,
        "rule": Probe3,
        "actor": "bob",
    }
    assert post == committed == {**pre, "history": state.history.last()}
    assert post["history"].seq == 3
    assert nodes_seen == [second.pk]  # pre_transition sees the node being left


def test_committed_fires_only_on_commit(events, django_capture_on_commit_callbacks):
    flow, _ = probe_flow()
    state = State.start(flow)
    events.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        state.next_state()
    assert [name for name, _ in events] == ["pre", "post"]
    assert len(callbacks) == 1
    callbacks[0]()
    assert [name for name, _ in events] == ["pre", "post", "committed"]


def test_nothing_is_scheduled_on_commit_without_receivers(django_capture_on_commit_callbacks):
    flow, _ = probe_flow()
    with django_capture_on_commit_callbacks() as callbacks:
        State.start(flow).next_state()
    assert callbacks == []


def test_post_transition_writes_commit_and_roll_back_with_the_transition():
    flow, _ = probe_flow()
    state = State.start(flow)

    def audit(state: State, history: StateHistory, **kwargs: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"audit {history.seq}")

    def fail(to_node: Any, **kwargs: Any) -> None:
        if to_node.rule is Probe3:
            raise RuntimeError("refused by a later receiver")

    post_transition.connect(audit, dispatch_uid="audit")
    post_transition.connect(fail, dispatch_uid="fail")
    try:
        state.next_state()
        with pytest.raises(RuntimeError):
            state.next_state(Probe3)
    finally:
        post_transition.disconnect(dispatch_uid="audit")
        post_transition.disconnect(dispatch_uid="fail")
    audits = CallbackLog.objects.filter(message__startswith="audit").values_list("message", flat=True)
    assert list(audits) == ["audit 2"]
    assert check_integrity() == []


def test_a_pre_transition_receiver_cannot_move_the_moving_state():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    pre_transition.connect(lambda state, **kw: state.next_state(), weak=False, dispatch_uid="reenter")
    try:
        with pytest.raises(ReentrantTransition):
            state.next_state()
    finally:
        pre_transition.disconnect(dispatch_uid="reenter")
    assert State.objects.get(pk=state.pk).current_node_id == first.pk


def test_a_committed_receiver_may_move_the_state_on(django_capture_on_commit_callbacks):
    flow, (_, second, third) = probe_flow()
    state = State.start(flow)

    def auto_advance(state: State, rule: Any, **kwargs: Any) -> None:
        if rule is Probe2:
            state.next_state(Probe3, actor="auto")

    transition_committed.connect(auto_advance, dispatch_uid="auto")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            state.next_state()
    finally:
        transition_committed.disconnect(dispatch_uid="auto")
    assert State.objects.get(pk=state.pk).current_node_id == third.pk
    assert [(r.to_node_id, r.actor_repr) for r in state.history][1:] == [(second.pk, ""), (third.pk, "auto")]
    assert check_integrity() == []
