"""The demo's sample data: rule sets, flows, tickets and running States."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from flowr import sample_rules
from flowr.models import Flow, FlowNodeData, RuleSet, State
from helpdesk import rules
from helpdesk.models import Ticket, TicketLog


def clear() -> None:
    """Delete everything :func:`load` creates (States first: they freeze flows)."""
    State.objects.all().delete()
    Flow.objects.all().delete()
    RuleSet.objects.all().delete()
    TicketLog.objects.all().delete()
    Ticket.objects.all().delete()


def _todo_flow() -> Flow:
    flow = Flow.factory("To-do list", RuleSet.factory("To-do", rules.Todo))
    flow.root_data.add_child_rule(rules.Doing).add_child_rule(rules.Done)
    return flow


def _sample_flow() -> Flow:
    """0.2's example, begun: A -> C, C -> D.  C may still branch to E, and E
    loop back to A: the front page's first "try this" step."""
    flow = Flow.factory("Sample A–E (0.2)", RuleSet.factory("A–E sample rules (0.2)", sample_rules.A))
    flow.root_data.add_child_rule(sample_rules.C).add_child_rule(sample_rules.D)
    return flow


def _support_flow() -> Flow:
    flow = Flow.factory("Support tickets", RuleSet.factory("Helpdesk", rules.Opened))
    triaged = flow.root_data.add_child_rule(rules.Triaged)
    working = triaged.add_child_rule(rules.InProgress)
    support, _ = Group.objects.get_or_create(name="Support")
    working.set_settings({"assignee_group": support.pk, "due_in": "P1D"})
    triaged.add_child_rule(rules.Rejected)
    working.add_child_rule(rules.WaitingOnCustomer).connect_child(working)
    resolved = working.add_child_rule(rules.Resolved)
    resolved.add_child_rule(rules.Closed)
    resolved.add_child_rule(rules.Reopened).connect_child(working)
    return flow


def _move(state: State, *path: type[rules.Rule], actor: Any) -> None:
    for rule in path:
        state.next_state(rule, actor=actor)


TICKETS: list[tuple[str, str, list[type[rules.Rule]]]] = [
    ("The printer is on fire", "ada@example.com", []),
    ("Cannot log in", "grace@example.com", [rules.Triaged, rules.InProgress, rules.WaitingOnCustomer]),
    ("Invoice shows the wrong amount", "alan@example.com", [rules.Triaged, rules.InProgress, rules.Resolved]),
    ("Buy cheap watches!!!", "spam@example.com", [rules.Triaged, rules.Rejected]),
]


@transaction.atomic
def load(actor: Any = None) -> dict[str, int]:
    """Create the demo's rule sets, flows, tickets and States; return counts."""
    todo = _todo_flow()
    sample = _sample_flow()
    support = _support_flow()
    for flow in (todo, sample, support):  # the versions in use are the published ones
        flow.publish(actor=actor)
    for _ in range(2):
        State.start(todo, actor=actor)
    State.objects.filter(flow=todo).first().next_state(actor=actor)  # type: ignore[union-attr]
    for title, email, path in TICKETS:
        ticket = Ticket.objects.create(title=title, customer_email=email)
        _move(State.start(support, subject=ticket, actor=actor), *path, actor=actor)
    # running States froze "Support tickets": an editable next version, a draft
    draft = support.clone()
    return {
        "rule sets": RuleSet.objects.count(),
        "flows": Flow.objects.count(),
        "nodes": FlowNodeData.objects.count(),
        "states": State.objects.count(),
        "tickets": Ticket.objects.count(),
        "clones": int(draft.pk is not None),
    }
