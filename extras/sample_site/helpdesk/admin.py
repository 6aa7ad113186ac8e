from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from flowr.admin import FlowrFlowFilter, FlowrRuleFilter, FlowrSubjectAdminMixin
from flowr.models import Flow
from helpdesk import rules
from helpdesk.models import Ticket, TicketLog


class TicketLogInline(admin.TabularInline):
    model = TicketLog
    fields = ["created", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(FlowrSubjectAdminMixin, admin.ModelAdmin):
    """A ticket's page shows its States, with buttons to move them (flowr's subject mixin)."""

    list_display = ["id", "title", "customer_email", "status", "flowr_state", "created"]
    list_filter = ["status", FlowrFlowFilter, FlowrRuleFilter]
    search_fields = ["title", "customer_email"]  # also lets "Start a state" search tickets
    readonly_fields = ["status"]
    inlines = [TicketLogInline]

    def get_flowr_flows(self, request: HttpRequest, obj: Ticket) -> QuerySet[Flow]:
        """Tickets go through the helpdesk flows only."""
        return super().get_flowr_flows(request, obj).filter(rule_set__root_rule_label=rules.Opened.class_label)


@admin.register(TicketLog)
class TicketLogAdmin(admin.ModelAdmin):
    list_display = ["created", "ticket", "message"]
    list_select_related = ["ticket"]
