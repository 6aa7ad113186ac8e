"""Timers racing (issue 17): 8 workers firing and a person moving the same
due States, real threads with a connection each; then workers that were
stopped come back and fire the overdue timers once."""

from __future__ import annotations

import datetime
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from flowr import timers
from flowr.exceptions import ConcurrentTransition
from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from tests.test_concurrency import run_workers, sqlite_wal, stopped  # noqa: F401  (fixture)
from tests.testapp.timer_rules import TimerAnswered, TimerEscalated, TimerWaiting, timer_flow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

WORKERS = 8
STATES = 40


def due_states(count: int) -> list[int]:
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 3600, "timeout_rule": TimerEscalated.class_label})
    pks = [State.start(flow).next_state().pk for _ in range(count)]
    State.objects.filter(pk__in=pks).update(due_at=timezone.now() - datetime.timedelta(minutes=1))
    return pks


def fire_until_none_due(_index: int) -> Counter[str]:
    total: Counter[str] = Counter()
    for _ in range(1000):
        stopped()
        report = timers.fire_due(batch=5)
        total.update(report.as_dict())
        if not timers.due().exists():
            return total
    raise AssertionError("timers still due after 1000 rounds")


def person(pks: list[int]) -> int:
    """Answer every State still waiting; how many the person moved."""
    won = 0
    for pk in pks:
        for _ in range(100):
            stopped()
            state = State.objects.select_related("current_node").get(pk=pk)
            if state.current_node.rule is not TimerWaiting:
                break
            try:
                state.next_state(TimerAnswered, actor="person")
            except ConcurrentTransition:
                continue
            won += 1
            break
    return won


def test_a_timeout_fires_exactly_once_while_8_workers_and_a_person_race():
    pks = due_states(STATES)
    results = run_workers(WORKERS + 1, lambda i: person(pks[::-1]) if i == WORKERS else fire_until_none_due(i))
    by_person: int = results[WORKERS]
    fired = sum(r["fired"] for r in results[:WORKERS])
    assert fired + by_person == STATES
    left = Counter(
        StateHistory.objects.filter(state_id__in=pks, seq=3).values_list("to_rule_label", flat=True).iterator()
    )
    assert left == Counter({TimerEscalated.class_label: fired, TimerAnswered.class_label: by_person}) - Counter()
    assert StateHistory.objects.filter(state_id__in=pks).count() == 3 * STATES  # start, wait, one move out: no more
    assert StateHistory.objects.filter(state_id__in=pks, data={"timeout": True}).count() == fired
    assert not State.objects.filter(pk__in=pks, due_at__isnull=False).exists()
    assert check_integrity(pks) == []


def test_stopped_workers_fire_overdue_timers_on_restart_once():
    pks = due_states(12)  # due a minute ago: no worker ran meanwhile
    results = run_workers(3, fire_until_none_due)
    assert sum(r["fired"] for r in results) == 12
    assert timers.fire_all().claimed == 0
    assert StateHistory.objects.filter(state_id__in=pks, data={"timeout": True}).count() == 12


def test_skip_locked_leaves_a_locked_state_to_the_next_call():
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite has no row locks")
    [pk] = due_states(1)
    locked, release = threading.Event(), threading.Event()

    def hold(_index: int) -> None:
        from django.db import transaction

        with transaction.atomic():
            State.objects.select_for_update().get(pk=pk)
            locked.set()
            release.wait(30)

    thread = threading.Thread(target=lambda: run_workers(1, hold), daemon=True)
    thread.start()
    assert locked.wait(30)
    try:
        assert timers.fire_due().claimed == 0  # skipped, not waited for
    finally:
        release.set()
        thread.join(30)
    assert timers.fire_due().fired == 1
