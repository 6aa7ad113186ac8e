"""flowr's admin: build flows, inspect and move States, without code.

Rule sets, flows, States and their history, graph nodes and node data.  A
flow's change page shows its nodes as an indented tree with the forms that
edit it (add a child, connect, remove, prune); every graph edit and every
transition is a POST, and every refusal from the model layer is shown as a
message and changes nothing.  Changelists read a constant number of queries
whatever the number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from flowr import rules as rule_registry
from flowr.exceptions import CannotRemove, FlowrError
from flowr.forms import (
    AddChildForm,
    AdvanceForm,
    ConnectForm,
    FlowAddForm,
    FlowChangeForm,
    RuleSetForm,
    StartStateForm,
    node_label,
    rule_display,
)
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, RuleSet, State, StateHistory
from flowr.rules import Rule

CSS = {"all": ["flowr/admin/flowr-admin.css"]}


# -- helpers -------------------------------------------------------------------
def reverse_or_none(name: str, pk: Any) -> str | None:
    """The URL of an optional page (editor, rule graph), None if not installed."""
    try:
        return reverse(name, kwargs={"pk": pk})
    except NoReverseMatch:
        return None


def export_module() -> ModuleType | None:
    """``flowr.export`` when this version of flowr ships it."""
    try:
        from flowr import export
    except ImportError:
        return None
    return export if hasattr(export, "export_flow") else None


def can_clone() -> bool:
    return callable(getattr(Flow, "clone", None))


def count_of(queryset: QuerySet[Any], column: str) -> Coalesce:
    """A correlated ``COUNT(*)`` subquery (no row multiplication on joins)."""
    counted = queryset.order_by().values(column).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def admin_url(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


def json_download(document: Any, filename: str) -> HttpResponse:
    response = HttpResponse(json.dumps(document, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: these rows change through flows and States."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- the tree of a flow ----------------------------------------------------------
@dataclass
class TreeRow:
    """One node of a flow as the change page shows it."""

    data: FlowNodeData
    label: str
    depth: int
    missing: bool
    state_count: int
    links: list[tuple[str, str]] = field(default_factory=list)
    unused_rules: list[str] = field(default_factory=list)
    problem: str = ""
    full: bool = False
    add_form: AddChildForm | None = None
    connect_form: ConnectForm | None = None

    @property
    def indent(self) -> int:
        return (self.depth - 1) * 2

    @property
    def is_root(self) -> bool:
        return self.depth == 1


def _child_rules(rule: type[Rule]) -> tuple[list[type[Rule]], str]:
    try:
        return rule.child_rules(), ""
    except FlowrError as exc:
        return [], str(exc)


def build_tree(flow: Flow, editable: bool) -> list[TreeRow]:
    """The flow's nodes in tree order with what can be done at each (4 queries)."""
    nodes = flow.nodes_data()
    by_node = {data.node_id: data for data in nodes}
    children: dict[int, list[int]] = {}
    links: dict[int, list[int]] = {}
    for source, target, backbone in Edge.objects.filter(graph_id=flow.state_graph_id).values_list(
        "source_id", "target_id", "backbone"
    ):
        children.setdefault(source, []).append(target)
        if not backbone:
            links.setdefault(source, []).append(target)
    counts = dict(
        State.objects.filter(flow=flow)
        .order_by()
        .values_list("current_node__node_id")
        .annotate(n=Count("pk"))
        .values_list("current_node__node_id", "n")
    )
    by_label: dict[str, list[FlowNodeData]] = {}
    for data in nodes:
        by_label.setdefault(data.rule_label, []).append(data)
    rows = []
    for data in nodes:
        row = TreeRow(
            data=data,
            label=node_label(data),
            depth=data.node.depth,
            missing=data.rule_missing,
            state_count=counts.get(data.node_id, 0),
        )
        for target_id in links.get(data.node_id, []):
            target = by_node[target_id]
            kind = "loop" if data.node.path.startswith(target.node.path) else "join"
            row.links.append((node_label(target), kind))
        rule = rule_registry.get_rule(data.rule_label)
        if rule is not None:
            existing = [by_node[c].rule_label for c in children.get(data.node_id, [])]
            allowed_rules, row.problem = _child_rules(rule)
            row.unused_rules = [r.name for r in allowed_rules if r.class_label not in existing]
            row.full = len(existing) >= (len(allowed_rules) if rule.multiple_paths else 1)
            if editable:
                allowed = [r for r in allowed_rules if data.child_refusal(r, existing) is None]
                if allowed:
                    row.add_form = AddChildForm(allowed=allowed, auto_id=f"id_n{data.node_id}_%s")
                    mine = set(children.get(data.node_id, []))
                    targets = [t for r in allowed for t in by_label.get(r.class_label, []) if t.node_id not in mine]
                    if targets:
                        row.connect_form = ConnectForm(targets=targets, auto_id=f"id_c{data.node_id}_%s")
        rows.append(row)
    return rows


# -- rule sets ---------------------------------------------------------------------
@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    form = RuleSetForm
    list_display = ["name", "root_rule", "flow_count", "links"]
    search_fields = ["name"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[RuleSet]:
        return (
            super()
            .get_queryset(request)
            .annotate(_flow_count=count_of(Flow.objects.filter(rule_set=OuterRef("pk")), "rule_set"))
        )

    @admin.display(description="root rule", ordering="root_rule_label")
    def root_rule(self, obj: RuleSet) -> str:
        return rule_display(obj.root_rule_label)

    @admin.display(description="flows", ordering="_flow_count")
    def flow_count(self, obj: RuleSet) -> int:
        return obj._flow_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="")
    def links(self, obj: RuleSet) -> str:
        parts = []
        graph = reverse_or_none("flowr:rule_set_graph", obj.pk)
        if graph:
            parts.append((graph, "view rule graph"))
        if not obj.rule_missing:
            parts.append((f"{admin_url('flowr_flow_add')}?rule_set={obj.pk}", "new flow"))
        return format_html_join(" · ", '<a href="{}">{}</a>', parts)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if obj is not None:
            rules = [
                {
                    "name": rule.name,
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


# -- flows ----------------------------------------------------------------------------
@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "rule_set", "node_count", "running_states", "badge", "links"]
    list_filter = ["rule_set"]
    list_select_related = ["rule_set"]
    search_fields = ["name"]
    actions = ["clone_flows", "export_flows"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Flow]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _node_count=count_of(Node.objects.filter(graph_id=OuterRef("state_graph_id")), "graph_id"),
                _state_count=count_of(State.objects.filter(flow_id=OuterRef("pk")), "flow_id"),
            )
        )

    def get_form(self, request: HttpRequest, obj: Flow | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = FlowChangeForm if obj is not None else FlowAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Flow | None = None) -> list[str]:
        if obj is None:
            return ["name", "rule_set"]
        return ["name", "rule_set", "version", "family", "created", "updated"]

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None) -> list[str]:
        return [] if obj is None else ["rule_set", "version", "family", "created", "updated"]

    def save_model(self, request: HttpRequest, obj: Flow, form: ModelForm, change: bool) -> None:
        if change:
            obj.save()
            return
        created = Flow.factory(obj.name, obj.rule_set)  # creates the graph and its root node
        for model_field in Flow._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(created, model_field.attname))
        obj._state = created._state

    # list columns
    @admin.display(description="nodes", ordering="_node_count")
    def node_count(self, obj: Flow) -> int:
        return obj._node_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="running states", ordering="_state_count")
    def running_states(self, obj: Flow) -> int:
        return obj._state_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="status")
    def badge(self, obj: Flow) -> str:
        if getattr(obj, "_state_count", 0):
            return format_html(
                '<span class="flowr-badge flowr-frozen" title="{}">in use · frozen</span>',
                "States run on this flow: clone it to edit.",
            )
        return format_html('<span class="flowr-badge flowr-editable">{}</span>', "editable")

    @admin.display(description="")
    def links(self, obj: Flow) -> str:
        editor = reverse_or_none("flowr:flow_editor", obj.pk)
        parts = [(editor, "open editor")] if editor else []
        parts.append((f"{admin_url('flowr_state_add')}?flow={obj.pk}", "start a state"))
        return format_html_join(" · ", '<a href="{}">{}</a>', parts)

    # actions
    @admin.action(description="Clone selected flows as new versions", permissions=["add"])
    def clone_flows(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        if not can_clone():
            self.message_user(request, "Cloning is not available in this version of flowr.", messages.WARNING)
            return
        for flow in queryset:
            self._attempt(request, lambda flow=flow: f"Cloned {flow} as {flow.clone()}.")

    @admin.action(description="Export selected flows as JSON", permissions=["view"])
    def export_flows(self, request: HttpRequest, queryset: QuerySet[Flow]) -> HttpResponse | None:
        export = export_module()
        if export is None:
            self.message_user(request, "Export is not available in this version of flowr.", messages.WARNING)
            return None
        documents = [export.export_flow(flow) for flow in queryset]
        if len(documents) == 1:
            return json_download(documents[0], f"flow-{queryset[0].pk}.json")
        return json_download(documents, "flows.json")

    # the change page
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
                .annotate(running_states=count_of(State.objects.filter(flow_id=OuterRef("pk")), "flow_id"))
                .order_by("version", "pk")
            )
            extra.update(
                flowr_tree=build_tree(flow, editable=may_edit and not states),
                flowr_frozen=bool(states),
                flowr_state_count=states,
                flowr_may_edit=may_edit,
                flowr_editor_url=reverse_or_none("flowr:flow_editor", flow.pk),
                flowr_can_clone=can_clone() and self.has_add_permission(request),
                flowr_can_export=export_module() is not None,
                flowr_family=family if len(family) > 1 else [],
                flowr_start_url=f"{admin_url('flowr_state_add')}?flow={flow.pk}",
                flowr_states_url=f"{admin_url('flowr_state_changelist')}?flow__id__exact={flow.pk}",
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse], post_only: bool = False) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(require_POST(view) if post_only else view)

        node = "<path:object_id>/nodes/<int:node_id>"
        return [
            path(f"{node}/add-child/", wrap(self.add_child_view, True), name="flowr_flow_add_child"),
            path(f"{node}/connect/", wrap(self.connect_view, True), name="flowr_flow_connect"),
            path(f"{node}/remove/", wrap(self.remove_view), name="flowr_flow_remove"),
            path(f"{node}/prune/", wrap(self.prune_view), name="flowr_flow_prune"),
            path("<path:object_id>/clone/", wrap(self.clone_view, True), name="flowr_flow_clone"),
            path("<path:object_id>/export/", wrap(self.export_view), name="flowr_flow_export"),
            *super().get_urls(),
        ]

    # graph edits
    def _attempt(self, request: HttpRequest, action: Callable[[], str]) -> bool:
        """Run one edit; a refusal becomes an error message and changes nothing."""
        try:
            with transaction.atomic():
                done = action()
        except FlowrError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        except IntegrityError:
            self.message_user(request, "The flow changed meanwhile; nothing was done. Try again.", messages.ERROR)
            return False
        self.message_user(request, done, messages.SUCCESS)
        return True

    def _flow(self, request: HttpRequest, object_id: str) -> Flow:
        flow = self.get_object(request, object_id)  # None for a malformed id, too
        if flow is None:
            raise Http404(f"No flow {object_id!r}")
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
            self.message_user(request, f"Node {node_id} is not part of the flow {flow}.", messages.ERROR)
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
            self.message_user(request, f"Choose one of the rules offered (got {label!r}).", messages.ERROR)
            return self._back(flow)
        self._attempt(request, lambda: f"Added {node_label(data.add_child_rule(rule))} under {node_label(data)}.")
        return self._back(flow)

    def connect_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        value = request.POST.get("target", "")
        target = None
        if value.isdigit():
            target = FlowNodeData.objects.select_related("node").filter(node_id=int(value)).first()
        if target is None:
            self.message_user(request, "Choose one of the nodes offered.", messages.ERROR)
            return self._back(flow)
        target._flow_cache = flow
        self._attempt(
            request,
            lambda: (data.connect_child(target), f"Connected {node_label(data)} to {node_label(target)}.")[1],
        )
        return self._back(flow)

    def remove_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        node = data.node
        if request.method == "POST":
            self._attempt(request, lambda: (node.remove(), f"Removed {node_label(data)}.")[1])
            return self._back(flow)
        refusal = ""
        if node.is_root():
            refusal = "The root node cannot be removed."
        elif not node.can_remove():
            refusal = str(CannotRemove(f"Removing {node_label(data)} would disconnect part of the flow from its root."))
        stays = [node_label(d) for d in data.children_data() if d.node_id != node.pk]
        return self._confirm(request, flow, data, "remove", [node_label(data)], refusal, stays)

    def prune_view(self, request: HttpRequest, object_id: str, node_id: int) -> HttpResponse:
        flow, data = self._flow_and_node(request, object_id, node_id)
        if data is None:
            return self._back(flow)
        node = data.node
        if request.method == "POST":
            self._attempt(request, lambda: f"Pruned {len(node.prune())} node(s) from {node_label(data)} on.")
            return self._back(flow)
        refusal = "The root node cannot be pruned." if node.is_root() else ""
        ids = [n.pk for n in node.prune_list()]
        found = {d.node_id: d for d in FlowNodeData.objects.filter(node_id__in=ids)}
        goes = [node_label(found[i]) for i in ids if i in found]
        return self._confirm(request, flow, data, "prune", goes, refusal, [])

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
        frozen = flow.state_count()
        if frozen and not refusal:
            refusal = f"The flow {flow} is frozen: {frozen} state(s) use it. Clone it to make an editable version."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": f"{action.capitalize()} {node_label(data)}?",
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
            self.message_user(request, "Cloning is not available in this version of flowr.", messages.WARNING)
            return self._back(flow)
        copies: list[Flow] = []

        def clone() -> str:
            copies.append(flow.clone())
            return f"Cloned {flow} as {copies[0]}; edit this version."

        if self._attempt(request, clone):
            return self._back(copies[0])
        return self._back(flow)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        flow = self._flow(request, object_id)
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        export = export_module()
        if export is None:
            self.message_user(request, "Export is not available in this version of flowr.", messages.WARNING)
            return self._back(flow)
        return json_download(export.export_flow(flow), f"flow-{flow.pk}.json")


# -- states -----------------------------------------------------------------------------
class StateHistoryInline(admin.TabularInline):
    model = StateHistory
    fields = ["seq", "kind", "from_rule_name", "to_rule_name", "actor_repr", "created", "note"]
    readonly_fields = fields
    ordering = ["seq"]
    extra = 0
    can_delete = False
    verbose_name_plural = "history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def subject_display(state: State) -> str:
    if not state.subject_content_type_id:
        return "—"
    subject = state.subject
    if subject is None:
        return f"{state.subject_content_type} #{state.subject_id} (deleted)"
    return str(subject)


@admin.register(State)
class StateAdmin(admin.ModelAdmin):
    list_display = ["id", "flow", "current_rule", "subject_text", "updated", "advance"]
    list_display_links = ["id"]
    list_filter = ["flow", "flow__rule_set"]
    list_select_related = ["flow", "current_node", "subject_content_type"]
    fields = ["flow", "current_rule", "subject_text", "version", "created", "updated", "advance"]
    readonly_fields = fields
    inlines = [StateHistoryInline]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[State]:
        return super().get_queryset(request).prefetch_related("subject")

    @admin.display(description="current rule", ordering="current_node__rule_label")
    def current_rule(self, obj: State) -> str:
        return f"{rule_display(obj.current_node.rule_label)} (node #{obj.current_node.node_id})"

    @admin.display(description="subject")
    def subject_text(self, obj: State) -> str:
        return subject_display(obj)

    @admin.display(description="")
    def advance(self, obj: State) -> str:
        url = admin_url("flowr_state_advance", obj.pk)
        return format_html('<a class="button" href="{}">advance…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.advance_view)
        return [path("<path:object_id>/advance/", view, name="flowr_state_advance"), *super().get_urls()]

    def _render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "title": title}
        return TemplateResponse(request, template, {**base, **context})

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """ "Start a state": pick a flow; the State begins at its root."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StartStateForm(request.POST or None, initial={"flow": request.GET.get("flow")})
        if request.method == "POST" and form.is_valid():
            flow = form.cleaned_data["flow"]
            try:
                state = State.start(flow, actor=request.user)
            except FlowrError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"Started state {state.pk} on {flow} at {flow.root_data.rule_name}.", messages.SUCCESS
                )
                return HttpResponseRedirect(admin_url("flowr_state_change", state.pk))
        return self._render(request, "flowr/admin/start_state.html", "Start a state", form=form)

    def advance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        state = self.get_object(request, object_id)
        if state is None:
            raise Http404(f"No state {object_id!r}")
        if not self.has_change_permission(request, state):
            raise PermissionDenied
        change_url = admin_url("flowr_state_change", state.pk)
        next_nodes = state.current_node.children_data()
        form = AdvanceForm(
            request.POST or None, next_nodes=next_nodes, initial={"expected_node": state.current_node_id}
        )
        if request.method == "POST":
            if not form.is_valid():
                self.message_user(request, "Choose one of the rules offered; nothing was done.", messages.ERROR)
            elif form.cleaned_data["expected_node"] != state.current_node_id:
                self.message_user(
                    request, f"State {state.pk} moved meanwhile; nothing was done. Look again.", messages.ERROR
                )
            else:
                was = rule_display(state.current_node.rule_label)
                try:
                    state.next_state(form.cleaned_data["rule"] or None, actor=request.user)
                except FlowrError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    now = rule_display(state.current_node.rule_label)
                    self.message_user(request, f"State {state.pk} moved from {was} to {now}.", messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
            return HttpResponseRedirect(request.path)  # the refusal is a message on a fresh page
        return self._render(
            request,
            "flowr/admin/advance_state.html",
            f"Advance state {state.pk}",
            state=state,
            original=state,
            crumb=f"State {state.pk}",
            form=form,
            current=rule_display(state.current_node.rule_label),
            branches=len(next_nodes) > 1,
            next_nodes=[node_label(d) for d in next_nodes],
            change_url=change_url,
        )


@admin.register(StateHistory)
class StateHistoryAdmin(ReadOnlyAdmin):
    list_display = ["state", "seq", "kind", "from_rule_name", "to_rule_name", "actor_repr", "created"]
    list_filter = ["kind"]
    list_select_related = ["state"]
    fields = ["state", "seq", "kind", "from_rule_label", "to_rule_label", "actor_repr", "note", "created"]
    readonly_fields = fields


# -- graphs, nodes and node data (read-mostly) ------------------------------------------
class FlowFilter(admin.SimpleListFilter):
    """Filter graph rows by the flow that owns their graph."""

    title = "flow"
    parameter_name = "flow"
    graph_lookup = "node__graph_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(graph), str(flow)) for graph, flow in ((f.state_graph_id, f) for f in Flow.objects.all())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{self.graph_lookup: int(value)})
        return queryset


class NodeFlowFilter(FlowFilter):
    graph_lookup = "graph_id"


@admin.register(FlowNodeData)
class FlowNodeDataAdmin(ReadOnlyAdmin):
    list_display = ["node_id", "tree_rule", "flow_name", "children"]
    list_filter = [FlowFilter]
    list_select_related = ["node", "node__graph__flow"]
    ordering = ["node__graph_id", "node__path"]
    fields = ["node", "rule_text", "flow_name", "edit_screen"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowNodeData]:
        edges = Edge.objects.filter(source_id=OuterRef("node_id"))
        return super().get_queryset(request).annotate(_children=count_of(edges, "source_id"))

    @admin.display(description="rule (tree order)")
    def tree_rule(self, obj: FlowNodeData) -> str:
        return format_html(
            '<span style="padding-left: {}em">{}</span>', (obj.node.depth - 1) * 2, rule_display(obj.rule_label)
        )

    @admin.display(description="rule")
    def rule_text(self, obj: FlowNodeData) -> str:
        return rule_display(obj.rule_label)

    @admin.display(description="flow")
    def flow_name(self, obj: FlowNodeData) -> str:
        flow = getattr(obj.node.graph, "flow", None)
        return str(flow) if flow else "—"

    @admin.display(description="children")
    def children(self, obj: FlowNodeData) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="edit screen")
    def edit_screen(self, obj: FlowNodeData) -> str:
        rule = rule_registry.get_rule(obj.rule_label)
        url = reverse_or_none("flowr:node_edit_screen", obj.node_id)
        if rule is None or not rule.has_edit_screen or url is None:
            return "—"
        return format_html('<a href="{}">{}</a>', url, f"{rule.name}'s edit screen")


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ["id", "tree_node", "graph", "depth", "children_count"]
    list_filter = [NodeFlowFilter]
    list_select_related = ["graph", "flownodedata"]
    ordering = ["graph_id", "path"]
    fields = ["graph", "depth", "data_text"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Node]:
        edges = Edge.objects.filter(source_id=OuterRef("pk"))
        return super().get_queryset(request).annotate(_children=count_of(edges, "source_id"))

    def _data_text(self, obj: Node) -> str:
        data = getattr(obj, "flownodedata", None)
        return rule_display(data.rule_label) if data is not None else f"node {obj.pk}"

    @admin.display(description="node (tree order)")
    def tree_node(self, obj: Node) -> str:
        return format_html('<span style="padding-left: {}em">{}</span>', (obj.depth - 1) * 2, self._data_text(obj))

    @admin.display(description="data")
    def data_text(self, obj: Node) -> str:
        try:
            return self._data_text(obj) if hasattr(obj, "flownodedata") else str(obj.data)
        except Exception:  # a data row of a model that is gone: still show the page
            return "—"

    @admin.display(description="children")
    def children_count(self, obj: Node) -> int:
        return obj._children  # type: ignore[attr-defined, no-any-return]


@admin.register(DCCGraph)
class DCCGraphAdmin(ReadOnlyAdmin):
    list_display = ["id", "data_content_type", "root", "node_count", "flow_name"]
    list_select_related = ["data_content_type", "root", "flow"]
    fields = ["data_content_type", "root", "flow_name"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[DCCGraph]:
        nodes = Node.objects.filter(graph_id=OuterRef("pk"))
        return super().get_queryset(request).annotate(_node_count=count_of(nodes, "graph_id"))

    @admin.display(description="nodes")
    def node_count(self, obj: DCCGraph) -> int:
        return obj._node_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="flow")
    def flow_name(self, obj: DCCGraph) -> str:
        flow = getattr(obj, "flow", None)
        return str(flow) if flow else "—"
