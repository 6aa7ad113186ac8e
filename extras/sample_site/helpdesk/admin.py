from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

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
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "customer_email", "status", "created"]
    list_filter = ["status"]
    readonly_fields = ["status"]
    inlines = [TicketLogInline]


@admin.register(TicketLog)
class TicketLogAdmin(admin.ModelAdmin):
    list_display = ["created", "ticket", "message"]
    list_select_related = ["ticket"]
