"""Check the invariants of running States over a whole database.

After any sequence of starts, transitions, migrations, failures and races
these must hold for every State:

* it has history, and its ``seq`` numbers run 1, 2, ... n without a gap;
* its current node is the ``to_node`` of its last history row;
* its ``version`` is the last ``seq`` minus one (one per transition);
* its current node belongs to its flow's graph;
* each history row starts where the previous one ended (``from_node`` of
  row n+1 is the ``to_node`` of row n; rows whose nodes were deleted are
  skipped).

:func:`check_integrity` runs a constant number of queries (two), whatever
the number of States.  ``manage.py flowr_check_integrity`` runs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict

from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery

from flowr.models import State, StateHistory


@dataclass(frozen=True)
class Problem:
    """One broken invariant of one State."""

    state_id: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"State {self.state_id}: {self.message}"


def _state_ids(states: QuerySet[State] | Iterable[State | int] | None) -> Any:
    """A value for ``pk__in``: a subquery for a queryset, else a list of pks."""
    if states is None or isinstance(states, QuerySet):
        return states if states is None else states.values("pk")
    return [s.pk if isinstance(s, State) else s for s in states]


class _Summary(TypedDict):
    """A row of :func:`_summaries`."""

    pk: int
    current_node_id: int
    version: int
    node_graph: Any
    flow_graph: Any
    rows: int
    first_seq: Any
    last_seq: Any
    last_to: Any


def _summaries(ids: Any) -> QuerySet[State, _Summary]:
    """One row per State: its node, graphs, version and history aggregates."""
    last = StateHistory.objects.filter(state=OuterRef("pk")).order_by("-seq")
    query = State.objects.all() if ids is None else State.objects.filter(pk__in=ids)
    return query.order_by("pk").values(
        "pk",
        "current_node_id",
        "version",
        node_graph=F("current_node__node__graph_id"),
        flow_graph=F("flow__state_graph_id"),
        rows=Count("history_rows"),
        first_seq=Min("history_rows__seq"),
        last_seq=Max("history_rows__seq"),
        last_to=Subquery(last.values("to_node_id")[:1]),
    )


def _summary_problems(row: _Summary) -> list[Problem]:
    pk = row["pk"]
    if not row["rows"]:
        return [Problem(pk, "no_history", "has no history rows")]
    problems = []
    if (row["first_seq"], row["last_seq"]) != (1, row["rows"]):
        seqs = f"{row['rows']} rows numbered {row['first_seq']}..{row['last_seq']}"
        problems.append(Problem(pk, "seq_gap", f"history sequence is not contiguous from 1 ({seqs})"))
    if row["last_to"] != row["current_node_id"]:
        message = f"current node data {row['current_node_id']} is not the last history target ({row['last_to']})"
        problems.append(Problem(pk, "node_mismatch", message))
    if row["version"] != row["last_seq"] - 1:
        message = f"version {row['version']} does not match the last history seq {row['last_seq']}"
        problems.append(Problem(pk, "version_mismatch", message))
    if row["node_graph"] != row["flow_graph"]:
        problems.append(Problem(pk, "foreign_node", "current node is not in its flow's graph"))
    return problems


def _broken_chain(ids: Any) -> list[Problem]:
    """Rows whose ``from_node`` is not the previous row's ``to_node``.

    The previous row is found through the unique ``(state, seq)`` index; a
    missing one (a gap, reported on its own) or a deleted node is skipped.
    """
    rows = StateHistory.objects.all() if ids is None else StateHistory.objects.filter(state_id__in=ids)
    previous = StateHistory.objects.filter(state_id=OuterRef("state_id"), seq=OuterRef("seq") - 1)
    rows = rows.annotate(previous_to=Subquery(previous.values("to_node_id")[:1])).filter(
        Q(from_node__isnull=False) & Q(previous_to__isnull=False) & ~Q(from_node_id=F("previous_to"))
    )
    return [
        Problem(
            state_id,
            "broken_chain",
            f"history row {seq} starts at node data {start}, not where row {seq - 1} ended",
        )
        for state_id, seq, start in rows.order_by("state_id", "seq").values_list("state_id", "seq", "from_node_id")
    ]


def check_integrity(states: QuerySet[State] | Iterable[State | int] | None = None) -> list[Problem]:
    """Every broken invariant of ``states`` (all States when None).

    :param states: a queryset of States, or States / primary keys
    :returns: the problems found, ordered by State; empty when all is well
    """
    ids = _state_ids(states)
    problems = [p for row in _summaries(ids) for p in _summary_problems(row)]
    problems.extend(_broken_chain(ids))
    return sorted(problems, key=lambda p: p.state_id)
