"""Per-transition cost of flowr against its peers and the raw-SQL bound.

Every contender moves one object around the same 3-state loop.  Rounds
interleave the contenders (their order rotates each round), so drift of a
shared, noisy machine hits all of them alike; each round gives each
contender's time per transition divided by the raw bound's in that round, and
the report gives the median and the min-max of those ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from benchmarks.benchapp.models import FsmLogTicket, FsmTicket, MachineTicket, RawHistory, RawTicket
from benchmarks.benchapp.rules import Loop1, Loop2, Loop3
from benchmarks.common import Section, count_queries, timed, us
from flowr.models import Flow, RuleSet, State

RAW = "raw SQL bound (UPDATE + INSERT, 1 transaction)"
FLOWR = "flowr next_state (lock, CAS, guards, history)"
FSM = "django-fsm-2 + save"
FSM_LOG = "django-fsm-2 + django-fsm-log, in a transaction"
MACHINE = "python-statemachine bound to a model + save"


def flowr_step() -> Callable[[], Any]:
    rule_set = RuleSet.factory("bench loop", Loop1)
    flow = Flow.factory("bench loop", rule_set)
    first = flow.root_data
    second = first.add_child_rule(Loop2)
    third = second.add_child_rule(Loop3)
    third.connect_child(first)
    state = State.start(flow)
    return state.next_state


def fsm_step() -> Callable[[], Any]:
    ticket = FsmTicket.objects.create()

    def step() -> None:
        ticket.advance()
        ticket.save()

    return step


def fsm_log_step() -> Callable[[], Any]:
    ticket = FsmLogTicket.objects.create()

    def step() -> None:
        with transaction.atomic():
            ticket.advance()
            ticket.save()

    return step


def machine_step() -> Callable[[], Any]:
    ticket = MachineTicket.objects.create()

    def step() -> None:
        ticket.statemachine.send("advance")
        ticket.save()

    return step


def raw_step() -> Callable[[], Any]:
    """The least any transition with history must do: two statements, one commit."""
    ticket = RawTicket.objects.create()
    update = f"UPDATE {RawTicket._meta.db_table} SET node = %s, version = version + 1 WHERE id = %s AND version = %s"
    insert = (
        f"INSERT INTO {RawHistory._meta.db_table} (ticket_id, seq, from_node, to_node, created) "
        "VALUES (%s, %s, %s, %s, %s)"
    )
    current = {"node": 1, "version": 0}

    def step() -> None:
        node, version = current["node"], current["version"]
        target = node % 3 + 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(update, [target, ticket.pk, version])
            if cursor.rowcount != 1:
                raise RuntimeError("raw ticket moved")
            cursor.execute(insert, [ticket.pk, version + 1, node, target, timezone.now()])
        current["node"], current["version"] = target, version + 1

    return step


CONTENDERS: list[tuple[str, Callable[[], Callable[[], Any]]]] = [
    (RAW, raw_step),
    (FLOWR, flowr_step),
    (FSM, fsm_step),
    (FSM_LOG, fsm_log_step),
    (MACHINE, machine_step),
]


def _batch(step: Callable[[], Any], count: int) -> float:
    def run() -> None:
        for _ in range(count):
            step()

    return timed(run)[0] / count


# Django's PostgreSQL options that let psycopg prepare the statements a
# connection repeats (off by default: poolers in transaction mode break them).
PREPARED = {"server_side_binding": True, "prepare_threshold": 5}


@contextmanager
def prepared_statements() -> Iterator[None]:
    """Run with server-side prepared statements (PostgreSQL): a new
    connection with :data:`PREPARED` in its options, the old one after."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    saved = dict(options)
    connection.close()
    options.update(PREPARED)
    try:
        yield
    finally:
        connection.close()
        options.clear()
        options.update(saved)


def run(rounds: int, per_round: int, title: str = "") -> tuple[Section, dict[str, Any]]:
    steps = {name: make() for name, make in CONTENDERS}
    for step in steps.values():  # warm-up round, not measured (it also fills caches)
        _batch(step, per_round)
    queries = {name: count_queries(step)[0] for name, step in steps.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for number in range(rounds):
        shift = number % len(names)
        this_round = {name: _batch(steps[name], per_round) for name in names[shift:] + names[:shift]}
        for name, seconds in this_round.items():
            times[name].append(seconds)
            ratios[name].append(seconds / this_round[RAW])
    section = Section(
        f"Transitions{title}: 3-state loop, {rounds} interleaved rounds x {per_round} transitions",
        ["contender", "statements", "median us", "x raw (median)", "x raw (min-max)"],
    )
    for name in names:
        r = ratios[name]
        section.add(
            name,
            queries[name],
            us(statistics.median(times[name])),
            f"{statistics.median(r):.2f}",
            f"{min(r):.2f}-{max(r):.2f}",
        )
    flowr_vs_fsm_log = [f / g for f, g in zip(times[FLOWR], times[FSM_LOG], strict=True)]
    section.notes.append(
        f"flowr / (django-fsm-2 + django-fsm-log): median {statistics.median(flowr_vs_fsm_log):.2f}"
        f" (min-max {min(flowr_vs_fsm_log):.2f}-{max(flowr_vs_fsm_log):.2f})"
    )
    section.notes.append(
        "statements: SQL statements of one transition, transaction control (BEGIN, COMMIT) not counted"
    )
    results = {
        "transition_vs_raw": round(statistics.median(ratios[FLOWR]), 3),
        "transition_vs_raw_range": [round(min(ratios[FLOWR]), 3), round(max(ratios[FLOWR]), 3)],
        "transition_vs_fsm_log": round(statistics.median(flowr_vs_fsm_log), 3),
        "transition_us": round(statistics.median(times[FLOWR]) * 1e6, 1),
        "raw_us": round(statistics.median(times[RAW]) * 1e6, 1),
        "transition_queries": queries[FLOWR],
        "fsm_log_vs_raw": round(statistics.median(ratios[FSM_LOG]), 3),
        "fsm_vs_raw": round(statistics.median(ratios[FSM]), 3),
        "statemachine_vs_raw": round(statistics.median(ratios[MACHINE]), 3),
    }
    return section, results
