"""The RuleSet admin: its rules, the flows built on it, links to the rule graph and a new flow."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr.admin.common import CSS, admin_url, count_of, reverse_or_none
from flowr.forms import RuleSetForm, rule_display
from flowr.models import Flow, RuleSet


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    form = RuleSetForm
    list_display = ["name", "root_rule", "flow_count", "links"]
    search_fields = ["name"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[RuleSet]:
        queryset: QuerySet[RuleSet] = super().get_queryset(request)
        return queryset.annotate(_flow_count=count_of(Flow.objects.filter(rule_set=OuterRef("pk")), "rule_set"))

    @admin.display(description=gettext_lazy("root rule"), ordering="root_rule_label")
    def root_rule(self, obj: RuleSet) -> str:
        return rule_display(obj.root_rule_label)

    @admin.display(description=gettext_lazy("flows"), ordering="_flow_count")
    def flow_count(self, obj: RuleSet) -> int:
        return obj._flow_count  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset

    @admin.display(description="")
    def links(self, obj: RuleSet) -> str:
        parts = []
        graph = reverse_or_none("flowr:rule_set_graph", obj.pk)
        if graph:
            parts.append((graph, _("view rule graph")))
        if not obj.rule_missing:
            parts.append((f"{admin_url('flowr_flow_add')}?rule_set={obj.pk}", _("new flow")))
        return format_html_join(" · ", '<a href="{}">{}</a>', parts)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if obj is not None:
            rules = [
                {
                    "name": rule.verbose_name,
                    "label": rule.class_label,
                    "multiple_paths": rule.multiple_paths,
                    "children": [rule_display(label) for label in rule.child_labels()],
                }
                for rule in obj.rules()
            ]
            extra.update(
                flowr_rules=rules,
                flowr_missing=obj.rule_missing,
                flowr_flows=obj.flows.all(),
                flowr_graph_url=reverse_or_none("flowr:rule_set_graph", obj.pk),
                flowr_new_flow_url=f"{admin_url('flowr_flow_add')}?rule_set={obj.pk}",
            )
        return super().change_view(request, object_id, form_url, extra)
