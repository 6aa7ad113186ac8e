"""Timer firing: 10,000 due States fired by 2 worker processes at once.

The States wait, due, on a node whose timeout moves them on (bulk-created:
their entry is not measured).  Two processes run
:func:`flowr.timers.fire_all` on the same database at the same time (as two
cron jobs or task workers would); the section reports the States moved per
second (wall clock, from the start of the first worker to the end of the
last, the processes' start-up not included), the SQL statements per fired State (transaction control not counted)
and asserts that every State fired exactly once.  On SQLite the workers
connect with ``transaction_mode`` ``IMMEDIATE`` (concurrent writers need
it, see docs/howto/timers.md).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from benchmarks.benchapp.rules import TimedDone, TimedStart, TimedWait
from benchmarks.common import TRANSACTION_CONTROL, Section
from flowr.models import Flow, RuleSet, State, StateHistory

WORKERS = 2
BATCH = 100
#: what a worker process runs (the environment picks the same database)
WORKER = (
    "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'benchmarks.settings'; django.setup(); "
    "from benchmarks.timers import worker; worker()"
)


def due_states(count: int) -> Flow:
    """``count`` States due a minute ago on the waiting node."""
    flow = Flow.factory("timer firing", RuleSet.factory("timer firing", TimedStart))
    waiting = flow.root_data.add_child_rule(TimedWait)
    waiting.add_child_rule(TimedDone)
    waiting.set_settings({"timeout_after": 60, "timeout_rule": TimedDone.class_label})
    due = timezone.now() - datetime.timedelta(minutes=1)
    State.objects.bulk_create(
        [State(flow=flow, current_node=waiting, due_at=due, due_rule=TimedDone.class_label) for _ in range(count)],
        batch_size=500,
    )
    return flow


def worker() -> None:
    """One worker process (Django set up by :data:`WORKER`): fire until
    nothing is due; print its report and statement count."""
    from flowr import timers

    if connection.vendor == "sqlite":
        connection.settings_dict["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 60}
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        if not sql.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()  # the start: both workers begin together
    with connection.execute_wrapper(count):
        report = timers.fire_all(batch=BATCH)
    print(json.dumps({**report.as_dict(), "statements": statements}))


def run(count: int) -> tuple[Section, dict[str, Any]]:
    flow = due_states(count)
    connection.close()  # the workers must not share this process's connection
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_root(), os.environ.get("PYTHONPATH")]))}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(WORKERS)
    ]
    for process in processes:  # set up and connected: the start is not measured
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.close()
    outputs = [p.stdout.read() if p.stdout else "" for p in processes]
    for process in processes:
        process.wait()
    wall = time.perf_counter() - started
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a timer worker failed: {[p.returncode for p in processes]}")
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    fired = sum(r["fired"] for r in reports)
    statements = sum(r["statements"] for r in reports)
    twice = (
        StateHistory.objects.filter(state__flow=flow, data={"timeout": True})
        .values("state")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    moved = State.objects.filter(flow=flow, current_node__rule_label=TimedDone.class_label, due_at=None).count()
    assert twice == 0, f"{twice} States fired twice"
    assert fired == moved == count, f"fired {fired}, moved {moved}, of {count}"
    section = Section(
        f"Timer firing: {count:,} due States, {WORKERS} worker processes (fire_all, batch {BATCH})",
        ["worker", "fired", "dropped", "failed", "statements", "statements per fired State"],
    )
    for index, report in enumerate(reports, 1):
        per = round(report["statements"] / report["fired"], 2) if report["fired"] else "-"
        section.add(index, report["fired"], report["dropped"], report["failed"], report["statements"], per)
    per_second = round(count / wall)
    section.notes.append(
        f"{per_second:,} States per second ({wall:.1f} s wall clock, from the start signal to the last worker's end)"
    )
    section.notes.append("every State fired exactly once (one timeout history row each)")
    found = {
        "timer_states": count,
        "timer_states_per_second": per_second,
        "timer_statements_per_state": round(statements / fired, 2),
    }
    return section, found


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
