"""Rules with timers (issue 17): a ticket waits; after its delay a timeout
escalates it, unless a person answers first."""

from __future__ import annotations

from django import forms

import flowr
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule


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
