"""The switchboard of flowr's speed tricks: which are on (all, by default).

Each trick is a faster way to do something flowr can also do the plain way,
and each keeps that plain way as its fallback (taken anyway when, say, a
signal receiver needs the ORM).  The code using a trick reads its switch at
call time -- ``tricks.on.pg_functions``, one attribute read -- so the
benchmark (``benchmarks/run.py --without TRICK``, and its "tricks" section)
can switch one off and measure what it still earns:

``pg_functions``
    transitions call the PL/pgSQL functions of migrations 0002/0003
    (PostgreSQL) instead of sending the statements themselves;
``no_model_init``
    rows become model instances without ``Model.__init__`` (graph loads,
    a transition's children, history rows) instead of ``from_db()`` / the
    constructor;
``pause_collector``
    Python's cyclic garbage collector is paused while a big graph is loaded;
``raw_rows``
    big reads take the rows as the driver returns them instead of through
    Django's per-value converters;
``columnar_document``
    the editor's graph document lists each node as one row of columns; off,
    :meth:`flowr.readmodel.FlowGraph.as_json` gives one object per node as
    ``node_data`` spells it -- a different format, for measuring only: never
    switch it off in a process that serves the API;
``hand_statements``
    hand-built statements on a cursor instead of the ORM: a transition's lock,
    children read, compare-and-set and history row; ``add_child``'s node and
    edge in one statement (PostgreSQL); bulk writes with one ``executemany``
    per table instead of ``bulk_create``; remove/prune's lock-and-edges read
    and ``DELETE ... RETURNING`` instead of the collector.

Results are the same either way (tests check each switch: the path changes,
the rows and answers do not).  Switching is process-wide and not
thread-safe: it is for benchmarks and tests.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

NAMES = ("pg_functions", "no_model_init", "pause_collector", "raw_rows", "columnar_document", "hand_statements")


class Switches:
    """One boolean attribute per trick; True: the trick is used."""

    __slots__ = NAMES
    pg_functions: bool
    no_model_init: bool
    pause_collector: bool
    raw_rows: bool
    columnar_document: bool
    hand_statements: bool

    def __init__(self) -> None:
        for name in NAMES:
            setattr(self, name, True)

    def __repr__(self) -> str:
        return "Switches(" + ", ".join(f"{name}={getattr(self, name)}" for name in NAMES) + ")"


#: The switches the code reads (``tricks.on.raw_rows``).
on = Switches()


def check(names: tuple[str, ...] | list[str]) -> None:
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise ValueError(f"unknown trick(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")


def set_enabled(name: str, value: bool) -> None:
    """Switch trick ``name`` on or off (for the rest of the process)."""
    check([name])
    setattr(on, name, value)


@contextmanager
def disabled(*names: str) -> Iterator[None]:
    """Run the block with the tricks ``names`` switched off, then put them back."""
    check(names)
    saved = {name: getattr(on, name) for name in names}
    try:
        for name in names:
            setattr(on, name, False)
        yield
    finally:
        for name, value in saved.items():
            setattr(on, name, value)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a big graph is loaded
    (the ``pause_collector`` trick; nothing when it is off).

    Tens of thousands of new objects set off full collections of the whole
    process heap, which on a 10k-node graph cost more than the query does.
    Nothing made here is garbage yet; the collector resumes right after.
    Only the caller that paused it resumes it, so nested or concurrent loads
    never leave it off.
    """
    paused = on.pause_collector and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
