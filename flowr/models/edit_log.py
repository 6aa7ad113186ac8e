"""The edit log: one row per applied edit of a flow's graph (or name).

Written by the edit service (:mod:`flowr.edits`) in the same transaction as
the edit, whatever the surface (model method, admin, editor, API, import).
``seq`` is the flow's ``revision`` after the edit; ``change`` holds what
undo and redo need; ``nodes`` the nodes the edit touched (conflicts between
two editors are found with it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from flowr.models.flows import Flow


class FlowEdit(models.Model):
    """One applied edit of a flow: who, when, what, and how to undo it."""

    # No index of its own: the unique (flow, seq) starts with it.
    flow = models.ForeignKey(
        Flow, on_delete=models.CASCADE, related_name="edits", db_index=False, verbose_name=_("flow")
    )
    seq = models.PositiveIntegerField(_("number"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_repr = models.CharField(_("actor name"), max_length=150, blank=True, default="")
    operation = models.CharField(_("operation"), max_length=32)
    description = models.CharField(_("description"), max_length=500)
    change = models.JSONField(_("change"), default=dict, encoder=DjangoJSONEncoder)
    nodes = models.JSONField(_("nodes"), default=list)
    undone = models.BooleanField(_("undone"), default=False)
    redoable = models.BooleanField(_("redoable"), default=False)  # undone, and no edit since cleared the redo chain
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["flow", "seq"]
        verbose_name = _("flow edit")
        constraints = [models.UniqueConstraint(fields=["flow", "seq"], name="flowr_flowedit_flow_seq")]

    def __str__(self) -> str:
        return f"{self.flow_id} #{self.seq}: {self.description}"

    @property
    def actor_name(self) -> str | None:
        """Who made the edit (the username when it was recorded), None when unknown."""
        return self.actor_repr or None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "actor": self.actor_name,
            "operation": self.operation,
            "description": self.description,
            "created": self.created,
            "undone": self.undone,
        }
