"""Calling a rule's ``on_enter`` / ``on_leave`` (and ``on_timer``): the one place a transition
(and a reminder) does it.

Normally a callback is simply called.  The simulator (:mod:`flowr.simulator`)
installs an *observer* for the duration of a simulation: it is called
instead, records the call and decides whether the callback runs (a rule with
``simulation_safe = False`` is skipped).  The observer lives in a context
variable, so a simulation in one thread never changes what another thread's
transitions do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowr.rules import Rule

#: ``(rule, hook, state, *args)``; ``hook`` is ``"on_enter"``, ``"on_leave"``
#: or ``"on_timer"`` (``args``: the timer)
Observer = Callable[..., None]

_observer: ContextVar[Observer | None] = ContextVar("flowr_callback_observer", default=None)


def call(rule: type[Rule], hook: str, state: Any, *args: Any) -> None:
    """Run ``rule``'s ``hook`` for ``state`` (or hand it to the observer)."""
    observer = _observer.get()
    if observer is None:
        getattr(rule, hook)(state, *args)
    else:
        observer(rule, hook, state, *args)


@contextmanager
def observed(observer: Observer) -> Iterator[None]:
    """Within the block, every callback goes through ``observer``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)
