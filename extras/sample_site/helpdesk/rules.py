"""The demo's rules (autodiscovered by flowr as this app's ``rules`` module).

Three rule sets live here:

* the to-do rules: ``Todo -> Doing -> Done``, a straight line;
* 0.2's A-E sample rules, imported from :mod:`flowr.sample_rules` so their
  labels resolve (branching at C, looping from E back to A);
* the helpdesk rules, whose callbacks do visible work: each sets the
  ticket's status, writes a log line and may e-mail the customer (printed on
  the runserver console)::

      Opened -> Triaged -> InProgress | Rejected
      InProgress -> WaitingOnCustomer | Resolved | Review
      WaitingOnCustomer -> InProgress                (loops)
      Review -> Resolved
      Resolved -> Closed | Reopened;  Reopened -> InProgress

  ``Review`` is in no shipped flow: the editor's "insert" puts it between
  InProgress and Resolved of a flow (the flow-builders' guide shows it).

``InProgress`` has node settings (who works on it, how long it may take):
the people who build the flow set them per node in the editor or the
admin, and its callback reads them as ``state.settings``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.core.mail import send_mail

import flowr
from flowr import sample_rules  # noqa: F401  (registers the A-E rules)
from flowr.rules import Rule
from helpdesk.models import Ticket, TicketLog


# -- a straight line ------------------------------------------------------------
class Done(Rule):
    """The work is finished."""


class Doing(Rule):
    children = [Done]


class Todo(Rule):
    children = [Doing]


# -- the helpdesk ------------------------------------------------------------------
class TicketRule(Rule):
    """Base of the helpdesk rules: status, log line, optional e-mail."""

    abstract = True  # a base, not a step: never offered as a rule
    status = ""
    email_subject = ""

    @classmethod
    def on_enter(cls, state: Any) -> None:
        ticket = state.subject if isinstance(state.subject, Ticket) else None
        if ticket is not None and cls.status:
            ticket.status = cls.status
            ticket.save(update_fields=["status"])
        TicketLog.objects.create(ticket=ticket, message=f"state {state.pk}: entered {cls.name}{cls.details(state)}")
        if ticket is not None and cls.email_subject:
            send_mail(
                f"[Ticket #{ticket.pk}] {cls.email_subject}",
                f"Hello,\n\nyour ticket {ticket.title!r} is now {cls.status}.\n\nThe helpdesk",
                None,
                [ticket.customer_email],
            )

    @classmethod
    def details(cls, state: Any) -> str:
        """More for the log line (after the rule's name)."""
        return ""


class Closed(TicketRule):
    status = "closed"
    email_subject = "closed"


class Rejected(TicketRule):
    status = "rejected"
    email_subject = "we cannot help with this request"


class Resolved(TicketRule):
    children = [Closed, "helpdesk.rules.Reopened"]
    multiple_paths = True
    status = "resolved"
    email_subject = "resolved: please confirm"


class Review(TicketRule):
    children = [Resolved]
    status = "in review"


class WaitingOnCustomer(TicketRule):
    children = ["helpdesk.rules.InProgress"]
    status = "waiting on customer"
    email_subject = "we need more information"


class InProgress(TicketRule):
    children = [WaitingOnCustomer, Resolved, Review]
    multiple_paths = True
    status = "in progress"

    class Settings(flowr.NodeSettings):
        assignee_group = forms.ModelChoiceField(
            Group.objects.all(), required=False, label="Assignee group", help_text="Who works on the ticket here."
        )
        due_in = forms.DurationField(
            initial=datetime.timedelta(days=2), label="Due in", help_text="How long it may take (e.g. P2D, or seconds)."
        )

    @classmethod
    def details(cls, state: Any) -> str:
        settings = state.settings  # this node's settings, cleaned and typed
        group = settings["assignee_group"]
        return f" (assigned to {group.name if group else 'nobody'}, due in {settings['due_in']})"


class Reopened(TicketRule):
    children = [InProgress]
    status = "reopened"


class Triaged(TicketRule):
    children = [InProgress, Rejected]
    multiple_paths = True
    status = "triaged"


class Opened(TicketRule):
    children = [Triaged]
    status = "open"
    email_subject = "we received your request"
