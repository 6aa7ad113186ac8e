"""Rules with node settings (imported by the tests that use them)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import Group

import flowr
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule

#: what guards and callbacks saw (``state.settings``), by event
SEEN: list[tuple[str, dict[str, Any]]] = []


class Ticket(Rule):
    children = ["tests.testapp.settings_rules.Escalated", "tests.testapp.settings_rules.Closed"]
    multiple_paths = True


class Escalated(Rule):
    children = ["tests.testapp.settings_rules.Closed"]

    class Settings(flowr.NodeSettings):
        group = forms.ModelChoiceField(Group.objects.all(), label="Assignee group")
        due_in = forms.DurationField(initial=datetime.timedelta(days=1), help_text="How long it may wait.")
        level = forms.ChoiceField(choices=[("low", "Low"), ("high", "High")], initial="low")
        notify = forms.BooleanField(required=False)
        email = forms.EmailField(required=False)
        budget = forms.DecimalField(required=False, max_digits=8, decimal_places=2)
        retries = forms.IntegerField(required=False, min_value=0, max_value=5)
        watchers = forms.ModelMultipleChoiceField(Group.objects.all(), required=False)
        note = forms.CharField(required=False, max_length=20, widget=forms.Textarea)

        @classmethod
        def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
            if "hours" in data:  # version 1 stored a number of hours
                data["due_in"] = data.pop("hours") * 3600
            return data

    @classmethod
    def can_enter(cls, state: Any) -> bool | str:
        SEEN.append(("can_enter", state.settings))
        return True

    @classmethod
    def on_enter(cls, state: Any) -> None:
        SEEN.append(("on_enter", state.settings))


class Closed(Rule):
    class Settings(flowr.NodeSettings):
        reason = forms.CharField(required=False, max_length=50)

    @classmethod
    def on_enter(cls, state: Any) -> None:
        SEEN.append(("closed", state.settings))

    @classmethod
    def on_leave(cls, state: Any) -> None:
        SEEN.append(("left", state.settings))


def ticket_flow(name: str = "tickets") -> tuple[Flow, FlowNodeData, FlowNodeData, FlowNodeData]:
    """Ticket > (Escalated > Closed | Closed)): the root, the escalation and its Closed."""
    flow = Flow.factory(name, RuleSet.factory("tickets", Ticket))
    root = flow.root_data
    escalated = root.add_child_rule(Escalated)
    closed = escalated.add_child_rule(Closed)
    return flow, root, escalated, closed
