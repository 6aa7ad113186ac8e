"""Helpers shared by the benchmark sections: timing, query counts, results."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``func`` took, and what it returned."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def best_of(func: Callable[[], Any], repeat: int) -> float:
    """The median of ``repeat`` timings of ``func``, in seconds."""
    return statistics.median(timed(func)[0] for _ in range(repeat))


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def count_queries(func: Callable[[], Any]) -> tuple[int, Any]:
    """How many SQL statements one call of ``func`` ran, and its result.

    Transaction control (``BEGIN``, ``COMMIT``, savepoints) is not counted:
    SQLite's backend logs it and PostgreSQL's does not, and it is no query.
    """
    connection.queries_log.clear()  # a full log (9,000 entries) would capture nothing
    with CaptureQueriesContext(connection) as captured:
        result = func()
    # A prepared statement's text is not logged (PostgreSQL, server-side
    # binding): it is counted, as it is no transaction control either.
    statements = [q["sql"] or "" for q in captured.captured_queries]
    return sum(1 for sql in statements if not sql.upper().startswith(TRANSACTION_CONTROL)), result


@dataclass
class Section:
    """A titled table of the final report."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        body = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in self.rows]
        notes = [f"  {n}" for n in self.notes]
        return "\n".join([f"### {self.title}", "", line, rule, *body, *([""] if notes else []), *notes])


@dataclass
class Measure:
    """Wall-clock and CPU seconds, SQL statements and a note on the result."""

    wall: float
    cpu: float
    queries: int
    note: str = ""


def call(func: Callable[..., Any], *args: Any) -> tuple[Measure, Any]:
    """Measure one call ``func(*args)``; return the measure and the result.

    With SQLite, which runs in this process, a read's CPU time is what its
    wall time would be on an idle machine; on a shared one it is the steadier
    figure.  A server database's own work is not in it.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    queries, result = count_queries(lambda: func(*args))
    return Measure(time.perf_counter() - wall, time.process_time() - cpu, queries), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def us(seconds: float) -> str:
    return f"{seconds * 1_000_000:.0f}"
