"""Rules used by the tests (autodiscovered as the app's ``rules`` module)."""

from typing import Any

from flowr import sample_rules  # noqa: F401  (registers A-E)
from flowr.rules import Rule
from tests.testapp.models import CallbackLog


class Cycle1(Rule):
    children = ["tests.testapp.rules.Cycle2"]  # forward reference by label

    @classmethod
    def on_enter(cls, state: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"enter {cls.__name__}")


class Cycle2(Rule):
    children = ["tests.testapp.rules.Cycle3"]

    @classmethod
    def on_enter(cls, state: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"enter {cls.__name__}")


class Cycle3(Rule):
    children = [Cycle1]

    @classmethod
    def on_enter(cls, state: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"enter {cls.__name__}")


class Chain(Rule):
    """A rule that may follow itself: builds chains of any length."""

    children = ["tests.testapp.rules.Chain"]


class Wide(Rule):
    """A multi-path rule with many children rules (wide graphs)."""

    multiple_paths = True
    children: list[Any] = []


class Leaf(Rule):
    children = [Wide]


class Leaf2(Rule):
    children = [Wide, Chain]


Wide.children = [Leaf, Leaf2, Chain]
