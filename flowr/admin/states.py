"""The State admin (start, advance one or many, jump, cancel, history inline) and the read-only StateHistory admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flowr import readmodel
from flowr.admin.common import CSS, ReadOnlyAdmin, admin_url
from flowr.admin.subjects import SubjectAutocompleteView, subject_search_admins
from flowr.exceptions import FlowrError
from flowr.forms import AdvanceForm, AdvanceManyForm, CancelForm, JumpForm, StartStateForm, node_label, rule_display
from flowr.models import FlowNodeData, State, StateHistory, moves

#: how many refusals the batch advance lists one by one (then a count)
REFUSALS_SHOWN = 20


def _ids(raw: str | None) -> list[int]:
    """State ids from ``"1,2,3"``, leniently (the form checks them strictly)."""
    parts = (raw or "").split(",")
    found = (p.strip() for p in parts[: moves.BATCH_MAX + 1])
    return [int(p) for p in found if p.isascii() and p.isdigit() and len(p) < 19]


class StateHistoryInline(admin.TabularInline):
    model = StateHistory
    fields = readonly_fields = ("seq", "kind", "from_rule", "to_rule", "actor_repr", "created", "note", "data")
    ordering = ["seq"]
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("history")

    @admin.display(description=gettext_lazy("from rule"))
    def from_rule(self, obj: StateHistory) -> str:
        return obj.from_rule_verbose_name or "—"

    @admin.display(description=gettext_lazy("to rule"))
    def to_rule(self, obj: StateHistory) -> str:
        return obj.to_rule_verbose_name

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def subject_display(state: State, user: Any) -> str:
    """The State's subject as ``user`` may see it.

    Its ``str()`` for a user with the view (or change) permission on the
    subject's model; for others only ``"<model verbose name> #<id>"``.
    """
    if not state.subject_content_type_id:
        return "—"
    content_type = state.subject_content_type
    model = content_type.model_class() if content_type is not None else None
    named = f"{model._meta.verbose_name if model is not None else content_type} #{state.subject_id}"
    opts = model._meta if model is not None else None
    may_view = opts is not None and any(
        user is not None and user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
        for action in ("view", "change")
    )
    if not may_view:
        return named
    subject = state.subject
    if subject is None:
        return _("%(subject)s (deleted)") % {"subject": named}
    return str(subject)


class OverdueFilter(admin.SimpleListFilter):
    """States whose timer is due, or not (asked of the read model)."""

    title = gettext_lazy("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[State]) -> QuerySet[State]:
        if self.value() in ("yes", "no"):
            return readmodel.overdue_states(queryset, self.value() == "yes")
        return queryset


@admin.register(State)
class StateAdmin(admin.ModelAdmin):
    list_display = ["id", "flow", "current_rule", "subject_text", "updated", "advance"]
    list_display_links = ["id"]
    list_filter = ["flow", "flow__rule_set", ("cancelled", admin.EmptyFieldListFilter), OverdueFilter]
    list_select_related = ["flow", "current_node", "subject_content_type"]
    fields = readonly_fields = (
        "flow",
        "current_rule",
        "subject_text",
        "version",
        "created",
        "updated",
        "cancelled",
        "due_at",
        "due_rule",
    )  # advance, jump and cancel are the page's object tools
    inlines = [StateHistoryInline]
    actions = ["advance_selected"]

    class Media:
        css = CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[State]:
        return super().get_queryset(request).prefetch_related("subject")

    @admin.display(description=gettext_lazy("current rule"), ordering="current_node__rule_label")
    def current_rule(self, obj: State) -> str:
        return _("%(rule)s (node #%(node)s)") % {
            "rule": rule_display(obj.current_node.rule_label),
            "node": obj.current_node.node_id,
        }

    @admin.display(description=gettext_lazy("subject"))
    def subject_text(self, obj: State) -> str:
        # the change page's get_object() tells who is looking
        return subject_display(obj, getattr(obj, "flowr_viewer", None))

    def get_list_display(self, request: HttpRequest) -> Any:
        @admin.display(description="subject")
        def subject_text(obj: State) -> str:
            return subject_display(obj, request.user)

        return [subject_text if name == "subject_text" else name for name in super().get_list_display(request)]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> State | None:
        state = super().get_object(request, object_id, from_field)
        if state is not None:
            state.flowr_viewer = request.user
        return state

    @admin.display(description="")
    def advance(self, obj: State) -> str:
        if obj.cancelled is not None:
            return _("cancelled")
        url = admin_url("flowr_state_advance", obj.pk)
        return format_html('<a class="button" href="{}">{}</a>', url, _("advance…"))

    @admin.action(description=gettext_lazy("Advance selected states"), permissions=["change"])
    def advance_selected(self, request: HttpRequest, queryset: QuerySet[State]) -> HttpResponse:
        """To the confirmation page (rule, note, all or nothing); GET never moves."""
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: moves.BATCH_MAX + 1])
        query = urlencode({"ids": ",".join(str(pk) for pk in ids)})
        return HttpResponseRedirect(f"{admin_url('flowr_state_advance_many')}?{query}")

    def get_urls(self) -> list[URLPattern]:
        def view(method: Any) -> Any:
            return self.admin_site.admin_view(method)

        search = SubjectAutocompleteView.as_view(admin_site=self.admin_site)
        return [
            path("subject-autocomplete/", view(search), name="flowr_state_subject_autocomplete"),
            path("advance/", view(self.advance_many_view), name="flowr_state_advance_many"),
            path("<path:object_id>/advance/", view(self.advance_view), name="flowr_state_advance"),
            path("<path:object_id>/jump/", view(self.jump_view), name="flowr_state_jump"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="flowr_state_cancel"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = request.user
        extra = {
            **(extra_context or {}),
            "flowr_may_jump": user.has_perm(moves.JUMP_PERMISSION),
            "flowr_may_cancel": user.has_perm(moves.CANCEL_PERMISSION),
            # every field is read-only: a State moves by the object tools (advance, jump, cancel)
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra)

    def _state_or_404(self, request: HttpRequest, object_id: str, perm: str | None = None) -> State:
        state: State | None = self.get_object(request, object_id)
        if state is None:
            raise Http404(_("No state %(id)r") % {"id": object_id})
        if not (self.has_change_permission(request, state) if perm is None else request.user.has_perm(perm)):
            raise PermissionDenied
        return state

    def _render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "title": title}
        return TemplateResponse(request, template, {**base, **context})

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """ "Start a state": pick a flow; the State begins at its root."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        search = reverse(f"{self.admin_site.name}:flowr_state_subject_autocomplete")
        pickers = {
            label: f"{search}?subject_type={label}" for label in subject_search_admins(self.admin_site, request.user)
        }
        form = StartStateForm(
            request.POST or None, initial={"flow": request.GET.get("flow")}, user=request.user, pickers=pickers
        )
        if request.method == "POST" and form.is_valid():
            flow = form.cleaned_data["flow"]
            try:
                state = State.start(flow, subject=form.cleaned_data["subject"], actor=request.user)
            except FlowrError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Started state %(id)s on %(flow)s at %(rule)s.")
                    % {"id": state.pk, "flow": flow, "rule": flow.root_data.rule_verbose_name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(admin_url("flowr_state_change", state.pk))
        return self._render(request, "flowr/admin/start_state.html", _("Start a state"), form=form)

    def advance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        state = self._state_or_404(request, object_id)
        change_url = admin_url("flowr_state_change", state.pk)
        # every child, the ones this user may not take with the reason (the core's answer)
        options = state.transition_options(actor=request.user)
        at = state.current_node.node_id  # the Node id, as the graph API and the editor name it
        form = AdvanceForm(
            request.POST or None,
            options=options,
            initial={"expected_node": at, "expected_version": state.version},
        )
        if request.method == "POST":
            if not form.is_valid():
                self.message_user(request, _("Choose one of the rules offered; nothing was done."), messages.ERROR)
            elif (form.cleaned_data["expected_node"], form.cleaned_data["expected_version"]) != (at, state.version):
                self.message_user(
                    request,
                    _("State %(id)s moved meanwhile; nothing was done. Look again.") % {"id": state.pk},
                    messages.ERROR,
                )
            else:
                was = rule_display(state.current_node.rule_label)
                try:
                    state.next_state(
                        form.cleaned_data["rule"] or None, actor=request.user, note=form.cleaned_data["note"]
                    )
                except FlowrError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    now = rule_display(state.current_node.rule_label)
                    self.message_user(
                        request,
                        _("State %(id)s moved from %(was)s to %(now)s.") % {"id": state.pk, "was": was, "now": now},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(change_url)
            return HttpResponseRedirect(request.path)  # the refusal is a message on a fresh page
        return self._render(
            request,
            "flowr/admin/advance_state.html",
            _("Advance state %(id)s") % {"id": state.pk},
            state=state,
            original=state,
            crumb=_("State %(id)s") % {"id": state.pk},
            form=form,
            current=rule_display(state.current_node.rule_label),
            branches=len(options) > 1,
            options=[
                {"label": o.node.rule_label, "text": node_label(o.node), "allowed": o.allowed, "reason": o.reason}
                for o in options
            ],
            any_allowed=any(o.allowed for o in options),
            change_url=change_url,
        )

    def advance_many_view(self, request: HttpRequest) -> HttpResponse:
        """The batch advance's page: GET shows the choices, POST advances
        (``State.objects.advance_many``) and reports each refusal."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        changelist = admin_url("flowr_state_changelist")
        raw = request.POST.get("ids") if request.method == "POST" else request.GET.get("ids")
        ids = _ids(raw)
        form = AdvanceManyForm(
            request.POST if request.method == "POST" else None,
            initial={"ids": raw},
            rules=moves.next_rule_labels(ids[: moves.BATCH_MAX]),
            limit=moves.BATCH_MAX,
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            results = State.objects.advance_many(
                data["ids"], data["rule"] or None, actor=request.user, note=data["note"], atomic=data["atomic"]
            )
            moved = [r for r in results if r.ok]
            failed = [r for r in results if not r.ok]
            if moved:
                self.message_user(request, _("%(count)s state(s) advanced.") % {"count": len(moved)}, messages.SUCCESS)
            for result in failed[:REFUSALS_SHOWN]:
                self.message_user(
                    request,
                    _("State %(id)s: %(message)s") % {"id": result.state_pk, "message": result.message},
                    messages.ERROR,
                )
            if len(failed) > REFUSALS_SHOWN:
                self.message_user(
                    request,
                    _("… and %(count)s more state(s) did not move.") % {"count": len(failed) - REFUSALS_SHOWN},
                    messages.ERROR,
                )
            return HttpResponseRedirect(changelist)
        return self._render(
            request,
            "flowr/admin/advance_states.html",
            _("Advance states"),
            form=form,
            count=len(ids),
            ids=ids[:REFUSALS_SHOWN],
            more=max(0, len(ids) - REFUSALS_SHOWN),
            changelist_url=changelist,
        )

    def jump_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move the State to any node of its flow (``flowr.jump_state``)."""
        state = self._state_or_404(request, object_id, moves.JUMP_PERMISSION)
        nodes = list(
            FlowNodeData.objects.filter(node__graph__flow__pk=state.flow_id).select_related("node").order_by("node_id")
        )
        form = JumpForm(request.POST or None, nodes=nodes, initial={"expected_version": state.version})

        def jump(data: dict[str, Any]) -> str:
            target = next(d for d in nodes if d.node_id == data["node"])
            state.jump_to(target, actor=request.user, note=data["note"], callbacks=data["callbacks"])
            return _("State %(id)s jumped to %(node)s.") % {"id": state.pk, "node": node_label(target)}

        return self._move_page(
            request,
            state,
            form,
            jump,
            invalid=_("Choose one of the nodes offered; nothing was done."),
            template="flowr/admin/jump_state.html",
            title=_("Jump state %(id)s") % {"id": state.pk},
        )

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Cancel the State for good (``flowr.cancel_state``), after a confirmation."""
        state = self._state_or_404(request, object_id, moves.CANCEL_PERMISSION)
        form = CancelForm(request.POST or None, initial={"expected_version": state.version})

        def cancel(data: dict[str, Any]) -> str:
            state.cancel(actor=request.user, note=data["note"])
            return _("State %(id)s was cancelled.") % {"id": state.pk}

        return self._move_page(
            request,
            state,
            form,
            cancel,
            invalid=_("The form was not valid; nothing was done."),
            template="flowr/admin/cancel_state.html",
            title=_("Cancel state %(id)s") % {"id": state.pk},
        )

    def _move_page(
        self,
        request: HttpRequest,
        state: State,
        form: forms.Form,
        move: Callable[[dict[str, Any]], str],
        *,
        invalid: str,
        template: str,
        title: str,
    ) -> HttpResponse:
        """The page of a move of one State after a form (jump, cancel).  A
        POST that is not valid, or made on a version the State has left,
        changes nothing and says so; else ``move(cleaned_data)`` runs and
        its answer is the success message (a refusal is shown instead)."""
        change_url = admin_url("flowr_state_change", state.pk)
        if request.method == "POST":
            if not form.is_valid():
                self.message_user(request, invalid, messages.ERROR)
            elif form.cleaned_data["expected_version"] != state.version:
                self.message_user(
                    request,
                    _("State %(id)s moved meanwhile; nothing was done. Look again.") % {"id": state.pk},
                    messages.ERROR,
                )
            else:
                try:
                    done = move(form.cleaned_data)
                except FlowrError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.message_user(request, done, messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
            return HttpResponseRedirect(request.path)
        return self._render(
            request,
            template,
            title,
            state=state,
            original=state,
            crumb=_("State %(id)s") % {"id": state.pk},
            form=form,
            current=node_label(state.current_node),
            change_url=change_url,
        )


@admin.register(StateHistory)
class StateHistoryAdmin(ReadOnlyAdmin):
    list_display = ["state", "seq", "kind", "from_rule", "to_rule", "actor_repr", "created"]
    list_filter = ["kind"]
    list_select_related = ["state__flow", "state__current_node"]
    fields = readonly_fields = (
        "state",
        "seq",
        "kind",
        "from_rule_label",
        "to_rule_label",
        "actor_repr",
        "note",
        "data",
        "created",
    )

    @admin.display(description=gettext_lazy("from rule"), ordering="from_rule_name")
    def from_rule(self, obj: StateHistory) -> str:
        """The stored rule as people see it (its current verbose name while it resolves)."""
        return obj.from_rule_verbose_name or "—"

    @admin.display(description=gettext_lazy("to rule"), ordering="to_rule_name")
    def to_rule(self, obj: StateHistory) -> str:
        return obj.to_rule_verbose_name
