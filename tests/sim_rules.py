"""Rules for the simulator's tests (tests/test_simulate*.py, docs/simulator.md).

``SimStart > SimReview > (SimApprove | SimReject > @SimReview | SimEscalate | SimMail | SimBoom)``:
a loop (reject goes back to review), a branch a guard always refuses
(escalate), a rule whose callbacks act outside the database (mail), one
whose ``on_enter`` raises (boom).  The callbacks write rows and register
on-commit callbacks so the tests can see that nothing is kept.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from flowr.rules import Rule
from tests.testapp.models import CallbackLog

#: what ran after a commit, and the "e-mails" SimMail sends (module state, reset by the tests)
committed: list[str] = []
mails: list[str] = []


def _log(state: Any, message: str) -> None:
    CallbackLog.objects.create(state_id=state.pk, message=message)
    transaction.on_commit(lambda: committed.append(message))


class SimStart(Rule):
    children = ["tests.sim_rules.SimReview"]

    @classmethod
    def on_enter(cls, state: Any) -> None:
        _log(state, "start")

    @classmethod
    def can_enter(cls, state: Any) -> bool | str:
        return "this ticket is closed" if getattr(state.subject, "status", "") == "closed" else True


class SimReview(Rule):
    multiple_paths = True
    children = [
        "tests.sim_rules.SimApprove",
        "tests.sim_rules.SimReject",
        "tests.sim_rules.SimEscalate",
        "tests.sim_rules.SimMail",
        "tests.sim_rules.SimBoom",
    ]

    @classmethod
    def on_enter(cls, state: Any) -> None:
        _log(state, "review")
        subject = state.subject
        if subject is not None:
            subject.status = "in review"
            subject.save()


class SimApprove(Rule):
    children: list[Any] = []

    @classmethod
    def on_enter(cls, state: Any) -> None:
        _log(state, "approve")


class SimReject(Rule):
    children = [SimReview]

    @classmethod
    def on_leave(cls, state: Any) -> None:
        _log(state, "leave reject")


class SimEscalate(Rule):
    children: list[Any] = []

    @classmethod
    def can_enter(cls, state: Any) -> bool | str:
        return "escalation is closed"


class SimMail(Rule):
    simulation_safe = False
    children: list[Any] = []

    @classmethod
    def on_enter(cls, state: Any) -> None:
        mails.append(f"mail for state {state.pk}")


class SimBoom(Rule):
    children: list[Any] = []

    @classmethod
    def on_enter(cls, state: Any) -> None:
        raise RuntimeError("the printer is on fire")


class SimShaky(Rule):
    """A guard that raises (``SimSteady > SimShaky > SimApprove``)."""

    children = [SimApprove]

    @classmethod
    def can_leave(cls, state: Any) -> bool:
        raise ValueError("the guard's service is down")


class SimSteady(Rule):
    children = [SimShaky]
