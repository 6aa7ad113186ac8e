"""Build flows from text, run paths, capture signals, lint rule sets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.db import router, transaction
from django.test import TestCase

from flowr import policy, signals
from flowr import rules as rule_registry
from flowr.exceptions import FlowrError
from flowr.models import Flow, FlowNodeData, RuleSet, State, StateHistory
from flowr.rules import Rule
from flowr.testing.spec import Element, FlowSpecError, GroupSpec, LinkSpec, NodeSpec, parse

RuleSetLike = RuleSet | type[Rule] | str


def _rule_set(rule_set: RuleSetLike, name: str) -> RuleSet:
    """The rule set given, or a new one rooted at the rule (class or label) given."""
    if isinstance(rule_set, RuleSet):
        return rule_set
    return RuleSet.factory(name, rule_set)


def _root_label(rule_set: RuleSetLike) -> str:
    if isinstance(rule_set, RuleSet):
        return rule_set.root_rule_label
    return rule_registry.label_of(rule_set)


class _Names:
    """Rule names of a rule set: class names of the rules reachable from the
    root, or dotted labels."""

    def __init__(self, root: type[Rule], text: str) -> None:
        self.text = text
        self.by_name: dict[str, list[type[Rule]]] = {}
        for rule in rule_registry.rules_reachable_from(root):
            self.by_name.setdefault(rule.name, []).append(rule)

    def resolve(self, name: str, position: int, text: str | None = None) -> type[Rule]:
        """The rule ``name`` stands for; a FlowSpecError pointing at
        ``position`` in ``text`` (default: the flow text) when none or several."""
        text = self.text if text is None else text
        if "." in name:
            try:
                return rule_registry.resolve(name)
            except FlowrError as exc:
                raise FlowSpecError(str(exc), text, position) from exc
        found = self.by_name.get(name, [])
        if len(found) == 1:
            return found[0]
        if found:
            labels = ", ".join(r.class_label for r in found)
            raise FlowSpecError(f"Rule name {name!r} is ambiguous ({labels}): use a dotted label", text, position)
        known = ", ".join(sorted(self.by_name))
        raise FlowSpecError(f"No rule {name!r} in this rule set (its rules: {known})", text, position)


def _noted(exc: BaseException, text: str, position: int) -> None:
    exc.add_note(f"flowr.testing: building {text!r}, at position {position}")


def build_flow(rule_set: RuleSetLike, text: str, name: str = "flow") -> Flow:
    """Build a flow from a compact text, through the edit service.

    ``"Submitted > Review > (Approved | Rejected > @Submitted)"``: ``>``
    adds a child, ``( | )`` adds several children (branches), ``@Name``
    connects the node before it to the existing node of rule ``Name``.
    Names are the class names of the rules reachable from the root (or
    dotted labels); the text starts with the root rule's name.

    Every node is added with ``add_child_rule`` and every link made with
    ``connect_child``, so the rules are obeyed: a refusal raises the usual
    exception (``RuleNotAllowed``, ``TooManyChildren``,
    ``DuplicateChildRule``...) with a note giving the position in the text,
    and nothing is kept (one transaction).

    :param rule_set: a RuleSet, or a root Rule (class or label) for a new rule set
    :param text: the flow
    :param name: the flow's name (and the new rule set's)
    :raises FlowSpecError: the text is wrong (position given)
    """
    elements = parse(text)
    root_spec = elements[0]
    assert isinstance(root_spec, NodeSpec)  # parse() guarantees it
    with transaction.atomic(using=router.db_for_write(Flow)):
        rules = _rule_set(rule_set, name)
        root_rule = rules.root_rule
        names = _Names(root_rule, text)
        if names.resolve(root_spec.name, root_spec.position) is not root_rule:
            raise FlowSpecError(
                f"The flow must start with the root rule {root_rule.name}, not {root_spec.name!r}",
                text,
                root_spec.position,
            )
        flow = Flow.factory(name, rules)
        built: list[FlowNodeData] = [flow.root_data]
        links: list[tuple[FlowNodeData, LinkSpec]] = []

        def chain(parent: FlowNodeData, items: Sequence[Element]) -> None:
            for item in items:
                if isinstance(item, GroupSpec):
                    for branch in item.branches:
                        chain(parent, branch)
                elif isinstance(item, LinkSpec):
                    links.append((parent, item))
                else:
                    rule = names.resolve(item.name, item.position)
                    try:
                        parent = parent.add_child_rule(rule)
                    except FlowrError as exc:
                        _noted(exc, text, item.position)
                        raise
                    built.append(parent)

        chain(built[0], elements[1:])
        for source, link in links:
            rule = names.resolve(link.name, link.position)
            targets = [data for data in built if data.rule_label == rule.class_label]
            if len(targets) != 1:
                what = "No node" if not targets else f"{len(targets)} nodes"
                raise FlowSpecError(f"{what} of rule {rule.name} to link to", text, link.position)
            try:
                source.connect_child(targets[0])
            except FlowrError as exc:
                _noted(exc, text, link.position)
                raise
    return flow


class FlowNodes:
    """A flow's nodes by rule name (or dotted label): ``nodes["Review"]``."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.data = flow.nodes_data()

    def all(self, name: str) -> list[FlowNodeData]:
        """Every node whose rule has this name (or label)."""
        return [d for d in self.data if name in (d.rule_name, d.rule_label)]

    def __getitem__(self, name: str) -> FlowNodeData:
        found = self.all(name)
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes of rule {name!r} in flow {self.flow.name!r}")
        return found[0]

    def __iter__(self) -> Iterator[FlowNodeData]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def flow_nodes(flow: Flow) -> FlowNodes:
    """The flow's nodes, to look up by rule name: ``flow_nodes(flow)["Review"]``."""
    return FlowNodes(flow)


# -- signals --------------------------------------------------------------------------

SIGNALS = {
    "pre_transition": signals.pre_transition,
    "post_transition": signals.post_transition,
    "transition_committed": signals.transition_committed,
}


@dataclass(frozen=True)
class SignalEvent:
    """One signal sent: its name and its keyword arguments."""

    signal: str  # "pre_transition" | "post_transition" | "transition_committed"
    kwargs: dict[str, Any]

    @property
    def state(self) -> State:
        state: State = self.kwargs["state"]
        return state

    @property
    def from_rule(self) -> str | None:
        """The name of the rule left (None for a start)."""
        node = self.kwargs["from_node"]
        return None if node is None else str(node.rule_name)

    @property
    def to_rule(self) -> str:
        """The name of the rule entered."""
        return str(self.kwargs["rule"].name)

    @property
    def history(self) -> StateHistory | None:
        history: StateHistory | None = self.kwargs.get("history")
        return history

    def __str__(self) -> str:
        return f"{self.signal}: {self.from_rule or '-'} -> {self.to_rule}"


@dataclass
class SignalCapture:
    """The signals sent while capturing, in order."""

    events: list[SignalEvent] = field(default_factory=list)

    def of(self, signal: str) -> list[SignalEvent]:
        """The events of one signal (``"post_transition"``...)."""
        return [e for e in self.events if e.signal == signal]

    def summary(self) -> list[str]:
        """``["pre_transition: - -> A", ...]``: readable in an assert."""
        return [str(e) for e in self.events]

    def clear(self) -> None:
        self.events.clear()

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[SignalEvent]:
        return iter(self.events)


@contextlib.contextmanager
def capture_signals() -> Iterator[SignalCapture]:
    """Record ``pre_transition``, ``post_transition`` and
    ``transition_committed`` (from any sender) while the block runs."""
    capture = SignalCapture()
    uids = []
    for signal_name, signal in SIGNALS.items():

        def receive(sender: Any, signal_name: str = signal_name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            capture.events.append(SignalEvent(signal_name, kwargs))

        uid = f"flowr.testing.{id(capture)}.{signal_name}"
        signal.connect(receive, weak=False, dispatch_uid=uid)
        uids.append((signal, uid))
    try:
        yield capture
    finally:
        for signal, uid in uids:
            signal.disconnect(dispatch_uid=uid)


# -- running a path -------------------------------------------------------------------


@dataclass(frozen=True)
class PathRun:
    """What :func:`run_path` did: the State, its history rows (oldest
    first) and the signals sent."""

    state: State
    history: list[StateHistory]
    signals: SignalCapture

    @property
    def rule_names(self) -> list[str]:
        """The names of the rules entered, root first."""
        return [row.to_rule_name for row in self.history]


def _choice(step: type[Rule] | str, names: _Names | None) -> type[Rule] | str:
    if not isinstance(step, str) or "." in step or names is None:
        return step
    return names.resolve(step, 0, step)


@contextlib.contextmanager
def _committing(using: str, execute: bool) -> Iterator[None]:
    if not execute:
        yield
        return
    with TestCase.captureOnCommitCallbacks(using=using, execute=True):
        yield


def run_path(
    flow: Flow,
    path: Iterable[type[Rule] | str],
    *,
    subject: Any = None,
    actor: Any = None,
    committed: bool = True,
) -> PathRun:
    """Start a State on ``flow`` and move it along ``path``.

    ``path`` lists the rules to move to after the root (names, dotted labels
    or Rule classes); each step is ``next_state(rule)``, so a rule that is
    not a child of the current node, or a guard's veto, raises the usual
    exception (``ChoiceNotInFlow``, ``TransitionRefused``...) with a note
    naming the step.  The signals sent are captured.

    :param committed: run the on-commit callbacks of each step when it ends
        (``TestCase.captureOnCommitCallbacks``), so ``transition_committed``
        is sent inside a test's transaction too
    """
    using = router.db_for_write(State)
    steps = list(path)
    try:
        names: _Names | None = _Names(flow.rule_set.root_rule, "")
    except FlowrError:
        names = None
    with capture_signals() as captured:
        with _committing(using, committed):
            state = State.start(flow, subject=subject, actor=actor)
        for number, step in enumerate(steps, 1):
            try:
                choice = _choice(step, names)
                with _committing(using, committed):
                    state.next_state(choice, actor=actor)
            except (FlowrError, FlowSpecError) as exc:
                shown = [getattr(s, "name", s) for s in steps]
                exc.add_note(f"flowr.testing: run_path step {number} ({shown[number - 1]}) of {shown}")
                raise
    return PathRun(state, list(state.history), captured)


def _history_of(state: State | PathRun) -> tuple[State, list[StateHistory]]:
    if isinstance(state, PathRun):
        return state.state, list(state.state.history)
    return state, list(state.history)


def assert_history(state: State | PathRun, expected: Sequence[str]) -> None:
    """Assert the rules the State entered, root first, are ``expected``
    (rule names, or dotted labels); on failure the message lists both, step
    by step, and marks the differences."""
    state, rows = _history_of(state)
    actual = [(row.to_rule_name, row.to_rule_label) for row in rows]

    def same(want: str, got: tuple[str, str]) -> bool:
        return want == (got[1] if "." in want else got[0])

    if len(actual) == len(expected) and all(same(w, g) for w, g in zip(expected, actual, strict=True)):
        return
    width = max([len("expected"), *(len(w) for w in expected)])
    lines = [f"History of State {state.pk} differs from the expected path:", f"    step  {'expected':<{width}}  actual"]
    for number in range(max(len(actual), len(expected))):
        want = expected[number] if number < len(expected) else "-"
        got = actual[number] if number < len(actual) else None
        mark = "  " if got is not None and number < len(expected) and same(want, got) else "! "
        lines.append(f"  {mark}{number + 1:<4}  {want:<{width}}  {got[0] if got else '-'}")
    raise AssertionError("\n".join(lines))


# -- lint -------------------------------------------------------------------------------


def lint_rule_set(
    rule_set: RuleSetLike, rules: Iterable[type[Rule]] | ModuleType | None = None
) -> list[policy.RuleSetProblem]:
    """The design problems of a rule set (:func:`flowr.policy.rule_set_problems`):
    rules unreachable from the root, rules with no way to an end, branching
    rules with fewer than two child rules.

    :param rule_set: a RuleSet, or its root Rule (class or label)
    :param rules: the rules that should be reachable: Rule classes, or a
        module (its rules); default: the rules of the root rule's module
    """
    if isinstance(rules, ModuleType):
        module = rules.__name__
        rules = [r for r in rule_registry.all_rules() if r.__module__ == module]
    return policy.rule_set_problems(_root_label(rule_set), rules)
