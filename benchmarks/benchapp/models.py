"""The peers flowr is measured against, on the same 3-state loop a -> b -> c -> a.

* :class:`FsmTicket` -- django-fsm-2, saved with ``save()``;
* :class:`FsmLogTicket` -- the same, logged by django-fsm-log;
* :class:`MachineTicket` -- python-statemachine bound to the model;
* :class:`RawTicket` / :class:`RawHistory` -- the tables of the raw-SQL bound
  (one ``UPDATE`` and one history ``INSERT`` per transition).

The tables are created with ``migrate --run-syncdb`` (no migrations: the app
exists only for the benchmarks).
"""

from __future__ import annotations

from django.db import models
from django_fsm import FSMField, transition
from statemachine import State, StateMachine
from statemachine.mixins import MachineMixin

NEXT = {"a": "b", "b": "c", "c": "a"}


class _FsmLoop(models.Model):
    state = FSMField(default="a")

    class Meta:
        abstract = True

    @transition(field=state, source="a", target="b")
    def to_b(self) -> None:
        pass

    @transition(field=state, source="b", target="c")
    def to_c(self) -> None:
        pass

    @transition(field=state, source="c", target="a")
    def to_a(self) -> None:
        pass

    def advance(self) -> None:
        getattr(self, f"to_{NEXT[self.state]}")()


class FsmTicket(_FsmLoop):
    """django-fsm-2 alone (listed in ``DJANGO_FSM_LOG_IGNORED_MODELS``)."""


class FsmLogTicket(_FsmLoop):
    """django-fsm-2 with django-fsm-log's history row per transition."""


class LoopMachine(StateMachine):
    a = State(initial=True, value="a")
    b = State(value="b")
    c = State(value="c")

    advance = a.to(b) | b.to(c) | c.to(a)


class MachineTicket(MachineMixin, models.Model):
    """python-statemachine bound to a model (its state is a plain column)."""

    state_machine_name = "benchmarks.benchapp.models.LoopMachine"
    state = models.CharField(max_length=8, default="a")


class RawTicket(models.Model):
    node = models.IntegerField(default=1)
    version = models.IntegerField(default=0)


class RawHistory(models.Model):
    ticket = models.ForeignKey(RawTicket, on_delete=models.CASCADE)
    seq = models.IntegerField()
    from_node = models.IntegerField()
    to_node = models.IntegerField()
    created = models.DateTimeField()
