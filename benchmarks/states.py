"""State scale: start many States, advance them all, list them.

The admin changelist and the API list are then fetched with 10k States in
the table (topped up with bulk-created rows when fewer were started): their
query count must not depend on how many States exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from benchmarks.benchapp.rules import Loop1, Loop2, Loop3
from benchmarks.common import Measure, Section, call, ms
from flowr.models import Flow, RuleSet, State


def loop_flow() -> Flow:
    flow = Flow.factory("state scale", RuleSet.factory("state scale", Loop1))
    first = flow.root_data
    third = first.add_child_rule(Loop2).add_child_rule(Loop3)
    third.connect_child(first)
    return flow


def _each(items: list[Any], func: Any) -> Measure:
    total = Measure(0.0, 0.0, 0)
    for item in items:
        measure, _ = call(func, item)
        total.wall += measure.wall
        total.cpu += measure.cpu
        total.queries += measure.queries
    return total


def _top_up(flow: Flow, listed: int) -> None:
    missing = listed - State.objects.count()
    if missing > 0:
        root = flow.root_data
        State.objects.bulk_create([State(flow=flow, current_node=root) for _ in range(missing)], batch_size=500)


def _get(client: Client, url: str) -> tuple[Measure, int]:
    measure, response = call(client.get, url)
    return measure, response.status_code


def run(count: int, listed: int) -> tuple[Section, dict[str, Any]]:
    flow = loop_flow()
    started = _each([flow] * count, State.start)
    states = list(State.objects.filter(flow=flow).select_related("current_node"))
    advanced = _each(states, State.next_state)
    section = Section(
        f"State scale: {count:,} States started and advanced; lists with {listed:,} States",
        ["operation", "total ms", "per item ms", "queries (per item)", "status"],
    )
    section.add("State.start", ms(started.wall), ms(started.wall / count), round(started.queries / count, 1), "")
    section.add("next_state", ms(advanced.wall), ms(advanced.wall / count), round(advanced.queries / count, 1), "")
    found: dict[str, Any] = {
        "states_started": count,
        "state_start_ms": round(started.wall / count * 1000, 3),
        "state_advance_ms": round(advanced.wall / count * 1000, 3),
    }
    _top_up(flow, listed)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    pages = [
        ("admin State changelist", "/admin/flowr/state/", "admin_changelist_queries"),
        ("admin StateHistory changelist", "/admin/flowr/statehistory/", "admin_history_queries"),
        ("API State list", "/flowr/api/states/", "api_state_list_queries"),
    ]
    for name, url, key in pages:
        try:
            client.get(url)  # warm up: caches, templates
            measure, status = _get(client, url)
        except Exception as exc:  # a surface still being built must not stop the run
            section.add(name, "-", "-", "-", f"error: {type(exc).__name__}")
            continue
        section.add(name, ms(measure.wall), "", measure.queries, status)
        found[key] = measure.queries
    section.notes.append("queries of a page: session and user lookups included")
    return section, found
