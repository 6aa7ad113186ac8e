"""The test app's admin: Ticket uses flowr's subject mixin (Document is not registered)."""

from django.contrib import admin

from flowr.admin import FlowrFlowFilter, FlowrRuleFilter, FlowrSubjectAdminMixin
from tests.testapp.models import Ticket


@admin.register(Ticket)
class TicketAdmin(FlowrSubjectAdminMixin, admin.ModelAdmin):
    list_display = ["id", "title", "flowr_state"]
    list_filter = [FlowrFlowFilter, FlowrRuleFilter]
    search_fields = ["title"]
    ordering = ["id"]
