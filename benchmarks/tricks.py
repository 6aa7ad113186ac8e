"""Each speed trick's gain, measured in the same run (flowr.db.tricks).

For every trick, the operations it speeds up are timed with it on and with
it switched off (``tricks.disabled``), interleaved round by round (which of
the two goes first alternates), so a shared machine's drift hits both
alike.  Each round gives off / on; the table shows the median and the
min-max of those ratios: the gain (2.0 = the trick halves the time).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from benchmarks import graphs
from benchmarks.common import Section, count_queries, ms
from benchmarks.transitions import flowr_step
from flowr.db import tricks
from flowr.models import DCCGraph, Flow, FlowNodeData, Node, RuleSet


@dataclass
class Case:
    trick: str
    operation: str
    key: str  # in the BENCH json
    run: Callable[[], Any]  # one measured unit
    repeat: int = 1  # calls per timing
    note: str = ""


def _leaves(flow: Flow) -> list[int]:
    """Leaf node pks of ``flow`` (deepest first): each remove takes one."""
    return list(
        FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id, node__out_edges=None)
        .order_by("-node_id")
        .values_list("node_id", flat=True)
    )


def cases(size: int, quick: bool) -> list[Case]:
    rule_set = RuleSet.factory("tricks", graphs.Split)
    labels, parents, links = graphs.shape(size)
    flow = graphs.import_flow(graphs.document(f"tricks {size}", labels, parents, links), rule_set)
    small = graphs.document("tricks import", *graphs.shape(1000))
    graph_pk, root = flow.state_graph_id, DCCGraph.objects.get(pk=flow.state_graph_id).root_id
    leaves = _leaves(flow)
    adds = list(FlowNodeData.objects.filter(node__graph_id=graph_pk, node__out_edges=None).order_by("node_id")[:2000])
    step = flowr_step()
    per = 30 if quick else 60
    k = f"{size // 1000}k"

    def editor_document() -> Any:
        from flowr.readmodel import FlowGraph

        return json.dumps(FlowGraph.load(Flow.objects.get(pk=flow.pk)).as_json())

    def graph_load() -> Any:
        from flowr.readmodel import FlowGraph

        return FlowGraph.load(Flow.objects.get(pk=flow.pk))

    def descendents() -> Any:
        return Node.objects.get(pk=root).descendents()

    def load_nodes() -> Any:
        return DCCGraph.objects.get(pk=graph_pk).load_nodes()

    def remove_leaf() -> Any:
        return Node.objects.get(pk=leaves.pop()).remove()

    def add_child() -> Any:
        parent = adds.pop()
        return parent.add_child_rule(graphs.CHILD_RULES[parent.rule_label][0])

    found = [
        Case("pg_functions", "transition (next_state)", "transition", step, per, "PostgreSQL only"),
        Case("no_model_init", f"descendents of the root, {k}", f"descendents_{k}", descendents),
        Case("no_model_init", "transition (next_state)", "transition", step, per),
        Case("pause_collector", f"load_nodes with data, {k}", f"load_nodes_{k}", load_nodes),
        Case("pause_collector", f"descendents of the root, {k}", f"descendents_{k}", descendents),
        Case("raw_rows", f"read model load (FlowGraph.load), {k}", f"graph_load_{k}", graph_load),
        Case("columnar_document", f"editor graph JSON, {k}", f"editor_json_{k}", editor_document),
        Case("hand_statements", "transition (next_state)", "transition", step, per),
        Case("hand_statements", "add_child_rule", "add_child_rule", add_child, 5, "PG: node+edge in 1"),
        Case("hand_statements", "import (bulk), 1k nodes", "import_1k", lambda: graphs.import_flow(small, rule_set)),
        Case("hand_statements", f"remove a leaf of the {k} flow", f"remove_{k}", remove_leaf),
    ]  # fmt: skip
    if connection.vendor != "postgresql":  # nothing to switch: not timed
        found = [case for case in found if case.trick != "pg_functions"]
    return found


def _time(case: Case) -> float:
    start = time.perf_counter()
    for _ in range(case.repeat):
        case.run()
    return (time.perf_counter() - start) / case.repeat


def run(rounds: int, quick: bool, size: int = 10_000) -> tuple[Section, dict[str, Any]]:
    found_cases = cases(size, quick)
    for case in found_cases:  # warm-up, not measured; also the query counts
        case.run()
        with tricks.disabled(case.trick):
            case.run()
    queries = {}
    for index, case in enumerate(found_cases):
        on, _ = count_queries(case.run)
        with tricks.disabled(case.trick):
            off, _ = count_queries(case.run)
        queries[index] = (on, off)
    times: dict[int, tuple[list[float], list[float]]] = {i: ([], []) for i in range(len(found_cases))}
    for number in range(rounds):
        for index, case in enumerate(found_cases):
            on_list, off_list = times[index]
            if number % 2:
                with tricks.disabled(case.trick):
                    off_list.append(_time(case))
                on_list.append(_time(case))
            else:
                on_list.append(_time(case))
                with tricks.disabled(case.trick):
                    off_list.append(_time(case))
    section = Section(
        f"Tricks: each one's gain, on vs off in the same run ({rounds} interleaved rounds)",
        ["trick", "operation", "on ms", "off ms", "gain (off/on, median)", "gain (min-max)", "queries on/off", "note"],
    )
    results: dict[str, Any] = {}
    for index, case in enumerate(found_cases):
        on_list, off_list = times[index]
        ratios = [off / on for on, off in zip(on_list, off_list, strict=True)]
        gain = statistics.median(ratios)
        note = case.note
        section.add(
            case.trick,
            case.operation,
            ms(statistics.median(on_list)),
            ms(statistics.median(off_list)),
            f"{gain:.2f}",
            f"{min(ratios):.2f}-{max(ratios):.2f}",
            f"{queries[index][0]}/{queries[index][1]}",
            note,
        )
        results.setdefault("trick_gains", {}).setdefault(case.trick, {})[case.key] = round(gain, 3)
    if connection.vendor != "postgresql":
        section.add("pg_functions", "transition (next_state)", "-", "-", "-", "-", "-", "PostgreSQL only")
    section.notes.append("queries: of the measured call, its object's look-up included (remove: the node's)")
    section.notes.append("gain: time with the trick off / time with it on, per round; 1.00 = it earns nothing here")
    off = [name for name in tricks.NAMES if not getattr(tricks.on, name)]
    if off:
        section.notes.append(f"switched off for the whole run (--without): {', '.join(off)}")
    return section, results
