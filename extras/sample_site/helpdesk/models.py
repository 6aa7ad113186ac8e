"""The demo's domain: support tickets, each carried through a flow by a State."""

from __future__ import annotations

from django.db import models


class Ticket(models.Model):
    """A customer's support request; its ``status`` is set by the flow's rules."""

    title = models.CharField(max_length=200)
    customer_email = models.EmailField()
    status = models.CharField(max_length=40, default="new")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class TicketLog(models.Model):
    """One line of a ticket's log, written by the rules' callbacks."""

    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="log")
    message = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.message
