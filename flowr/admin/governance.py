"""The Flow admin's governed-change pages (issue 18): status buttons, the
compare page (what changed between two flows) and the migration screen
("move running States to version N").

Each page asks the core: :func:`flowr.governance.change_status`,
:func:`flowr.diff.diff_flows`, :func:`flowr.versions.migrate_states` (its dry
run for the screen, then the move, all or nothing).  A refusal becomes an
error message and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr import governance, policy
from flowr.admin.common import admin_url, reverse_or_none
from flowr.diff import diff_flows, is_empty
from flowr.exceptions import FlowrError
from flowr.forms import node_text
from flowr.models import Flow, FlowNodeData
from flowr.versions import MigrationReport, migrate_states

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _Base = ModelAdmin[Flow]
else:
    _Base = object

#: the button of each status change
TRANSITION_BUTTONS = {
    "submit_for_review": gettext_lazy("Submit for review"),
    "publish": gettext_lazy("Publish"),
    "retire": gettext_lazy("Retire"),
    "back_to_draft": gettext_lazy("Back to draft"),
}


def _labels(flow: Flow) -> dict[int, str]:
    """``#<node> <rule>`` of every node of ``flow`` (one query)."""
    rows = FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).values_list("node_id", "rule_label")
    return {node: node_text(node, label) for node, label in rows}


class GovernanceAdminMixin(_Base):
    """Status, compare and migrate for :class:`~flowr.admin.flows.FlowAdmin`."""

    def governance_urls(self, wrap: Any) -> list[URLPattern]:
        return [
            path("<path:object_id>/status/", wrap(self.status_view, True), name="flowr_flow_status"),
            path("<path:object_id>/compare/", wrap(self.compare_view), name="flowr_flow_compare"),
            path("<path:object_id>/migrate/", wrap(self.migrate_view), name="flowr_flow_migrate"),
        ]

    def governance_context(self, request: HttpRequest, flow: Flow, may_edit: bool) -> dict[str, Any]:
        """What the change page shows of the status (no query)."""
        options = policy.status_options(flow.status) if may_edit else ()
        return {
            "flowr_status": policy.status_label(flow.status),
            "flowr_status_buttons": [(name, TRANSITION_BUTTONS[name]) for name in options],
            "flowr_compare_url": admin_url("flowr_flow_compare", flow.pk),
            "flowr_migrate_url": admin_url("flowr_flow_migrate", flow.pk),
        }

    def _governed_flow(self, request: HttpRequest, object_id: str, permission: str) -> Flow:
        flow = self._flow(request, object_id)  # type: ignore[attr-defined]
        if not getattr(self, f"has_{permission}_permission")(request, flow):
            raise PermissionDenied
        return flow  # type: ignore[no-any-return]

    def status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        flow = self._governed_flow(request, object_id, "change")
        transition = request.POST.get("transition", "")
        try:
            changed = governance.change_status(flow, transition, request.user)
        except FlowrError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            text = _("Flow %(flow)s is now %(status)s.") % {"flow": flow, "status": policy.status_label(changed.new)}
            if changed.retired:
                text += " " + _("The version published before is retired.")
            self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(admin_url("flowr_flow_change", flow.pk))

    def _page(self, request: HttpRequest, flow: Flow, template: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "original": flow}
        return TemplateResponse(request, template, {**base, **context})

    def _other_flow(self, value: str | None, exclude: int) -> Flow | None:
        if not value or not (value.isascii() and value.isdigit()) or len(value) > 18:
            return None
        return Flow.objects.exclude(pk=exclude).filter(pk=int(value)).first()

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """What changed from this flow to the one chosen (``?other=``)."""
        flow = self._governed_flow(request, object_id, "view")
        choices = list(
            Flow.objects.filter(rule_set_id=flow.rule_set_id).exclude(pk=flow.pk).order_by("name", "version")
        )
        other = self._other_flow(request.GET.get("other"), flow.pk)
        context: dict[str, Any] = {"title": _("Compare %(flow)s") % {"flow": flow}, "choices": choices, "other": other}
        if request.GET.get("other") and other is None:
            self.message_user(request, _("Choose one of the flows offered."), messages.ERROR)
        if other is not None:
            diff = diff_flows(flow, other)
            mine, theirs = _labels(flow), _labels(other)
            context.update(
                same=is_empty(diff),
                added=[theirs[n["node"]] for n in diff["added_nodes"]],
                removed=[mine[n["node"]] for n in diff["removed_nodes"]],
                changed=[
                    (
                        mine[n["node"]],
                        theirs[n["other"]],
                        policy.rule_name(n["rule"]),
                        policy.rule_name(n["other_rule"]),
                    )
                    for n in diff["changed_nodes"]
                ],
                added_links=[(theirs[x["source"]], theirs[x["target"]]) for x in diff["added_links"]],
                removed_links=[(mine[x["source"]], mine[x["target"]]) for x in diff["removed_links"]],
                editor_url=_editor_compare_url(flow, other),
            )
        return self._page(request, flow, "flowr/admin/compare_flows.html", **context)

    def migrate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move this flow's running States to another flow of its rule set:
        counts per node, the automatic mapping, a picker per node, a dry
        run, then the move (all or nothing)."""
        flow = self._governed_flow(request, object_id, "change")
        if not request.user.has_perm("flowr.change_state"):
            raise PermissionDenied
        choices = list(Flow.objects.filter(rule_set_id=flow.rule_set_id).exclude(pk=flow.pk).order_by("-version", "pk"))
        data = request.POST if request.method == "POST" else request.GET
        target = self._other_flow(data.get("target"), flow.pk)
        if target is None and choices and not data.get("target"):
            target = next((f for f in choices if f.family == flow.family), choices[0])
        context: dict[str, Any] = {"title": _("Move running states of %(flow)s") % {"flow": flow}, "choices": choices}
        if target is None:
            if data.get("target"):
                self.message_user(request, _("Choose one of the flows offered."), messages.ERROR)
            return self._page(request, flow, "flowr/admin/migrate_states.html", target=None, **context)
        picked = (
            {key[4:]: request.POST[key] for key in request.POST if key.startswith("map_") and request.POST[key]}
            if request.method == "POST"
            else {}
        )
        try:
            automatic = migrate_states(flow, target, dry_run=True)
            report = migrate_states(flow, target, mapping=picked, dry_run=True) if picked else automatic
        except FlowrError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._page(request, flow, "flowr/admin/migrate_states.html", target=None, **context)
        if request.method == "POST" and "move" in request.POST:
            try:
                done = migrate_states(flow, target, mapping=picked, actor=request.user)
            except FlowrError as exc:
                self.message_user(request, _("Nothing moved: %(reason)s") % {"reason": exc}, messages.ERROR)
            else:
                text = _("Moved %(count)s state(s) from %(source)s to %(target)s.")
                self.message_user(
                    request, text % {"count": done.moved, "source": flow, "target": target}, messages.SUCCESS
                )
                return HttpResponseRedirect(admin_url("flowr_flow_change", target.pk))
        context.update(
            target=target,
            rows=_node_rows(flow, target, automatic, report, picked),
            dry_run=request.method == "POST" and "move" not in request.POST,
            report=report,
            moves=_move_rows(report, _labels(flow), _labels(target)) if request.method == "POST" else [],
        )
        return self._page(request, flow, "flowr/admin/migrate_states.html", **context)


def _editor_compare_url(flow: Flow, other: Flow) -> str | None:
    url = reverse_or_none("flowr:flow_compare", flow.pk)
    return f"{url}?other={other.pk}" if url else None


def _node_rows(
    flow: Flow, target: Flow, automatic: MigrationReport, report: MigrationReport, picked: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per node of ``flow`` holding running States."""
    counts = Counter(m.source_node for m in automatic.moves)
    counts.update({u.node: len(u.states) for u in automatic.unmapped})
    mine, theirs = _labels(flow), _labels(target)
    unmapped = {u.node for u in report.unmapped}
    return [
        {
            "node": node,
            "label": mine.get(node, str(node)),
            "states": count,
            "automatic": theirs.get(automatic.mapping[node]) if node in automatic.mapping else None,
            "chosen": picked.get(str(node)) or str(report.mapping.get(node, "")),
            "unmapped": node in unmapped,
            "options": sorted(theirs.items()),
        }
        for node, count in sorted(counts.items())
    ]


def _move_rows(report: MigrationReport, mine: dict[int, str], theirs: dict[int, str]) -> list[tuple[int, str, str]]:
    return [(m.state, mine.get(m.source_node, ""), theirs.get(m.target_node, "")) for m in report.moves]
