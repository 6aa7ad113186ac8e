"""Rules with timers (issue 17): a ticket waits; after its delay a timeout
escalates it, unless a person answers first."""

from __future__ import annotations

from typing import ClassVar

from django import forms

import flowr
from flowr.models import Flow, FlowNodeData, RuleSet, State
from flowr.rules import Rule
from flowr.timers import Timer


class TimerClosed(Rule):
    """The end."""


class TimerEscalated(Rule):
    children = [TimerClosed]


class TimerAnswered(Rule):
    children = [TimerClosed]


class TimerWaiting(Rule):
    """A node that may time out to either branch."""

    multiple_paths = True
    children = [TimerAnswered, TimerEscalated]
    timeout_targets = [TimerEscalated, TimerAnswered]


class TimerReminded(Rule):
    """One timeout target (chosen by default) and settings of its own."""

    children = [TimerClosed]
    timeout_targets = [TimerClosed]

    class Settings(flowr.NodeSettings):
        mail = forms.CharField(required=False)


class TimerOpened(Rule):
    children = [TimerWaiting, TimerReminded]
    multiple_paths = True
    timeout_targets = [TimerWaiting]


def timer_flow(name: str = "Timers") -> tuple[Flow, FlowNodeData]:
    """Opened -> Waiting -> (Answered | Escalated) -> Closed; returns the
    flow and its Waiting node (no timer set yet)."""
    flow = Flow.factory(name, RuleSet.factory(name, TimerOpened))
    waiting = flow.root_data.add_child_rule(TimerWaiting)
    for rule in (TimerAnswered, TimerEscalated):
        waiting.add_child_rule(rule).add_child_rule(TimerClosed)
    return flow, waiting


class TimerNudged(Rule):
    """A node with a reminder (and a timeout): ``on_timer`` calls are recorded."""

    multiple_paths = True
    children = [TimerAnswered, TimerEscalated]
    timeout_targets = [TimerEscalated]
    reminders = True
    timers: ClassVar[list[tuple[int, str, str]]] = []  # (State pk, timer kind, the State's rule) per call
    fail = False

    @classmethod
    def on_timer(cls, state: State, timer: Timer) -> None:
        if cls.fail:
            raise RuntimeError("the mail server is down")
        cls.timers.append((state.pk, timer.kind, state.current_node.rule_label))


class TimerNudgeStart(Rule):
    children = [TimerNudged]


def reminder_flow(name: str = "Reminders") -> tuple[Flow, FlowNodeData]:
    """Start -> Nudged -> (Answered | Escalated) -> Closed; returns the flow
    and its Nudged node (no timer set yet)."""
    flow = Flow.factory(name, RuleSet.factory(name, TimerNudgeStart))
    nudged = flow.root_data.add_child_rule(TimerNudged)
    for rule in (TimerAnswered, TimerEscalated):
        nudged.add_child_rule(rule).add_child_rule(TimerClosed)
    return flow, nudged
