"""Batch advance: ``State.objects.advance_many`` over 10k States in one call,
against 10k single ``next_state`` calls.

Five sets of the same number of States, all at the root of the loop flow
(bulk-created with their start rows), each advanced one step another way:

* single calls as a caller holding pks writes them:
  ``State.objects.get(pk=pk).next_state()`` (the State, then its node, read
  one by one);
* single calls on States loaded beforehand in one query
  (``select_related("current_node")``): the cheapest loop a caller can write;
* ``advance_many(pks)``: each State in its own transaction (the default);
* ``advance_many(pks, per_transaction=100)``: 100 States per transaction,
  each in its own savepoint;
* ``advance_many(pks, atomic=True)``: all in one transaction.

The ratio is the single calls' time over ``advance_many``'s.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from benchmarks.common import TRANSACTION_CONTROL, Section, ms, timed
from benchmarks.states import loop_flow
from flowr.integrity import check_integrity
from flowr.models import Flow, State, StateHistory


def make_states(flow: Flow, count: int) -> list[int]:
    """``count`` States at the flow's root, each with its start row (bulk)."""
    root = flow.root_data
    states = State.objects.bulk_create([State(flow=flow, current_node=root) for _ in range(count)], batch_size=500)
    StateHistory.objects.bulk_create(
        [StateHistory.build(state, 1, None, root, None, kind=StateHistory.START) for state in states], batch_size=500
    )
    return [state.pk for state in states]


def _singles_by_pk(pks: list[int]) -> int:
    for pk in pks:
        State.objects.get(pk=pk).next_state()
    return len(pks)


def _singles_loaded(pks: list[int]) -> int:
    loaded: list[State] = []
    for start in range(0, len(pks), 500):  # bounded parameter lists
        loaded.extend(State.objects.filter(pk__in=pks[start : start + 500]).select_related("current_node"))
    for state in loaded:
        state.next_state()
    return len(loaded)


def _many(pks: list[int], atomic: bool, per_transaction: int = 1) -> int:
    results = State.objects.advance_many(pks, atomic=atomic, per_transaction=per_transaction)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    return len(results)


class _Counter:
    """Counts the statements run (transaction control not counted), without
    keeping them (a query log keeps only the last 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if not (sql or "").lstrip().upper().startswith(TRANSACTION_CONTROL):
            self.count += 1
        return execute(sql, params, many, context)


def run(count: int, rounds: int = 10) -> tuple[Section, dict[str, Any]]:
    flow = loop_flow()
    ways: list[tuple[str, str, Any]] = [
        ("single calls: State.objects.get(pk).next_state()", "bulk_singles_by_pk", _singles_by_pk),
        ("single calls on States loaded in one query", "bulk_singles_loaded", _singles_loaded),
        ("advance_many(pks)", "bulk_advance_many", lambda pks: _many(pks, False)),
        ("advance_many(pks, per_transaction=100)", "bulk_advance_many_grouped", lambda pks: _many(pks, False, 100)),
        ("advance_many(pks, atomic=True)", "bulk_advance_many_atomic", lambda pks: _many(pks, True)),
    ]
    sets = {key: make_states(flow, count) for _, key, _ in ways}
    section = Section(
        f"Batch advance: {count:,} States advanced one step ({rounds} interleaved rounds of {count // rounds:,})",
        ["way", "total ms", "per State ms", "queries per State", "single calls by pk / this"],
    )
    wall = dict.fromkeys(sets, 0.0)
    queries = dict.fromkeys(sets, 0)
    size = count // rounds
    for r in range(rounds):  # interleaved: a change of the machine's load touches every way alike
        for _, key, func in ways:
            chunk = sets[key][r * size : (r + 1) * size]
            counter = _Counter()
            with connection.execute_wrapper(counter):
                seconds, moved = timed(lambda: func(chunk))  # noqa: B023 -- called at once
            assert moved == len(chunk)
            wall[key] += seconds
            queries[key] += counter.count
    moved_total = size * rounds
    base = wall["bulk_singles_by_pk"]
    found: dict[str, Any] = {"bulk_states": moved_total}
    for name, key, _ in ways:
        ratio = base / wall[key]
        section.add(
            name,
            ms(wall[key]),
            f"{wall[key] / moved_total * 1000:.3f}",
            round(queries[key] / moved_total, 2),
            f"{ratio:.2f}x",
        )
        found[f"{key}_ms"] = round(wall[key] * 1000, 1)
        found[f"{key}_ratio"] = round(ratio, 2)
    problems = check_integrity(State.objects.filter(flow=flow))
    assert problems == [], problems[:3]
    section.notes.append(
        "each way in its own set of States at the root; queries: transaction control (BEGIN, COMMIT, "
        "savepoints) not counted; integrity checked afterwards"
    )
    return section, found
