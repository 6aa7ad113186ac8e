"""The admin page of a flow node's settings: the rule's ``Settings`` form,
written through the edit service (validated, logged, refused when frozen)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from flowr import edits, nodesettings, policy
from flowr.admin.common import admin_url
from flowr.exceptions import FlowrError, InvalidSettings
from flowr.forms import node_label

if TYPE_CHECKING:
    from flowr.models import Flow, FlowNodeData


class NodeSettingsAdminMixin:
    """``<flow>/nodes/<node>/settings/`` of the flow admin (name ``flowr_flow_settings``)."""

    def settings_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        """Show the node's settings form; on POST store it (errors shown by field, nothing written)."""
        flow, data = self._flow_and_node(request, object_id, node_id)  # type: ignore[attr-defined]
        if data is None:
            return self._back(flow)  # type: ignore[attr-defined, no-any-return]
        form_class = policy.settings_form(data.rule_label)
        if form_class is None:
            self.message_user(  # type: ignore[attr-defined]
                request, _("The rule of %(node)s has no settings.") % {"node": node_label(data)}, messages.ERROR
            )
            return self._back(flow)  # type: ignore[attr-defined, no-any-return]
        refusal = edits.edit_refusal(flow)
        if request.method == "POST" and refusal is None:
            form = form_class(request.POST)
            if form.is_valid() and self._store(request, form, data):
                return self._back(flow)  # type: ignore[attr-defined, no-any-return]
        else:
            try:
                form = form_class(initial=nodesettings.upgraded(form_class, data.settings or {}))
            except InvalidSettings:
                form = form_class()
        return self._settings_page(request, flow, data, form, refusal)

    def _store(self, request: HttpRequest, form: nodesettings.NodeSettings, data: FlowNodeData) -> bool:
        try:
            with edits.acting(request.user):
                edits.set_settings(data, nodesettings.stored_values(form))
        except InvalidSettings as exc:
            for field, problems in (exc.problems or {}).items():
                form.add_error(field if field in form.fields else None, problems)
            return False
        except FlowrError as exc:
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
            return False
        done = _("Changed the settings of %(node)s.") % {"node": node_label(data)}
        self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
        return True

    def _settings_page(
        self, request: HttpRequest, flow: Flow, data: FlowNodeData, form: Any, refusal: FlowrError | None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "original": flow,
            "title": _("Settings of %(node)s") % {"node": node_label(data)},
            "form": form,
            "refusal": str(refusal) if refusal is not None else "",
            "action_url": admin_url("flowr_flow_settings", flow.pk, data.node_id),
            "back_url": admin_url("flowr_flow_change", flow.pk),
        }
        return TemplateResponse(request, "flowr/admin/node_settings.html", context)
