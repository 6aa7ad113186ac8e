"""Real threads racing jumps, cancels and batch advances: no lost or duplicate
history, the losers get ConcurrentTransition (or StateCancelled once the
cancel is committed)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from flowr.exceptions import ConcurrentTransition, StateCancelled
from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from tests.test_concurrency import run_workers, sqlite_wal, stopped  # noqa: F401  (fixture)
from tests.testapp.rules import cycle_flow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]


def loaded(pk: int, barrier: threading.Barrier) -> State:
    """The State as a worker sees it, loaded before all workers go at once."""
    state = State.objects.select_related("current_node").get(pk=pk)
    barrier.wait(timeout=60)
    return state


def rows(state: State) -> list[tuple[int, str]]:
    return list(StateHistory.objects.filter(state_id=state.pk).order_by("seq").values_list("seq", "kind"))


def test_racing_jumps_one_wins_the_others_get_concurrent_transition():
    flow, nodes = cycle_flow()
    state = State.start(flow)
    barrier = threading.Barrier(8)

    def work(i: int) -> str:
        mine = loaded(state.pk, barrier)
        try:
            mine.jump_to(nodes[1 + i % 2], note=f"worker {i}")
        except ConcurrentTransition:
            return "lost"
        return "won"

    results = Counter(run_workers(8, work))
    assert results["won"] == 1 and results["lost"] == 7  # all loaded version 0: one compare-and-set matches
    state.refresh_from_db()
    assert state.version == 1
    assert rows(state) == [(1, "start"), (2, "jump")]
    assert check_integrity() == []


def test_racing_cancels_exactly_one_cancel_row():
    flow, _ = cycle_flow()
    state = State.start(flow)
    barrier = threading.Barrier(8)

    def work(i: int) -> str:
        mine = loaded(state.pk, barrier)
        try:
            mine.cancel(note=f"worker {i}")
        except ConcurrentTransition:
            return "lost"
        return "won"

    results = Counter(run_workers(8, work))
    assert results["won"] == 1 and results["lost"] == 7
    state.refresh_from_db()
    assert state.cancelled is not None and state.version == 1
    assert rows(state) == [(1, "start"), (2, "cancel")]
    assert check_integrity() == []


def test_a_cancel_racing_advances_ends_the_history():
    flow, _ = cycle_flow()
    state = State.start(flow)
    barrier = threading.Barrier(4)
    cancelled = threading.Event()

    def work(i: int) -> Counter[str]:
        counts: Counter[str] = Counter()
        mine = loaded(state.pk, barrier)
        if i == 0:
            while True:
                stopped()
                try:
                    mine.cancel()
                    cancelled.set()
                    counts["cancel"] += 1
                    return counts
                except ConcurrentTransition:
                    mine.refresh_from_db()
        for _ in range(200):
            stopped()
            try:
                mine.next_state()
                counts["moved"] += 1
            except StateCancelled:
                counts["refused"] += 1
                return counts
            except ConcurrentTransition:
                counts["lost"] += 1
                mine.refresh_from_db()
        return counts

    results = run_workers(4, work)
    total = sum(results, Counter())
    assert total["cancel"] == 1
    state.refresh_from_db()
    history = rows(state)
    assert history[-1][1] == "cancel" and [k for _, k in history].count("cancel") == 1
    assert len(history) == 2 + total["moved"]  # start, every committed move, the cancel: none lost, none twice
    assert state.version == len(history) - 1
    assert check_integrity() == []


def test_two_batches_racing_over_the_same_states():
    flow, _ = cycle_flow()
    pks = [State.start(flow).pk for _ in range(20)]
    barrier = threading.Barrier(2)

    def work(i: int) -> list[tuple[int, bool, str]]:
        barrier.wait(timeout=60)
        return [(r.state_pk, r.ok, r.code) for r in State.objects.advance_many(pks)]

    results = run_workers(2, work)
    moved: Counter[int] = Counter()
    for batch in results:
        assert len(batch) == 20
        for pk, ok, code in batch:
            assert ok or code in ("concurrent_transition", "lock_timeout"), code
            moved[pk] += ok
    for state in State.objects.filter(pk__in=pks):
        assert state.version == moved[state.pk] >= 1  # each State moved by at least one batch
        assert len(rows(state)) == 1 + moved[state.pk]
    assert check_integrity() == []
