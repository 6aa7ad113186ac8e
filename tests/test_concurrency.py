"""Real threads racing transitions, one database connection each.

Workers start together behind a barrier and are joined with a deadline, so a
deadlock or a lock wait that never ends fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

from flowr.exceptions import ConcurrentTransition, TransitionLockTimeout
from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from flowr.signals import transition_committed
from tests.testapp.models import CallbackLog, Ticket
from tests.testapp.rules import cycle_flow, probe_flow, probing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

DEADLINE = 300  # seconds for all workers of one test together


def bound_lock_waits() -> None:
    """On SQLite, end a worker's lock waits after 1 s (settings say 20 s).

    SQLite's busy handler is not fair: under many writers a waiting
    connection may sleep while others take the lock.  One second is far
    longer than any transition here holds the lock, yet a wait that ends
    still surfaces as ``TransitionLockTimeout``, counted as a lost race.
    (At 50 ms, once the machine was busy, some States lost 400 races in a
    row and the test starved.)
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 1000")


#: set when a run passed its deadline: the workers' loops stop at their next try
STOP = threading.Event()


def stopped() -> None:
    """Raise in a worker once its run passed the deadline."""
    if STOP.is_set():
        raise AssertionError("stopped: the run passed its deadline")


def run_workers(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started together; their results.

    At the deadline the workers are told to stop (:data:`STOP`, checked by
    the loops below) and are waited for, so that none outlives its test
    and holds a lock into the next one."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    STOP.clear()

    def main(index: int) -> None:
        try:
            bound_lock_waits()
            barrier.wait(timeout=60)
            results[index] = work(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=main, args=(i,), name=f"flowr-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    end = time.monotonic() + DEADLINE
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    if hung:
        STOP.set()
        for thread in threads:
            thread.join(60)
    assert not hung, f"workers hung (deadlock or endless lock wait): {hung}"
    assert not errors, errors
    return results


@pytest.fixture(autouse=True)
def sqlite_wal() -> None:
    """On SQLite, run these tests in WAL mode, as concurrent SQLite sites should.

    In the default rollback-journal mode every commit waits for all readers
    and readers wait for every commit, each through SQLite's sleeping busy
    handler: correct, but far too slow for 16 busy threads on a small machine.
    WAL mode is a property of the database file, so it stays on for the rest
    of the session (switching back needs every other connection closed).
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = WAL")
            assert cursor.fetchone()[0] == "wal"


@pytest.fixture
def committed() -> Iterator[Counter[int]]:
    """Counts ``transition_committed`` per State pk (thread-safe)."""
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def receiver(state: State, from_node: Any, **kwargs: Any) -> None:
        if from_node is not None:
            with lock:
                counts[state.pk] += 1

    transition_committed.connect(receiver, dispatch_uid="test-concurrency-committed")
    yield counts
    transition_committed.disconnect(dispatch_uid="test-concurrency-committed")


def attempt(state_pk: int, attempts: int) -> tuple[int, int]:
    """Try ``attempts`` transitions of one State; (won, lost)."""
    state = State.objects.select_related("current_node").get(pk=state_pk)
    rng = random.Random(state_pk)
    won = lost = 0
    for _ in range(attempts):
        stopped()
        try:
            state.next_state()
            won += 1
        except ConcurrentTransition:
            lost += 1
            back_off(rng)
            state.refresh_from_db()
    return won, lost


def test_16_workers_race_100_attempts_each_on_one_state(committed):
    flow, nodes = cycle_flow()
    state = State.start(flow)
    started = time.monotonic()
    results = run_workers(16, lambda i: attempt(state.pk, 100))
    elapsed = time.monotonic() - started
    won = sum(w for w, _ in results)
    assert won + sum(lost for _, lost in results) == 16 * 100
    assert won >= 1
    state.refresh_from_db()
    assert (state.version, state.current_node_id) == (won, nodes[won % 3].pk)
    assert list(state.history.values_list("seq", flat=True)) == list(range(1, won + 2))
    assert committed[state.pk] == won
    assert CallbackLog.objects.filter(state_id=state.pk).count() == won + 1  # one on_enter each, plus start
    assert check_integrity() == []
    print(f"\n16x100 on {connection.vendor}: {won} won, {1600 - won} lost, {elapsed:.1f}s")


def back_off(rng: random.Random) -> None:
    """Sleep 0-20 ms after a lost race, as a real client should.

    Without it the losers spin in Python, starve the winner of the GIL and
    turn a fast SQLite lock into a convoy.
    """
    time.sleep(rng.uniform(0, 0.02))


def drive(pks: list[int], seed: int, transitions: int) -> tuple[int, int]:
    """Move each State (in a random order) until it made ``transitions``."""
    rng = random.Random(seed)
    order = list(pks)
    rng.shuffle(order)
    won = lost = 0
    for pk in order:
        state = State.objects.select_related("current_node").get(pk=pk)
        for _ in range(400):
            if state.version >= transitions:
                break
            stopped()
            try:
                state.next_state()
                won += 1
            except ConcurrentTransition:
                lost += 1
                back_off(rng)
                state.refresh_from_db()
        else:
            raise AssertionError(f"State {pk} made no progress in 400 attempts (version {state.version})")
    return won, lost


def test_8_workers_drive_200_states_through_5_transitions(committed):
    flow, nodes = cycle_flow()
    pks = [State.start(flow).pk for _ in range(200)]
    started = time.monotonic()
    results = run_workers(8, lambda i: drive(pks, seed=i, transitions=5))
    elapsed = time.monotonic() - started
    assert sum(w for w, _ in results) == 200 * 5
    finals = set(State.objects.filter(pk__in=pks).values_list("current_node_id", "version"))
    assert finals == {(nodes[5 % 3].pk, 5)}
    assert StateHistory.objects.filter(state_id__in=pks).count() == 200 * 6
    assert CallbackLog.objects.filter(state_id__in=pks).count() == 200 * 6
    assert committed == Counter(dict.fromkeys(pks, 5))
    assert check_integrity() == []
    lost = sum(lost for _, lost in results)
    print(f"\n8x200x5 on {connection.vendor}: {lost} lost races, {elapsed:.1f}s")


# -- lock waits end in an error, never a hang ------------------------------------


@contextmanager
def held_in_another_transaction(take: Callable[[], Any]) -> Iterator[None]:
    """Run ``take`` in another thread's transaction, kept open for the block."""
    taken, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                take()
                taken.set()
                release.wait(30)
        except BaseException as exc:
            failures.append(exc)
            taken.set()
        finally:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(30) and not failures, failures
    try:
        yield
    finally:
        release.set()
        thread.join(30)
        assert not thread.is_alive()


@contextmanager
def short_lock_waits() -> Iterator[None]:
    """Make this connection's lock waits short, whatever the database."""
    statements = {
        "sqlite": ("PRAGMA busy_timeout = 200", "PRAGMA busy_timeout = 20000"),
        "postgresql": ("SET lock_timeout = '300ms'", "SET lock_timeout = 0"),
        "mysql": ("SET SESSION innodb_lock_wait_timeout = 1", "SET SESSION innodb_lock_wait_timeout = DEFAULT"),
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(statements[0])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(statements[1])


def test_a_state_locked_by_another_transaction_fails_fast_and_retry_works():
    flow, (_, second, _) = cycle_flow()
    state = State.start(flow)
    if connection.features.has_select_for_update:
        take = lambda: list(State.objects.select_for_update().filter(pk=state.pk))  # noqa: E731
        expected: type[Exception] = ConcurrentTransition
    else:  # SQLite: the whole database is locked by a writer
        take = lambda: CallbackLog.objects.create(state_id=0, message="writer")  # noqa: E731
        expected = TransitionLockTimeout
    with short_lock_waits(), held_in_another_transaction(take):
        started = time.monotonic()
        with pytest.raises(expected) as caught:
            state.next_state()
        assert time.monotonic() - started < 5
    assert isinstance(caught.value, AttributeError) and caught.value.state is state
    assert "try again" in str(caught.value)
    state.next_state()
    assert (state.current_node_id, state.version) == (second.pk, 1)
    assert check_integrity() == []


@pytest.mark.skipif("connection.vendor == 'sqlite'", reason="SQLite has no row locks")
def test_a_callback_waiting_for_a_row_lock_times_out_cleanly():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    ticket = Ticket.objects.create(title="busy")
    grab = lambda s: list(Ticket.objects.select_for_update().filter(pk=ticket.pk))  # noqa: E731
    held = held_in_another_transaction(lambda: grab(None))
    with short_lock_waits(), held, probing({"Probe2.on_enter": grab}):
        with pytest.raises(TransitionLockTimeout, match="lock was held"):
            state.next_state()
    assert (State.objects.get(pk=state.pk).current_node_id, state.current_node_id) == (first.pk, first.pk)
    assert check_integrity() == []
