"""Rules used by the tests (autodiscovered as the app's ``rules`` module)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flowr import sample_rules  # noqa: F401  (registers A-E)
from flowr.models import Flow, FlowNodeData
from flowr.rules import Rule
from flowr.testing import build_flow, flow_nodes
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


# -- probes: rules whose callbacks and guards tests can steer ------------------

# "<RuleName>.<event>" -> callable(state); events: on_enter, on_leave,
# can_enter, can_leave.  A guard hook's return value is the guard's result.
probe_hooks: dict[str, Callable[[Any], Any]] = {}


@contextmanager
def probing(hooks: dict[str, Callable[[Any], Any]]) -> Iterator[None]:
    """Install probe hooks for the duration of the block."""
    probe_hooks.update(hooks)
    try:
        yield
    finally:
        probe_hooks.clear()


def _hook(rule: type[Rule], event: str, state: Any, default: Any = None) -> Any:
    hook = probe_hooks.get(f"{rule.__name__}.{event}")
    return default if hook is None else hook(state)


class ProbeRule(Rule):
    """Logs every callback to CallbackLog, then runs the installed hook (a base, not a rule)."""

    abstract = True

    @classmethod
    def on_enter(cls, state: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"enter {cls.__name__}")
        _hook(cls, "on_enter", state)

    @classmethod
    def on_leave(cls, state: Any) -> None:
        CallbackLog.objects.create(state_id=state.pk, message=f"leave {cls.__name__}")
        _hook(cls, "on_leave", state)

    @classmethod
    def can_enter(cls, state: Any) -> Any:
        return _hook(cls, "can_enter", state, True)

    @classmethod
    def can_leave(cls, state: Any) -> Any:
        return _hook(cls, "can_leave", state, True)


class Probe1(ProbeRule):
    children = ["tests.testapp.rules.Probe2"]


class Probe2(ProbeRule):
    """Branches: on to Probe3, or back to Probe1."""

    multiple_paths = True
    children = ["tests.testapp.rules.Probe3", Probe1]


class Probe3(ProbeRule):
    """The end of the probe flow: no children."""

    children: list[Any] = []


# -- flows built from these rules, for the runtime tests ----------------------


def cycle_flow(name: str = "cycle") -> tuple[Flow, list[FlowNodeData]]:
    """Cycle1 -> Cycle2 -> Cycle3 -> Cycle1; returns the flow and the 3 nodes."""
    flow = build_flow(Cycle1, "Cycle1 > Cycle2 > Cycle3 > @Cycle1", name=name)
    nodes = flow_nodes(flow)
    return flow, [nodes["Cycle1"], nodes["Cycle2"], nodes["Cycle3"]]


def probe_flow(name: str = "probe") -> tuple[Flow, list[FlowNodeData]]:
    """Probe1 -> Probe2 -> (Probe3 | back to Probe1); returns flow and nodes."""
    flow = build_flow(Probe1, "Probe1 > Probe2 > (Probe3 | @Probe1)", name=name)
    nodes = flow_nodes(flow)
    return flow, [nodes["Probe1"], nodes["Probe2"], nodes["Probe3"]]
