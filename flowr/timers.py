"""Firing the timers of States (issue 17).

A node whose rule has ``timeout_targets`` may set ``timeout_after`` and
``timeout_rule`` in its settings; the move that enters it stores the
State's ``due_at`` and ``due_rule`` in its own compare-and-set, the move
that leaves it clears them.  :func:`fire_due` moves the States whose time
has come, once each:

* it claims a batch of due States with ``SELECT ... FOR UPDATE SKIP LOCKED``
  where the database can (PostgreSQL, MariaDB): concurrent workers take
  different States.  SQLite has no row locks: its writers serialise and the
  transition's compare-and-set lets one move win;
* each claimed State takes ``next_state(due_rule, actor=None)`` from the
  version that was read, in its own savepoint; its history row carries
  ``data`` ``{"timeout": true}``;
* a State a person (or another worker) moved first is *dropped*: the
  compare-and-set does not match, nothing is written, it is counted, not an
  error; a timeout whose move is refused (a guard, a target no longer in
  the flow) is *refused*: the timer is cleared so that it does not fire
  again, and logged.

A node of a rule with ``reminders = True`` may also set ``remind_after``:
entering it then stores the reminder's time in ``due_at`` with an empty
``due_rule`` (a reminder does not move the State) when it comes before the
timeout.  Firing a reminder calls the rule's ``on_timer(state, timer)`` and
sends :data:`flowr.signals.timer_fired`, and sets ``due_at`` and
``due_rule`` to the node's timeout (counted from the entry, the State's
``updated``) or clears them, in one compare-and-set on the version it
read: a reminder fires once per entry, and not at all if the State moved.

Timers missed while no worker ran fire at the next call: ``due_at`` stays
set until a move clears it.  Run it from cron (``manage.py
flowr_fire_timers``) or as a task (:mod:`flowr.tasks`).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.db import OperationalError, connections, router, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from flowr import callbacks
from flowr.db.locks import lock_error_kind
from flowr.exceptions import ConcurrentTransition, FlowrError
from flowr.models import FlowNodeData, State
from flowr.models.states import timer_of
from flowr.rules import get_rule
from flowr.signals import timer_fired

logger = logging.getLogger("flowr")

#: what a timeout's history row carries in ``data``
TIMEOUT_DATA = {"timeout": True}


@dataclass(frozen=True)
class Timer:
    """A timer that fired without moving its State: what ``Rule.on_timer``
    and the ``timer_fired`` signal receive."""

    #: ``"reminder"``
    kind: str
    #: when it was due
    due_at: datetime.datetime
    #: the node the State stands on (its ``settings`` hold ``remind_after``)
    node: FlowNodeData


@dataclass
class FireReport:
    """What one :func:`fire_due` call did."""

    #: States moved by their timeout
    fired: int = 0
    #: States moved by someone else first (the timer was dropped)
    dropped: int = 0
    #: timeouts whose move was refused (the timer was cleared)
    refused: int = 0
    #: timeouts whose move raised an error that is not a refusal (kept: they fire again)
    failed: int = 0
    #: reminders fired (their States did not move)
    reminded: int = 0

    @property
    def claimed(self) -> int:
        """How many due States the call looked at."""
        return self.fired + self.dropped + self.refused + self.failed + self.reminded

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def due(now: datetime.datetime | None = None, using: str | None = None) -> Any:
    """The running States whose timer is due at ``now`` (default: now),
    soonest first: the ``overdue`` filter of every surface."""
    db = using or router.db_for_read(State)
    return State.objects.using(db).running().filter(due_at__lte=now or timezone.now()).order_by("due_at", "pk")


def fire_due(now: datetime.datetime | None = None, batch: int = 100, using: str | None = None) -> FireReport:
    """Move at most ``batch`` due States by their timeout, in one transaction
    (each State in its own savepoint); what happened, counted.

    :param now: fire the timers due at this time (default: now)
    :param batch: the most States claimed by this call
    :param using: the database alias (default: the router's for State)
    :raises OperationalError: the database aborted the batch with a lock
        error (a deadlock between workers): nothing of it was committed,
        its timers are still due; call again (:func:`fire_all` does)
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    db = using or router.db_for_write(State)
    features = connections[db].features
    report = FireReport()
    with transaction.atomic(using=db):
        query = due(now, db)
        if features.has_select_for_update_skip_locked:
            of = ("self",) if features.has_select_for_update_of else ()
            query = query.select_for_update(skip_locked=True, of=of)
        states = list(query[:batch])
        prefetch_related_objects(states, "current_node")  # not joined: the lock must take the States alone
        for state in states:
            _fire(state, db, report)
    return report


def _fire(state: State, db: str, report: FireReport) -> None:
    if not state.due_rule:
        _remind(state, db, report)
        return
    try:
        state._next(state.due_rule, None, "", dict(TIMEOUT_DATA))
    except ConcurrentTransition:
        report.dropped += 1
    except FlowrError as exc:
        report.refused += 1
        logger.warning("timeout of State %s to %s refused, timer cleared: %s", state.pk, state.due_rule, exc)
        State.objects.using(db).filter(pk=state.pk, version=state.version).update(due_at=None, due_rule="")
    except Exception:
        report.failed += 1
        logger.exception("timeout of State %s to %s failed; it fires again at the next call", state.pk, state.due_rule)
    else:
        report.fired += 1


def _remind(state: State, db: str, report: FireReport) -> None:
    """Fire the reminder of ``state`` (due, ``due_rule`` empty), in its own savepoint."""
    node = state.current_node
    if state.due_at is None:  # claimed as due: never; a caller's stale object
        return
    timer = Timer(kind="reminder", due_at=state.due_at, node=node)
    due_at, due_rule = timer_of(node, state.updated, reminded=True, state=state)  # the timeout, counted from the entry
    try:
        with transaction.atomic(using=db):
            # the compare-and-set: nothing happens if the State moved since it was read
            claimed = (
                State.objects.using(db)
                .filter(pk=state.pk, version=state.version, due_at=timer.due_at, due_rule="")
                .update(due_at=due_at, due_rule=due_rule)
            )
            if not claimed:
                report.dropped += 1
                return
            state.due_at, state.due_rule = due_at, due_rule
            rule = get_rule(node.rule_label)
            if rule is not None:
                callbacks.call(rule, "on_timer", state, timer)
            timer_fired.send(sender=State, state=state, rule=rule, timer=timer)
    except Exception:
        state.due_at, state.due_rule = timer.due_at, ""
        report.failed += 1
        logger.exception("reminder of State %s failed; it fires again at the next call", state.pk)
    else:
        report.reminded += 1


def fire_state(state: State, now: datetime.datetime | None = None, using: str | None = None) -> FireReport:
    """Fire the timer of one State if it is due at ``now`` (the simulator's
    fast-forward); the same moves and reminders as :func:`fire_due`, without
    a lock: the caller's transaction holds the State."""
    db = using or router.db_for_write(State)
    report = FireReport()
    found = due(now, db).filter(pk=state.pk).select_related("current_node").first()
    if found is not None:
        with transaction.atomic(using=db):
            _fire(found, db, report)
    return report


#: how many batches in a row :func:`fire_all` retries after a lock error
LOCK_RETRIES = 10


def fire_all(now: datetime.datetime | None = None, batch: int = 100, using: str | None = None) -> FireReport:
    """:func:`fire_due` until a batch finds fewer than ``batch`` due States
    (or only failing ones); the totals.  A batch the database aborts with a
    lock error (a deadlock between workers on MariaDB) was rolled back
    whole -- its timers are still due -- and is tried again."""
    total = FireReport()
    retries = 0
    while True:
        try:
            report = fire_due(now, batch, using)
        except OperationalError as exc:
            retries += 1
            if lock_error_kind(exc) is None or retries > LOCK_RETRIES:
                raise
            logger.info("timer batch rolled back by a lock error, trying again: %s", exc)
            continue
        retries = 0
        for name, value in report.as_dict().items():
            setattr(total, name, getattr(total, name) + value)
        if report.claimed < batch or report.failed == report.claimed:
            return total


#: the weekdays :func:`working_days` skips (``date.weekday()``: Saturday, Sunday)
WEEKEND = frozenset({5, 6})


def working_days(start: datetime.datetime, delay: datetime.timedelta) -> datetime.datetime:
    """A business calendar for ``FLOWR["TIMER_CALENDAR"]``: the whole days of
    ``delay`` count working days (Saturday and Sunday are skipped), the rest
    (hours, minutes) is added as is.  A start on a weekend counts from the
    next Monday at the same time.  Holidays: write your own callable that
    calls this one's loop with your dates (see docs/howto/timers.md)."""
    return add_working_days(start, delay, skip=lambda day: day.weekday() in WEEKEND)


def add_working_days(
    start: datetime.datetime, delay: datetime.timedelta, skip: Any = lambda day: day.weekday() in WEEKEND
) -> datetime.datetime:
    """``start`` plus ``delay`` where each whole day of ``delay`` is a day
    ``skip(date)`` is false for; ``skip`` takes a ``datetime.date``."""
    one = datetime.timedelta(days=1)
    moment = start
    while skip(moment.date()):
        moment += one
    for _ in range(delay.days):
        moment += one
        while skip(moment.date()):
            moment += one
    return moment + (delay - datetime.timedelta(days=delay.days))
