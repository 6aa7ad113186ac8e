"""Dry runs of a flow: the real start and transitions, nothing kept.

:func:`simulate` starts a State and moves it with the real
:meth:`State.start() <flowr.models.State.start>` and
:meth:`State.next_state() <flowr.models.State.next_state>`: permissions,
guards, ``on_enter``/``on_leave`` and the ``pre_transition`` /
``post_transition`` signals all run.  Everything happens inside one
transaction (a savepoint when the caller is already in one) that is always
rolled back, so no row is kept, the on-commit callbacks registered meanwhile
(``transition_committed``, a callback's own ``transaction.on_commit``) are
discarded by Django with the rollback, and the flow is not frozen afterwards.

Callbacks of a rule with ``simulation_safe = False`` (they act outside the
database) are skipped and reported.  What each step offered is
:meth:`State.transition_options() <flowr.models.State.transition_options>`,
the answer the admin and the API show.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext

from flowr import callbacks, timers
from flowr.exceptions import ChoiceNotInFlow, FlowrError
from flowr.models import Flow, FlowNodeData, State
from flowr.models.states import timer_of
from flowr.rules import short_name

# Django 6.1 renamed transaction.savepoint() to savepoint_create() (the old
# name warns); the same call on 5.2.
_savepoint_create = getattr(transaction, "savepoint_create", None) or transaction.savepoint

if TYPE_CHECKING:
    from flowr.guards import TransitionOption
    from flowr.rules import Rule

#: how a walk ended (CHOICES: every choice taken, with ``stop_after_choices``)
END, BLOCKED, LOOP, MAX_STEPS, ERROR, CHOICES = "end", "blocked", "loop", "max_steps", "error", "choices"
#: what happened to one callback
RAN, SKIPPED, RAISED = "ran", "skipped", "raised"
#: at most this many transitions in all the paths of one exploration
EXPLORE_LIMIT = 2000
#: at most this many steps in all the paths an exploration reports (each
#: path is reported whole, so long shared prefixes count again)
REPORT_LIMIT = 5_000


@dataclass(frozen=True)
class NodeRef:
    """A node of the flow: its id (the Node's), rule label and the rule's name people see."""

    id: int
    rule_label: str
    rule_name: str

    @classmethod
    def of(cls, data: FlowNodeData) -> NodeRef:
        return cls(data.node_id, data.rule_label, str(data.rule_verbose_name))


@dataclass(frozen=True)
class ChildVerdict:
    """One child of a step's node: whether the actor may take it, and if not why."""

    node: NodeRef
    allowed: bool
    reason: str | None = None
    code: str | None = None

    @classmethod
    def of(cls, option: TransitionOption) -> ChildVerdict:
        return cls(NodeRef.of(option.node), option.allowed, option.reason, option.code)


@dataclass(frozen=True)
class CallbackCall:
    """One ``on_enter``/``on_leave``: ``outcome`` is ``"ran"``, ``"skipped"``
    (``simulation_safe = False``) or ``"raised"``."""

    rule_label: str
    hook: str
    outcome: str


@dataclass(frozen=True)
class SimulationError:
    """An exception a start or transition raised (reported, not propagated),
    with the callbacks that ran before it."""

    type: str
    code: str | None
    message: str
    callbacks: list[CallbackCall] = field(default_factory=list)

    @classmethod
    def of(cls, exc: Exception, calls: list[CallbackCall]) -> SimulationError:
        code = exc.code if isinstance(exc, FlowrError) else None
        return cls(type(exc).__name__, code, str(exc), calls)


@dataclass(frozen=True)
class Step:
    """The State at one node: the callbacks run arriving there, every child
    with its verdict, the child taken next (its node id) and the error that
    stopped the walk here, if any (raised taking ``taken``, or asking the
    guards about the children: then ``children`` is empty).  ``reached`` is False only for a start
    that failed (the State never stood at the root)."""

    node: NodeRef
    callbacks: list[CallbackCall] = field(default_factory=list)
    children: list[ChildVerdict] = field(default_factory=list)
    taken: int | None = None
    error: SimulationError | None = None
    reached: bool = True
    #: the timers fired here (``simulate(now=...)``), in order: ``"reminder"``,
    #: ``"timeout"`` (``taken`` is then its target), or ``"<kind> refused"`` /
    #: ``"<kind> failed"``
    timers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimulatedPath:
    """One walk from the root; ``outcome`` says why it stopped: ``"end"`` (a
    node without children), ``"blocked"`` (no child allowed), ``"loop"``
    (explore: every allowed edge already taken on this path),
    ``"max_steps"``, ``"error"`` or ``"choices"`` (every choice taken, with
    ``stop_after_choices``)."""

    steps: list[Step]
    outcome: str


@dataclass(frozen=True)
class SimulationReport:
    """What :func:`simulate` saw.  ``paths`` holds one walk, or every walk
    with ``explore``; ``ends_reached`` the nodes without children some path
    stood on; ``unreached`` the nodes no path stood on (refused by a guard or
    a permission, or past an error or ``max_steps``); ``truncated`` is True
    when exploration stopped at :data:`EXPLORE_LIMIT` transitions or
    :data:`REPORT_LIMIT` reported steps."""

    flow: int
    flow_name: str
    subject: str | None
    explore: bool
    max_steps: int
    paths: list[SimulatedPath]
    ends_reached: list[NodeRef]
    unreached: list[NodeRef]
    truncated: bool = False

    @property
    def steps(self) -> list[Step]:
        """The steps of the first (without ``explore``: the only) path."""
        return self.paths[0].steps

    @property
    def outcome(self) -> str:
        """How the first (without ``explore``: the only) path ended."""
        return self.paths[0].outcome

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return dataclasses.asdict(self)


def now_refusal(now: Any, explore: bool) -> str | None:
    """Why ``now`` (the fast-forward time) cannot be used with these options;
    None when it can: the one answer of :func:`simulate`, the API and
    ``flowr_simulate``."""
    if now is None:
        return None
    if not isinstance(now, datetime.datetime) or timezone.is_naive(now):
        return gettext("now must be an aware date and time, not %(value)r") % {"value": now}
    if explore:
        return gettext("now (fast-forward) walks one path: it cannot be used with explore")
    return None


def simulate(
    flow: Flow,
    subject: models.Model | None = None,
    actor: Any = None,
    choices: Sequence[str | int] | None = None,
    explore: bool = False,
    max_steps: int = 100,
    now: datetime.datetime | None = None,
    stop_after_choices: bool = False,
) -> SimulationReport:
    """Run ``flow`` for real and keep nothing; see the module's docstring.

    Without ``explore``: start a State, then take ``choices`` in order (rule
    labels, rule class names or node ids), then the first allowed child,
    until a node without children, no allowed child, ``max_steps``
    transitions or an exception (reported in the step, not raised).
    ``explore=True`` walks every allowed branch depth first instead, each
    edge at most once per path (``choices`` is ignored).

    :param flow: the flow (frozen or not; the instance is left untouched)
    :param subject: a saved model instance for the State (a fresh copy is
        used, so callbacks never change the caller's object)
    :param actor: who simulates: permissions are asked for this user (None:
        trusted code, as in ``next_state``)
    :param choices: the children to take, in order
    :param explore: walk every branch
    :param max_steps: transitions per path, at least 0
    :param now: fast-forward (not with ``explore``): at each node the State
        first waits for its timers (:mod:`flowr.timers`) that are due by
        ``now``, counted from when it entered the node in simulated time
        (a timeout's time, or the simulation's start), and they fire
        (reminders call ``on_timer``; a timeout moves the State); then the
        walk takes its next choice
    :param stop_after_choices: stop once every choice is taken (and the
        timers due by ``now`` at that node have fired), outcome
        ``"choices"``, instead of going on with the first allowed child
        (ignored with ``explore``)
    :raises ValueError: ``max_steps`` is not a non-negative integer, a
        choice is neither a string nor an integer, ``subject`` is unsaved,
        ``now`` is not an aware datetime or comes with ``explore``
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"max_steps must be an integer >= 0, not {max_steps!r}")
    wanted = list(choices or [])
    if any(isinstance(c, bool) or not isinstance(c, (str, int)) for c in wanted):
        raise ValueError("choices must be rule labels, rule names or node ids")
    if subject is not None and subject.pk is None:
        raise ValueError("subject must be a saved model instance")
    refusal = now_refusal(now, explore)
    if refusal is not None:
        raise ValueError(refusal)
    db = router.db_for_write(State)
    with _content_types_kept(db), transaction.atomic(using=db):
        try:
            fresh = Flow.objects.using(db).select_related("state_graph").get(pk=flow.pk)
            run = _Run(fresh, subject, actor, db, max_steps, now, stop_after_choices)
            with callbacks.observed(run.observe):
                return run.explore() if explore else run.walk(wanted)
        finally:
            transaction.set_rollback(True, using=db)


@contextmanager
def _content_types_kept(db: str) -> Iterator[None]:
    """Forget content types cached during the block: one created in the
    rolled-back transaction would otherwise stay cached with a lost id."""
    cache: dict[str, dict[Any, Any]] | None = getattr(ContentType.objects, "_cache", None)
    before = dict(cache.get(db, {})) if cache is not None else None
    try:
        yield
    finally:
        if cache is not None and before is not None:
            cache[db] = before


@dataclass
class _Frame:
    """A node on the explored path, with the children still to try from it."""

    steps: list[Step]
    edges: frozenset[tuple[int, int]]
    savepoint: str | None
    todo: list[ChildVerdict]


class _Run:
    """One simulation: the flow (a fresh copy), its nodes and the callbacks seen."""

    def __init__(
        self,
        flow: Flow,
        subject: models.Model | None,
        actor: Any,
        db: str,
        max_steps: int,
        now: Any = None,
        stop_after_choices: bool = False,
    ) -> None:
        self.flow, self.actor, self.db, self.max_steps = flow, actor, db, max_steps
        self.now: datetime.datetime | None = now
        self.stop_after_choices = stop_after_choices
        self.entered: datetime.datetime | None = None  # when the State entered its node, simulated time
        self.subject = type(subject)._default_manager.using(db).get(pk=subject.pk) if subject is not None else None
        # read first: a guard's failed query may leave the transaction unusable
        self.nodes = flow.nodes_data()
        self.calls: list[CallbackCall] = []

    def observe(self, rule: type[Rule], hook: str, state: Any, *args: Any) -> None:
        """The callback observer: skip unsafe rules, record the others."""
        if not getattr(rule, "simulation_safe", True):
            self.calls.append(CallbackCall(rule.class_label, hook, SKIPPED))
            return
        try:
            getattr(rule, hook)(state, *args)
        except BaseException:
            self.calls.append(CallbackCall(rule.class_label, hook, RAISED))
            raise
        self.calls.append(CallbackCall(rule.class_label, hook, RAN))

    def taken_calls(self) -> list[CallbackCall]:
        calls, self.calls = self.calls, []
        return calls

    # -- moves ---------------------------------------------------------------
    def start(self) -> tuple[State | None, Step]:
        try:
            state = State.start(self.flow, subject=self.subject, actor=self.actor)
        except Exception as exc:
            root = next(d for d in self.nodes if d.node_id == self.flow.state_graph.root_id)
            return None, Step(NodeRef.of(root), error=SimulationError.of(exc, self.taken_calls()), reached=False)
        return state, self.arrived(state)

    def arrived(self, state: State) -> Step:
        calls = self.taken_calls()
        node = NodeRef.of(state.current_node)
        try:
            verdicts = [ChildVerdict.of(o) for o in state.transition_options(self.actor)]
        except Exception as exc:  # a guard or a permission check raised
            return Step(node, calls, error=SimulationError.of(exc, []))
        return Step(node, calls, verdicts)

    def move(self, state: State, choice: str) -> Step | SimulationError:
        try:
            state.next_state(choice, actor=self.actor)
        except Exception as exc:
            return SimulationError.of(exc, self.taken_calls())
        return self.arrived(state)

    # -- one walk --------------------------------------------------------------
    def walk(self, choices: list[str | int]) -> SimulationReport:
        state, step = self.start()
        steps = [step]
        if state is None:
            return self.report([SimulatedPath(steps, ERROR)], explore=False)
        self.entered = state.updated
        outcome = None
        while outcome is None:
            if self.now is not None and steps[-1].error is None:
                state = self.fast_forward(state, steps)
            step = steps[-1]
            outcome = _stopped(step, len(steps) - 1, self.max_steps)
            if outcome is None and self.stop_after_choices and not choices:
                outcome = CHOICES
            if outcome is not None:
                break
            if choices:
                wanted = choices.pop(0)
                choice, child = _pick(step, wanted)
            else:
                child = next(c for c in step.children if c.allowed)
                choice = child.node.rule_label
            taken = child.node.id if child is not None else None
            result: Step | SimulationError
            if choice is None:
                result = SimulationError(
                    ChoiceNotInFlow.__name__,
                    ChoiceNotInFlow.code,
                    gettext("Node %(id)s is not a child of node %(node)s") % {"id": wanted, "node": step.node.id},
                )
            else:
                result = self.move(state, choice)
            if isinstance(result, SimulationError):
                steps[-1] = dataclasses.replace(step, taken=taken, error=result)
                outcome = ERROR
            else:
                steps[-1] = dataclasses.replace(step, taken=taken)
                steps.append(result)
        return self.report([SimulatedPath(steps, outcome)], explore=False)

    def fast_forward(self, state: State, steps: list[Step]) -> State:
        """Fire the State's timers due by ``now`` in simulated time, each as
        of its own due time; a timeout is a step.  The State as it is after."""
        assert self.now is not None and self.entered is not None  # walk() sets them
        while state.due_at is not None and len(steps) - 1 < self.max_steps:
            # the timer's due time counted from the simulated entry, through the calendar
            due, _ = timer_of(state.current_node, self.entered, reminded=bool(state.due_rule), state=state)
            if due is None:  # the node's settings changed since the State entered it
                due = self.entered + (state.due_at - state.updated)
            if due > self.now:
                break
            kind = "timeout" if state.due_rule else "reminder"
            report = timers.fire_state(state, now=state.due_at, using=self.db)
            fresh = self.fresh(state.pk)
            step = steps[-1]
            if report.fired:
                steps[-1] = dataclasses.replace(step, taken=fresh.current_node.node_id, timers=[*step.timers, kind])
                self.entered = due
                steps.append(self.arrived(fresh))
            elif report.reminded:
                calls = [*step.callbacks, *self.taken_calls()]
                steps[-1] = dataclasses.replace(step, callbacks=calls, timers=[*step.timers, kind])
            else:
                what = "refused" if report.refused else "failed"
                steps[-1] = dataclasses.replace(step, timers=[*step.timers, f"{kind} {what}"])
                self.taken_calls()
                return fresh
            state = fresh
        return state

    # -- every walk -------------------------------------------------------------
    def explore(self) -> SimulationReport:
        state, root = self.start()
        if state is None:
            return self.report([SimulatedPath([root], ERROR)], explore=True)
        paths: list[SimulatedPath] = []
        outcome = _stopped(root, 0, self.max_steps, frozenset())
        if outcome is not None:
            return self.report([SimulatedPath([root], outcome)], explore=True)
        frames = [_Frame([root], frozenset(), None, _open(root, frozenset()))]
        moves = reported = 0
        while frames:
            frame = frames[-1]
            if not frame.todo:
                frames.pop()
                if frame.savepoint is not None:
                    transaction.savepoint_rollback(frame.savepoint, using=self.db)
                continue
            if moves >= EXPLORE_LIMIT or reported >= REPORT_LIMIT:
                return self.report(paths, explore=True, truncated=True)
            child = frame.todo.pop(0)
            savepoint = _savepoint_create(using=self.db)
            moves += 1
            here = frame.steps[-1]
            found = self.move(self.fresh(state.pk), child.node.rule_label)
            if isinstance(found, SimulationError):
                paths.append(
                    SimulatedPath(
                        [*frame.steps[:-1], dataclasses.replace(here, taken=child.node.id, error=found)], ERROR
                    )
                )
                reported += len(frame.steps)
                transaction.savepoint_rollback(savepoint, using=self.db)
                continue
            steps = [*frame.steps[:-1], dataclasses.replace(here, taken=child.node.id), found]
            edges = frame.edges | {(here.node.id, child.node.id)}
            outcome = _stopped(found, len(steps) - 1, self.max_steps, edges)
            if outcome is not None:
                paths.append(SimulatedPath(steps, outcome))
                reported += len(steps)
                transaction.savepoint_rollback(savepoint, using=self.db)
                continue
            frames.append(_Frame(steps, edges, savepoint, _open(found, edges)))
        return self.report(paths, explore=True)

    def fresh(self, pk: Any) -> State:
        """The State as the database has it now (after a savepoint rollback)."""
        return State.objects.using(self.db).select_related("current_node__node").get(pk=pk)

    def report(self, paths: list[SimulatedPath], *, explore: bool, truncated: bool = False) -> SimulationReport:
        reached = {step.node.id for path in paths for step in path.steps if step.reached}
        ends = {s.node.id for path in paths for s in path.steps if s.reached and not s.children and s.error is None}
        shown = [NodeRef.of(data) for data in self.nodes]
        return SimulationReport(
            flow=self.flow.pk,
            flow_name=self.flow.name,
            subject=str(self.subject) if self.subject is not None else None,
            explore=explore,
            max_steps=self.max_steps,
            paths=paths,
            ends_reached=[node for node in shown if node.id in ends],
            unreached=[node for node in shown if node.id not in reached],
            truncated=truncated,
        )


def _stopped(step: Step, moves: int, max_steps: int, edges: frozenset[tuple[int, int]] | None = None) -> str | None:
    """Why a walk stops at ``step`` after ``moves`` transitions, or None.
    ``edges`` (explore) are the edges the path took already."""
    if step.error is not None:  # asking the guards raised
        return ERROR
    if not step.children:
        return END
    allowed = [c for c in step.children if c.allowed]
    if not allowed:
        return BLOCKED
    if moves >= max_steps:
        return MAX_STEPS
    if edges is not None and not _open(step, edges):
        return LOOP
    return None


def _open(step: Step, edges: frozenset[tuple[int, int]]) -> list[ChildVerdict]:
    """The allowed children whose edge the path has not taken yet."""
    return [c for c in step.children if c.allowed and (step.node.id, c.node.id) not in edges]


def _pick(step: Step, choice: str | int) -> tuple[str | None, ChildVerdict | None]:
    """The choice to give ``next_state`` and the child it names (None when
    unknown: ``next_state`` then refuses the string with the real error)."""
    if isinstance(choice, int):
        child = next((c for c in step.children if c.node.id == choice), None)
        return (child.node.rule_label if child is not None else None), child
    named = [c for c in step.children if c.node.rule_label == choice]
    if not named:
        named = [c for c in step.children if short_name(c.node.rule_label) == choice]
    return choice, (named[0] if len(named) == 1 else None)
