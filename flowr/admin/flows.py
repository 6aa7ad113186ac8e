"""The Flow admin: list, change page with the node tree, and the views that edit the graph.

Every graph edit is a POST run in one transaction; a refusal from the model
layer becomes an error message and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from flowr import edits, policy
from flowr import rules as rule_registry
from flowr.admin.common import CSS, admin_url, can_clone, count_of, export_module, json_download, reverse_or_none
from flowr.admin.governance import GovernanceAdminMixin
from flowr.admin.node_settings import NodeSettingsAdminMixin
from flowr.admin.tree import build_tree
from flowr.exceptions import FlowrError
from flowr.forms import ConnectForm, FlowAddForm, FlowChangeForm, node_label, node_text
from flowr.models import Flow, FlowEdit, FlowNodeData, Node, State
from flowr.readmodel import FlowGraph, undo_redo

#: Rows per page of a flow's edit log on its change page.
EDIT_PAGE_SIZE = 50


@admin.register(Flow)
class FlowAdmin(GovernanceAdminMixin, NodeSettingsAdminMixin, admin.ModelAdmin):
    list_display = ["name", "version", "status", "rule_set", "node_count", "running_states", "badge", "links"]
    list_filter = ["status", "rule_set"]
    list_select_related = ["rule_set"]
    search_fields = ["name"]
    actions = ["clone_flows", "export_flows"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Flow]:
        queryset: QuerySet[Flow] = super().get_queryset(request)
        return queryset.annotate(
            _node_count=count_of(Node.objects.filter(graph_id=OuterRef("state_graph_id")), "graph_id"),
            _state_count=count_of(State.objects.running().filter(flow_id=OuterRef("pk")), "flow_id"),
        )

    def get_form(self, request: HttpRequest, obj: Flow | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = FlowChangeForm if obj is not None else FlowAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Flow | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "rule_set")
        return ("name", "rule_set", "version", "status", "family", "created", "updated")

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None) -> list[str]:
        return [] if obj is None else ["rule_set", "version", "status", "family", "created", "updated"]

    def save_model(self, request: HttpRequest, obj: Flow, form: ModelForm, change: bool) -> None:
        if change:
            with edits.acting(request.user):
                edits.rename_flow(obj, obj.name)  # under the graph lock: a flow frozen meanwhile is refused
            return
        created = Flow.factory(obj.name, obj.rule_set)  # creates the graph and its root node
        for model_field in Flow._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(created, model_field.attname))
        obj._state = created._state

    # list columns
    @admin.display(description=gettext_lazy("nodes"), ordering="_node_count")
    def node_count(self, obj: Flow) -> int:
        return obj._node_count  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset

    @admin.display(description=gettext_lazy("running states"), ordering="_state_count")
    def running_states(self, obj: Flow) -> int:
        return obj._state_count  # type: ignore[attr-defined, no-any-return]  # annotated by get_queryset

    @admin.display(description=gettext_lazy("in use"))
    def badge(self, obj: Flow) -> str:
        if getattr(obj, "_state_count", 0):
            return format_html(
                '<span class="flowr-badge flowr-frozen" title="{}">{}</span>',
                _("States run on this flow: clone it to edit."),
                _("in use · frozen"),
            )
        return format_html('<span class="flowr-badge flowr-editable">{}</span>', _("editable"))

    @admin.display(description="")
    def links(self, obj: Flow) -> str:
        editor = reverse_or_none("flowr:flow_editor", obj.pk)
        parts = [(editor, _("open editor"))] if editor else []
        parts.append((f"{admin_url('flowr_state_add')}?flow={obj.pk}", _("start a state")))
        return format_html_join(" · ", '<a href="{}">{}</a>', parts)

    # actions
    @admin.action(description=gettext_lazy("Clone selected flows as new versions"), permissions=["add"])
    def clone_flows(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        if not can_clone():
            self.message_user(request, _("Cloning is not available in this version of flowr."), messages.WARNING)
            return
        for flow in queryset:

            def clone(flow: Flow = flow) -> str:
                return _("Cloned %(flow)s as %(copy)s.") % {"flow": flow, "copy": flow.clone()}

            self._attempt(request, clone)

    @admin.action(description=gettext_lazy("Export selected flows as JSON"), permissions=["view"])
    def export_flows(self, request: HttpRequest, queryset: QuerySet[Flow]) -> HttpResponse | None:
        export = export_module()
        if export is None:
            self.message_user(request, _("Export is not available in this version of flowr."), messages.WARNING)
            return None
        documents = [export.export_flow(flow) for flow in queryset]
        if len(documents) == 1:
            return json_download(documents[0], f"flow-{queryset[0].pk}.json")
        return json_download(documents, "flows.json")

    # the change page
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FlowrError as exc:  # refused under the lock (a State started meanwhile): nothing saved
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        flow = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if flow is not None:
            states = flow.state_count()
            may_edit = self.has_change_permission(request, flow)
            family = (
                Flow.objects.filter(family=flow.family)
                .annotate(running_states=count_of(State.objects.running().filter(flow_id=OuterRef("pk")), "flow_id"))
                .order_by("version", "pk")
            )
            extra.update(
                flowr_tree=build_tree(flow, editable=may_edit and not states, page=request.GET.get("tree_page")),
                flowr_frozen=bool(states),
                flowr_state_count=states,
                flowr_may_edit=may_edit,
                flowr_editor_url=reverse_or_none("flowr:flow_editor", flow.pk) if may_edit else None,
                flowr_can_clone=can_clone() and self.has_add_permission(request),
                flowr_can_export=export_module() is not None,
                flowr_family=family if len(family) > 1 else [],
                flowr_start_url=f"{admin_url('flowr_state_add')}?flow={flow.pk}",
                flowr_states_url=f"{admin_url('flowr_state_changelist')}?flow__id__exact={flow.pk}",
                flowr_edits=Paginator(
                    FlowEdit.objects.filter(flow_id=flow.pk).order_by("-seq"), EDIT_PAGE_SIZE
                ).get_page(request.GET.get("edits_page")),
                flowr_undo_redo=undo_redo(flow),
                **self.governance_context(request, flow, may_edit),
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse], post_only: bool = False) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(require_POST(view) if post_only else view)

        node = "<path:object_id>/nodes/<int:node_id>"
        return [
            path(f"{node}/add-child/", wrap(self.add_child_view, True), name="flowr_flow_add_child"),
            path(f"{node}/connect/", wrap(self.connect_view, True), name="flowr_flow_connect"),
            path(f"{node}/connect/choose/", wrap(self.connect_choose_view), name="flowr_flow_connect_choose"),
            path(f"{node}/remove/", wrap(self.remove_view), name="flowr_flow_remove"),
            path(f"{node}/prune/", wrap(self.prune_view), name="flowr_flow_prune"),
            path(f"{node}/disconnect/", wrap(self.disconnect_view), name="flowr_flow_disconnect"),
            path(f"{node}/insert/", wrap(self.insert_view), name="flowr_flow_insert"),
            path(f"{node}/rule/", wrap(self.change_rule_view), name="flowr_flow_change_rule"),
            path(f"{node}/settings/", wrap(self.settings_view), name="flowr_flow_settings"),
            path("<path:object_id>/undo/", wrap(self.undo_view, True), name="flowr_flow_undo"),
            path("<path:object_id>/redo/", wrap(self.redo_view, True), name="flowr_flow_redo"),
            path("<path:object_id>/clone/", wrap(self.clone_view, True), name="flowr_flow_clone"),
            path("<path:object_id>/export/", wrap(self.export_view), name="flowr_flow_export"),
            *self.governance_urls(wrap),
            *super().get_urls(),
        ]

    # graph edits
    def _attempt(self, request: HttpRequest, action: Callable[[], str]) -> bool:
        """Run one edit; a refusal becomes an error message and changes nothing."""
        try:
            with edits.acting(request.user), transaction.atomic():
                done = action()
        except FlowrError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        except IntegrityError:
            self.message_user(request, _("The flow changed meanwhile; nothing was done. Try again."), messages.ERROR)
            return False
        self.message_user(request, done, messages.SUCCESS)
        return True

    def _flow(self, request: HttpRequest, object_id: str) -> Flow:
        flow: Flow | None = self.get_object(request, object_id)  # None for a malformed id, too
        if flow is None:
            raise Http404(_("No flow %(id)r") % {"id": object_id})
        return flow

    def _flow_and_node(
        self, request: HttpRequest, object_id: str, node_id: int, permission: str = "change"
    ) -> tuple[Flow, FlowNodeData | None]:
        flow = self._flow(request, object_id)
        allowed = getattr(self, f"has_{permission}_permission")(request, flow)
        if not allowed:
            raise PermissionDenied
        data = (
            FlowNodeData.objects.select_related("node")
            .filter(node_id=node_id, node__graph_id=flow.state_graph_id)
            .first()
        )
        if data is None:
            self.message_user(
                request,
                _("Node %(node)s is not part of the flow %(flow)s.") % {"node": node_id, "flow": flow},
                messages.ERROR,
            )
        else:
            data._flow_cache = flow
        return flow, data

    def _back(self, flow: Flow) -> HttpResponseRedirect:
        return HttpResponseRedirect(admin_url("flowr_flow_change", flow.pk) + "#flowr-tree")

    def add_child_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        label = request.POST.get("rule", "")
        rule = rule_registry.get_rule(label)
        if rule is None:
            self.message_user(
                request, _("Choose one of the rules offered (got %(got)r).") % {"got": label}, messages.ERROR
            )
            return self._back(flow)
        self._attempt(
            request,
            lambda: (
                _("Added %(child)s under %(node)s.")
                % {"child": node_label(edits.add_child_rule(data, rule).data), "node": node_label(data)}
            ),
        )
        return self._back(flow)

    def connect_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        value = request.POST.get("target", "")
        target = None
        if value.isascii() and value.isdigit() and len(value) <= 18:  # "²".isdigit() too, and int() fails on it
            target = FlowNodeData.objects.select_related("node").filter(node_id=int(value)).first()
        if target is None:
            self.message_user(request, _("Choose one of the nodes offered."), messages.ERROR)
            return self._back(flow)
        target._flow_cache = flow

        def connect() -> str:
            edits.connect_child(data, target)
            return _("Connected %(node)s to %(target)s.") % {"node": node_label(data), "target": node_label(target)}

        self._attempt(request, connect)
        return self._back(flow)

    def connect_choose_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        """The nodes ``node`` may be connected to (as the read model lists
        them), for rows with too many to offer inline; posts to connect."""
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        if not self.has_change_permission(request, flow):
            raise PermissionDenied
        graph = FlowGraph.load(flow)
        targets = [(t, node_text(t, graph.labels[t])) for t in graph.connect_targets(data.node_id)]
        frozen = policy.frozen_refusal(flow, sum(graph.state_counts.values()))
        why = str(frozen) if frozen is not None else "" if targets else graph.child_options(data.node_id).reason
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": _("Connect %(node)s to…") % {"node": node_label(data)},
            "node": node_label(data),
            "form": ConnectForm(targets=targets) if targets and frozen is None else None,
            "refusal": why,
            "action_url": admin_url("flowr_flow_connect", flow.pk, data.node_id),
            "back_url": admin_url("flowr_flow_change", flow.pk),
        }
        return TemplateResponse(request, "flowr/admin/connect_node.html", context)

    def remove_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        node = data.node
        if request.method == "POST":
            self._attempt(request, lambda: (edits.remove(node), _("Removed %(node)s.") % {"node": node_label(data)})[1])
            return self._back(flow)
        graph = FlowGraph.load(flow)
        refusal = graph.removal(node.pk)[1] or ""
        stays = [node_text(c, graph.labels[c]) for c in graph.children(node.pk) if c != node.pk]
        return self._confirm(request, flow, data, "remove", [node_label(data)], refusal, stays)

    def prune_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        node = data.node
        if request.method == "POST":

            def prune() -> str:
                count = len(edits.prune(node).data)
                text = ngettext(
                    "Pruned %(count)s node from %(node)s on.", "Pruned %(count)s nodes from %(node)s on.", count
                )
                return text % {"count": count, "node": node_label(data)}

            self._attempt(request, prune)
            return self._back(flow)
        graph = FlowGraph.load(flow)
        refusal = _("The root node cannot be pruned.") if node.pk == graph.root else ""
        above = {entry["node"]: entry["because"] for entry in graph.prune_above(node.pk)}
        goes = [
            node_text(i, graph.labels[i])
            + (
                _(" (above %(node)s: also removed because %(reason)s)") % {"node": node_label(data), "reason": above[i]}
                if i in above
                else ""
            )
            for i in graph.prune_list(node.pk)
        ]
        return self._confirm(request, flow, data, "prune", goes, refusal, [])

    def _choice_page(
        self,
        request: HttpRequest,
        flow: Flow,
        data: FlowNodeData,
        *,
        title: str,
        intro: str,
        submit: str,
        choices: list[tuple[str, str]],
        refused: list[tuple[str, str]],
        refusal: str,
        url_name: str,
    ) -> HttpResponse:
        frozen = policy.frozen_refusal(flow, flow.state_count())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": title,
            "intro": intro,
            "submit": submit,
            "choices": choices if frozen is None else [],
            "refused": refused if frozen is None else [],
            "refusal": str(frozen) if frozen is not None else refusal,
            "action_url": admin_url(url_name, flow.pk, data.node_id),
            "back_url": admin_url("flowr_flow_change", flow.pk),
        }
        return TemplateResponse(request, "flowr/admin/node_choice.html", context)

    def _other(self, flow: Flow, value: str) -> FlowNodeData | None:
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            return None
        found = (
            FlowNodeData.objects.select_related("node")
            .filter(node_id=int(value), node__graph_id=flow.state_graph_id)
            .first()
        )
        if found is not None:
            found._flow_cache = flow
        return found

    def disconnect_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        """Choose one of the node's links to delete (those that may go), then delete it."""
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        if request.method == "POST":
            child = self._other(flow, request.POST.get("choice", ""))
            if child is None:
                self.message_user(request, _("Choose one of the links offered."), messages.ERROR)
                return self._back(flow)
            self._attempt(
                request,
                lambda: (
                    edits.disconnect(data.node, child.node),
                    _("Deleted the link from %(source)s to %(target)s.")
                    % {"source": node_label(data), "target": node_label(child)},
                )[1],
            )
            return self._back(flow)
        graph = FlowGraph.load(flow)
        links = graph.links(data.node_id)
        labels = graph.labels
        kind = {True: _("creation-tree link"), False: _("link")}
        return self._choice_page(
            request,
            flow,
            data,
            title=_("Delete a link of %(node)s") % {"node": node_label(data)},
            intro=_("Delete one link from %(node)s; the child stays in the flow, reached another way:")
            % {"node": node_label(data)},
            submit=_("Yes, delete the link"),
            choices=[
                (
                    str(link["child"]),
                    _("to %(node)s (%(kind)s)")
                    % {"node": node_text(link["child"], labels[link["child"]]), "kind": kind[link["backbone"]]},
                )
                for link in links
                if link["can_disconnect"]
            ],
            refused=[
                (_("to %(node)s") % {"node": node_text(link["child"], labels[link["child"]])}, link["reason"])
                for link in links
                if not link["can_disconnect"]
            ],
            refusal=_("This node has no links.") if not links else "",
            url_name="flowr_flow_disconnect",
        )

    def insert_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        """Choose a child and a rule: a new node of that rule goes between the node and the child."""
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        if request.method == "POST":
            child_id, _sep, label = request.POST.get("choice", "").partition(":")
            child = self._other(flow, child_id)
            rule = rule_registry.get_rule(label)
            if child is None or rule is None:
                self.message_user(request, _("Choose one of the places offered."), messages.ERROR)
                return self._back(flow)
            self._attempt(
                request,
                lambda: (
                    _("Inserted %(new)s between %(node)s and %(child)s.")
                    % {
                        "new": node_label(edits.insert(data, child, rule).data),
                        "node": node_label(data),
                        "child": node_label(child),
                    }
                ),
            )
            return self._back(flow)
        graph = FlowGraph.load(flow)
        labels = graph.labels
        choices = [
            (
                f"{option['child']}:{rule['label']}",
                _("%(rule)s before %(node)s")
                % {"rule": rule["name"], "node": node_text(option["child"], labels[option["child"]])},
            )
            for option in graph.insert_options(data.node_id)
            for rule in option["rules"]
        ]
        return self._choice_page(
            request,
            flow,
            data,
            title=_("Insert a node after %(node)s") % {"node": node_label(data)},
            intro=_("A new node goes between %(node)s and one of its children:") % {"node": node_label(data)},
            submit=_("Insert"),
            choices=choices,
            refused=[],
            refusal=_("No rule may go between this node and any of its children."),
            url_name="flowr_flow_insert",
        )

    def change_rule_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        """Choose the node's new rule among those its parents and children allow."""
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        if request.method == "POST":
            rule = rule_registry.get_rule(request.POST.get("choice", ""))
            if rule is None:
                self.message_user(request, _("Choose one of the rules offered."), messages.ERROR)
                return self._back(flow)
            old = node_label(data)
            self._attempt(
                request,
                lambda: (
                    edits.change_rule(data, rule),
                    _("Changed %(node)s to %(rule)s.") % {"node": old, "rule": rule.name},
                )[1],
            )
            return self._back(flow)
        options, reason = FlowGraph.load(flow).rule_options(data.node_id)
        return self._choice_page(
            request,
            flow,
            data,
            title=_("Change the rule of %(node)s") % {"node": node_label(data)},
            intro=_("The rules that may follow every parent of the node and allow every child it has:"),
            submit=_("Change the rule"),
            choices=[(option["label"], option["name"]) for option in options],
            refused=[],
            refusal=reason or "",
            url_name="flowr_flow_change_rule",
        )

    def _undo_or_redo(self, request: HttpRequest, object_id: str, redo: bool) -> HttpResponse:
        flow = self._flow(request, object_id)
        if not self.has_change_permission(request, flow):
            raise PermissionDenied

        def run() -> str:
            done = edits.redo(flow) if redo else edits.undo(flow)
            text = _("Redid: %(what)s.") if redo else _("Undid: %(what)s.")
            return text % {"what": done.edit.description}

        self._attempt(request, run)
        return HttpResponseRedirect(admin_url("flowr_flow_change", flow.pk) + "#flowr-edits")

    def undo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._undo_or_redo(request, object_id, redo=False)

    def redo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._undo_or_redo(request, object_id, redo=True)

    def _confirm(
        self,
        request: HttpRequest,
        flow: Flow,
        data: FlowNodeData,
        action: str,
        goes: list[str],
        refusal: str,
        stays: list[str],
    ) -> HttpResponse:
        frozen = policy.frozen_refusal(flow, flow.state_count())
        if frozen is not None and not refusal:
            refusal = str(frozen)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": (_("Prune %(node)s?") if action == "prune" else _("Remove %(node)s?"))
            % {"node": node_label(data)},
            "action": action,
            "node": node_label(data),
            "goes": goes,
            "stays": stays,
            "refusal": refusal,
            "back_url": admin_url("flowr_flow_change", flow.pk),
        }
        return TemplateResponse(request, "flowr/admin/confirm_node_delete.html", context)

    def clone_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        flow = self._flow(request, object_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        if not can_clone():
            self.message_user(request, _("Cloning is not available in this version of flowr."), messages.WARNING)
            return self._back(flow)
        copies: list[Flow] = []

        def clone() -> str:
            copies.append(flow.clone())
            return _("Cloned %(flow)s as %(copy)s; edit this version.") % {"flow": flow, "copy": copies[0]}

        if self._attempt(request, clone):
            return self._back(copies[0])
        return self._back(flow)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        flow = self._flow(request, object_id)
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        export = export_module()
        if export is None:
            self.message_user(request, _("Export is not available in this version of flowr."), messages.WARNING)
            return self._back(flow)
        return json_download(export.export_flow(flow), f"flow-{flow.pk}.json")
